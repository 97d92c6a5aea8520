//! The training loop: corpus lines → model activations at the hook → shuffling buffer →
//! TopK SAE steps, with checkpoints, resume, and a SAELens-format result.
//!
//! Inputs are normalised as SAELens `expected_average_only_in`: scaled by
//! `sqrt(d_in) / mean‖x‖` (estimated on the first buffer) during training, the factor folded
//! into the weights at save (`W_enc·f`, `W_dec/f`, `b_dec/f`), so the saved SAE reads raw
//! activations with `normalize_activations: none`, exactly like SAELens's saved inference
//! models. bos positions are left out: their norm is an order of magnitude above the rest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use saex_hooks::Hook;
use saex_model::Model;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::topk::{StepOptions, StepStats, TopKSae};

/// What to train and how. Everything here must match on `--resume`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    /// The model reference (path or hub id) activations come from.
    pub model: String,
    /// The hook.
    pub hook: String,
    /// `topk` (with AuxK) or `standard` (ReLU + L1).
    pub architecture: String,
    /// Number of features.
    pub d_sae: usize,
    /// Active features per token (topk).
    pub k: usize,
    /// L1 coefficient (standard).
    pub l1_coeff: f32,
    /// Training tokens in all.
    pub tokens: u64,
    /// Tokens per optimisation step.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f32,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Fraction of training after which the learning rate decays linearly to 0.
    pub decay_start: f64,
    /// AuxK features per token.
    pub aux_k: usize,
    /// AuxK loss coefficient.
    pub aux_coeff: f32,
    /// A feature that has not fired in this many tokens is dead (for AuxK and reports).
    pub dead_tokens: u64,
    /// Tokens per corpus text (bos included); longer texts are cut.
    pub ctx: usize,
    /// Texts per model forward pass.
    pub model_batch: usize,
    /// Activations held in the shuffling buffer (tokens).
    pub buffer: usize,
    /// Every n-th corpus line is held out for evaluation (0: none).
    pub heldout_every: usize,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
}

/// Progress of a run, for the caller's progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Steps done.
    pub step: u64,
    /// Steps in all.
    pub total_steps: u64,
    /// Training tokens done.
    pub tokens: u64,
    /// Tokens per second since the start (or resume).
    pub tokens_per_s: f64,
    /// The last step's statistics.
    pub stats: StepStats,
    /// Fraction of features dead.
    pub dead_fraction: f64,
}

/// Checkpoint state besides the tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    options: TrainOptions,
    d_in: usize,
    step: u64,
    tokens: u64,
    corpus_line: usize,
    epochs: u64,
    scaling_factor: f32,
}

/// The summary written as `training.json` next to the SAE.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// The options.
    pub options: TrainOptions,
    /// Input width.
    pub d_in: usize,
    /// Steps done.
    pub steps: u64,
    /// Training tokens seen.
    pub tokens: u64,
    /// Times the corpus was read through.
    pub epochs: u64,
    /// The `expected_average_only_in` factor folded into the weights.
    pub scaling_factor: f32,
    /// The corpus file.
    pub corpus: String,
    /// Mean of the last steps' explained variance / MSE / L0 (training batches).
    pub final_explained_variance: f64,
    /// See above.
    pub final_mse: f64,
    /// See above.
    pub final_l0: f64,
    /// Features dead at the end.
    pub dead_fraction: f64,
    /// Wall-clock seconds (this run, after any resume).
    pub seconds: f64,
}

fn ckpt_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// Training texts from the corpus (held-out lines skipped, by `saex_corpus`'s rule), read
/// in line order from line `start` on, wrapping around (an epoch) at the end.
struct CorpusReader {
    path: PathBuf,
    docs: Vec<saex_corpus::Doc>,
    cursor: usize,
    epochs: u64,
}

