//! Measures the backup pipeline's serial stages on a file: chunking, blob ids, compression.
//! Usage: cargo run --release -p lifeboat-core --example chunk_speed -- FILE
use lifeboat_core::config::ChunkerParams;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: chunk_speed FILE");
    let params = ChunkerParams::default();
    let keys = lifeboat_core::crypto::MasterKeys::generate();
    let t = Instant::now();
    let mut n = 0usize;
    for c in lifeboat_core::chunker::stream(
        std::fs::File::open(&path).unwrap(),
        &params,
        keys.chunker_seed,
    ) {
        n += std::hint::black_box(c.unwrap()).len();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "chunking, buffers dropped at once: {:.3}s ({:.0} MB/s)",
        secs,
        n as f64 / secs / 1e6
    );
    let t = Instant::now();
    let mut chunks = Vec::new();
    for c in lifeboat_core::chunker::stream(
        std::fs::File::open(&path).unwrap(),
        &params,
        keys.chunker_seed,
    ) {
        chunks.push(c.unwrap());
    }
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "chunking: {:.3}s ({:.0} MB/s), {} chunks",
        secs,
        total as f64 / secs / 1e6,
        chunks.len()
    );
    let data = std::fs::read(&path).unwrap();
    let t = Instant::now();
    let b = lifeboat_core::chunker::boundaries(&data, &params, keys.chunker_seed);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "in-memory cut points only: {:.3}s ({:.0} MB/s), {} chunks",
        secs,
        data.len() as f64 / secs / 1e6,
        b.len()
    );
    let t = Instant::now();
    for c in &chunks {
        std::hint::black_box(keys.blob_id(c));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "blob ids: {:.3}s ({:.0} MB/s)",
        secs,
        total as f64 / secs / 1e6
    );
    let t = Instant::now();
    let mut stored = 0;
    for c in &chunks {
        stored += lifeboat_core::blob::encode(&keys, c, 3).len();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "compress+encrypt (1 thread): {:.3}s ({:.0} MB/s) -> {} bytes",
        secs,
        total as f64 / secs / 1e6,
        stored
    );
}
