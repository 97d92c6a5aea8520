//! What an index is built with. Everything here is part of the index's identity: two runs
//! (or shards) merge only if their options are equal.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Fixed log-spaced histogram bins over nonzero activations, decided before the pass so that
/// histograms of shards add up to the histogram of the whole. Bin 0 holds values below
/// `lo`, the last bin values at or above `hi`; in between `bins - 2` bins of equal width in
/// log10.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistSpec {
    /// Lower edge of the first regular bin.
    pub lo: f32,
    /// Upper edge of the last regular bin.
    pub hi: f32,
    /// Bins in all (two of them under/overflow).
    pub bins: usize,
}

impl Default for HistSpec {
    /// 256 bins over [1e-4, 1e4): each regular bin spans a factor of 1.076, so a percentile
    /// read from it (geometric midpoint) is within ±3.7% of the exact one. Activations of
    /// published SAEs range from ~1e-3 (TopK) to ~1e3 (JumpReLU on Gemma 27B).
    fn default() -> Self {
        HistSpec { lo: 1e-4, hi: 1e4, bins: 256 }
    }
}

impl HistSpec {
    /// The bin of a positive value.
    pub fn bin(&self, v: f32) -> usize {
        // NaN and values below `lo` go to the underflow bin.
        if v.is_nan() || v < self.lo {
            return 0;
        }
        if v >= self.hi {
            return self.bins - 1;
        }
        let regular = self.bins - 2;
        let t = ((v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10()) * regular as f32) as usize;
        1 + t.min(regular - 1)
    }

    /// `[lo, hi)` of bin `b` (bin 0 starts at 0, the last ends at +∞).
    pub fn edges(&self, b: usize) -> (f32, f32) {
        let regular = (self.bins - 2) as f32;
        let (l, h) = (self.lo.log10(), self.hi.log10());
        let at = |i: usize| 10f32.powf(l + (h - l) * i as f32 / regular);
        match b {
            0 => (0.0, self.lo),
            b if b == self.bins - 1 => (self.hi, f32::INFINITY),
            b => (at(b - 1), at(b)),
        }
    }

    fn check(&self) -> Result<()> {
        if !(self.lo > 0.0 && self.hi > self.lo && self.bins >= 3 && self.bins <= 4096) {
            return Err(Error::Invalid(format!("histogram bins: need 0 < lo < hi and 3..=4096 bins, got {self:?}")));
        }
        Ok(())
    }
}

/// How an index is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndexOptions {
    /// Tokens per document at most (bos included); longer documents are cut.
    pub ctx: usize,
    /// Top activating examples kept per feature.
    pub top_k: usize,
    /// Activation-quantile groups per feature (SAEDashboard's interval groups).
    pub quantile_bins: usize,
    /// Examples shown per quantile group.
    pub per_bin: usize,
    /// Size of each feature's uniform sample of firings, from which the quantile groups are
    /// drawn (at least `quantile_bins × per_bin`; equal to it by default, so every sampled
    /// example is shown: examples are most of a sketch's memory).
    pub sample_k: usize,
    /// Tokens shown before the peak token of an example.
    pub window_before: usize,
    /// Tokens shown after it.
    pub window_after: usize,
    /// Histogram bins.
    pub hist: HistSpec,
    /// Documents per forward batch. Batches are fixed blocks of corpus lines, the same in a
    /// single run and in any sharding, so every document is computed identically.
    pub block: usize,
    /// Index only the corpus prefix (in line order) holding this many tokens (0: all).
    pub max_tokens: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            ctx: 128,
            top_k: 20,
            quantile_bins: 10,
            per_bin: 5,
            sample_k: 50,
            window_before: 10,
            window_after: 5,
            hist: HistSpec::default(),
            block: 16,
            max_tokens: 0,
        }
    }
}

impl IndexOptions {
    /// Refuse options that cannot build an index.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.ctx < 2 {
            return bad(format!("ctx must be at least 2, got {}", self.ctx));
        }
        if self.top_k == 0 || self.top_k > 1000 {
            return bad(format!("top_k must be in 1..=1000, got {}", self.top_k));
        }
        if self.quantile_bins == 0 || self.per_bin == 0 || self.sample_k < self.quantile_bins * self.per_bin {
            return bad(format!(
                "sample_k ({}) must hold quantile_bins × per_bin ({} × {}) examples",
                self.sample_k, self.quantile_bins, self.per_bin
            ));
        }
        if self.block == 0 {
            return bad("block must be at least 1".into());
        }
        self.hist.check()
    }
}

/// Which part of the corpus a run indexes: blocks `b` with `b % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl Shard {
    /// The whole corpus.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `I/N`, e.g. `3/8` (0-based).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || Error::Invalid(format!("shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/4"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// From the environment of a scheduler's array job: Kubernetes Indexed Jobs
    /// (`JOB_COMPLETION_INDEX`, count from `SAEX_SHARDS`), Slurm arrays
    /// (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, count `SLURM_ARRAY_TASK_COUNT`).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
        let num = |k: &str| -> Result<Option<usize>> {
            get(k).map(|v| v.trim().parse::<usize>().map_err(|_| Error::Invalid(format!("{k}={v:?} is not a number")))).transpose()
        };
        if let Some(i) = num("JOB_COMPLETION_INDEX")? {
            let n = num("SAEX_SHARDS")?
                .ok_or_else(|| Error::Invalid("JOB_COMPLETION_INDEX is set but SAEX_SHARDS (the Job's completions) is not".into()))?;
            return Shard::parse(&format!("{i}/{n}")).map(Some);
        }
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let n = num("SLURM_ARRAY_TASK_COUNT")?
                .ok_or_else(|| Error::Invalid("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not".into()))?;
            return Shard::parse(&format!("{}/{n}", id.saturating_sub(min))).map(Some);
        }
        Ok(None)
    }

    /// Whether block `b` is this shard's.
    pub fn owns(&self, b: usize) -> bool {
        b % self.count == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_log_spaced_with_under_and_overflow() {
        // 3 decades in 3 regular bins: [1,10) [10,100) [100,1000), plus 2 outer bins.
        let h = HistSpec { lo: 1.0, hi: 1000.0, bins: 5 };
        assert_eq!([h.bin(0.5), h.bin(1.0), h.bin(9.9), h.bin(10.5), h.bin(999.0), h.bin(1000.0), h.bin(f32::NAN)], [0, 1, 1, 2, 3, 4, 0]);
        let (a, b) = h.edges(2);
        assert!((a - 10.0).abs() < 1e-4 && (b - 100.0).abs() < 1e-3);
        assert_eq!(h.edges(0), (0.0, 1.0));
        assert_eq!(h.edges(4).0, 1000.0);
    }

    #[test]
    fn shards_parse_and_come_from_schedulers() {
        assert_eq!(Shard::parse("3/8").unwrap(), Shard { index: 3, count: 8 });
        assert!(Shard::parse("8/8").is_err() && Shard::parse("x").is_err() && Shard::parse("0/0").is_err());
        let env = |pairs: &'static [(&str, &str)]| move |k: &str| pairs.iter().find(|(a, _)| *a == k).map(|(_, v)| v.to_string());
        assert_eq!(
            Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "2"), ("SAEX_SHARDS", "4")])).unwrap(),
            Some(Shard { index: 2, count: 4 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "2")])).is_err());
        let slurm = env(&[("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "8")]);
        assert_eq!(Shard::from_env(slurm).unwrap(), Some(Shard { index: 4, count: 8 }));
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
        assert!(Shard { index: 1, count: 3 }.owns(4) && !Shard { index: 1, count: 3 }.owns(5));
    }
}
