//! SAE throughput: encode alone on random GPT-2-scale inputs, and the whole pipeline (model
//! to the SAE's hook, then encode to sparse features). Prints one JSON object.
//!
//! ```text
//! cargo bench -p saex-engine --bench sae_throughput -- --sae SAE_DIR [--model GPT2_DIR]
//!     [--tokens 8192 --batch 16 --seq 128 --encode-batch 512 --repeat 3]
//! ```
//! `scripts/bench.sh` runs it next to SAELens (+ TransformerLens) and writes BENCHMARKS.md.
#![allow(clippy::print_stdout)] // a benchmark's result is what it prints

use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use saex_engine::Pair;
use saex_model::{LoadOptions, Model};
use saex_sae::Sae;

// As in the `saex` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |n: &str, d: &str| arg(&args, n, d).parse::<usize>().unwrap();
    let (tokens, batch, seq, enc_batch, repeat) =
        (num("--tokens", "8192"), num("--batch", "16"), num("--seq", "128"), num("--encode-batch", "512"), num("--repeat", "3"));
    let sae = Sae::load(&arg(&args, "--sae", "")).unwrap();

    // Encode alone: the same random inputs as the Python side draws (N(0, 3²)).
    let xs: Vec<Tensor> =
        (0..tokens / enc_batch).map(|_| Tensor::randn(0f32, 3.0, (enc_batch, sae.d_in()), &Device::Cpu).unwrap()).collect();
    let mut t_enc = Vec::new();
    let mut nnz = 0;
    for _ in 0..repeat {
        let t = Instant::now();
        nnz = 0;
        for x in &xs {
            nnz += sae.encode_sparse(x).unwrap().nnz();
        }
        t_enc.push(t.elapsed().as_secs_f64());
    }
    let enc_n = (xs.len() * enc_batch) as f64;
    let range = |t: &[f64]| [t.iter().copied().fold(f64::INFINITY, f64::min), t.iter().copied().fold(0.0, f64::max)];
    let enc_range = range(&t_enc);
    let enc_tps = enc_n / median(t_enc);
    let mut out = serde_json::json!({
        "d_in": sae.d_in(), "d_sae": sae.d_sae(), "encode_tokens_per_s": enc_tps,
        "encode_tokens_per_s_range": [enc_n / enc_range[1], enc_n / enc_range[0]],
        "encode_l0": nnz as f64 / (xs.len() * enc_batch) as f64,
    });

    let model_spec = arg(&args, "--model", "");
    if !model_spec.is_empty() {
        let hook = sae.hook().unwrap();
        let model = Model::load_with(&model_spec, LoadOptions::for_hooks(&[hook], false)).unwrap();
        let pair = Pair::new(&model, &sae, None).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let vocab = model.dims().d_vocab as u32;
        let batches: Vec<Vec<Vec<u32>>> = (0..tokens / (batch * seq))
            .map(|_| (0..batch).map(|_| (0..seq).map(|_| rng.random_range(0..vocab)).collect()).collect())
            .collect();
        let mut t_pipe = Vec::new();
        for _ in 0..repeat {
            let t = Instant::now();
            for b in &batches {
                for a in model.run(b, &[hook], false).unwrap() {
                    let _ = sae.encode_sparse(&pair.sae_input(&a.hooks[0].1).unwrap()).unwrap();
                }
            }
            t_pipe.push(t.elapsed().as_secs_f64());
        }
        let n = (batches.len() * batch * seq) as f64;
        let r = range(&t_pipe);
        out["pipeline_tokens_per_s_range"] = serde_json::json!([n / r[1], n / r[0]]);
        out["pipeline_tokens_per_s"] = (n / median(t_pipe)).into();
    }
    println!("{out}");
}
