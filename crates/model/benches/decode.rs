//! Prefill and decoding speed: a prompt of `--prompt` token ids (read from `--ids FILE`, a
//! JSON list, or random), then `--new` greedy tokens with the KV cache, ignoring the
//! end-of-sequence token so every run decodes the same count. Prints one JSON object.
//!
//! ```text
//! cargo bench -p saex-model --bench decode -- --model FILE.gguf [--dtype stored|f32] \
//!     [--ids ids.json | --prompt 128] [--new 128] [--repeat 3]
//! ```
//! The peer script `bench/llama_cpp_decode.py` measures llama.cpp on the same ids.

// A benchmark binary: its output is the JSON it prints.
#![allow(clippy::print_stdout)]

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rand::{Rng, SeedableRng};
use saex_hooks::Capture;
use saex_model::ops::{ids_tensor, KvCache};
use saex_model::{generate::argmax, Dtype, LoadOptions, Model, Stop};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let spec = arg(&args, "--model", "");
    if spec.is_empty() {
        eprintln!("usage: decode --model M [--dtype stored|f32] [--ids FILE | --prompt N] [--new N] [--repeat R]");
        std::process::exit(2);
    }
    let dtype: Dtype = arg(&args, "--dtype", "stored").parse().unwrap();
    let new: usize = arg(&args, "--new", "128").parse().unwrap();
    let repeat: usize = arg(&args, "--repeat", "3").parse().unwrap();
    let t = Instant::now();
    let model = Model::load_with(&spec, LoadOptions::all().with_dtype(dtype)).unwrap();
    let load_s = t.elapsed().as_secs_f64();
    let ids: Vec<u32> = match arg(&args, "--ids", "").as_str() {
        "" => {
            let n: usize = arg(&args, "--prompt", "128").parse().unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(0);
            (0..n).map(|_| rng.random_range(0..model.dims().d_vocab as u32)).collect()
        }
        f => serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap(),
    };
    let stop = Stop { blocks: model.dims().n_layers, logits: true };
    let (mut prefill, mut decode) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    for _ in 0..repeat {
        let mut cache = KvCache::new();
        let mut cap = Capture::default();
        let t = Instant::now();
        let logits =
            model.forward_last(&ids_tensor(std::slice::from_ref(&ids)).unwrap(), 0, Some(&mut cache), &mut cap, stop).unwrap().unwrap();
        let mut next = argmax(&logits.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        prefill.push(t.elapsed().as_secs_f64());
        out = vec![next];
        let t = Instant::now();
        for _ in 1..new {
            let start = cache.len();
            let logits = model.forward_last(&ids_tensor(&[vec![next]]).unwrap(), start, Some(&mut cache), &mut cap, stop).unwrap().unwrap();
            next = argmax(&logits.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            out.push(next);
        }
        decode.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, d) = (median(&mut prefill), median(&mut decode));
    println!(
        "{}",
        serde_json::json!({
            "model": spec, "dtype": dtype.to_string(), "isa": format!("{:?}", saex_kernels::quant::isa()),
            "threads": rayon::current_num_threads(), "load_s": load_s,
            "prompt_tokens": ids.len(), "new_tokens": new,
            "prefill_s": p, "prefill_tok_s": ids.len() as f64 / p,
            "decode_s": d, "decode_tok_s": (new - 1) as f64 / d,
            "tokens": out,
        })
    );
}
