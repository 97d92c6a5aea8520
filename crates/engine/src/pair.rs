//! A model and an SAE used together: which hook, whether the widths fit, and how the hook's
//! activations become the SAE's input (and its output goes back).
//!
//! Two SAELens conventions live here because they change what the SAE must see:
//! - `hook_head_index`: an SAE trained on one attention head reads `z[:, head, :]`.
//! - `model_from_pretrained_kwargs.center_writing_weights`: SAELens loads the model with its
//!   writing weights centred, so every residual-writing hook value has zero mean over d_model
//!   (SAELENS_SPEC: equal to subtracting each token's mean, to 3e-6). saex runs the model
//!   unprocessed and centres the SAE's input instead.

use std::sync::Arc;

use candle_core::{Tensor, D};
use saex_hooks::Hook;
use saex_model::Model;
use saex_sae::Sae;

use crate::error::{Error, Result};

/// An SAE bound to a hook of a model.
pub struct Pair<'a> {
    /// The model.
    pub model: &'a Model,
    /// The SAE.
    pub sae: &'a Sae,
    /// Where the SAE reads.
    pub hook: Hook,
    /// How hook values become SAE inputs and back; owned, so edits can hold it.
    pub adapter: Arc<Adapter>,
    /// Non-fatal findings, e.g. the SAE was trained on another model.
    pub warnings: Vec<String>,
}

/// The SAE with the two conventions that map hook values to its input (see module docs).
/// Cheap to clone: the SAE's tensors are reference-counted.
pub struct Adapter {
    sae: Sae,
    head: Option<usize>,
    center: bool,
}

fn normalized_name(s: &str) -> String {
    let last = s.rsplit('/').next().unwrap_or(s);
    last.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase()
}

impl<'a> Pair<'a> {
    /// Bind `sae` to `model` at `hook` (default: the SAE's own `hook_name`), checking that the
    /// hook exists and its width is the SAE's `d_in`.
    pub fn new(model: &'a Model, sae: &'a Sae, hook: Option<Hook>) -> Result<Pair<'a>> {
        let hook = hook.or(sae.hook()).ok_or_else(|| {
            Error::Invalid(format!(
                "the SAE at {} does not say which hook it reads; pass --hook (e.g. blocks.12.hook_resid_post)",
                sae.source().display()
            ))
        })?;
        model.check_hook(hook)?;
        let meta = &sae.config().metadata;
        let shape = model.hook_shape(hook);
        let head = meta.hook_head_index;
        let width = match (hook, head, sae.config().reshape_activations) {
            (Hook::AttnZ(_), Some(h), _) => {
                if h >= shape[0] {
                    return Err(Error::Invalid(format!("hook_head_index {h} is out of range: {hook} has {} heads", shape[0])));
                }
                shape[1]
            }
            _ => shape.iter().product(),
        };
        if width != sae.d_in() {
            return Err(Error::Invalid(format!("SAE d_in {} ≠ width {width} of {hook} in model {}", sae.d_in(), model.info.source)));
        }
        let kwargs = meta.model_from_pretrained_kwargs.as_ref();
        let flag = |k: &str| kwargs.and_then(|v| v.get(k)).and_then(|v| v.as_bool()).unwrap_or(false);
        let writes_residual = matches!(
            hook,
            Hook::Embed | Hook::PosEmbed | Hook::ResidPre(_) | Hook::ResidMid(_) | Hook::ResidPost(_) | Hook::AttnOut(_) | Hook::MlpOut(_)
        );
        let mut warnings = Vec::new();
        if flag("fold_value_biases") && matches!(hook, Hook::AttnZ(_)) {
            return Err(Error::Invalid(format!(
                "the SAE was trained with fold_value_biases, which changes {hook}; saex does not fold value biases"
            )));
        }
        if let Some(name) = sae.model_name() {
            let ours = format!("{} {}", model.info.name, model.info.source);
            if !normalized_name(&ours.replace(' ', "")).contains(&normalized_name(name))
                && !normalized_name(&model.info.name).contains(&normalized_name(name))
            {
                warnings
                    .push(format!("the SAE was trained on `{name}`, the loaded model is `{}` ({})", model.info.name, model.info.source));
            }
        }
        let adapter = Adapter {
            sae: sae.clone(),
            head: if matches!(hook, Hook::AttnZ(_)) { head } else { None },
            center: flag("center_writing_weights") && writes_residual,
        };
        Ok(Pair { model, sae, hook, adapter: Arc::new(adapter), warnings })
    }

    /// See [`Adapter::sae_input`].
    pub fn sae_input(&self, act: &Tensor) -> Result<Tensor> {
        self.adapter.sae_input(act)
    }

    /// See [`Adapter::reconstruct`].
    pub fn reconstruct(&self, act: &Tensor) -> Result<Tensor> {
        self.adapter.reconstruct(act)
    }
}

impl Adapter {
    /// The SAE's input from the hook's values `[n, ...]` → `[n, d_in]` (or `[n, heads,
    /// d_head]` for a hook_z SAE, which reshapes itself).
    pub fn sae_input(&self, act: &Tensor) -> Result<Tensor> {
        let x = match self.head {
            Some(h) => act.narrow(1, h, 1)?.squeeze(1)?,
            None => act.clone(),
        };
        Ok(if self.center { x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)? } else { x })
    }

    /// The SAE's reconstruction of `act` `[n, ...]`, in the hook's own space, ready to be
    /// spliced back (the removed mean re-added; other heads left as they were).
    pub fn reconstruct(&self, act: &Tensor) -> Result<Tensor> {
        let x = self.sae_input(act)?;
        let mut x_hat = self.sae.forward(&x)?;
        if self.center {
            let orig = match self.head {
                Some(h) => act.narrow(1, h, 1)?.squeeze(1)?,
                None => act.clone(),
            };
            x_hat = x_hat.broadcast_add(&orig.mean_keepdim(D::Minus1)?)?;
        }
        Ok(match self.head {
            Some(h) => {
                let n_heads = act.dim(1)?;
                let mut parts = Vec::with_capacity(n_heads);
                for i in 0..n_heads {
                    parts.push(if i == h { x_hat.unsqueeze(1)? } else { act.narrow(1, i, 1)? });
                }
                Tensor::cat(&parts, 1)?
            }
            None => x_hat.reshape(act.dims())?,
        })
    }
}
