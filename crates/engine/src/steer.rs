//! `steer`: generate with SAE decoder directions added at the pair's hook (SAELens-style
//! feature steering).
//!
//! The steering vector is `Σ_f coefficient_f · W_dec[f]` — decoder rows, in the SAE's input
//! space — added to the hook's value at every position, prompt and generated tokens alike, on
//! every forward step. The SAE's encoder is not run: no `hook_sae_acts` is read or clamped.
//! (SAELens's tutorial hook returns early on one-token KV-cached steps and so steers only the
//! prompt; adding at every step also steers each new token, which is what moves the text.)
//!
//! A coefficient is in units of the feature's activation: `c · W_dec[f]` is what the SAE's
//! reconstruction holds when feature `f` fires at `c`. So compare it with the feature's
//! activations (`saex sae-stats`), not with 1: decoder rows need not have unit norm. For the
//! demo SAE (rows of norm ≈ 132, activations up to ≈ 2, layer-6 residual norms ≈ 3,000)
//! +3..+5 visibly steers and +10 already turns the text into repetition.

use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use saex_hooks::{Edit, Hook};
use saex_model::Sampling;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pair::Pair;
use crate::session::Session;

/// One feature to steer with and how hard: `coefficient × W_dec[feature_id]` is added.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteerFeature {
    /// The SAE feature (a row of `W_dec`).
    pub feature_id: u32,
    /// Its multiplier; negative steers away from the feature.
    pub coefficient: f32,
}

impl FromStr for SteerFeature {
    type Err = Error;

    /// `ID=COEFFICIENT`, e.g. `159=+8`, `258=-4`, `7=2.5`.
    fn from_str(s: &str) -> Result<Self> {
        let (id, coef) = s
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("feature `{s}`: expected FEATURE=COEFFICIENT, e.g. 159=+8 or 258=-4")))?;
        let feature_id = id
            .trim()
            .parse::<u32>()
            .map_err(|_| Error::Invalid(format!("feature `{s}`: `{id}` is not a feature id (a non-negative integer)")))?;
        let coefficient = coef
            .trim()
            .parse::<f32>()
            .ok()
            .filter(|c| c.is_finite())
            .ok_or_else(|| Error::Invalid(format!("feature `{s}`: `{coef}` is not a finite coefficient")))?;
        Ok(SteerFeature { feature_id, coefficient })
    }
}

/// How to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteerOptions {
    /// Maximum number of new tokens (fewer if the model emits end-of-sequence).
    pub max_new_tokens: usize,
    /// Greedy or sampled; the baseline uses the same settings and seed.
    pub sampling: Sampling,
    /// Also generate without steering, for comparison.
    pub compare: bool,
}

/// A `steer` request (CLI flags, `POST /v1/steer`, Python keywords).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SteerRequest {
    /// The model; may be omitted (the loaded one).
    #[serde(default)]
    pub model_id: Option<String>,
    /// The SAE whose decoder directions steer; may be omitted when one is loaded.
    #[serde(default)]
    pub sae_id: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// `[{"feature_id": 159, "coefficient": 8}]`.
    pub features: Vec<SteerFeature>,
    /// Tokens to generate.
    #[serde(default = "thirty_two")]
    pub max_new_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[serde(default)]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[serde(default = "one")]
    pub top_p: f64,
    /// RNG seed.
    #[serde(default = "forty_two")]
    pub seed: u64,
    /// Also generate without steering.
    #[serde(default)]
    pub compare: bool,
}

fn thirty_two() -> usize {
    32
}
fn one() -> f64 {
    1.0
}
fn forty_two() -> u64 {
    42
}

/// Most tokens a steer request may generate.
pub const MAX_STEER_TOKENS: usize = 1024;

/// A steered continuation (and, with `compare`, the unsteered one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Steered {
    /// The SAE whose decoder rows steered.
    pub sae_id: String,
    /// The prompt, as given.
    pub prompt: String,
    /// The features and coefficients, in the order given.
    pub features: Vec<SteerFeature>,
    /// The TransformerLens hook the vector was added at.
    pub hook: String,
    /// The new text with steering (prompt not included).
    pub steered: String,
    /// The new text without steering, same sampling and seed; only when asked to compare.
    pub baseline: Option<String>,
}

