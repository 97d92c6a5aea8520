//! Gemma Scope 2 (`params.safetensors`, optional `config.json`). Mirrors
//! `gemma_3_sae_huggingface_loader` / `get_gemma_3_config_from_hf`: lowercase
//! `w_enc [d_in, d_sae]`, `w_dec [d_sae, d_in]`, `b_enc`, `b_dec`, `threshold`; d_in and d_sae
//! from the tensors; JumpReLU without `b_dec` subtraction or normalization.
//!
//! The hook comes from `config.json`'s `hf_hook_point_in` (an HF module path) when present,
//! else from the exact release folder layout `{resid_post,attn_out,mlp_out}[_all]/layer_{L}_...`;
//! otherwise it is left unset. Transcoders and CLTs are refused.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{read_json, Error, Result};
use crate::formats::{parse_cfg, Format, Parts, ReleaseCtx, StateDict, Stored};

/// TransformerLens hook for an HF module path of Gemma 3 (`model.layers.L.output`, ...).
fn hook_of_hf_point(point: &str) -> Option<String> {
    let rest = point.strip_prefix("model.layers.")?;
    let (layer, module) = rest.split_once('.')?;
    let l: usize = layer.parse().ok()?;
    Some(match module {
        "output" => format!("blocks.{l}.hook_resid_post"),
        "self_attn.o_proj.input" => format!("blocks.{l}.attn.hook_z"),
        "post_feedforward_layernorm.output" => format!("blocks.{l}.hook_mlp_out"),
        _ => return None,
    })
}

/// `(site dir, layer)` of a release folder `resid_post/layer_12_width_16k_l0_medium`.
fn site_layer_of(folder: &str) -> Option<(String, usize)> {
    let mut comps = folder.trim_matches('/').rsplit('/');
    let name = comps.next()?;
    let site = comps.next().unwrap_or("");
    let rest = name.strip_prefix("layer_")?;
    let (layer, rest) = rest.split_once('_')?;
    rest.strip_prefix("width_")?;
    let l = layer.parse().ok().filter(|_| layer.bytes().all(|b| b.is_ascii_digit()))?;
    Some((site.to_string(), l))
}

fn hook_of_site(site: &str, l: usize) -> Option<String> {
    Some(match site.trim_end_matches("_all") {
        "resid_post" => format!("blocks.{l}.hook_resid_post"),
        "attn_out" => format!("blocks.{l}.attn.hook_z"),
        "mlp_out" => format!("blocks.{l}.hook_mlp_out"),
        _ => return None,
    })
}

/// SAELens's model-name clean-up of `config.json`'s `model_name`.
fn model_name(raw: &str) -> String {
    let mut m = if raw.contains("google") { raw.to_string() } else { format!("google/{raw}") };
    m = m.replace("-v3", "-3");
    if m.contains("270m") {
        m = m.replace("-pt", "");
    }
    m
}

