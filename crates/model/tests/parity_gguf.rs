//! The real Gemma 3 270M (Q4_K_M) and SmolLM2 135M (Q4_1) GGUFs against HF transformers'
//! dequantized f32 models: residual stream at layers 0, 6, 12, last-position logits, top-1
//! next token and 20 greedy tokens. References: `fixtures/parity/gen.py`; models:
//! `scripts/fetch-models.sh`.

mod common;

use candle_core::{DType, Device, Tensor};
use common::{assert_close, metadata, real_model, root, Tol};
use saex_hooks::Hook;
use saex_model::{generate::argmax, Dtype, LoadOptions, Model, Sampling};

/// Relative tolerance the issue sets for the real models on the default (dequantized) path.
const REAL: Tol = Tol(1e-3);

fn ids(t: &Tensor) -> Vec<u32> {
    t.to_dtype(DType::I64).unwrap().to_vec1::<i64>().unwrap().into_iter().map(|x| x as u32).collect()
}

fn check(name: &str, file: &str, dtype: Dtype) {
    let model = Model::load_with(real_model(file).to_str().unwrap(), LoadOptions::all().with_dtype(dtype)).unwrap();
    let name = &format!("{name} ({dtype})");
    let ref_path = root().join(format!("fixtures/parity/gguf/{}.reference.safetensors", name.split(' ').next().unwrap()));
    let r = candle_core::safetensors::load(&ref_path, &Device::Cpu).unwrap();
    let prompts: Vec<String> = serde_json::from_str(&metadata(&ref_path)["prompts"]).unwrap();
    let hooks = [Hook::ResidPre(0), Hook::ResidPre(6), Hook::ResidPre(12)];
    for (i, prompt) in prompts.iter().enumerate() {
        let expected_ids = ids(&r[&format!("p{i}.tokens")]);
        assert_eq!(model.tokenizer.encode(prompt, model.add_bos()).unwrap(), expected_ids, "{name} p{i} ids");
        let acts = model.run(std::slice::from_ref(&expected_ids), &hooks, true).unwrap().remove(0);
        for (h, t) in &acts.hooks {
            let err = assert_close(t, &r[&format!("p{i}.{h}")], REAL, &format!("{name} p{i} {h}"));
            eprintln!("{name} p{i} {h}: {err:.2e}");
        }
        // The reference keeps the 4,096 largest logits of the last position (the full row of a
        // 262k vocabulary would not fit the fixture budget) and the full row's rms.
        let logits = acts.logits.unwrap();
        let last = logits.get(expected_ids.len() - 1).unwrap();
        let top_ids = r[&format!("p{i}.logits_top_ids")].to_dtype(DType::U32).unwrap();
        let ours = last.index_select(&top_ids, 0).unwrap();
        let theirs = &r[&format!("p{i}.logits_top")];
        let rms = r[&format!("p{i}.logits_rms")].to_vec1::<f32>().unwrap()[0] as f64;
        let max_diff = (&ours - theirs).unwrap().abs().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap() as f64;
        let err = max_diff / rms;
        assert!(err <= REAL.0, "{name} p{i} logits: max|a-e|/rms(e) = {err:.3e}");
        eprintln!("{name} p{i} logits (top 4096): {err:.2e}");
        let top1 = argmax(&last.to_vec1::<f32>().unwrap());
        assert_eq!(top1, ids(&r[&format!("p{i}.top1")])[0], "{name} p{i} top-1");
    }
    let greedy = ids(&r["greedy.tokens"]);
    let prompt = ids(&r["p0.tokens"]);
    let new = model.generate(&prompt, greedy.len() - prompt.len(), &Sampling::default()).unwrap();
    assert_eq!(&new[..], &greedy[prompt.len()..], "{name} greedy continuation");
    let text = model.tokenizer.decode(&new).unwrap();
    assert_eq!(text, metadata(&ref_path)["greedy_text"], "{name} greedy text");
}

#[test]
fn gemma3_270m_matches_transformers() {
    check("gemma3-270m", "gemma-3-270m-q4_k_m.gguf", Dtype::Stored);
}

#[test]
fn smollm2_135m_matches_transformers() {
    check("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", Dtype::Stored);
}

#[test]
fn gemma3_270m_f32_path_matches_transformers() {
    check("gemma3-270m", "gemma-3-270m-q4_k_m.gguf", Dtype::F32);
}

#[test]
fn smollm2_135m_f32_path_matches_transformers() {
    check("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", Dtype::F32);
}

/// The quantized kernels against saex's own dequantized f32 path on the same file: every
/// hook of a few layers and all logits, so only summation order may differ.
#[test]
fn stored_and_f32_paths_agree() {
    for file in ["gemma-3-270m-q4_k_m.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"] {
        let path = real_model(file);
        let stored = Model::load(path.to_str().unwrap()).unwrap();
        let dense = Model::load_with(path.to_str().unwrap(), LoadOptions::all().with_dtype(Dtype::F32)).unwrap();
        let ids = stored.tokenizer.encode("The Eiffel Tower is in Paris, and the Colosseum is in", true).unwrap();
        let hooks = [Hook::ResidPost(0), Hook::MlpPost(3), Hook::AttnZ(5), Hook::ResidPre(12), Hook::LnFinalNormalized];
        // Batch of two: the tiled product (prefill); then one token (the fused kernel).
        let seqs = vec![ids.clone(), ids[..5].to_vec()];
        let a = stored.run(&seqs, &hooks, true).unwrap();
        let b = dense.run(&seqs, &hooks, true).unwrap();
        for (x, y) in a.iter().zip(&b) {
            for ((h, t), (_, u)) in x.hooks.iter().zip(&y.hooks) {
                let e = assert_close(t, u, common::F32, &format!("{file} {h} stored vs f32"));
                eprintln!("{file} {h}: stored vs f32 {e:.2e}");
            }
            let e = assert_close(x.logits.as_ref().unwrap(), y.logits.as_ref().unwrap(), common::F32, &format!("{file} logits"));
            eprintln!("{file} logits: stored vs f32 {e:.2e}");
        }
        let one = vec![vec![ids[0]]];
        let a = stored.run(&one, &[], true).unwrap().remove(0).logits.unwrap();
        let b = dense.run(&one, &[], true).unwrap().remove(0).logits.unwrap();
        let e = assert_close(&a, &b, common::F32, &format!("{file} one-token logits"));
        eprintln!("{file} one-token logits (fused kernel): stored vs f32 {e:.2e}");
    }
}
