//! dictionary_learning (`ae.pt` + `config.json`). Mirrors
//! `dictionary_learning_sae_huggingface_loader_1` / `get_dictionary_learning_config_1_from_hf`.
//!
//! | `trainer.dict_class`                    | architecture | apply_b_dec_to_input |
//! |-----------------------------------------|--------------|----------------------|
//! | `AutoEncoderTopK`                       | topk (`k`)   | true                 |
//! | `GatedAutoEncoder`                      | gated        | true                 |
//! | `BatchTopKSAE`, `MatryoshkaBatchTopKSAE`| jumprelu     | true                 |
//! | `JumpReluAutoEncoder`                   | jumprelu     | false                |
//! | anything else                           | standard     | true                 |
//!
//! The pickle is checked opcode by opcode before candle reads its tensors ([`super::pickle`]).

use std::path::Path;

use serde_json::{json, Value};

use crate::config::Architecture;
use crate::error::{read_json, Error, Result};
use crate::formats::{get, get_usize, parse_cfg, pickle, Entry, Format, Parts, ReleaseCtx, StateDict, Stored};

pub(crate) fn load(dir: &Path, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    let cfg_path = dir.join("config.json");
    let raw = read_json(&cfg_path)?;
    let trainer = get(&raw, "trainer", &cfg_path)?;
    let dict_class = get(trainer, "dict_class", &cfg_path)?.as_str().unwrap_or_default().to_string();
    let (architecture, apply_b_dec_to_input) = match dict_class.as_str() {
        "GatedAutoEncoder" => ("gated", true),
        "MatryoshkaBatchTopKSAE" | "BatchTopKSAE" => ("jumprelu", true),
        // dictionary_learning's JumpReluAutoEncoder does not subtract b_dec before encoding.
        "JumpReluAutoEncoder" => ("jumprelu", false),
        _ => ("standard", true),
    };
    let topk = dict_class == "AutoEncoderTopK";
    let layer = get_usize(trainer, "layer", &cfg_path)?;
    let lm_name = get(trainer, "lm_name", &cfg_path)?.as_str().unwrap_or_default();
    let cfg = json!({
        "architecture": architecture,
        "d_in": get(trainer, "activation_dim", &cfg_path)?,
        "d_sae": get(trainer, "dict_size", &cfg_path)?,
        "dtype": "float32",
        "model_name": lm_name.rsplit('/').next().unwrap_or(lm_name),
        "hook_name": format!("blocks.{layer}.hook_resid_post"),
        "hook_head_index": null,
        "activation_fn": if topk { "topk" } else { "relu" },
        "activation_fn_kwargs": if topk { json!({"k": get(trainer, "k", &cfg_path)?}) } else { json!({}) },
        "apply_b_dec_to_input": apply_b_dec_to_input,
        "prepend_bos": true,
        "dataset_path": "monology/pile-uncopyrighted",
        "context_size": raw.get("buffer").and_then(|b| b.get("ctx_len")).cloned().unwrap_or(Value::Null),
        "normalize_activations": "none",
        "neuronpedia_id": null,
    });
    let cfg = parse_cfg(cfg, rel, &cfg_path)?;
    let path = dir.join("ae.pt");
    pickle::check_torch_zip(&path)?;
    let tensors = candle_core::pickle::read_all(&path).map_err(|e| Error::bad_file(&path, format!("unreadable torch checkpoint: {e}")))?;
    let mut st = Stored::new(&path, tensors);
    let mut sd = StateDict::new(&path);
    let w_enc = if st.contains("W_enc") { st.take("W_enc")? } else { st.take("encoder.weight")?.t()? };
    let w_dec = if st.contains("W_dec") { st.take("W_dec")? } else { st.take("decoder.weight")?.t()? };
    sd.insert("W_enc", w_enc);
    sd.insert("W_dec", w_dec);
    sd.insert("b_dec", st.take_any(&["b_dec", "bias", "decoder_bias"])?);
    match cfg.architecture {
        Architecture::Gated => {
            sd.insert("b_mag", st.take("mag_bias")?);
            sd.insert("b_gate", st.take("gate_bias")?);
            sd.insert("r_mag", st.take("r_mag")?);
        }
        _ => {
            sd.insert("b_enc", st.take_any(&["b_enc", "encoder.bias"])?);
        }
    }
    if cfg.architecture == Architecture::JumpRelu {
        // A scalar threshold (BatchTopK) is broadcast to every feature.
        let e = st.take("threshold")?;
        let tensor = if e.tensor.rank() == 0 {
            (e.tensor.ones_like()?.broadcast_as(cfg.d_sae)?.contiguous()? * StateDict::scalar(&e)?)?
        } else {
            e.tensor.clone()
        };
        sd.insert("threshold", Entry { tensor, ..e });
    }
    Ok(Parts { cfg, tensors: sd, log_sparsity: None, format: Format::DictionaryLearning, dir: dir.into(), fold: None })
}
