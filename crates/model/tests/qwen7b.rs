//! DeepSeek-R1-Distill-Qwen-7B Q4_K_M (opt-in, 4.7 GB: `scripts/fetch-models.sh qwen7b`, or any
//! file with its layout named by `SAEX_QWEN7B`, such as `bench/make_synthetic_gguf.py`'s
//! random-weight copy). Skipped, loudly, when absent: it is not part of the default run.
//!
//! The whole model cannot be dequantized here (~30 GB in f32), so the check is per layer: the
//! quantized kernels (Q4_K, Q6_K at 3584 × 18944 shapes) against saex's f32 path loaded only up
//! to block 3, on every hook of those blocks.

mod common;

use common::{assert_close, models_dir};
use saex_hooks::Hook;
use saex_model::{Dtype, LoadOptions, Model};

fn file() -> Option<String> {
    let p = std::env::var("SAEX_QWEN7B")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| models_dir().join("DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"));
    if p.is_file() {
        Some(p.to_string_lossy().into_owned())
    } else {
        eprintln!("SKIPPED: {} is absent (opt-in: scripts/fetch-models.sh qwen7b, or SAEX_QWEN7B)", p.display());
        None
    }
}

#[test]
fn qwen7b_quantized_kernels_match_the_f32_path_on_the_first_blocks() {
    let Some(path) = file() else { return };
    let hooks = [Hook::ResidPre(1), Hook::AttnZ(1), Hook::MlpPost(2), Hook::ResidPost(2), Hook::ResidPre(3)];
    let opts = LoadOptions::for_hooks(&hooks, false);
    let stored = Model::load_with(&path, opts).unwrap();
    let dense = Model::load_with(&path, opts.with_dtype(Dtype::F32)).unwrap();
    let ids = stored.tokenizer.encode("Why is the sky blue? Explain step by step.", true).unwrap();
    assert_eq!(ids[0], 151646);
    // Whole prompt (tiled product) and its first token alone (fused kernel).
    for seq in [ids.clone(), ids[..1].to_vec()] {
        let a = stored.run(std::slice::from_ref(&seq), &hooks, false).unwrap().remove(0);
        let b = dense.run(std::slice::from_ref(&seq), &hooks, false).unwrap().remove(0);
        for ((h, x), (_, y)) in a.hooks.iter().zip(&b.hooks) {
            let e = assert_close(x, y, common::F32, &format!("qwen7b {h}, {} tokens", seq.len()));
            eprintln!("qwen7b {h}, {} tokens: stored vs f32 {e:.2e}", seq.len());
        }
    }
}
