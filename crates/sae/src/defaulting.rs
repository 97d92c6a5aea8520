//! `handle_config_defaulting` (`sae_lens/loading/pretrained_sae_loaders.py`): a config without a
//! `sae_lens_version` of at least 6.0.0-rc.0 goes through `handle_pre_6_0_config`, which turns
//! the pre-6.0 flat layout into the 6.x one.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The 6.x-layout dict of `obj`.
pub(crate) fn handle_config_defaulting(obj: &Map<String, Value>, path: &Path) -> Result<Map<String, Value>> {
    let version = obj
        .get("sae_lens_version")
        .filter(|v| !v.is_null() && *v != "")
        .or_else(|| obj.get("metadata").and_then(|m| m.get("sae_lens_version")));
    let pre6 = match version {
        Some(Value::String(v)) if !v.is_empty() => {
            is_before_6(v).ok_or_else(|| Error::config(path, "sae_lens_version", format!("invalid version `{v}`")))?
        }
        _ => true,
    };
    Ok(if pre6 { handle_pre_6_0_config(obj) } else { obj.clone() })
}

/// Keys SAELens moves into `metadata` from a pre-6.0 flat config (`LLM_METADATA_KEYS`).
const LLM_METADATA_KEYS: [&str; 17] = [
    "model_name",
    "hook_name",
    "model_class_name",
    "hook_head_index",
    "model_from_pretrained_kwargs",
    "prepend_bos",
    "exclude_special_tokens",
    "neuronpedia_id",
    "context_size",
    "seqpos_slice",
    "dataset_path",
    "sae_lens_version",
    "sae_lens_training_version",
    "hook_name_out",
    "hook_head_index_out",
    "hf_hook_name",
    "hf_hook_name_out",
];

/// `handle_pre_6_0_config`: renames, defaults, topk detection, bool normalization, and
/// moving the LLM keys into `metadata`. Unknown keys are kept here and dropped by `from_dict`.
fn handle_pre_6_0_config(cfg: &Map<String, Value>) -> Map<String, Value> {
    let rename = |k: &str| -> String {
        match k {
            "hook_point" => "hook_name",
            "hook_point_head_index" => "hook_head_index",
            "activation_fn_str" => "activation_fn",
            other => other,
        }
        .to_string()
    };
    let mut new: Map<String, Value> = cfg.iter().map(|(k, v)| (rename(k), v.clone())).collect();
    let mut default = |k: &str, v: Value| {
        new.entry(k.to_string()).or_insert(v);
    };
    default("prepend_bos", true.into());
    default("apply_b_dec_to_input", true.into());
    default("activation_fn", "relu".into());
    default("architecture", "standard".into());
    default("neuronpedia_id", Value::Null);
    let is_hook_z = new.get("hook_name").and_then(Value::as_str).is_some_and(|h| h.contains("hook_z"));
    new.entry("reshape_activations").or_insert(if is_hook_z { "hook_z" } else { "none" }.into());
    let k = new.get("activation_fn_kwargs").and_then(|kw| kw.get("k")).filter(|k| !k.is_null()).cloned();
    if let (Some("topk"), Some(k)) = (new.get("activation_fn").and_then(Value::as_str), k) {
        new.insert("architecture".into(), "topk".into());
        new.insert("k".into(), k);
    }
    match new.get("normalize_activations") {
        Some(Value::Bool(b)) => {
            let v = if *b { "expected_average_only_in" } else { "none" };
            new.insert("normalize_activations".into(), v.into());
        }
        None | Some(Value::Null) => {
            new.insert("normalize_activations".into(), "none".into());
        }
        _ => {}
    }
    let metadata: Map<String, Value> =
        new.iter().filter(|(k, _)| LLM_METADATA_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    new.insert("metadata".into(), Value::Object(metadata));
    new
}

/// `Version(v) < Version("6.0.0-rc.0")` for the PEP 440 versions SAELens writes. `None` if
/// `v` is not a version.
fn is_before_6(v: &str) -> Option<bool> {
    let v = v.trim().trim_start_matches('v');
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (release, suffix) = v.split_at(split);
    let release = release.trim_end_matches('.');
    let nums: Vec<u64> = release.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let mut key = [0u64; 3];
    for (k, n) in key.iter_mut().zip(&nums) {
        *k = *n;
    }
    let extra_nonzero = nums.iter().skip(3).any(|&n| n > 0);
    match key.cmp(&[6, 0, 0]) {
        std::cmp::Ordering::Less => return Some(true),
        std::cmp::Ordering::Greater => return Some(false),
        std::cmp::Ordering::Equal if extra_nonzero => return Some(false),
        std::cmp::Ordering::Equal => {}
    }
    let s = suffix.trim_start_matches(['-', '.', '_']).to_ascii_lowercase();
    if s.is_empty() || s.starts_with("post") || s.starts_with('+') {
        return Some(false);
    }
    for pre in ["alpha", "beta", "a", "b", "dev"] {
        if s.starts_with(pre) {
            return Some(true);
        }
    }
    for rc in ["rc", "c", "preview", "pre"] {
        if let Some(rest) = s.strip_prefix(rc) {
            // rc0.devN sorts before rc0; rc0, rc1, ... do not.
            let rest = rest.trim_start_matches(['-', '.', '_']);
            let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = rest[n.len()..].trim_start_matches(['-', '.', '_']);
            let n: u64 = if n.is_empty() { 0 } else { n.parse().ok()? };
            return Some(n == 0 && after.starts_with("dev"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Architecture, Normalization, SaeConfig};
    use saex_hooks::Hook;
    use serde_json::json;

    #[test]
    fn versions_compare_like_packaging() {
        for (v, pre) in [
            ("5.9.1", true),
            ("3.0.0", true),
            ("6.0.0", false),
            ("6.54.12", false),
            ("6.0.0-rc.0", false),
            ("6.0.0rc1", false),
            ("6.0.0a1", true),
            ("6.0.0.dev3", true),
            ("6.0.0rc0.dev1", true),
            ("10.0", false),
        ] {
            assert_eq!(is_before_6(v), Some(pre), "{v}");
        }
        assert_eq!(is_before_6("latest"), None);
    }

    #[test]
    fn pre_6_flat_config_is_moved_into_metadata() {
        // The jb GPT-2 layout: hook_point, bool normalization, torch dtype string.
        let cfg = json!({
            "model_name": "gpt2-small", "hook_point": "blocks.8.hook_resid_pre", "hook_point_layer": 8,
            "hook_point_head_index": null, "d_in": 768, "d_sae": 24576, "dtype": "torch.float32",
            "normalize_activations": true, "context_size": 128, "activation_fn_str": "topk",
            "activation_fn_kwargs": {"k": 32}, "lr": 0.0004
        });
        let c = SaeConfig::from_sae_lens_json(&cfg, Path::new("cfg.json")).unwrap();
        assert_eq!(c.architecture, Architecture::TopK);
        assert_eq!(c.k, Some(32));
        assert_eq!(c.normalize_activations, Normalization::ExpectedAverageOnlyIn);
        assert!(c.apply_b_dec_to_input);
        assert_eq!(c.metadata.hook_name, Some(Hook::ResidPre(8)));
        assert_eq!(c.metadata.prepend_bos, Some(true));
        assert_eq!(c.metadata.context_size, Some(128));
        assert!(!c.metadata.extra.contains_key("lr"));
    }
}
