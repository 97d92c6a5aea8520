//! Gemma Scope (`params.npz`). Mirrors `gemma_2_sae_huggingface_loader` and
//! `get_gemma_2_config_from_hf`, except that the config comes from one table keyed by the exact
//! release layout (`google/gemma-scope-{2b,9b,27b}-{pt,it}-{res,mlp,att}` +
//! `layer_{L}/width_{W}/average_l0_{N}` or `embedding/width_{W}/average_l0_{N}`) instead of
//! substring tests on names. A `params.npz` outside that layout loads as a bare JumpReLU SAE
//! with no hook (the caller supplies it, [`crate::Sae::with_hook`]).

use std::path::Path;

use serde_json::json;

use crate::error::{Error, Result};
use crate::formats::{parse_cfg, Format, Parts, ReleaseCtx, StateDict, Stored};

/// Where a Gemma Scope repo's SAEs read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// `blocks.L.hook_resid_post` (and `hook_embed` for `embedding/`).
    Res,
    /// `blocks.L.hook_mlp_out`.
    Mlp,
    /// `blocks.L.attn.hook_z`, flattened over heads.
    Att,
}

/// One Gemma Scope repo: `(repo, model_name, site, d_in)`. These are the `gemma_2` repos of
/// SAELens's pretrained_saes.yaml; d_in is d_model, or n_heads·d_head for attention
/// (`get_gemma_2_config_from_hf`).
pub(crate) const REPOS: [(&str, &str, Site, usize); 8] = [
    ("google/gemma-scope-2b-pt-res", "gemma-2-2b", Site::Res, 2304),
    ("google/gemma-scope-2b-pt-mlp", "gemma-2-2b", Site::Mlp, 2304),
    ("google/gemma-scope-2b-pt-att", "gemma-2-2b", Site::Att, 2048),
    ("google/gemma-scope-9b-pt-res", "gemma-2-9b", Site::Res, 3584),
    ("google/gemma-scope-9b-pt-mlp", "gemma-2-9b", Site::Mlp, 3584),
    ("google/gemma-scope-9b-pt-att", "gemma-2-9b", Site::Att, 4096),
    ("google/gemma-scope-9b-it-res", "gemma-2-9b-it", Site::Res, 3584),
    ("google/gemma-scope-27b-pt-res", "gemma-2-27b", Site::Res, 4608),
];

/// `width_*` → d_sae.
const WIDTHS: [(&str, usize); 8] =
    [("4k", 4096), ("16k", 16384), ("32k", 32768), ("65k", 65536), ("131k", 131072), ("262k", 262144), ("524k", 524288), ("1m", 1048576)];

/// The config of one SAE of the release layout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub model_name: &'static str,
    /// `None` for the embedding SAEs.
    pub layer: Option<usize>,
    pub site: Site,
    pub d_in: usize,
    pub d_sae: usize,
}

impl Layout {
    fn hook_name(&self) -> String {
        match (self.layer, self.site) {
            (None, _) => "hook_embed".to_string(),
            (Some(l), Site::Res) => format!("blocks.{l}.hook_resid_post"),
            (Some(l), Site::Mlp) => format!("blocks.{l}.hook_mlp_out"),
            (Some(l), Site::Att) => format!("blocks.{l}.attn.hook_z"),
        }
    }
}

/// The table entry for `folder` (e.g. `layer_12/width_16k/average_l0_82`) of `repo`.
pub(crate) fn layout(repo: &str, folder: &str) -> Option<Layout> {
    let &(_, model_name, site, d_in) = REPOS.iter().find(|r| r.0 == repo)?;
    let parts: Vec<&str> = folder.trim_matches('/').split('/').collect();
    let [first, width, l0] = parts.as_slice() else { return None };
    let layer = match *first {
        "embedding" if site == Site::Res => None,
        f => Some(decimal(f.strip_prefix("layer_")?)?),
    };
    let d_sae = WIDTHS.iter().find(|w| Some(w.0) == width.strip_prefix("width_"))?.1;
    decimal(l0.strip_prefix("average_l0_")?)?;
    Some(Layout { model_name, layer, site, d_in, d_sae })
}

