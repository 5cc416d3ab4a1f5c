//! Bytes a compression dictionary saves: trains on FILE1 the way a first backup does, then
//! compresses FILE2's chunks with and without it (best of 3 times on one core).
//! Usage: cargo run --release -p lifeboat-core --example dict_gain -- FILE1 FILE2
use lifeboat_core::config::ChunkerParams;
use lifeboat_core::{dict, zblob};
use std::time::Instant;

fn chunks(path: &str, params: &ChunkerParams) -> Vec<Vec<u8>> {
    let f = std::fs::File::open(path).expect("input file");
    lifeboat_core::chunker::stream(f, params, 7)
        .map(|c| c.expect("read"))
        .collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (a, b) = (args.next().expect("FILE1"), args.next().expect("FILE2"));
    let params = ChunkerParams::default();
    let mut samples = Vec::new();
    let mut n = 0;
    for c in chunks(&a, &params) {
        if n >= dict::TRAIN_SAMPLE_BYTES {
            break;
        }
        n += c.len();
        samples.push(c);
    }
    let t = Instant::now();
    let prefix = dict::train(&samples).expect("a dictionary");
    println!(
        "trained {} B in {:.3}s",
        prefix.len(),
        t.elapsed().as_secs_f64()
    );
    let data = chunks(&b, &params);
    for (label, p) in [("no dictionary", &[][..]), ("dictionary", &prefix[..])] {
        let mut best = f64::MAX;
        let mut out = 0;
        for _ in 0..3 {
            let t = Instant::now();
            out = data
                .iter()
                .map(|c| zblob::compress(c, 3, p).expect("compress").len())
                .sum::<usize>();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{label:14} {out:>12} B  {best:.3}s");
    }
}