impl CorpusReader {
    fn open(path: &Path, heldout_every: usize, start: usize, epochs: u64) -> Result<CorpusReader> {
        let mut docs = saex_corpus::read_docs(path, saex_corpus::Split::Train(heldout_every)).map_err(|e| Error::Invalid(e.to_string()))?;
        docs.retain(|d| !d.text.trim().is_empty());
        if docs.is_empty() {
            return Err(Error::Invalid(format!("{}: the corpus has no training text", path.display())));
        }
        let cursor = docs.partition_point(|d| d.line < start);
        Ok(CorpusReader { path: path.to_path_buf(), docs, cursor, epochs })
    }

    fn next_text(&mut self) -> &str {
        if self.cursor >= self.docs.len() {
            self.cursor = 0;
            self.epochs += 1;
        }
        self.cursor += 1;
        &self.docs[self.cursor - 1].text
    }

    /// The line number to resume from (what a checkpoint stores).
    fn next_line(&self) -> usize {
        match self.docs.get(self.cursor) {
            Some(d) => d.line,
            None => self.docs.last().map_or(0, |d| d.line + 1),
        }
    }
}

/// How a call to [`train`] runs (not part of the run's identity, unlike [`TrainOptions`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct RunControl {
    /// Continue the checkpoint in `out` instead of starting.
    pub resume: bool,
    /// Stop (with a checkpoint) once this many steps are done in all: training that does
    /// not fit one session continues later with `resume`.
    pub stop_at_step: Option<u64>,
}

