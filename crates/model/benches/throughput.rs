//! Forward-pass throughput: tokens/s to a hook over a batched random-token workload, the
//! effective GFLOP/s that implies, and the best dense matmul GFLOP/s of this machine through
//! the same library, so the two can be compared. Prints one JSON object.
//!
//! ```text
//! cargo bench -p saex-model --bench throughput -- --model DIR_OR_GGUF \
//!     --hook blocks.6.hook_resid_pre --tokens 8192 --batch 16 --seq 128 --repeat 3
//! ```
//! Timed in-process with `Instant` over whole workloads (seconds each); `scripts/bench.sh`
//! runs it next to the Python stack and writes BENCHMARKS.md.
#![allow(clippy::print_stdout)] // a benchmark's result is what it prints

use std::time::Instant;

// As in the `saex` binary: an allocator that reuses freed blocks. glibc returns every
// large buffer to the OS and faults it back in on the next op (measured: 1.5x slower).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use saex_hooks::Hook;
use saex_model::Model;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

/// Matmul FLOPs per token for `blocks` blocks plus attention over `seq` positions.
fn flops_per_token(m: &Model, blocks: usize, seq: usize) -> f64 {
    let d = m.dims();
    let (dm, attn_w) = (d.d_model as f64, (d.n_heads * d.d_head) as f64);
    let kv_w = (d.n_kv_heads * d.d_head) as f64;
    let proj = dm * attn_w * 2.0 + dm * kv_w * 2.0; // q, o, k, v
    let mlp = dm * d.d_mlp as f64 * if d.gated_mlp { 3.0 } else { 2.0 };
    let attn = 2.0 * (seq as f64 / 2.0) * attn_w; // QKᵀ and PV over the causal half
    2.0 * blocks as f64 * (proj + mlp + attn)
}

fn best_matmul_gflops() -> f64 {
    let a = Tensor::randn(0f32, 1.0, (512, 768), &Device::Cpu).unwrap();
    let b = Tensor::randn(0f32, 1.0, (768, 24576), &Device::Cpu).unwrap();
    let flops = 2.0 * 512.0 * 768.0 * 24576.0;
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let _ = saex_kernels::matmul(&a, &b).unwrap();
        best = best.max(flops / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let spec = arg(&args, "--model", "");
    if spec.is_empty() {
        eprintln!("usage: throughput --model M [--hook H] [--tokens N] [--batch B] [--repeat R]");
        std::process::exit(2);
    }
    let hook: Hook = arg(&args, "--hook", "blocks.6.hook_resid_pre").parse().unwrap();
    let tokens: usize = arg(&args, "--tokens", "8192").parse().unwrap();
    let batch: usize = arg(&args, "--batch", "16").parse().unwrap();
    let repeat: usize = arg(&args, "--repeat", "3").parse().unwrap();
    let t = Instant::now();
    // As `saex capture` does: only the blocks up to the hook.
    let model = Model::load_with(&spec, saex_model::LoadOptions::for_hooks(&[hook], false)).unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let seq: usize = arg(&args, "--seq", "128").parse().unwrap();
    let seq = seq.min(model.dims().n_ctx);
    let n_batches = tokens / (batch * seq);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let vocab = model.dims().d_vocab as u32;
    let batches: Vec<Vec<Vec<u32>>> =
        (0..n_batches).map(|_| (0..batch).map(|_| (0..seq).map(|_| rng.random_range(0..vocab)).collect()).collect()).collect();
    let mut times = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        for b in &batches {
            let _ = model.run(b, &[hook], false).unwrap();
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let n = (n_batches * batch * seq) as f64;
    let tps = n / median;
    let blocks = hook.blocks_needed(model.dims().n_layers);
    let gflops = flops_per_token(&model, blocks, seq) * tps / 1e9;
    println!(
        "{}",
        serde_json::json!({
            "model": spec, "hook": hook.to_string(), "tokens": n, "batch": batch, "seq": seq,
            "load_s": load_s, "median_s": median, "min_s": times[0], "max_s": times[times.len() - 1], "tokens_per_s": tps,
            "effective_gflops": gflops, "best_matmul_gflops": best_matmul_gflops(),
            "threads": candle_core::utils::get_num_threads(),
        })
    );
}
