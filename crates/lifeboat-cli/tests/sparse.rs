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
    // The holes were found with SEEK_DATA/SEEK_HOLE and not read.
    assert!(
        v["summary"]["bytes_read"].as_u64().unwrap() < 2 << 20,
        "{v}"
    );
    assert!(
        v["summary"]["sparse_bytes"].as_u64().unwrap() > 62 << 20,
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

#[test]
fn holes_are_not_read_on_backup_so_a_huge_sparse_file_backs_up_at_once() {
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    // 64 GiB logical, a few KiB of data at the start, the middle and the end.
    let file = src.join("vm.img");
    let f = std::fs::File::create(&file).unwrap();
    let size: u64 = 64 << 30;
    f.set_len(size).unwrap();
    f.write_all_at(b"boot sector", 0).unwrap();
    f.write_all_at(b"middle", size / 2).unwrap();
    f.write_all_at(b"the end", size - 7).unwrap();
    drop(f);
    let started = std::time::Instant::now();
    let v = env.json(&["backup", src.to_str().unwrap()]);
    let s = &v["summary"];
    assert_eq!(s["total_bytes"].as_u64().unwrap(), size, "{v}");
    assert!(s["bytes_read"].as_u64().unwrap() < 4 << 20, "{v}");
    assert!(
        s["sparse_bytes"].as_u64().unwrap() > size - (4 << 20),
        "{v}"
    );
    // Reading 64 GiB of zeros would take minutes; mapping the holes takes no time.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));

    let target = env.path("back");
    env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let back = common::restored(&target, &src).join("vm.img");
    assert_eq!(std::fs::metadata(&back).unwrap().len(), size);
    assert!(allocated(&back) < 4 << 20, "{}", allocated(&back));
    let g = std::fs::File::open(&back).unwrap();
    let mut buf = [0u8; 11];
    g.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"boot sector");
    let mut buf = [0u8; 6];
    g.read_exact_at(&mut buf, size / 2).unwrap();
    assert_eq!(&buf, b"middle");
    let mut buf = [0u8; 7];
    g.read_exact_at(&mut buf, size - 7).unwrap();
    assert_eq!(&buf, b"the end");
    let mut buf = vec![1u8; 4096];
    g.read_exact_at(&mut buf, size / 4).unwrap();
    assert!(buf.iter().all(|b| *b == 0));
    // And the repository checks clean, data included.
    env.json(&["check", "--read-data"]);
}

#[test]
fn a_file_with_only_small_holes_is_read_whole_from_its_start() {
    // Regression: after mapping found no hole worth skipping, the file was read from where the
    // mapping left its offset, so only its tail was stored.
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = src.join("pages.bin");
    let f = std::fs::File::create(&file).unwrap();
    let size: u64 = 96 << 20;
    f.set_len(size).unwrap();
    for (i, off) in (0..size).step_by(768 << 10).enumerate() {
        f.write_all_at(format!("page {i}").as_bytes(), off).unwrap();
    }
    drop(f);
    let v = env.json(&["backup", src.to_str().unwrap()]);
    assert_eq!(v["summary"]["bytes_read"].as_u64(), Some(size), "{v}");
    let target = env.path("back");
    env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let back = common::restored(&target, &src).join("pages.bin");
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&file).unwrap());
}
