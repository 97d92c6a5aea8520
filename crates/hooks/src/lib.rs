//! # Brief overview
//!
//! `saex-hooks` is the shared vocabulary of saex: [`Hook`] names a point inside a transformer
//! exactly as TransformerLens does (`blocks.6.hook_resid_pre`), and [`Capture`] is the plain
//! value a model's `forward` records activations into.
//!
//! Every boundary of saex (CLI, JSON, HTTP, safetensors files) uses the full TransformerLens
//! string, so files written by saex can be compared with a TransformerLens `run_with_cache`
//! without a translation table. There is deliberately no shorthand (`resid_pre6`): TL's own
//! `get_act_name` docs call that "pretty hacky".
//!
//! ```
//! use saex_hooks::{Capture, Hook};
//!
//! let hook: Hook = "blocks.6.hook_resid_pre".parse().unwrap();
//! assert_eq!(hook, Hook::ResidPre(6));
//! assert_eq!(hook.to_string(), "blocks.6.hook_resid_pre");
//!
//! // resid_pre of block 6 is the input of block 6: blocks 0..=5 must run.
//! let cap = Capture::new([hook]);
//! assert_eq!(cap.blocks_needed(), 6);
//! ```
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use candle_core::Tensor;

/// A TransformerLens hook point. Values are those of
/// `HookedTransformer.from_pretrained_no_processing` (no weight folding or centring).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// `hook_embed`: token embedding (Gemma: already scaled by sqrt(d_model)). `[pos, d_model]`
    Embed,
    /// `hook_pos_embed`: learned position embedding (GPT-2 only). `[pos, d_model]`
    PosEmbed,
    /// `blocks.L.hook_resid_pre`: the residual stream entering block L.
    ResidPre(usize),
    /// `blocks.L.attn.hook_z`: per-head attention output before the output projection.
    /// `[pos, n_heads, d_head]`
    AttnZ(usize),
    /// `blocks.L.hook_attn_out`: attention output added to the residual (after Gemma's post-norm).
    AttnOut(usize),
    /// `blocks.L.hook_resid_mid`: residual after attention, before the MLP.
    ResidMid(usize),
    /// `blocks.L.mlp.hook_post`: MLP hidden activation after the nonlinearity (and gating).
    MlpPost(usize),
    /// `blocks.L.hook_mlp_out`: MLP output added to the residual (after Gemma's post-norm).
    MlpOut(usize),
    /// `blocks.L.hook_resid_post`: the residual stream leaving block L.
    ResidPost(usize),
    /// `ln_final.hook_normalized`: final residual normalised, before the norm's weight and bias.
    LnFinalNormalized,
}

/// Error for a string that is not a full TransformerLens hook name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hook name {name:?}; expected one of hook_embed, hook_pos_embed, \
     blocks.L.hook_resid_pre, blocks.L.attn.hook_z, blocks.L.hook_attn_out, \
     blocks.L.hook_resid_mid, blocks.L.mlp.hook_post, blocks.L.hook_mlp_out, \
     blocks.L.hook_resid_post, ln_final.hook_normalized"
)]
pub struct UnknownHook {
    /// The string that was given.
    pub name: String,
}

impl Hook {
    /// The block this hook lives in, if any.
    pub fn layer(&self) -> Option<usize> {
        match *self {
            Hook::Embed | Hook::PosEmbed | Hook::LnFinalNormalized => None,
            Hook::ResidPre(l)
            | Hook::AttnZ(l)
            | Hook::AttnOut(l)
            | Hook::ResidMid(l)
            | Hook::MlpPost(l)
            | Hook::MlpOut(l)
            | Hook::ResidPost(l) => Some(l),
        }
    }

