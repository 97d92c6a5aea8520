//! SAELens's own format. Mirrors `sae_lens_disk_loader` / `sae_lens_huggingface_loader` and
//! `read_sae_components_from_disk`, then `load_state_dict` (strict) and each class's
//! `process_state_dict_for_loading`.

use std::path::Path;

use crate::config::Architecture;
use crate::error::{read_json, Error, Result};
use crate::formats::{parse_cfg, Format, Parts, ReleaseCtx, StateDict, Stored};

/// `cfg.json` + `sae_weights.safetensors` (+ `sparsity.safetensors`, key `sparsity`).
pub(crate) fn load(dir: &Path, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    let cfg_path = dir.join("cfg.json");
    let cfg = parse_cfg(read_json(&cfg_path)?, rel, &cfg_path)?;
    let weights = dir.join("sae_weights.safetensors");
    let mut st = Stored::safetensors(&weights)?;
    st.drop_unit_scaling_factor()?;
    let mut sd = StateDict::new(&weights);
    let names: &[&'static str] = match cfg.architecture {
        Architecture::Standard | Architecture::TopK => &["W_enc", "b_enc", "W_dec", "b_dec"],
        Architecture::JumpRelu => &["W_enc", "b_enc", "W_dec", "b_dec"],
        Architecture::Gated => &["W_enc", "W_dec", "b_dec", "b_gate", "b_mag", "r_mag"],
        Architecture::BatchTopK | Architecture::MatryoshkaBatchTopK => &["W_enc", "b_enc", "W_dec", "b_dec", "topk_threshold"],
    };
    for &name in names {
        sd.insert(name, st.take(name)?);
    }
    if cfg.architecture == Architecture::JumpRelu {
        // JumpReLUSAE.process_state_dict_for_loading: older checkpoints store log_threshold.
        let threshold = match st.take_opt("threshold")? {
            Some(e) => e,
            None if st.contains("log_threshold") => {
                let e = st.take("log_threshold")?;
                crate::formats::Entry { tensor: e.tensor.exp()?, ..e }
            }
            None => st.take("threshold")?,
        };
        sd.insert("threshold", threshold);
    }
    if let Some(extra) = st.rest().next() {
        return Err(Error::UnexpectedTensor { path: weights, tensor: extra.clone(), architecture: cfg.architecture.as_str().to_string() });
    }
    let sparsity_path = dir.join("sparsity.safetensors");
    let log_sparsity = if sparsity_path.is_file() { Some(Stored::safetensors(&sparsity_path)?.take("sparsity")?) } else { None };
    let fold = rel.and_then(|r| r.norm_scaling_factor);
    Ok(Parts { cfg, tensors: sd, log_sparsity, format: Format::SaeLens, dir: dir.into(), fold })
}
