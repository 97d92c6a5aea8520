//! EleutherAI sparsify (`cfg.json` + `sae.safetensors`). Mirrors `sparsify_disk_loader` /
//! `get_sparsify_config_from_disk`: a TopK SAE (via the pre-6.0 `activation_fn_str: topk`
//! path; `signed` is dropped), `apply_b_dec_to_input = not normalize_decoder`.
//!
//! Two deliberate differences. sparsify stores `W_dec` as `[num_latents, d_in]`, which SAELens
//! transposes (and then fails to load); here its orientation is checked against d_in and it is
//! transposed only when stored `[d_in, d_sae]` (a square one is taken as sparsify's own layout).
//! And `num_latents: 0` means `d_in · expansion_factor`, as in sparsify.

use std::path::Path;

use candle_core::{DType, Tensor};
use serde_json::{json, Value};

use crate::error::{read_json, Error, Result};
use crate::formats::{get, get_usize, parse_cfg, Entry, Format, Parts, ReleaseCtx, StateDict, Stored};

/// TransformerLens hook of a sparsify hookpoint folder (`layers.6`, `embed_tokens`).
fn hook_of_folder(name: &str) -> Option<String> {
    let name = name.strip_prefix("model.").unwrap_or(name);
    if name == "embed_tokens" {
        return Some("hook_embed".into());
    }
    let l = name.strip_prefix("layers.").or_else(|| name.strip_prefix("layers_"))?;
    (!l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())).then(|| format!("blocks.{l}.hook_resid_post"))
}

pub(crate) fn load(dir: &Path, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    let cfg_path = dir.join("cfg.json");
    let old = read_json(&cfg_path)?;
    let parent_cfg = dir.parent().map(|p| p.join("config.json")).filter(|p| p.is_file());
    let run = match &parent_cfg {
        Some(p) => read_json(p)?,
        None => json!({}),
    };
    let folder = dir.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let d_in = get_usize(&old, "d_in", &cfg_path)?;
    let d_sae = match old.get("num_latents").and_then(Value::as_u64).filter(|&n| n > 0) {
        Some(n) => n as usize,
        None => d_in * get_usize(&old, "expansion_factor", &cfg_path)?,
    };
    let parent_name = dir.parent().and_then(Path::file_name).map(|f| f.to_string_lossy().into_owned());
    let cfg = json!({
        "architecture": "standard",
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "bfloat16",
        "model_name": run.get("model").cloned().unwrap_or_else(|| parent_name.into()),
        "hook_name": hook_of_folder(&folder),
        "hook_head_index": null,
        "activation_fn_str": "topk",
        "activation_fn_kwargs": {"k": get(&old, "k", &cfg_path)?, "signed": old.get("signed").cloned().unwrap_or(false.into())},
        "apply_b_dec_to_input": !old.get("normalize_decoder").and_then(Value::as_bool).unwrap_or(false),
        "dataset_path": run.get("dataset").cloned().unwrap_or_else(|| "togethercomputer/RedPajama-Data-1T-Sample".into()),
        "context_size": run.get("ctx_len").cloned().unwrap_or_else(|| 2048.into()),
        "prepend_bos": true,
        "normalize_activations": "none",
        "neuronpedia_id": null,
    });
    let cfg = parse_cfg(cfg, rel, &cfg_path)?;
    let path = dir.join("sae.safetensors");
    let mut st = Stored::safetensors(&path)?;
    let mut sd = StateDict::new(&path);
    let w_enc = if st.contains("W_enc") { st.take("W_enc")? } else { st.take("encoder.weight")?.t()? };
    let w_dec = if st.contains("W_dec") {
        let e = st.take("W_dec")?;
        let dims = e.tensor.dims().to_vec();
        if dims == [d_in, d_sae] && d_in != d_sae {
            e.t()?
        } else {
            e
        }
    } else {
        st.take("decoder.weight")?.t()?
    };
    let zeros = |n: usize, name: &str| -> Result<Entry> {
        Ok(Entry {
            tensor: Tensor::zeros(n, DType::F32, &candle_core::Device::Cpu)?,
            file: path.clone(),
            name: name.into(),
            transposed: false,
        })
    };
    let b_enc = match st.take_opt("b_enc")? {
        Some(e) => e,
        None => st.take_opt("encoder.bias")?.map_or_else(|| zeros(d_sae, "b_enc"), Ok)?,
    };
    let b_dec = match st.take_opt("b_dec")? {
        Some(e) => e,
        None => st.take_opt("decoder.bias")?.map_or_else(|| zeros(d_in, "b_dec"), Ok)?,
    };
    sd.insert("W_enc", w_enc);
    sd.insert("W_dec", w_dec);
    sd.insert("b_enc", b_enc);
    sd.insert("b_dec", b_dec);
    if cfg.architecture != crate::config::Architecture::TopK {
        return Err(Error::config(&cfg_path, "k", "sparsify SAEs are TopK"));
    }
    Ok(Parts { cfg, tensors: sd, log_sparsity: None, format: Format::Sparsify, dir: dir.into(), fold: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hookpoint_folders() {
        assert_eq!(hook_of_folder("layers.6").as_deref(), Some("blocks.6.hook_resid_post"));
        assert_eq!(hook_of_folder("layers_10").as_deref(), Some("blocks.10.hook_resid_post"));
        assert_eq!(hook_of_folder("embed_tokens").as_deref(), Some("hook_embed"));
        // Sub-modules are model-specific (Gemma's MLP output is not hook_mlp_out): no hook.
        assert_eq!(hook_of_folder("layers.6.mlp"), None);
        assert_eq!(hook_of_folder("h.6"), None);
    }
}