/// `Σ coefficient · W_dec[feature]` over `features`, `[d_in]` in f32, after checking that
/// there is at least one feature, each id is `< d_sae` and given once, and each coefficient
/// is finite.
pub fn steering_vector(w_dec: &Tensor, features: &[(u32, f32)]) -> Result<Tensor> {
    let (d_sae, d_in) = w_dec.dims2()?;
    if features.is_empty() {
        return Err(Error::Invalid("steering needs at least one feature".into()));
    }
    for (i, &(f, c)) in features.iter().enumerate() {
        if f as usize >= d_sae {
            return Err(Error::Invalid(format!(
                "feature {f} is out of range: the SAE has d_sae {d_sae} features (0..={})",
                d_sae.saturating_sub(1)
            )));
        }
        if !c.is_finite() {
            return Err(Error::Invalid(format!("feature {f}: coefficient {c} is not finite")));
        }
        if features[..i].iter().any(|&(g, _)| g == f) {
            return Err(Error::Invalid(format!("feature {f} is given twice; give it once with the summed coefficient")));
        }
    }
    let ids: Vec<u32> = features.iter().map(|&(f, _)| f).collect();
    let coefs: Vec<f32> = features.iter().map(|&(_, c)| c).collect();
    let rows = w_dec.index_select(&Tensor::new(ids.as_slice(), w_dec.device())?, 0)?.to_dtype(DType::F32)?; // [m, d_in]
    let coefs = Tensor::from_vec(coefs, (1, features.len()), w_dec.device())?; // [1, m]
    Ok(coefs.matmul(&rows)?.reshape(d_in)?) // [d_in]
}

/// The edit that adds the steering vector to every position of the pair's hook value
/// `[batch, pos, ...]`.
///
/// The `[d_in]` vector takes the shape of one token's hook value: for a hook_z SAE with a
/// `hook_head_index` it goes into that head only (zeros elsewhere); a hook_z SAE without one
/// reads all heads flattened, so the vector is reshaped to `[n_heads, d_head]`.
///
/// With `center_writing_weights` the vector is added as-is, uncentred. The SAE's input is
/// the centred residual, and SAELens steers a model whose writing weights are centred by
/// adding the raw decoder row to it, so the residual there picks up the row's mean too. Our
/// model is unprocessed, so the raw row lands on an uncentred residual; the two differ in
/// the residual's per-token mean, which every LayerNorm reading the residual subtracts (it
/// is why centring is allowed at all). What the model computes is therefore the same up to
/// float error; only the recorded downstream residual values differ, by that mean.
pub fn steering_edit(pair: &Pair, features: &[(u32, f32)]) -> Result<Edit> {
    let v = steering_vector(pair.sae.w_dec(), features)?; // [d_in]
    let shape = pair.model.hook_shape(pair.hook); // one token's value: [d_model], [n_heads, d_head], ...
    let head = match pair.hook {
        Hook::AttnZ(_) => pair.sae.config().metadata.hook_head_index,
        _ => None,
    };
    let delta = match head {
        Some(h) => {
            let (n_heads, d_head) = match shape[..] {
                [n, d] => (n, d),
                _ => return Err(Error::Invalid(format!("{} is not [n_heads, d_head]: {shape:?}", pair.hook))),
            };
            if h >= n_heads || v.dim(0)? != d_head {
                return Err(Error::Invalid(format!("head {h} with d_in {} does not fit {} of shape {shape:?}", v.dim(0)?, pair.hook)));
            }
            let mut full = vec![0f32; n_heads * d_head];
            full[h * d_head..(h + 1) * d_head].copy_from_slice(&v.to_vec1::<f32>()?);
            Tensor::from_vec(full, (n_heads, d_head), &Device::Cpu)?
        }
        None => v.reshape(shape.as_slice())?,
    };
    Ok(Arc::new(move |x: &Tensor| x.broadcast_add(&delta.to_dtype(x.dtype())?.to_device(x.device())?)))
}

