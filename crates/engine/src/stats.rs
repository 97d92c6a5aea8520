//! Per-feature activation statistics over a reference corpus (firing rate, mean, P95, max):
//! the baseline later analyses compare against (discover's default τ is a feature's P95,
//! its density gate the firing rate). [`FeatureStats`] owns its file,
//! `feature_stats.safetensors` in the SAE's directory: nobody else reads or writes it.
//!
//! P95 is taken over the tokens where the feature fires: over all tokens it would be 0 for
//! any feature firing on less than 5% of them, which is nearly all features of a sparse SAE.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::session::Session;

/// The file name of the statistics inside an SAE directory.
pub const STATS_FILE: &str = "feature_stats.safetensors";

/// The firing rate above which a feature counts as dense (SAELens's cut): it fires on more
/// than 10% of reference tokens. One definition for `sae-info`, discover's and
/// top-features' density gate.
pub const DENSE_RATE: f32 = 0.1;

/// Per-feature statistics, each `[d_sae]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureStats {
    /// Tokens measured (bos left out).
    pub n_tokens: usize,
    /// Fraction of tokens where the feature fires.
    pub firing_rate: Vec<f32>,
    /// Mean activation over all tokens.
    pub mean: Vec<f32>,
    /// Mean activation over the tokens where it fires.
    pub mean_nonzero: Vec<f32>,
    /// 95th percentile of its nonzero activations (nearest rank).
    pub p95: Vec<f32>,
    /// Largest activation.
    pub max: Vec<f32>,
}

const FIELDS: [&str; 5] = ["firing_rate", "mean", "mean_nonzero", "p95", "max"];

impl FeatureStats {
    /// Features that never fired on the reference tokens.
    pub fn dead(&self) -> usize {
        self.firing_rate.iter().filter(|&&r| r == 0.0).count()
    }

    /// Features firing on more than [`DENSE_RATE`] of them.
    pub fn dense(&self) -> usize {
        self.firing_rate.iter().filter(|&&r| r > DENSE_RATE).count()
    }

    /// Statistics from per-feature nonzero values over `n_tokens` tokens (each feature's
    /// values are sorted in place).
    pub fn from_values(n_tokens: usize, values: &mut [Vec<f32>]) -> FeatureStats {
        let m = values.len();
        let mut s = FeatureStats {
            n_tokens,
            firing_rate: vec![0.0; m],
            mean: vec![0.0; m],
            mean_nonzero: vec![0.0; m],
            p95: vec![0.0; m],
            max: vec![0.0; m],
        };
        for (f, v) in values.iter_mut().enumerate() {
            if v.is_empty() || n_tokens == 0 {
                continue;
            }
            let sum: f64 = v.iter().map(|&x| x as f64).sum();
            s.firing_rate[f] = v.len() as f32 / n_tokens as f32;
            s.mean[f] = (sum / n_tokens as f64) as f32;
            s.mean_nonzero[f] = (sum / v.len() as f64) as f32;
            v.sort_by(f32::total_cmp);
            let rank = ((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len());
            s.p95[f] = v[rank - 1];
            s.max[f] = v[v.len() - 1];
        }
        s
    }

    /// Write to `path` atomically (a temporary file renamed over it), with `meta` (corpus,
    /// model, hook, ...) in the safetensors header. The header holds one key, `saex`, a JSON
    /// object with sorted keys: safetensors keeps metadata in a hash map, and several keys
    /// would be written in a different order each run (same statistics, other bytes).
    pub fn save(&self, path: &Path, meta: &[(&str, String)]) -> Result<()> {
        let m = self.firing_rate.len();
        let t = |v: &[f32]| Tensor::from_slice(v, m, &Device::Cpu);
        let vectors = [&self.firing_rate, &self.mean, &self.mean_nonzero, &self.p95, &self.max];
        let tensors: Vec<(&str, Tensor)> = FIELDS.iter().zip(vectors).map(|(k, v)| Ok((*k, t(v)?))).collect::<Result<_>>()?;
        let mut sorted: std::collections::BTreeMap<String, String> = meta.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        sorted.insert("n_tokens".into(), self.n_tokens.to_string());
        sorted.insert("p95".into(), "95th percentile of the nonzero activations".into());
        let json = serde_json::to_string(&sorted).map_err(|e| Error::Invalid(e.to_string()))?;
        let header: HashMap<String, String> = HashMap::from([("saex".to_string(), json)]);
        crate::atomic::write_with(path, |tmp| {
            safetensors::serialize_to_file(tensors.iter().map(|(k, v)| (*k, v)), Some(header.clone()), tmp)
                .map_err(|e| Error::File { path: tmp.display().to_string(), message: e.to_string() })
        })
    }

    /// Read `path`, checking every vector has `d_sae` entries.
    pub fn load(path: &Path, d_sae: usize) -> Result<FeatureStats> {
        let err = |m: String| Error::File { path: path.display().to_string(), message: m };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| err(format!("not a safetensors file: {e}")))?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| err(e.to_string()))?;
        let get = |name: &str| -> Result<Vec<f32>> {
            let t = tensors.get(name).ok_or_else(|| err(format!("no tensor `{name}`")))?;
            let v = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            if v.len() != d_sae {
                return Err(err(format!("`{name}` has {} entries, the SAE has d_sae {d_sae}", v.len())));
            }
            Ok(v)
        };
        // n_tokens: in the `saex` JSON key, or (files of earlier saex) a key of its own.
        let header = meta.metadata().as_ref();
        let nested = header.and_then(|m| m.get("saex")).and_then(|j| serde_json::from_str::<HashMap<String, String>>(j).ok());
        let n_tokens = nested
            .as_ref()
            .and_then(|m| m.get("n_tokens"))
            .or_else(|| header.and_then(|m| m.get("n_tokens")))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mean = get("mean")?;
        let firing_rate = get("firing_rate")?;
        // Older files lack mean_nonzero: it is mean / firing_rate.
        let mean_nonzero = match tensors.contains_key("mean_nonzero") {
            true => get("mean_nonzero")?,
            false => mean.iter().zip(&firing_rate).map(|(&m, &r)| if r > 0.0 { m / r } else { 0.0 }).collect(),
        };
        let max = if tensors.contains_key("max") { get("max")? } else { vec![0.0; d_sae] };
        Ok(FeatureStats { n_tokens, firing_rate, mean, mean_nonzero, p95: get("p95")?, max })
    }
}

