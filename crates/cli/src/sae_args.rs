//! Arguments shared by every command that runs one SAE on a model.

use saex_engine::{Session, SessionOptions};
use saex_hooks::Hook;

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
    /// Open a session of the model and this one SAE (the whole model when `logits`, else
    /// only up to the SAE's hook). Warnings (e.g. the SAE was trained on another model) are
    /// logged.
    pub fn open(&self, logits: bool) -> anyhow::Result<Session> {
        let hook = self.hook.as_deref().map(str::parse::<Hook>).transpose()?;
        let opts = SessionOptions { logits, sae_hooks: vec![hook], ..crate::session_options() };
        crate::opened(Session::open(&self.model, std::slice::from_ref(&self.sae), opts)?)
    }
}