/// Answer a steer request: generate from its prompt with its features steering at the SAE's
/// hook; with `compare`, also without, same sampling and seed. bos is prepended as the model
/// does. A set `cancel` flag stops between tokens.
pub fn steer(session: &Session, req: &SteerRequest, cancel: Option<&AtomicBool>) -> Result<Steered> {
    session.check_model(req.model_id.as_deref())?;
    if req.max_new_tokens > MAX_STEER_TOKENS {
        return Err(Error::field("max_new_tokens", format!("at most {MAX_STEER_TOKENS}, got {}", req.max_new_tokens)));
    }
    if req.features.is_empty() {
        return Err(Error::field("features", "give at least one {\"feature_id\", \"coefficient\"}"));
    }
    session.need_logits("generation")?;
    let i = session.one(req.sae_id.as_deref())?;
    let features: Vec<(u32, f32)> = req.features.iter().map(|f| (f.feature_id, f.coefficient)).collect();
    let opts = SteerOptions {
        max_new_tokens: req.max_new_tokens,
        sampling: Sampling { temperature: req.temperature, top_p: req.top_p, seed: req.seed },
        compare: req.compare,
    };
    let mut out = steer_pair(&session.pair(i), &req.prompt, &features, &opts, cancel).map_err(|e| match e {
        Error::Invalid(m) => Error::field("features", m),
        other => other,
    })?;
    out.sae_id = session.saes[i].id.clone();
    Ok(out)
}