/// Statistics of SAE `sae` over `texts` (each cut to `ctx` tokens, bos prepended when the
/// model uses it and left out of the counts), `batch` texts per forward pass, stopping after
/// `max_tokens` tokens.
pub fn feature_stats(session: &Session, sae: usize, texts: &[&str], ctx: usize, batch: usize, max_tokens: usize) -> Result<FeatureStats> {
    let m = session.saes[sae].sae.d_sae();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); m];
    let mut n_tokens = 0usize;
    let mut seqs: Vec<Vec<u32>> = Vec::new();
    let mut flush = |seqs: &mut Vec<Vec<u32>>, n_tokens: &mut usize| -> Result<()> {
        for enc in session.encode_batch(&[sae], seqs)? {
            let acts = enc.codes[0].skip(enc.first_real());
            for (fs, vs) in acts.tokens() {
                for (&f, &v) in fs.iter().zip(vs) {
                    values[f as usize].push(v);
                }
            }
            *n_tokens += acts.n_tokens();
        }
        seqs.clear();
        Ok(())
    };
    for text in texts {
        if n_tokens >= max_tokens {
            break;
        }
        let mut ids = session.tokenize_ids(text, session.model.add_bos())?;
        ids.truncate(ctx);
        if ids.len() > session.bos_skip(&ids) {
            seqs.push(ids);
        }
        if seqs.len() == batch.max(1) {
            flush(&mut seqs, &mut n_tokens)?;
        }
    }
    if !seqs.is_empty() {
        flush(&mut seqs, &mut n_tokens)?;
    }
    if n_tokens == 0 {
        return Err(Error::Invalid("no tokens to measure".into()));
    }
    Ok(FeatureStats::from_values(n_tokens, &mut values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_by_hand_and_a_file_round_trip() {
        // 10 tokens; f0 fires 1, 2, 3, 4; f1 never; f2 fires 5 once.
        let mut v = vec![vec![4.0, 1.0, 3.0, 2.0], vec![], vec![5.0]];
        let s = FeatureStats::from_values(10, &mut v);
        assert_eq!(s.firing_rate, [0.4, 0.0, 0.1]);
        assert_eq!(s.mean, [1.0, 0.0, 0.5]); // 10/10, 0, 5/10
        assert_eq!(s.mean_nonzero, [2.5, 0.0, 5.0]);
        // Nearest rank: ceil(0.95 · 4) = 4th of [1, 2, 3, 4] → 4.
        assert_eq!(s.p95, [4.0, 0.0, 5.0]);
        assert_eq!((s.dead(), s.dense()), (1, 1));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(STATS_FILE);
        s.save(&p, &[("corpus", "c.jsonl".into())]).unwrap();
        assert_eq!(FeatureStats::load(&p, 3).unwrap(), s);
        let e = FeatureStats::load(&p, 4).unwrap_err().to_string();
        assert!(e.contains("d_sae 4") && e.contains(STATS_FILE), "{e}");
        std::fs::write(&p, b"garbage").unwrap();
        assert!(FeatureStats::load(&p, 3).unwrap_err().to_string().contains("not a safetensors file"));
    }
}