    /// The stream's short name, as the discovery tool's `streams` option spells it:
    /// `resid_pre`, `attn_z`, `attn_out`, `resid_mid`, `mlp_post`, `mlp_out`, `resid_post`,
    /// `embed`, `pos_embed`, `ln_final`.
    pub fn stream(&self) -> &'static str {
        match self {
            Hook::Embed => "embed",
            Hook::PosEmbed => "pos_embed",
            Hook::ResidPre(_) => "resid_pre",
            Hook::AttnZ(_) => "attn_z",
            Hook::AttnOut(_) => "attn_out",
            Hook::ResidMid(_) => "resid_mid",
            Hook::MlpPost(_) => "mlp_post",
            Hook::MlpOut(_) => "mlp_out",
            Hook::ResidPost(_) => "resid_post",
            Hook::LnFinalNormalized => "ln_final",
        }
    }

    /// Every stream name [`Hook::stream`] can return.
    pub const STREAMS: [&'static str; 10] =
        ["embed", "pos_embed", "resid_pre", "attn_z", "attn_out", "resid_mid", "mlp_post", "mlp_out", "resid_post", "ln_final"];

    /// How many blocks must run before this hook has its value, given `n_layers` blocks.
    /// `blocks.L.hook_resid_pre` needs blocks `0..L`; any other hook of block L needs `0..=L`.
    pub fn blocks_needed(&self, n_layers: usize) -> usize {
        match *self {
            Hook::Embed | Hook::PosEmbed => 0,
            Hook::ResidPre(l) => l,
            Hook::LnFinalNormalized => n_layers,
            other => other.layer().map_or(0, |l| l + 1),
        }
    }

    /// True for hooks on the residual stream (where splicing an SAE reconstruction back in
    /// leaves the rest of the forward pass unchanged).
    pub fn is_residual(&self) -> bool {
        matches!(self, Hook::ResidPre(_) | Hook::ResidMid(_) | Hook::ResidPost(_))
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Hook::Embed => f.write_str("hook_embed"),
            Hook::PosEmbed => f.write_str("hook_pos_embed"),
            Hook::ResidPre(l) => write!(f, "blocks.{l}.hook_resid_pre"),
            Hook::AttnZ(l) => write!(f, "blocks.{l}.attn.hook_z"),
            Hook::AttnOut(l) => write!(f, "blocks.{l}.hook_attn_out"),
            Hook::ResidMid(l) => write!(f, "blocks.{l}.hook_resid_mid"),
            Hook::MlpPost(l) => write!(f, "blocks.{l}.mlp.hook_post"),
            Hook::MlpOut(l) => write!(f, "blocks.{l}.hook_mlp_out"),
            Hook::ResidPost(l) => write!(f, "blocks.{l}.hook_resid_post"),
            Hook::LnFinalNormalized => f.write_str("ln_final.hook_normalized"),
        }
    }
}

impl FromStr for Hook {
    type Err = UnknownHook;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownHook { name: s.to_string() };
        match s {
            "hook_embed" => return Ok(Hook::Embed),
            "hook_pos_embed" => return Ok(Hook::PosEmbed),
            "ln_final.hook_normalized" => return Ok(Hook::LnFinalNormalized),
            _ => {}
        }
        let rest = s.strip_prefix("blocks.").ok_or_else(unknown)?;
        let (layer, name) = rest.split_once('.').ok_or_else(unknown)?;
        // Only plain decimal layers: "+6" or "06" would parse with `usize::from_str`.
        if layer.is_empty() || !layer.bytes().all(|b| b.is_ascii_digit()) || layer.len() > 1 && layer.starts_with('0') {
            return Err(unknown());
        }
        let l: usize = layer.parse().map_err(|_| unknown())?;
        Ok(match name {
            "hook_resid_pre" => Hook::ResidPre(l),
            "attn.hook_z" => Hook::AttnZ(l),
            "hook_attn_out" => Hook::AttnOut(l),
            "hook_resid_mid" => Hook::ResidMid(l),
            "mlp.hook_post" => Hook::MlpPost(l),
            "hook_mlp_out" => Hook::MlpOut(l),
            "hook_resid_post" => Hook::ResidPost(l),
            _ => return Err(unknown()),
        })
    }
}

/// A change to the value flowing through a hook: steering (add a direction), splicing in an
/// SAE reconstruction, ablation. Takes the value, returns what the model continues with.
pub type Edit = Arc<dyn Fn(&Tensor) -> candle_core::Result<Tensor> + Send + Sync>;

/// The activations recorded during one forward pass, and the edits applied in it.
///
/// A `Capture` replaces PyTorch-style module hooks, which candle lacks: the model passes
/// every hook point's value through [`Capture::hook`]; requested hooks keep a (cheap,
/// reference-counted) tensor clone, and a hook with an [`Edit`] has its value replaced. It
/// also tells the model where it may stop.
#[derive(Clone, Default)]
pub struct Capture {
    values: BTreeMap<Hook, Option<Tensor>>,
    edits: BTreeMap<Hook, Edit>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture").field("values", &self.values).field("edits", &self.edits.keys().collect::<Vec<_>>()).finish()
    }
}

impl Capture {
    /// A capture that keeps the given hooks.
    pub fn new(hooks: impl IntoIterator<Item = Hook>) -> Self {
        Capture { values: hooks.into_iter().map(|h| (h, None)).collect(), edits: BTreeMap::new() }
    }

    /// Replace the value at `hook` by `edit(value)` in every pass this capture is used for.
    pub fn with_edit(mut self, hook: Hook, edit: Edit) -> Self {
        self.edits.insert(hook, edit);
        self
    }

    /// The model's side of a hook point: applies the edit registered at `hook` (if any),
    /// records the result if `hook` was requested, and returns what the model continues with.
    pub fn hook(&mut self, hook: Hook, value: Tensor) -> candle_core::Result<Tensor> {
        let value = match self.edits.get(&hook) {
            Some(edit) => edit(&value)?,
            None => value,
        };
        self.record(hook, &value);
        Ok(value)
    }

