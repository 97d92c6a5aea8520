//! `neighbors` on a large SAE: the exact blocked cosine scan for one query, once the SAE is
//! loaded (what a server request costs; the CLI adds loading the file). Prints one JSON
//! object with the median of `--repeat` runs.
//!
//! ```text
//! python bench/make_sae.py /tmp/sae65k 2304 65536   # Gemma-2-2B-wide, 65,536 features
//! cargo bench -p saex-engine --bench neighbors -- --sae /tmp/sae65k [--repeat 7]
//! ```
#![allow(clippy::print_stdout)] // a benchmark's result is what it prints

use std::time::Instant;

use saex_engine::{sae_neighbors, NeighborsBy, NeighborsRequest};
use saex_sae::Sae;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let repeat: usize = arg(&args, "--repeat", "7").parse().unwrap();
    let t = Instant::now();
    let sae = Sae::load(&arg(&args, "--sae", "")).unwrap();
    let load = t.elapsed().as_secs_f64();
    let mut out = serde_json::json!({ "d_sae": sae.d_sae(), "d_in": sae.d_in(), "load_s": load });
    for by in [NeighborsBy::Decoder, NeighborsBy::Encoder] {
        let mut times: Vec<f64> = (0..repeat)
            .map(|i| {
                let req = NeighborsRequest { sae_id: None, feature: Some((i * 7919 % sae.d_sae()) as u32), vector: None, k: 10, by };
                let t = Instant::now();
                let n = sae_neighbors(&sae, &req).unwrap();
                assert_eq!(n.len(), 10);
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let key = if by == NeighborsBy::Decoder { "decoder_ms" } else { "encoder_ms" };
        out[key] = serde_json::json!({ "median": times[repeat / 2] * 1e3, "min": times[0] * 1e3, "max": times[repeat - 1] * 1e3 });
    }
    println!("{out}");
}
