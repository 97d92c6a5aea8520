//! Bad input, one test each: every failure is a one-line error naming what is wrong.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use common::{fixture, hf_cache, scratch};
use saex_sae::{Error, Sae};
use serde_json::Value;

/// Loads `spec`, expecting an error; checks it is one line and contains every `needle`.
fn load_err(spec: &str, needles: &[&str]) -> Error {
    hf_cache();
    let err = match Sae::load(spec) {
        Ok(_) => panic!("{spec}: loaded, expected an error containing {needles:?}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "not one line: {msg}");
    for n in needles {
        assert!(msg.contains(n), "`{msg}` lacks `{n}`");
    }
    err
}

fn edit_cfg(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("cfg.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(p, v.to_string()).unwrap();
}

fn edit_weights(dir: &Path, f: impl FnOnce(&mut HashMap<String, Tensor>)) {
    let p = dir.join("sae_weights.safetensors");
    let mut w = candle_core::safetensors::load(&p, &Device::Cpu).unwrap();
    f(&mut w);
    candle_core::safetensors::save(&w, &p).unwrap();
}

/// `t` with element `i` (flat) set to `v`.
fn poke(t: &Tensor, i: usize, v: f32) -> Tensor {
    let mut data = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    data[i] = v;
    Tensor::from_vec(data, t.dims(), &Device::Cpu).unwrap()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn unknown_architecture() {
    let d = scratch("saelens/standard", "arch");
    edit_cfg(&d, |v| v["architecture"] = "hypersparse".into());
    let e = load_err(&s(&d), &["unknown SAE architecture `hypersparse`", "cfg.json"]);
    assert!(matches!(e, Error::UnknownArchitecture { .. }));
}

#[test]
fn unknown_normalization() {
    let d = scratch("saelens/standard", "norm");
    edit_cfg(&d, |v| v["normalize_activations"] = "zscore".into());
    load_err(&s(&d), &["normalize_activations `zscore`"]);
    edit_cfg(&d, |v| v["normalize_activations"] = "covariance_whitening".into());
    load_err(&s(&d), &["covariance_whitening", "fold the whitening"]);
}

#[test]
fn unknown_hook_name() {
    let d = scratch("saelens/standard", "hook");
    edit_cfg(&d, |v| v["metadata"]["hook_name"] = "blocks.1.hook_resid".into());
    load_err(&s(&d), &["hook_name `blocks.1.hook_resid`"]);
}

#[test]
fn missing_tensor() {
    let d = scratch("saelens/standard", "missing");
    edit_weights(&d, |w| {
        w.remove("b_enc");
    });
    load_err(&s(&d), &["sae_weights.safetensors", "missing tensor `b_enc`", "W_enc"]);
}

#[test]
fn misnamed_tensor() {
    let d = scratch("saelens/standard", "misnamed");
    edit_weights(&d, |w| {
        let t = w.remove("W_enc").unwrap();
        w.insert("W_encoder".into(), t);
    });
    load_err(&s(&d), &["missing tensor `W_enc`", "W_encoder"]);
}

#[test]
fn unexpected_tensor() {
    let d = scratch("saelens/standard", "unexpected");
    edit_weights(&d, |w| {
        w.insert("threshold".into(), Tensor::zeros(48, candle_core::DType::F32, &Device::Cpu).unwrap());
    });
    load_err(&s(&d), &["unexpected tensor `threshold`", "standard"]);
}

#[test]
fn shape_mismatch() {
    let d = scratch("saelens/standard", "shape");
    edit_cfg(&d, |v| v["d_sae"] = 40.into());
    load_err(&s(&d), &["tensor `W_enc` has shape [16, 48], expected [16, 40]"]);
    // Transposed formats report the shape as stored: Llama Scope's encoder.weight is [d_sae, d_in].
    let d = scratch("llama_scope/Llama3_1-8B-Base-L3R-8x", "shape-llama");
    let p = d.join("hyperparams.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["d_sae"] = 32.into();
    std::fs::write(&p, v.to_string()).unwrap();
    load_err(&s(&d), &["final.safetensors", "`encoder.weight` has shape [64, 16], expected [32, 16]"]);
}

#[test]
fn nan_in_weights_names_the_tensor() {
    let d = scratch("saelens/standard", "nan");
    edit_weights(&d, |w| {
        let t = poke(&w["W_dec"], 7, f32::NAN);
        w.insert("W_dec".into(), t);
    });
    load_err(&s(&d), &["tensor `W_dec` contains NaN (first at flat index 7)"]);
}

#[test]
fn inf_in_weights_names_the_tensor() {
    let d = scratch("saelens/jumprelu", "inf");
    edit_weights(&d, |w| {
        let t = poke(&w["threshold"], 0, f32::INFINITY);
        w.insert("threshold".into(), t);
    });
    load_err(&s(&d), &["tensor `threshold` contains Inf"]);
}

#[test]
fn corrupt_npz() {
    load_err(&fixture("gemma_scope/corrupt"), &["params.npz", "not a readable .npz"]);
}

#[test]
fn corrupt_safetensors() {
    let d = scratch("saelens/standard", "corrupt-st");
    let p = d.join("sae_weights.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    load_err(&s(&d), &["sae_weights.safetensors", "not a valid safetensors file"]);
}

#[test]
fn corrupt_pickle() {
    load_err(&fixture("dictionary_learning/corrupt"), &["ae.pt", "corrupt pickle"]);
}

#[test]
fn malicious_pickle_is_refused_naming_the_callable() {
    let e = load_err(&fixture("dictionary_learning/malicious_os_system"), &["refusing pickle", "`os.system`"]);
    assert!(matches!(e, Error::UnsafePickle { ref callable, .. } if callable == "os.system"));
    load_err(&fixture("dictionary_learning/malicious_eval"), &["`builtins.eval`"]);
}

#[test]
fn unknown_release_name() {
    let e = load_err("gpt2-small-res-xx/blocks.8.hook_resid_pre", &["neither a path on disk nor a SAELens release", "gpt2-small-res-xx"]);
    assert!(matches!(e, Error::UnknownRelease { .. }));
    load_err("gpt2-small-res-jb/blocks.99.hook_resid_pre", &["has no SAE `blocks.99.hook_resid_pre`", "blocks.0.hook_resid_pre"]);
    load_err("goodfire-llama-3.3-70b-instruct/layer_50", &["conversion `goodfire`"]);
}

#[test]
fn release_known_but_not_cached_names_repo_and_file() {
    let e = load_err(
        "gpt2-small-res-jb/blocks.8.hook_resid_pre",
        &["jbloom/GPT2-Small-SAEs-Reformatted", "blocks.8.hook_resid_pre/cfg.json", "not in the local Hugging Face cache"],
    );
    assert!(matches!(e, Error::NotCached { .. }));
}

#[test]
fn gemma_scope_release_layout_uses_the_table() {
    // Tiny weights placed where the table says d_in 2304, d_sae 16384: a shape error, by path and by release.
    let layout = "gemma_scope/layout/gemma-scope-2b-pt-res/layer_3/width_16k/average_l0_20";
    load_err(&fixture(layout), &["params.npz", "`W_enc` has shape [16, 48], expected [2304, 16384]"]);
    load_err("gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical", &["expected [2304, 16384]"]);
    // The same file outside the layout loads, without a hook.
    let sae = Sae::load(&fixture("gemma_scope/bare")).unwrap();
    assert_eq!((sae.hook(), sae.d_in(), sae.d_sae()), (None, 16, 48));
    let sae = sae.with_hook("blocks.3.hook_resid_post".parse().unwrap());
    sae.check_input_width(16).unwrap();
}

#[test]
fn d_in_differs_from_hook_width() {
    let sae = Sae::load(&fixture("saelens/standard")).unwrap();
    let e = sae.check_input_width(768).unwrap_err();
    assert_eq!(e.to_string(), "SAE d_in 16 ≠ hook width 768 at blocks.1.hook_resid_pre");
    let x = Tensor::zeros((2, 768), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(sae.encode(&x).unwrap_err().to_string().contains("does not end in d_in 16"));
}

#[test]
fn not_an_sae_directory() {
    let d = scratch("saelens/standard", "empty");
    std::fs::remove_file(d.join("sae_weights.safetensors")).unwrap();
    load_err(&s(&d), &["not an SAE directory", "found cfg.json, sparsity.safetensors"]);
}

#[test]
fn decode_of_a_normalizing_sae_needs_its_input() {
    let sae = Sae::load(&fixture("saelens/standard_layer_norm")).unwrap();
    let acts = Tensor::zeros((1, sae.d_sae()), candle_core::DType::F32, &Device::Cpu).unwrap();
    let e = sae.decode(&acts).unwrap_err();
    assert!(matches!(e, Error::DecodeNeedsInput { normalization: "layer_norm" }), "{e}");
    let bad = sae.encode_restricted(&Tensor::zeros((1, 16), candle_core::DType::F32, &Device::Cpu).unwrap(), &[48]);
    assert!(bad.unwrap_err().to_string().contains("feature 48 ≥ d_sae 48"));
}