    /// True if `hook` was requested.
    pub fn wants(&self, hook: Hook) -> bool {
        self.values.contains_key(&hook)
    }

    /// Record `value` at `hook` if it was requested; otherwise do nothing.
    pub fn record(&mut self, hook: Hook, value: &Tensor) {
        if let Some(slot) = self.values.get_mut(&hook) {
            *slot = Some(value.clone());
        }
    }

    /// Record a value computed only on demand (for hooks that cost work to form).
    pub fn record_with<E>(&mut self, hook: Hook, value: impl FnOnce() -> Result<Tensor, E>) -> Result<(), E> {
        if let Some(slot) = self.values.get_mut(&hook) {
            *slot = Some(value()?);
        }
        Ok(())
    }

    /// The requested hooks, in model order.
    pub fn hooks(&self) -> impl Iterator<Item = Hook> + '_ {
        self.values.keys().copied()
    }

    /// The recorded value of `hook`, if it was requested and reached.
    pub fn get(&self, hook: Hook) -> Option<&Tensor> {
        self.values.get(&hook).and_then(|v| v.as_ref())
    }

    /// The number of blocks the forward pass must run to reach every requested hook,
    /// assuming only intermediate layers were asked for (models cap it at their depth).
    pub fn blocks_needed(&self) -> usize {
        self.values.keys().map(|h| h.blocks_needed(usize::MAX)).max().unwrap_or(0)
    }

    /// Move the recorded values out, in model order. Hooks never reached are absent.
    pub fn into_values(self) -> Vec<(Hook, Tensor)> {
        self.values.into_iter().filter_map(|(h, v)| v.map(|t| (h, t))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hook_round_trips_through_its_name() {
        let hooks = [
            Hook::Embed,
            Hook::PosEmbed,
            Hook::ResidPre(0),
            Hook::AttnZ(3),
            Hook::AttnOut(11),
            Hook::ResidMid(2),
            Hook::MlpPost(7),
            Hook::MlpOut(5),
            Hook::ResidPost(17),
            Hook::LnFinalNormalized,
        ];
        for h in hooks {
            assert_eq!(h.to_string().parse::<Hook>(), Ok(h));
        }
    }

    #[test]
    fn stream_names_are_the_hook_suffixes() {
        assert_eq!(Hook::ResidPre(6).stream(), "resid_pre");
        assert_eq!(Hook::MlpOut(2).stream(), "mlp_out");
        assert_eq!(Hook::AttnZ(1).stream(), "attn_z");
        assert_eq!(Hook::MlpPost(1).stream(), "mlp_post");
        assert!(Hook::STREAMS.contains(&Hook::LnFinalNormalized.stream()));
    }

    #[test]
    fn shorthand_and_malformed_names_are_rejected() {
        for bad in [
            "resid_pre6",
            "blocks.6",
            "blocks.x.hook_resid_pre",
            "blocks.+6.hook_resid_pre",
            "blocks.06.hook_resid_pre",
            "blocks.6.hook_z",
            "blocks.6.hook_resid_pre ",
            "",
        ] {
            let err = bad.parse::<Hook>().unwrap_err();
            assert_eq!(err.name, bad);
        }
    }

    #[test]
    fn edits_replace_the_value_and_the_record_sees_the_edit() {
        let x = Tensor::new(&[1f32, 2.0], &candle_core::Device::Cpu).unwrap();
        let double: Edit = Arc::new(|t: &Tensor| t * 2.0);
        let mut cap = Capture::new([Hook::ResidPre(1)]).with_edit(Hook::ResidPre(1), double);
        let out = cap.hook(Hook::ResidPre(1), x.clone()).unwrap();
        assert_eq!(out.to_vec1::<f32>().unwrap(), vec![2.0, 4.0]);
        assert_eq!(cap.get(Hook::ResidPre(1)).unwrap().to_vec1::<f32>().unwrap(), vec![2.0, 4.0]);
        // Other hooks pass through untouched and unrecorded.
        let same = cap.hook(Hook::ResidPre(0), x).unwrap();
        assert_eq!(same.to_vec1::<f32>().unwrap(), vec![1.0, 2.0]);
        assert!(cap.get(Hook::ResidPre(0)).is_none());
    }

    #[test]
    fn depth_stops_after_the_deepest_hook() {
        // resid_pre 4 needs blocks 0..4 (4 blocks); mlp_out 2 needs 0..=2 (3 blocks).
        let cap = Capture::new([Hook::ResidPre(4), Hook::MlpOut(2)]);
        assert_eq!(cap.blocks_needed(), 4);
        assert_eq!(Capture::new([Hook::Embed]).blocks_needed(), 0);
        assert_eq!(Hook::LnFinalNormalized.blocks_needed(12), 12);
    }
}