/// Train, writing checkpoints under `out/checkpoint` and the SAE to `out`. Returns `None`
/// when stopped early by `ctl.stop_at_step` (the checkpoint holds the progress).
pub fn train(
    model: &Model,
    corpus: &Path,
    out: &Path,
    opts: &TrainOptions,
    ctl: RunControl,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Option<TrainReport>> {
    let resume = ctl.resume;
    let hook: Hook = opts.hook.parse().map_err(|e| Error::Invalid(format!("{e}")))?;
    model.check_hook(hook)?;
    let d_in: usize = model.hook_shape(hook).iter().product();
    check_options(opts)?;
    let ck = ckpt_dir(out);
    let (mut sae, mut state, mut last_fired, mut fire_count) = if resume {
        load_checkpoint(&ck, opts, d_in)?
    } else {
        if ck.exists() || out.join("cfg.json").exists() {
            return Err(Error::Invalid(format!(
                "{} already holds a training run; pass --resume to continue it, or choose another --out",
                out.display()
            )));
        }
        let state = State { options: opts.clone(), d_in, step: 0, tokens: 0, corpus_line: 0, epochs: 0, scaling_factor: 0.0 };
        (None, state, vec![0u64; opts.d_sae], vec![0u64; opts.d_sae])
    };
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let total_steps = opts.tokens / opts.batch as u64;
    if state.step >= total_steps {
        return Err(Error::Invalid(format!("the checkpoint already has all {total_steps} steps; nothing to resume")));
    }
    let mut reader = CorpusReader::open(corpus, opts.heldout_every, state.corpus_line, state.epochs)?;
    let bos = model.tokenizer.bos_id().filter(|_| model.add_bos());
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ state.step);
    let mut buffer: Vec<f32> = Vec::with_capacity(opts.buffer * d_in);
    let started = Instant::now();
    let tokens_at_start = state.tokens;
    let mut recent: Vec<StepStats> = Vec::new();
    let mut last_progress = Progress::default();
    let stop_at = ctl.stop_at_step.unwrap_or(total_steps).min(total_steps);
    while state.step < stop_at {
        // Fill the buffer.
        while buffer.len() < opts.buffer * d_in {
            // Read 8 batches' worth of texts and run them sorted by length, so that a batch
            // pads little (corpus texts run from a dozen tokens to `ctx`).
            let mut seqs: Vec<Vec<u32>> = (0..opts.model_batch * 8)
                .map(|_| {
                    let mut ids = model.tokenizer.encode(reader.next_text(), bos.is_some()).unwrap_or_default();
                    ids.truncate(opts.ctx);
                    ids
                })
                .filter(|s| s.len() > usize::from(bos.is_some()))
                .collect();
            seqs.sort_by_key(Vec::len);
            for group in seqs.chunks(opts.model_batch) {
                for a in model.run(group, &[hook], false)? {
                    let t = a.hooks[0].1.flatten_from(1)?;
                    let skip = usize::from(bos.is_some());
                    let rows = t.narrow(0, skip, t.dim(0)? - skip)?.flatten_all()?.to_vec1::<f32>()?;
                    buffer.extend_from_slice(&rows);
                }
            }
        }
        let n_rows = buffer.len() / d_in;
        if sae.is_none() {
            let mean_norm = buffer.chunks(d_in).map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt() as f64).sum::<f64>() / n_rows as f64;
            state.scaling_factor = ((d_in as f64).sqrt() / mean_norm) as f32;
            let sample: Vec<f32> = buffer.iter().map(|v| v * state.scaling_factor).collect();
            let l1 = (opts.architecture == "standard").then_some(opts.l1_coeff);
            sae = Some(TopKSae::new(d_in, opts.d_sae, opts.k, l1, opts.seed, &sample));
        }
        let Some(s) = sae.as_mut() else {
            return Err(Error::Invalid("internal: SAE not initialised after the first buffer".into()));
        };
        // Shuffle rows, train on the first half, keep the second half for mixing.
        let mut order: Vec<usize> = (0..n_rows).collect();
        order.shuffle(&mut rng);
        let take = (n_rows / 2 / opts.batch).max(1) * opts.batch;
        let take = take.min(n_rows - n_rows % opts.batch);
        let mut keep = Vec::with_capacity((n_rows - take) * d_in);
        for &r in &order[take..] {
            keep.extend_from_slice(&buffer[r * d_in..(r + 1) * d_in]);
        }
        for batch_rows in order[..take].chunks(opts.batch) {
            if state.step >= stop_at {
                break;
            }
            let mut x = Vec::with_capacity(opts.batch * d_in);
            for &r in batch_rows {
                x.extend(buffer[r * d_in..(r + 1) * d_in].iter().map(|v| v * state.scaling_factor));
            }
            let dead: Vec<bool> = last_fired.iter().map(|&t| state.tokens.saturating_sub(t) > opts.dead_tokens).collect();
            let lr = schedule(opts, state.step, total_steps);
            let (stats, codes) = s.train_step(&x, &dead, StepOptions { lr, aux_k: opts.aux_k, aux_coeff: opts.aux_coeff });
            state.tokens += batch_rows.len() as u64;
            state.step += 1;
            for (&f, &v) in codes.idx.iter().zip(&codes.val) {
                if v > 0.0 {
                    last_fired[f as usize] = state.tokens;
                    fire_count[f as usize] += 1;
                }
            }
            recent.push(stats);
            if recent.len() > 20 {
                recent.remove(0);
            }
            let dead_now = last_fired.iter().filter(|&&t| state.tokens.saturating_sub(t) > opts.dead_tokens).count();
            last_progress = Progress {
                step: state.step,
                total_steps,
                tokens: state.tokens,
                tokens_per_s: (state.tokens - tokens_at_start) as f64 / started.elapsed().as_secs_f64().max(1e-9),
                stats,
                dead_fraction: dead_now as f64 / opts.d_sae as f64,
            };
            progress(&last_progress);
        }
        buffer = keep;
        state.corpus_line = reader.next_line();
        state.epochs = reader.epochs;
        save_checkpoint(&ck, s, &state, &last_fired, &fire_count)?;
    }
    if state.step < total_steps {
        return Ok(None);
    }
    let Some(s) = sae.as_ref() else { return Err(Error::Invalid("no training step ran".into())) };
    let mean = |f: fn(&StepStats) -> f64| recent.iter().map(f).sum::<f64>() / recent.len().max(1) as f64;
    let report = TrainReport {
        options: opts.clone(),
        d_in,
        steps: state.step,
        tokens: state.tokens,
        epochs: state.epochs,
        scaling_factor: state.scaling_factor,
        corpus: reader.path.display().to_string(),
        final_explained_variance: mean(|s| s.explained_variance),
        final_mse: mean(|s| s.mse),
        final_l0: mean(|s| s.l0),
        dead_fraction: last_progress.dead_fraction,
        seconds: started.elapsed().as_secs_f64(),
    };
    save_sae(out, s, &state, hook, model, &fire_count, &reader.path)?;
    write_json(&out.join("training.json"), &report)?;
    Ok(Some(report))
}

