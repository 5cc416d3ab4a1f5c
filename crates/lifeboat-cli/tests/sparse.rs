//! Sparse files: all-zero blocks restore as holes (`--no-sparse` writes them out).

mod common;

use common::Env;
use std::os::unix::fs::{FileExt, MetadataExt};

fn allocated(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).unwrap().blocks() * 512
}

#[test]
fn a_sparse_file_restores_with_its_holes_and_no_sparse_fills_them() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = src.join("disk.img");
    let f = std::fs::File::create(&file).unwrap();
    f.set_len(64 << 20).unwrap();
    f.write_all_at(b"one byte in the middle", 32 << 20).unwrap();
    drop(f);
    let src_alloc = allocated(&file);
    assert!(
        src_alloc < 1 << 20,
        "the test filesystem keeps holes ({src_alloc})"
    );
    let v = env.json(&["backup", src.to_str().unwrap()]);
    // 64 MiB of zeros deduplicate to a handful of blobs.
    assert!(
        v["summary"]["bytes_added"].as_u64().unwrap() < 1 << 20,
        "{v}"
    );

    let target = env.path("sparse");
    let r = env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let back = common::restored(&target, &src).join("disk.img");
    assert_eq!(std::fs::metadata(&back).unwrap().len(), 64 << 20);
    let alloc = allocated(&back);
    assert!(
        alloc <= src_alloc + (1 << 20),
        "{alloc} allocated, source {src_alloc}"
    );
    assert!(
        r["summary"]["sparse_bytes"].as_u64().unwrap() > 60 << 20,
        "{r}"
    );
    let mut buf = vec![0u8; 22];
    std::fs::File::open(&back)
        .unwrap()
        .read_exact_at(&mut buf, 32 << 20)
        .unwrap();
    assert_eq!(&buf, b"one byte in the middle");
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&file).unwrap());

    let dense = env.path("dense");
    env.json(&[
        "restore",
        "latest",
        "--target",
        dense.to_str().unwrap(),
        "--no-sparse",
    ]);
    let back = common::restored(&dense, &src).join("disk.img");
    assert!(allocated(&back) >= 60 << 20);
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&file).unwrap());
}