pub(crate) fn load(dir: &Path, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    let path = dir.join("params.safetensors");
    let folder = match rel {
        Some(r) => r.folder.clone(),
        None => dir.to_string_lossy().into_owned(),
    };
    let site_layer = site_layer_of(&folder);
    if site_layer.as_ref().is_some_and(|(s, _)| s.starts_with("transcoder") || s.starts_with("clt")) {
        return Err(Error::Unsupported { path: dir.into(), what: "a Gemma Scope 2 transcoder".into() });
    }
    let cfg_path = dir.join("config.json");
    let raw = if cfg_path.is_file() { Some(read_json(&cfg_path)?) } else { None };
    let (hook, hf_hook, model) = match &raw {
        Some(raw) => {
            if raw.get("architecture").and_then(Value::as_str) != Some("jump_relu") {
                let a = raw.get("architecture").map(Value::to_string).unwrap_or_else(|| "none".into());
                return Err(Error::config(&cfg_path, "architecture", format!("{a} is not \"jump_relu\"")));
            }
            if raw.get("hf_hook_point_out").is_some_and(|v| !v.is_null()) {
                return Err(Error::Unsupported { path: cfg_path, what: "a Gemma Scope 2 transcoder (hf_hook_point_out)".into() });
            }
            let point = raw.get("hf_hook_point_in").and_then(Value::as_str);
            let model = raw.get("model_name").and_then(Value::as_str).map(model_name);
            (point.and_then(hook_of_hf_point), point.map(str::to_string), model)
        }
        None => {
            let hook = site_layer.as_ref().and_then(|(s, l)| hook_of_site(s, *l));
            let repo = rel.map(|r| r.repo.clone()).or_else(|| repo_of_cache_path(dir));
            (hook, None, repo.filter(|r| r.contains("gemma-scope-2")).map(|r| model_name(&r.replace("gemma-scope-2", "gemma-3"))))
        }
    };
    let mut st = Stored::safetensors(&path)?;
    if st.contains("affine_skip_connection") {
        return Err(Error::Unsupported { path, what: "a Gemma Scope 2 skip transcoder (affine_skip_connection)".into() });
    }
    let dims = st.dims("w_enc").unwrap_or_default();
    let cfg = json!({
        "architecture": "jumprelu",
        "d_in": dims.first().copied().unwrap_or(0),
        "d_sae": dims.get(1).copied().unwrap_or(0),
        "dtype": "float32",
        "model_name": model,
        "hook_name": hook,
        "hook_head_index": null,
        "prepend_bos": true,
        "dataset_path": "monology/pile-uncopyrighted",
        "context_size": 1024,
        "apply_b_dec_to_input": false,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "hf_hook_name": hf_hook,
    });
    let cfg = parse_cfg(cfg, rel, &path)?;
    let mut sd = StateDict::new(&path);
    for (name, stored) in [("W_enc", "w_enc"), ("W_dec", "w_dec"), ("b_enc", "b_enc"), ("b_dec", "b_dec"), ("threshold", "threshold")] {
        sd.insert(name, st.take(stored)?);
    }
    if let Some(extra) = st.rest().next() {
        return Err(Error::UnexpectedTensor { path, tensor: extra.clone(), architecture: "jumprelu".into() });
    }
    Ok(Parts { cfg, tensors: sd, log_sparsity: None, format: Format::GemmaScope2, dir: dir.into(), fold: None })
}

/// `google/gemma-scope-2-270m-pt` for `.../models--google--gemma-scope-2-270m-pt/snapshots/<rev>/<site>/<name>`.
fn repo_of_cache_path(dir: &Path) -> Option<String> {
    let comps: Vec<String> = dir.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let n = comps.len();
    (n >= 5 && comps[n - 4] == "snapshots").then(|| comps[n - 5].strip_prefix("models--").map(|r| r.replacen("--", "/", 1)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_from_hf_points_and_folders() {
        assert_eq!(hook_of_hf_point("model.layers.12.output").as_deref(), Some("blocks.12.hook_resid_post"));
        assert_eq!(hook_of_hf_point("model.layers.3.self_attn.o_proj.input").as_deref(), Some("blocks.3.attn.hook_z"));
        assert_eq!(hook_of_hf_point("model.layers.3.post_feedforward_layernorm.output").as_deref(), Some("blocks.3.hook_mlp_out"));
        assert_eq!(hook_of_hf_point("model.layers.3.pre_feedforward_layernorm.output"), None);
        let (site, l) = site_layer_of("resid_post_all/layer_7_width_262k_l0_big").unwrap();
        assert_eq!(hook_of_site(&site, l).as_deref(), Some("blocks.7.hook_resid_post"));
        let (site, l) = site_layer_of("attn_out/layer_2_width_16k_l0_small").unwrap();
        assert_eq!(hook_of_site(&site, l).as_deref(), Some("blocks.2.attn.hook_z"));
        assert!(site_layer_of("resid_post/params").is_none());
        assert_eq!(model_name("gemma-v3-270m-pt"), "google/gemma-3-270m");
        assert_eq!(model_name("gemma-v3-1b-pt"), "google/gemma-3-1b-pt");
    }
}
