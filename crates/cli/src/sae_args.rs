//! Arguments shared by every command that runs an SAE on a model.

use saex_hooks::Hook;
use saex_model::{LoadOptions, Model};
use saex_sae::Sae;

/// `--model`, `--sae`, `--hook`.
#[derive(clap::Args, Clone)]
pub struct ModelSae {
    /// A .gguf file, a Hugging Face model directory, or a hub id in the local HF cache.
    #[arg(long)]
    pub model: String,
    /// An SAE directory (SAELens, Gemma Scope 1/2, sparsify, Llama Scope, dictionary_learning)
    /// or a SAELens release name such as gpt2-small-res-jb/blocks.8.hook_resid_pre.
    #[arg(long)]
    pub sae: String,
    /// The hook the SAE reads; default: the SAE's own hook_name.
    #[arg(long)]
    pub hook: Option<String>,
}

impl ModelSae {
    /// Load the SAE, then the model with what the SAE's hook (and `logits`) need. Warnings
    /// (e.g. the SAE was trained on another model) go to stderr.
    pub fn load(&self, logits: bool) -> anyhow::Result<(Model, Sae, Hook)> {
        let sae = Sae::load(&self.sae)?;
        let hook = match &self.hook {
            Some(h) => h.parse::<Hook>()?,
            None => sae.hook().ok_or_else(|| {
                anyhow::anyhow!("the SAE at {} does not say which hook it reads; pass --hook", self.sae)
            })?,
        };
        let model = Model::load_with(&self.model, LoadOptions::for_hooks(&[hook], logits))?;
        Ok((model, sae, hook))
    }
}

/// Bind and report warnings on stderr.
pub fn pair<'a>(model: &'a Model, sae: &'a Sae, hook: Hook) -> anyhow::Result<saex_engine::Pair<'a>> {
    let pair = saex_engine::Pair::new(model, sae, Some(hook))?;
    for w in &pair.warnings {
        eprintln!("warning: {w}");
    }
    Ok(pair)
}
