//! The layering written down in `src/lib.rs`: a file names `crate::X` only for `X` in its own
//! layer or a lower one. Comments and `#[cfg(test)]` items are not checked (tests may reach up).

use std::path::{Path, PathBuf};

/// The layer of a top-level module (or crate-root item), lowest first.
fn layer(name: &str) -> Option<u8> {
    Some(match name {
        "error" | "cancel" | "host" | "parallel" | "patterns" | "Error" | "Result"
        | "PROGRAM_VERSION" => 1,
        "format" => 2,
        "layers" => 3,
        "repo" | "Repository" => 4,
        "governance" => 5,
        "archiver" | "restorer" | "checker" | "maintenance" | "replication" | "inspect" => 6,
        _ => return None,
    })
}

/// Operation folders that may use another one: replication and rewrite store blobs with the
/// archiver's saver.
const OPERATION_USES: &[(&str, &str)] = &[("replication", "archiver"), ("maintenance", "archiver")];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `#[cfg(test)]` items (the attribute up to the end of its braced block)
/// and without comment lines.
fn checked_code(src: &str) -> String {
    let mut code = String::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[cfg(test)]") {
        code.push_str(&rest[..at]);
        let after = &rest[at..];
        let open = after.find('{').expect("a #[cfg(test)] item has a body");
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    code.push_str(rest);
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("utf-8 name")
            .trim_end_matches(".rs");
        if top == "lib" || top == "testutil" {
            continue; // the stable paths, and test helpers
        }
        let own = layer(top).unwrap_or_else(|| panic!("{}: module without a layer", rel.display()));
        let code = checked_code(&std::fs::read_to_string(&file).expect("read file"));
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let ok = match layer(&name) {
                None => false, // a stable-path alias: code inside the crate names the folders
                Some(l) if l < own => true,
                Some(l) if l == own => {
                    l != 6 || name == top || OPERATION_USES.contains(&(top, name.as_str()))
                }
                Some(_) => false,
            };
            if !ok {
                violations.push(format!("{}: crate::{name}", rel.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "uses of a higher layer (see the layering in src/lib.rs):\n{}",
        violations.join("\n")
    );
}
