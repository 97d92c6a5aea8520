//! What the activation index costs on top of the model and the SAE: the same documents, in
//! the same blocks, run (a) through the encode pipeline alone and (b) through a whole
//! `index build` (tokenizing, sketching, writing Parquet; no logit table). Alternates the
//! two, prints one JSON object with medians.
//!
//! ```text
//! cargo bench -p saex-engine --bench index_overhead -- --model M --sae S --corpus C.jsonl
//!     [--max-tokens 20000 --block 16 --ctx 128 --repeat 3]
//! ```
#![allow(clippy::print_stdout)] // a benchmark's result is what it prints

use std::path::PathBuf;
use std::time::Instant;

use saex_engine::index_store::{IndexOptions, Shard};
use saex_engine::{index_build, IndexBuildRequest, Session, SessionOptions};

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
    let num = |n: &str, d: &str| arg(&args, n, d).parse::<usize>().expect("a number");
    let (max_tokens, block, ctx, repeat) = (num("--max-tokens", "20000"), num("--block", "16"), num("--ctx", "128"), num("--repeat", "3"));
    let corpus = PathBuf::from(arg(&args, "--corpus", ""));
    let s = Session::open(&arg(&args, "--model", ""), &[arg(&args, "--sae", "")], SessionOptions::default()).expect("open the session");
    // The documents the index takes: the corpus prefix holding max_tokens tokens, in blocks.
    let docs = saex_corpus::read_docs(&corpus, saex_corpus::Split::All).expect("read the corpus");
    let mut blocks: Vec<Vec<Vec<u32>>> = Vec::new();
    let (mut total, mut current) = (0usize, usize::MAX);
    for d in &docs {
        if total >= max_tokens {
            break;
        }
        let mut ids = s.tokenize_ids(&d.text, s.model.add_bos()).expect("tokenize");
        ids.truncate(ctx);
        total += ids.len().saturating_sub(s.bos_skip(&ids));
        if d.line / block != current {
            current = d.line / block;
            blocks.push(Vec::new());
        }
        if ids.len() > s.bos_skip(&ids) {
            blocks.last_mut().expect("a block").push(ids);
        }
    }
    let (mut alone, mut indexed) = (Vec::new(), Vec::new());
    for r in 0..repeat {
        let t = Instant::now();
        for b in blocks.iter().filter(|b| !b.is_empty()) {
            s.encode_batch(&[0], b).expect("encode");
        }
        alone.push(t.elapsed().as_secs_f64());
        let dir = std::env::temp_dir().join(format!("saex-index-overhead-{}-{r}", std::process::id()));
        let req = IndexBuildRequest {
            corpus: corpus.clone(),
            out: dir.clone(),
            options: IndexOptions { ctx, block, max_tokens, ..Default::default() },
            shard: Shard::WHOLE,
            logits: false,
            logit_k: 10,
            checkpoint_secs: 3600,
        };
        let t = Instant::now();
        let report = index_build(&s, &req, &mut |_| {}, None).expect("index build");
        indexed.push(t.elapsed().as_secs_f64());
        assert_eq!(report.manifest.corpus.tokens as usize, total);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (a, b) = (median(alone), median(indexed));
    println!(
        "{}",
        serde_json::json!({
            "tokens": total, "model_encode_s": a, "index_build_s": b,
            "model_encode_tokens_per_s": total as f64 / a, "index_tokens_per_s": total as f64 / b,
            "overhead": b / a - 1.0,
        })
    );
}