fn check_options(o: &TrainOptions) -> Result<()> {
    let bad = |m: String| Err(Error::Invalid(m));
    if o.d_sae == 0 || o.d_sae > 1 << 20 {
        return bad(format!("d_sae must be in 1..={}, got {}", 1 << 20, o.d_sae));
    }
    if !matches!(o.architecture.as_str(), "topk" | "standard") {
        return bad(format!("architecture must be topk or standard, got `{}`", o.architecture));
    }
    if o.architecture == "topk" && (o.k == 0 || o.k > o.d_sae) {
        return bad(format!("k must be in 1..=d_sae ({}), got {}", o.d_sae, o.k));
    }
    if o.architecture == "standard" && !(o.l1_coeff > 0.0 && o.l1_coeff.is_finite()) {
        return bad(format!("l1_coeff must be > 0 for the standard architecture, got {}", o.l1_coeff));
    }
    if o.batch == 0 || o.buffer < 2 * o.batch {
        return bad(format!("batch must be >= 1 and buffer >= 2 x batch (got batch {}, buffer {})", o.batch, o.buffer));
    }
    if o.tokens < o.batch as u64 {
        return bad(format!("tokens ({}) must be at least one batch ({})", o.tokens, o.batch));
    }
    let lr_ok = o.lr > 0.0 && o.lr.is_finite();
    if !lr_ok || !(0.0..=1.0).contains(&o.decay_start) || o.ctx < 2 || o.model_batch == 0 {
        return bad("lr must be > 0, decay_start in [0, 1], ctx >= 2, model_batch >= 1".into());
    }
    Ok(())
}

/// Linear warm-up to `lr`, constant, then linear decay to 0 from `decay_start`.
fn schedule(o: &TrainOptions, step: u64, total: u64) -> f32 {
    let warm = if o.warmup_steps > 0 { ((step + 1) as f32 / o.warmup_steps as f32).min(1.0) } else { 1.0 };
    let decay_from = (o.decay_start * total as f64) as u64;
    let decay = if step >= decay_from && total > decay_from { 1.0 - (step - decay_from) as f32 / (total - decay_from) as f32 } else { 1.0 };
    o.lr * warm * decay
}