fn decimal(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `(repo, folder)` of a local directory in the release layout: the HF cache
/// (`models--google--gemma-scope-2b-pt-res/snapshots/<rev>/layer_12/width_16k/average_l0_82`)
/// or a download named after the repo (`gemma-scope-2b-pt-res/layer_12/...`).
pub(crate) fn repo_folder_of(dir: &Path) -> Option<(String, String)> {
    let comps: Vec<String> = dir.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let n = comps.len();
    if n < 4 {
        return None;
    }
    let folder = comps[n - 3..].join("/");
    let above = &comps[n - 4];
    let repo = if n >= 6 && comps[n - 5] == "snapshots" {
        comps[n - 6].strip_prefix("models--")?.replacen("--", "/", 1)
    } else {
        format!("google/{above}")
    };
    Some((repo, folder))
}

/// `params.npz` → a JumpReLU SAE; `apply_b_dec_to_input` false, no normalization.
pub(crate) fn load(dir: &Path, rel: Option<&ReleaseCtx>) -> Result<Parts> {
    let path = dir.join("params.npz");
    let raw = Stored::npz(&path)?;
    // SAELens renames every `w_*` key to `W_*`.
    let mut st = Stored::new(
        &path,
        raw.into_tensors().map(|(k, t)| match k.strip_prefix("w_") {
            Some(rest) => (format!("W_{rest}"), t),
            None => (k, t),
        }),
    );
    st.drop_unit_scaling_factor()?;
    let (repo, folder) = match rel {
        Some(r) => (r.repo.clone(), r.folder.clone()),
        None => repo_folder_of(dir).unwrap_or_default(),
    };
    let layout = layout(&repo, &folder);
    // Bare file: the widths are whatever W_enc says.
    let dims = st.dims("W_enc").unwrap_or_default();
    let (d_in, d_sae) = match &layout {
        Some(l) => (l.d_in, l.d_sae),
        None => (dims.first().copied().unwrap_or(0), dims.get(1).copied().unwrap_or(0)),
    };
    let cfg = json!({
        "architecture": "jumprelu",
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "float32",
        "model_name": layout.as_ref().map(|l| l.model_name),
        "hook_name": layout.as_ref().map(Layout::hook_name),
        "hook_head_index": null,
        "activation_fn": "relu",
        "prepend_bos": true,
        "dataset_path": "monology/pile-uncopyrighted",
        "context_size": 1024,
        "apply_b_dec_to_input": false,
        "normalize_activations": null,
    });
    let cfg = parse_cfg(cfg, rel, &path)?;
    let mut sd = StateDict::new(&path);
    for name in ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"] {
        sd.insert(name, st.take(name)?);
    }
    if let Some(extra) = st.rest().next() {
        return Err(Error::UnexpectedTensor { path, tensor: extra.clone(), architecture: "jumprelu".into() });
    }
    if let Some(l) = layout.as_ref().filter(|l| l.layer.is_none()) {
        // Embedding SAEs: W_enc / sqrt(d_in), W_dec * sqrt(d_in) (trained without Gemma's scale).
        let s = (l.d_in as f64).sqrt();
        sd.map_tensor("W_enc", |t| t / s)?;
        sd.map_tensor("W_dec", |t| t * s)?;
    }
    Ok(Parts { cfg, tensors: sd, log_sparsity: None, format: Format::GemmaScope, dir: dir.into(), fold: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_layouts_give_hook_and_widths() {
        let l = layout("google/gemma-scope-2b-pt-res", "layer_12/width_16k/average_l0_82").unwrap();
        assert_eq!((l.hook_name().as_str(), l.d_in, l.d_sae, l.model_name), ("blocks.12.hook_resid_post", 2304, 16384, "gemma-2-2b"));
        let l = layout("google/gemma-scope-9b-pt-att", "layer_20/width_131k/average_l0_13").unwrap();
        assert_eq!((l.hook_name().as_str(), l.d_in, l.d_sae), ("blocks.20.attn.hook_z", 4096, 131072));
        let l = layout("google/gemma-scope-2b-pt-mlp", "layer_0/width_1m/average_l0_9").unwrap();
        assert_eq!((l.hook_name().as_str(), l.d_sae), ("blocks.0.hook_mlp_out", 1048576));
        let l = layout("google/gemma-scope-2b-pt-res", "embedding/width_4k/average_l0_6").unwrap();
        assert_eq!((l.hook_name().as_str(), l.d_in, l.d_sae), ("hook_embed", 2304, 4096));
        assert_eq!(layout("google/gemma-scope-27b-pt-res", "layer_10/width_131k/average_l0_51").unwrap().d_in, 4608);
        // Not the layout: other repos, embedding outside res, odd names.
        assert!(layout("google/gemma-scope-2b-pt-mlp", "embedding/width_4k/average_l0_6").is_none());
        assert!(layout("google/gemma-scope-2b-pt-res", "layer_12/width_16k/canonical").is_none());
        assert!(layout("google/gemma-scope-2b-pt-res", "layer_x/width_16k/average_l0_82").is_none());
        assert!(layout("someone/gemma-scope-2b-pt-res", "layer_12/width_16k/average_l0_82").is_none());
    }

    #[test]
    fn local_paths_map_to_repo_and_folder() {
        let p = Path::new("/c/models--google--gemma-scope-2b-pt-res/snapshots/abc/layer_3/width_16k/average_l0_20");
        assert_eq!(repo_folder_of(p).unwrap(), ("google/gemma-scope-2b-pt-res".into(), "layer_3/width_16k/average_l0_20".into()));
        let p = Path::new("/d/gemma-scope-9b-pt-mlp/layer_3/width_16k/average_l0_20");
        assert_eq!(repo_folder_of(p).unwrap().0, "google/gemma-scope-9b-pt-mlp");
    }
}