/// Generate from `prompt` with `features` steering at the pair's hook (see [`steer`]).
pub fn steer_pair(pair: &Pair, prompt: &str, features: &[(u32, f32)], opts: &SteerOptions, cancel: Option<&AtomicBool>) -> Result<Steered> {
    let model = pair.model;
    let edit = steering_edit(pair, features)?;
    let ids = model.tokenizer.encode(prompt, model.add_bos()).map_err(saex_model::Error::from)?;
    if ids.is_empty() {
        return Err(Error::field("prompt", "has no tokens"));
    }
    let text = |new: Vec<u32>| -> Result<String> { Ok(model.tokenizer.decode(&new).map_err(saex_model::Error::from)?) };
    let steered = text(model.generate_with(&ids, opts.max_new_tokens, &opts.sampling, &[(pair.hook, edit)], cancel)?)?;
    let baseline =
        if opts.compare { Some(text(model.generate_with(&ids, opts.max_new_tokens, &opts.sampling, &[], cancel)?)?) } else { None };
    Ok(Steered {
        sae_id: pair.sae.source().display().to_string(),
        prompt: prompt.to_string(),
        features: features.iter().map(|&(feature_id, coefficient)| SteerFeature { feature_id, coefficient }).collect(),
        hook: pair.hook.to_string(),
        steered,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use saex_model::Model;
    use saex_sae::Sae;
    use saex_testutil::{assert_close, Tol};

    use super::*;

    #[test]
    fn parses_id_equals_coefficient() {
        let p = |s: &str| s.parse::<SteerFeature>().unwrap();
        assert_eq!(p("159=+8"), SteerFeature { feature_id: 159, coefficient: 8.0 });
        assert_eq!(p("258=-4"), SteerFeature { feature_id: 258, coefficient: -4.0 });
        assert_eq!(p("7=2.5"), SteerFeature { feature_id: 7, coefficient: 2.5 });
        let err = |s: &str| s.parse::<SteerFeature>().unwrap_err().to_string();
        assert!(err("-4").contains("FEATURE=COEFFICIENT"), "{}", err("-4"));
        assert!(err("x=1").contains("`x`"), "{}", err("x=1"));
        assert!(err("-3=1").contains("`-3`"), "{}", err("-3=1"));
        assert!(err("7=big").contains("`big`"), "{}", err("7=big"));
        assert!(err("7=nan").contains("`nan`"), "{}", err("7=nan"));
    }

    #[test]
    fn vector_is_the_weighted_sum_of_decoder_rows() {
        // Rows [1, 0], [0, 1], [1, 1]; 2·row0 − 1·row2 = [2 − 1, 0 − 1] = [1, −1].
        let w = Tensor::new(&[[1f32, 0.0], [0.0, 1.0], [1.0, 1.0]], &Device::Cpu).unwrap();
        let v = steering_vector(&w, &[(0, 2.0), (2, -1.0)]).unwrap();
        assert_eq!(v.to_vec1::<f32>().unwrap(), [1.0, -1.0]);
    }

    #[test]
    fn bad_features_are_refused_and_named() {
        let w = Tensor::zeros((3, 2), DType::F32, &Device::Cpu).unwrap();
        let err = |f: &[(u32, f32)]| steering_vector(&w, f).unwrap_err().to_string();
        let e = err(&[(3, 1.0)]);
        assert!(e.contains("feature 3") && e.contains("d_sae 3"), "{e}");
        assert!(err(&[]).contains("at least one"));
        assert!(err(&[(1, f32::NAN)]).contains("not finite"));
        assert!(err(&[(1, 1.0), (2, 1.0), (1, 3.0)]).contains("feature 1 is given twice"));
    }

    fn root() -> PathBuf {
        saex_testutil::root()
    }

    fn tiny_model() -> Model {
        Model::load(root().join("fixtures/parity/tiny/gpt2").to_str().unwrap()).unwrap()
    }

    /// A random standard SAE for the tiny GPT-2 (4 heads × d_head 16 = d_model 64) with the
    /// given `cfg.json` fields on top of the basics.
    fn write_sae(dir: &Path, d_in: usize, extra: serde_json::Value) -> Sae {
        use rand::{Rng, SeedableRng};
        let d_sae = 8;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut t = |dims: &[usize]| {
            let n = dims.iter().product();
            Tensor::from_vec((0..n).map(|_| rng.random::<f32>() - 0.5).collect::<Vec<_>>(), dims, &Device::Cpu).unwrap()
        };
        let tensors: HashMap<String, Tensor> = [
            ("W_enc".to_string(), t(&[d_in, d_sae])),
            ("W_dec".to_string(), t(&[d_sae, d_in])),
            ("b_enc".to_string(), t(&[d_sae])),
            ("b_dec".to_string(), t(&[d_in])),
        ]
        .into();
        candle_core::safetensors::save(&tensors, dir.join("sae_weights.safetensors")).unwrap();
        let mut cfg = serde_json::json!({
            "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "architecture": "standard",
            "apply_b_dec_to_input": true, "normalize_activations": "none",
            "metadata": { "sae_lens_version": "6.54.12", "model_name": "tiny-gpt2" },
        });
        for (k, v) in extra.as_object().unwrap() {
            match k.as_str() {
                "metadata" => cfg["metadata"].as_object_mut().unwrap().extend(v.as_object().unwrap().clone()),
                _ => cfg[k] = v.clone(),
            }
        }
        std::fs::write(dir.join("cfg.json"), cfg.to_string()).unwrap();
        Sae::load(dir.to_str().unwrap()).unwrap()
    }

    /// The hook's value for a text without and with `edit`. Logits are asked for so every
    /// block runs: a pass that stops early records the first skipped block's `hook_resid_pre`
    /// without passing it through the edit.
    fn with_and_without(model: &Model, hook: Hook, edit: Edit) -> (Tensor, Tensor) {
        let ids = model.tokenizer.encode("People in Paris read books.", true).unwrap();
        let get = |edits: &[(Hook, Edit)]| {
            model.run_edited(std::slice::from_ref(&ids), &[hook], true, edits).unwrap().remove(0).hooks.remove(0).1
        };
        (get(&[]), get(&[(hook, edit)]))
    }

    #[test]
    fn the_edit_adds_coefficient_times_the_decoder_row_at_every_position() {
        let model = tiny_model();
        let sae = Sae::load(root().join("fixtures/models/tiny-gpt2-l1").to_str().unwrap()).unwrap();
        let pair = Pair::new(&model, &sae, None).unwrap();
        let (plain, edited) = with_and_without(&model, pair.hook, steering_edit(&pair, &[(5, 3.0), (9, -2.0)]).unwrap());
        // [pos, 64] + (3·W_dec[5] − 2·W_dec[9]) broadcast over positions.
        let row = |f: usize| sae.w_dec().get(f).unwrap();
        let v = ((row(5) * 3.0).unwrap() - (row(9) * 2.0).unwrap()).unwrap();
        assert_close(&edited, &plain.broadcast_add(&v).unwrap(), Tol(1e-5), "resid_pre + steering");
    }

    #[test]
    fn a_head_indexed_hook_z_sae_steers_only_its_head() {
        let model = tiny_model();
        let dir = tempfile::tempdir().unwrap();
        let extra = serde_json::json!({ "metadata": { "hook_name": "blocks.0.attn.hook_z", "hook_head_index": 2 } });
        let sae = write_sae(dir.path(), 16, extra);
        let pair = Pair::new(&model, &sae, None).unwrap();
        let (plain, edited) = with_and_without(&model, pair.hook, steering_edit(&pair, &[(1, 4.0)]).unwrap());
        // [pos, 4, 16]: heads 0, 1, 3 unchanged; head 2 gets 4·W_dec[1].
        for h in 0..4 {
            let (a, e) = (edited.narrow(1, h, 1).unwrap(), plain.narrow(1, h, 1).unwrap());
            let e = if h == 2 { e.broadcast_add(&(sae.w_dec().get(1).unwrap() * 4.0).unwrap()).unwrap() } else { e };
            assert_close(&a, &e, Tol(1e-5), &format!("head {h}"));
        }
    }

    #[test]
    fn a_flattened_hook_z_sae_reshapes_the_vector_to_heads() {
        let model = tiny_model();
        let dir = tempfile::tempdir().unwrap();
        let extra = serde_json::json!({ "reshape_activations": "hook_z", "metadata": { "hook_name": "blocks.0.attn.hook_z" } });
        let sae = write_sae(dir.path(), 64, extra);
        let pair = Pair::new(&model, &sae, None).unwrap();
        let (plain, edited) = with_and_without(&model, pair.hook, steering_edit(&pair, &[(6, -1.5)]).unwrap());
        // Element (head h, j) gets −1.5·W_dec[6][16h + j], as hook_z flattening orders it.
        let v = (sae.w_dec().get(6).unwrap() * -1.5).unwrap().reshape((4, 16)).unwrap();
        assert_close(&edited, &plain.broadcast_add(&v).unwrap(), Tol(1e-5), "hook_z + steering");
    }

    #[test]
    fn with_centred_writing_weights_the_raw_row_is_added() {
        let model = tiny_model();
        let dir = tempfile::tempdir().unwrap();
        let extra = serde_json::json!({ "metadata": {
            "hook_name": "blocks.1.hook_resid_pre",
            "model_from_pretrained_kwargs": { "center_writing_weights": true },
        } });
        let sae = write_sae(dir.path(), 64, extra);
        let pair = Pair::new(&model, &sae, None).unwrap();
        let (plain, edited) = with_and_without(&model, pair.hook, steering_edit(&pair, &[(0, 2.0)]).unwrap());
        let v = (sae.w_dec().get(0).unwrap() * 2.0).unwrap(); // not v − mean(v): see steering_edit
        assert_close(&edited, &plain.broadcast_add(&v).unwrap(), Tol(1e-5), "centred SAE + raw row");
    }

    #[test]
    fn coefficient_zero_is_the_baseline_and_a_seed_repeats() {
        let model = tiny_model();
        let sae = Sae::load(root().join("fixtures/models/tiny-gpt2-l1").to_str().unwrap()).unwrap();
        let pair = Pair::new(&model, &sae, None).unwrap();
        let sampled = SteerOptions { max_new_tokens: 12, sampling: Sampling { temperature: 1.0, top_p: 0.9, seed: 3 }, compare: true };
        let zero = steer_pair(&pair, "People in Paris", &[(5, 0.0)], &sampled, None).unwrap();
        assert_eq!(Some(&zero.steered), zero.baseline.as_ref());
        assert_eq!(zero.hook, "blocks.1.hook_resid_pre");
        assert_eq!(zero.features, [SteerFeature { feature_id: 5, coefficient: 0.0 }]);
        let once = steer_pair(&pair, "People in Paris", &[(5, 20.0)], &sampled, None).unwrap();
        let again = steer_pair(&pair, "People in Paris", &[(5, 20.0)], &sampled, None).unwrap();
        assert_eq!(once, again);
        assert_eq!(once.baseline, zero.baseline);
        let no_compare = SteerOptions { compare: false, ..sampled };
        assert_eq!(steer_pair(&pair, "People in Paris", &[(5, 20.0)], &no_compare, None).unwrap().baseline, None);
    }
}