fn tensor(v: &[f32], shape: &[usize]) -> Result<Tensor> {
    Ok(Tensor::from_slice(v, shape, &Device::Cpu)?)
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let tmp = path.with_extension("json.partial");
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(&tmp, text + "\n").map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn write_safetensors(path: &Path, tensors: Vec<(&str, Tensor)>) -> Result<()> {
    let tmp = path.with_extension("safetensors.partial");
    safetensors::serialize_to_file(tensors.iter().map(|(k, v)| (*k, v)), None, &tmp)
        .map_err(|e| Error::Invalid(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn save_checkpoint(dir: &Path, s: &TopKSae, state: &State, last_fired: &[u64], fire_count: &[u64]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (d, m) = (s.d_in, s.d_sae);
    let shapes = [vec![m, d], vec![m], vec![m, d], vec![d]];
    let mut ts = vec![
        ("w_enc_t", tensor(&s.w_enc_t, &shapes[0])?),
        ("b_enc", tensor(&s.b_enc, &shapes[1])?),
        ("w_dec", tensor(&s.w_dec, &shapes[2])?),
        ("b_dec", tensor(&s.b_dec, &shapes[3])?),
    ];
    const ADAM: [&str; 8] = ["m.w_enc_t", "v.w_enc_t", "m.b_enc", "v.b_enc", "m.w_dec", "v.w_dec", "m.b_dec", "v.b_dec"];
    for (i, a) in s.adam.iter().enumerate() {
        ts.push((ADAM[i], tensor(a, &shapes[i / 2])?));
    }
    let as_f64 = |v: &[u64]| Tensor::from_vec(v.iter().map(|&x| x as f64).collect::<Vec<_>>(), v.len(), &Device::Cpu);
    ts.push(("last_fired", as_f64(last_fired)?));
    ts.push(("fire_count", as_f64(fire_count)?));
    // Each step's tensors go to their own file, and state.json, written last, names the step:
    // a kill between the two writes leaves state.json naming the previous step, whose file
    // is still there. (One `state.safetensors` overwritten in place paired new weights with
    // the old step's state after such a kill.)
    write_safetensors(&dir.join(state_file(s.step)), ts)?;
    let mut st = state.clone();
    st.step = s.step;
    write_json(&dir.join("state.json"), &st)?;
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("state-") && name != state_file(s.step) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// The checkpoint's tensors at `step`.
fn state_file(step: u64) -> String {
    format!("state-{step}.safetensors")
}

type Loaded = (Option<TopKSae>, State, Vec<u64>, Vec<u64>);

fn load_checkpoint(dir: &Path, opts: &TrainOptions, d_in: usize) -> Result<Loaded> {
    let sj = dir.join("state.json");
    let text = std::fs::read_to_string(&sj).map_err(|_| Error::Invalid(format!("--resume: no checkpoint at {}", sj.display())))?;
    let state: State = serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", sj.display())))?;
    if state.options != *opts || state.d_in != d_in {
        let a = serde_json::to_value(&state.options).unwrap_or_default();
        let b = serde_json::to_value(opts).unwrap_or_default();
        let diffs: Vec<String> = a
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| b.get(k.as_str()) != Some(v))
            .map(|(k, v)| format!("{k}: checkpoint {v}, now {}", b.get(k.as_str()).cloned().unwrap_or_default()))
            .collect();
        return Err(Error::Invalid(format!(
            "--resume: the checkpoint at {} is from a different config ({}); nothing was changed",
            dir.display(),
            if diffs.is_empty() { format!("d_in {} vs {d_in}", state.d_in) } else { diffs.join("; ") }
        )));
    }
    let st = dir.join(state_file(state.step));
    let t = candle_core::safetensors::load(&st, &Device::Cpu).map_err(|e| Error::Invalid(format!("{}: {e}", st.display())))?;
    let get = |n: &str| -> Result<Vec<f32>> {
        t.get(n)
            .ok_or_else(|| Error::Invalid(format!("{}: missing `{n}`", st.display())))?
            .flatten_all()?
            .to_vec1::<f32>()
            .map_err(Error::from)
    };
    let get_u64 = |n: &str| -> Result<Vec<u64>> {
        Ok(t.get(n)
            .ok_or_else(|| Error::Invalid(format!("{}: missing `{n}`", st.display())))?
            .to_vec1::<f64>()?
            .into_iter()
            .map(|x| x as u64)
            .collect())
    };
    const ADAM: [&str; 8] = ["m.w_enc_t", "v.w_enc_t", "m.b_enc", "v.b_enc", "m.w_dec", "v.w_dec", "m.b_dec", "v.b_dec"];
    let sae = TopKSae {
        d_in,
        d_sae: opts.d_sae,
        k: opts.k,
        w_enc_t: get("w_enc_t")?,
        b_enc: get("b_enc")?,
        w_dec: get("w_dec")?,
        b_dec: get("b_dec")?,
        adam: [get(ADAM[0])?, get(ADAM[1])?, get(ADAM[2])?, get(ADAM[3])?, get(ADAM[4])?, get(ADAM[5])?, get(ADAM[6])?, get(ADAM[7])?],
        step: state.step,
        l1: (opts.architecture == "standard").then_some(opts.l1_coeff),
    };
    let (lf, fc) = (get_u64("last_fired")?, get_u64("fire_count")?);
    Ok((Some(sae), state, lf, fc))
}

/// The SAELens-format result: `cfg.json`, `sae_weights.safetensors`, `sparsity.safetensors`.
fn save_sae(out: &Path, s: &TopKSae, state: &State, hook: Hook, model: &Model, fire_count: &[u64], corpus: &Path) -> Result<()> {
    let (d, m, f) = (s.d_in, s.d_sae, state.scaling_factor);
    // W_enc [d_in, d_sae] = w_enc_t transposed, times f; W_dec / f; b_dec / f.
    let w_enc = (Tensor::from_slice(&s.w_enc_t, (m, d), &Device::Cpu)?.t()?.contiguous()? * f as f64)?;
    let w_dec = (tensor(&s.w_dec, &[m, d])? / f as f64)?;
    let b_dec = (tensor(&s.b_dec, &[d])? / f as f64)?;
    write_safetensors(
        &out.join("sae_weights.safetensors"),
        vec![("W_enc", w_enc), ("b_enc", tensor(&s.b_enc, &[m])?), ("W_dec", w_dec), ("b_dec", b_dec)],
    )?;
    let total = state.tokens.max(1) as f64;
    let log_freq: Vec<f32> = fire_count.iter().map(|&c| ((c as f64 / total).max(1e-10)).log10() as f32).collect();
    write_safetensors(&out.join("sparsity.safetensors"), vec![("sparsity", tensor(&log_freq, &[m])?)])?;
    let mut cfg = serde_json::json!({
        "d_in": d, "d_sae": m, "dtype": "float32", "device": "cpu",
        "architecture": "topk", "k": s.k, "rescale_acts_by_decoder_norm": false,
        "apply_b_dec_to_input": true, "normalize_activations": "none", "reshape_activations": "none",
        "metadata": {
            "sae_lens_version": "6.54.12",
            "sae_lens_training_version": format!("saex {}", env!("CARGO_PKG_VERSION")),
            "model_name": model.info.name, "hook_name": hook.to_string(), "hook_head_index": null,
            "prepend_bos": model.add_bos(), "context_size": state.options.ctx,
            "dataset_path": corpus.display().to_string(), "model_from_pretrained_kwargs": {},
        }
    });
    if s.l1.is_some() {
        cfg["architecture"] = "standard".into();
        if let Some(o) = cfg.as_object_mut() {
            o.remove("k");
            o.remove("rescale_acts_by_decoder_norm");
        }
    }
    write_json(&out.join("cfg.json"), &cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_warms_up_holds_and_decays() {
        let o = TrainOptions {
            model: String::new(),
            hook: String::new(),
            architecture: "topk".into(),
            d_sae: 8,
            k: 2,
            l1_coeff: 0.0,
            tokens: 100,
            batch: 1,
            lr: 1.0,
            warmup_steps: 10,
            decay_start: 0.8,
            aux_k: 0,
            aux_coeff: 0.0,
            dead_tokens: 10,
            ctx: 8,
            model_batch: 1,
            buffer: 4,
            heldout_every: 0,
            seed: 0,
        };
        assert!((schedule(&o, 0, 100) - 0.1).abs() < 1e-6); // step 1 of 10 warm-up steps
        assert_eq!(schedule(&o, 50, 100), 1.0);
        assert!((schedule(&o, 90, 100) - 0.5).abs() < 1e-6); // halfway through the last 20
    }
}
