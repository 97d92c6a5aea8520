//! SAELens release names (`gpt2-small-res-jb/blocks.8.hook_resid_pre`) → Hugging Face repo and
//! path, from `data/pretrained_saes.tsv`, generated from SAELens's `pretrained_saes.yaml` by
//! `scripts/gen_sae_registry.py` (see its docstring for the format).

use serde_json::{Map, Value};

static DATA: &str = include_str!("../data/pretrained_saes.tsv");

/// One SAELens release: a Hugging Face repo of SAEs for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// Release name (`gpt2-small-res-jb`).
    pub name: &'static str,
    /// Hugging Face repo (`jbloom/GPT2-Small-SAEs-Reformatted`).
    pub repo_id: &'static str,
    /// Model name (`gpt2-small`).
    pub model: &'static str,
    /// SAELens loader; `None` is SAELens's own format.
    pub conversion_func: Option<&'static str>,
    /// `config_overrides` applied to every SAE's config.
    pub config_overrides: Map<String, Value>,
    /// The SAEs, in yaml order.
    pub saes: Vec<RegistrySae>,
}

/// One SAE of a release.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySae {
    /// The id (`blocks.8.hook_resid_pre`, `layer_12/width_16k/canonical`).
    pub id: &'static str,
    /// The folder (or file) inside the repo.
    pub path: String,
    /// Neuronpedia id, if any.
    pub neuronpedia: Option<&'static str>,
    /// Input scale folded into the weights when the config says `expected_average_only_in`.
    pub norm_scaling_factor: Option<f64>,
    /// Average number of active features, if listed.
    pub l0: Option<f64>,
}

/// The sae_lens version the table was generated from.
pub fn sae_lens_version() -> &'static str {
    DATA.lines().next().and_then(|l| l.split("sae_lens ").nth(1)).and_then(|v| v.split_whitespace().next()).unwrap_or("unknown")
}

/// Every release name.
pub fn releases() -> impl Iterator<Item = &'static str> {
    DATA.lines().filter_map(|l| l.strip_prefix("R\t")).filter_map(|l| l.split('\t').next())
}

/// The release called `name`.
pub fn release(name: &str) -> Option<Release> {
    let mut lines = DATA.lines().skip_while(|l| !(l.starts_with("R\t") && l.split('\t').nth(1) == Some(name)));
    let f: Vec<&'static str> = lines.next()?.split('\t').collect();
    let field = |i: usize| f.get(i).copied().unwrap_or("");
    let config_overrides = serde_json::from_str::<Map<String, Value>>(field(5)).unwrap_or_default();
    let saes = lines.take_while(|l| l.starts_with("S\t")).map(parse_sae).collect();
    Some(Release {
        name: field(1),
        repo_id: field(2),
        model: field(3),
        conversion_func: Some(field(4)).filter(|c| !c.is_empty()),
        config_overrides,
        saes,
    })
}

fn parse_sae(line: &'static str) -> RegistrySae {
    let f: Vec<&'static str> = line.split('\t').collect();
    let field = |i: usize| f.get(i).copied().unwrap_or("");
    let id = field(1);
    let path = match field(2) {
        "" => id.to_string(),
        p => p.replace('*', id),
    };
    RegistrySae {
        id,
        path,
        neuronpedia: Some(field(3)).filter(|s| !s.is_empty()),
        norm_scaling_factor: field(4).parse().ok(),
        l0: field(5).parse().ok(),
    }
}

impl Release {
    /// The SAE with id `id`.
    pub fn sae(&self, id: &str) -> Option<&RegistrySae> {
        self.saes.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_yaml() {
        // 170 releases and 13,857 SAEs in sae_lens 6.54.12 (SAELENS_SPEC.md).
        assert_eq!(releases().count(), 170);
        let n: usize = releases().map(|r| release(r).map_or(0, |r| r.saes.len())).sum();
        assert_eq!(n, 13857);
        let r = release("gpt2-small-res-jb").unwrap();
        assert_eq!((r.repo_id, r.model, r.conversion_func), ("jbloom/GPT2-Small-SAEs-Reformatted", "gpt2-small", None));
        assert_eq!(r.config_overrides["model_from_pretrained_kwargs"]["center_writing_weights"], true);
        let s = r.sae("blocks.8.hook_resid_pre").unwrap();
        assert_eq!((s.path.as_str(), s.neuronpedia), ("blocks.8.hook_resid_pre", Some("gpt2-small/8-res-jb")));
        let r = release("gemma-scope-2b-pt-res-canonical").unwrap();
        assert_eq!(r.sae("layer_12/width_16k/canonical").unwrap().path, "layer_12/width_16k/average_l0_82");
        let r = release("gemma-scope-2-270m-pt-res").unwrap();
        assert_eq!(r.sae("layer_12_width_16k_l0_medium").unwrap().path, "resid_post/layer_12_width_16k_l0_medium");
        let s = release("llama_scope_lxr_8x").unwrap().sae("l0r_8x").unwrap().clone();
        assert_eq!((s.norm_scaling_factor, s.l0), (Some(58.935251798561154), Some(50.0)));
        assert!(release("no-such-release").is_none());
        assert_eq!(sae_lens_version(), "6.54.12");
    }
}
