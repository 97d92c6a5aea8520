//! Llama Scope (OpenMOSS lm-saes). Two layouts, each mirroring its SAELens loader:
//!
//! - `hyperparams.json` + `checkpoints/final.safetensors` (`llama_scope_sae_huggingface_loader`):
//!   one scalar threshold `jump_relu_threshold · sqrt(d_model) / dataset_average_activation_norm.in`
//!   for every feature.
//! - `config.json` + `sae_weights.safetensors` (`llama_scope_r1_distill_sae_huggingface_loader`):
//!   a per-feature `threshold = exp(log_jumprelu_threshold)`.
//!
//! Both are JumpReLU with `normalize_activations: expected_average_only_in`, which
//! `SAE.from_pretrained` folds (`W_enc *= f; W_dec /= f; b_dec /= f`) with the release's
//! `norm_scaling_factor`. For the first layout loaded from a local directory, the factor is
//! the same `sqrt(d_model) / dataset_average_activation_norm.in` the threshold was scaled by
//! (SAELens's comment: the threshold is scaled "to match fold_activation_norm_scaling_factor").
//! The second layout has no such number in its files: loaded locally it is not folded (as
//! `load_from_disk` would not), and [`crate::Sae::fold_activation_norm_scaling_factor`] is there.

use std::path::Path;

use serde_json::json;

use crate::error::{read_json, Result};
use crate::formats::{get, get_f64, get_usize, parse_cfg, Entry, Format, Parts, ReleaseCtx, StateDict, Stored};

/// `encoder.weight`ᵀ, `decoder.weight`ᵀ, `encoder.bias`, `decoder.bias`.
fn linear_weights(st: &mut Stored, sd: &mut StateDict) -> Result<()> {
    sd.insert("W_enc", st.take("encoder.weight")?.t()?);
    sd.insert("W_dec", st.take("decoder.weight")?.t()?);
    sd.insert("b_enc", st.take("encoder.bias")?);
    sd.insert("b_dec", st.take("decoder.bias")?);
    Ok(())
}

/// `hyperparams.json` + `checkpoints/final.safetensors` (bf16).
pub(crate) fn load_v1(dir: &Path, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    let hp_path = dir.join("hyperparams.json");
    let hp = read_json(&hp_path)?;
    let d_in = get_usize(&hp, "d_model", &hp_path)?;
    let d_sae = get_usize(&hp, "d_sae", &hp_path)?;
    let avg_in = get_f64(get(&hp, "dataset_average_activation_norm", &hp_path)?, "in", &hp_path)?;
    let norm_scaling_factor = (d_in as f64).sqrt() / avg_in;
    let jump_relu_threshold = get_f64(&hp, "jump_relu_threshold", &hp_path)? * norm_scaling_factor;
    let cfg = json!({
        "architecture": "jumprelu",
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "bfloat16",
        "model_name": "meta-llama/Llama-3.1-8B",
        "hook_name": get(&hp, "hook_point_in", &hp_path)?,
        "hook_head_index": null,
        "activation_fn": "relu",
        "prepend_bos": true,
        "dataset_path": "cerebras/SlimPajama-627B",
        "context_size": 1024,
        "apply_b_dec_to_input": false,
        "normalize_activations": "expected_average_only_in",
    });
    let cfg = parse_cfg(cfg, rel, &hp_path)?;
    let path = dir.join("checkpoints").join("final.safetensors");
    let mut st = Stored::safetensors(&path)?;
    let mut sd = StateDict::new(&path);
    linear_weights(&mut st, &mut sd)?;
    // torch.ones(d_sae) * threshold: the Python float times an f32 tensor.
    let threshold =
        (candle_core::Tensor::ones(d_sae, candle_core::DType::F32, &candle_core::Device::Cpu)? * f64::from(jump_relu_threshold as f32))?;
    sd.insert("threshold", Entry { tensor: threshold, file: hp_path, name: "jump_relu_threshold".into(), transposed: false });
    let fold = Some(rel.and_then(|r| r.norm_scaling_factor).unwrap_or(norm_scaling_factor));
    Ok(Parts { cfg, tensors: sd, log_sparsity: None, format: Format::LlamaScope, dir: dir.into(), fold })
}

/// `config.json` + `sae_weights.safetensors` with `log_jumprelu_threshold` (Llama Scope R1).
pub(crate) fn load_r1(dir: &Path, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    let cfg_path = dir.join("config.json");
    let raw = read_json(&cfg_path)?;
    let d_in = get_usize(&raw, "d_model", &cfg_path)?;
    let cfg = json!({
        "architecture": "jumprelu",
        "d_in": d_in,
        "d_sae": d_in * get_usize(&raw, "expansion_factor", &cfg_path)?,
        "dtype": "float32",
        "model_name": "meta-llama/Llama-3.1-8B",
        "hook_name": get(&raw, "hook_point_in", &cfg_path)?,
        "hook_head_index": null,
        "activation_fn": "relu",
        "prepend_bos": true,
        "dataset_path": "cerebras/SlimPajama-627B",
        "context_size": 1024,
        "apply_b_dec_to_input": false,
        "normalize_activations": "expected_average_only_in",
    });
    let cfg = parse_cfg(cfg, rel, &cfg_path)?;
    let path = dir.join("sae_weights.safetensors");
    let mut st = Stored::safetensors(&path)?;
    let mut sd = StateDict::new(&path);
    linear_weights(&mut st, &mut sd)?;
    let log = st.take("log_jumprelu_threshold")?;
    sd.insert("threshold", Entry { tensor: log.tensor.exp()?, ..log });
    let fold = rel.and_then(|r| r.norm_scaling_factor);
    Ok(Parts { cfg, tensors: sd, log_sparsity: None, format: Format::LlamaScopeR1, dir: dir.into(), fold })
}
