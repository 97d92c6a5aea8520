//! The mergeable per-feature summary of an SAE over a corpus: what one pass (or one shard,
//! or one checkpoint) holds. Everything in it merges exactly, so the sketch of a union of
//! document sets is the merge of their sketches, in any order:
//! - counts and histograms are integers over fixed bins (decided before the pass);
//! - sums are fixed-point integers (`i128`, 2⁻³² resolution), so their order of addition
//!   cannot change a bit of the mean;
//! - the top examples are the best `top_k` under a total order (activation, then document,
//!   then position);
//! - the sample behind the quantile groups is a bottom-k sample by a hash-derived priority
//!   per (document, position, feature): the sample of a union is the union's sample.
//!
//! Memory is bounded by `d_sae × (top_k + sample_k)` examples (~300 bytes each with the
//! default 16-token windows) plus `d_sae × bins` counts, whatever the corpus size.

use std::cmp::Ordering;

use saex_sae::SparseActs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::options::{HistSpec, IndexOptions};

/// Fixed-point scale of the activation sums.
const SCALE: f64 = 4_294_967_296.0; // 2^32

/// One activating token and its context window, as a sketch keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The activation at the token.
    pub act: f32,
    /// The document: its 0-based line in the corpus.
    pub doc: u64,
    /// The token's position in the document (bos = 0 when present).
    pub position: u32,
    /// Its category index in the sketch's category table.
    pub category: u32,
    /// Sampling priority: a hash of (document, position, feature).
    pub priority: u64,
    /// Position of the window's first token.
    pub window_start: u32,
    /// The window's text (its tokens' text in the document, concatenated).
    pub text: String,
    /// Where each window token ends in `text`, in bytes (one allocation instead of one
    /// string per token: examples are most of a sketch's memory).
    pub ends: Vec<u32>,
    /// The feature's activation at each window token.
    pub acts: Vec<f32>,
}

impl Example {
    /// The window's tokens, as their text.
    pub fn tokens(&self) -> Vec<String> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&e| {
                let t = self.text.get(start..e as usize).unwrap_or("").to_string();
                start = e as usize;
                t
            })
            .collect()
    }
}

/// Top order: larger activation first, then earlier document, then earlier position.
fn top_order(a: (f32, u64, u32), b: (f32, u64, u32)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
}

/// Sample order: smaller priority first, then earlier document, then earlier position.
fn sample_order(a: (u64, u64, u32), b: (u64, u64, u32)) -> Ordering {
    a.cmp(&b)
}

/// SplitMix64's finaliser: a well-mixed, portable 64-bit hash of the key (written out: it is
/// six lines, and the sample's determinism across machines depends on it never changing).
pub fn priority(doc: u64, position: u32, feature: u32) -> u64 {
    let mut z = doc.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(position) << 32 | u64::from(feature));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The sketch of one SAE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    /// Features.
    pub d_sae: usize,
    /// The options it was built with (merging checks they are equal).
    pub options: IndexOptions,
    /// Non-bos tokens seen.
    pub n_tokens: u64,
    /// Documents seen.
    pub n_docs: u64,
    /// Category names, in first-seen order (`""`: no category).
    pub categories: Vec<String>,
    /// Non-bos tokens per category.
    pub category_tokens: Vec<u64>,
    /// Per feature: tokens where it fires (activation > 0).
    pub firing: Vec<u64>,
    /// Per feature: the sum of its activations, fixed point (× 2³²).
    pub sum_fixed: Vec<i128>,
    /// Per feature: its largest activation.
    pub max: Vec<f32>,
    /// `[d_sae × bins]` histogram counts of the nonzero activations.
    pub hist: Vec<u32>,
    /// Per category, per feature: tokens where it fires.
    pub category_firing: Vec<Vec<u64>>,
    /// Per feature: the best examples, best first.
    pub top: Vec<Vec<Example>>,
    /// Per feature: the bottom-`sample_k` examples by priority, lowest first.
    pub sample: Vec<Vec<Example>>,
}

impl Sketch {
    /// An empty sketch.
    pub fn new(d_sae: usize, options: &IndexOptions) -> Sketch {
        Sketch {
            d_sae,
            options: options.clone(),
            n_tokens: 0,
            n_docs: 0,
            categories: Vec::new(),
            category_tokens: Vec::new(),
            firing: vec![0; d_sae],
            sum_fixed: vec![0; d_sae],
            max: vec![0.0; d_sae],
            hist: vec![0; d_sae * options.hist.bins],
            category_firing: Vec::new(),
            top: vec![Vec::new(); d_sae],
            sample: vec![Vec::new(); d_sae],
        }
    }

    fn category(&mut self, name: &str) -> usize {
        match self.categories.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.categories.push(name.to_string());
                self.category_tokens.push(0);
                self.category_firing.push(vec![0; self.d_sae]);
                self.categories.len() - 1
            }
        }
    }

    /// Add one document: its tokens' text (`pieces`, one per token) and the SAE's codes
    /// (`acts`, one row per token). Tokens before `first` (bos) are neither counted nor
    /// shown.
    pub fn observe(&mut self, doc: u64, category: Option<&str>, pieces: &[String], acts: &SparseActs, first: usize) -> Result<()> {
        let n = acts.n_tokens();
        if pieces.len() != n || acts.d_sae != self.d_sae {
            return Err(Error::Invalid(format!(
                "document {doc}: {} token texts for {n} rows of codes, d_sae {} for a sketch of {}",
                pieces.len(),
                acts.d_sae,
                self.d_sae
            )));
        }
        let cat = self.category(category.unwrap_or(""));
        let real = n.saturating_sub(first) as u64;
        self.n_tokens += real;
        self.category_tokens[cat] += real;
        self.n_docs += 1;
        let bins = self.options.hist.bins;
        for pos in first..n {
            let Some((fs, vs)) = acts.token(pos) else { continue };
            for (&f, &v) in fs.iter().zip(vs) {
                if v.is_nan() || v <= 0.0 {
                    continue;
                }
                let fi = f as usize;
                self.firing[fi] += 1;
                self.sum_fixed[fi] += (f64::from(v) * SCALE).round() as i128;
                if v > self.max[fi] {
                    self.max[fi] = v;
                }
                let b = fi * bins + self.options.hist.bin(v);
                self.hist[b] = self.hist[b].saturating_add(1);
                self.category_firing[cat][fi] += 1;
                let key = (v, doc, pos as u32);
                let top = &self.top[fi];
                if top.len() < self.options.top_k
                    || top.last().is_some_and(|w| top_order(key, (w.act, w.doc, w.position)) == Ordering::Less)
                {
                    let e = self.example(f, v, doc, pos, cat, pieces, acts, first);
                    insert(&mut self.top[fi], e, self.options.top_k, |a, b| {
                        top_order((a.act, a.doc, a.position), (b.act, b.doc, b.position))
                    });
                }
                let p = priority(doc, pos as u32, f);
                let sample = &self.sample[fi];
                if sample.len() < self.options.sample_k
                    || sample.last().is_some_and(|w| sample_order((p, doc, pos as u32), (w.priority, w.doc, w.position)) == Ordering::Less)
                {
                    let e = self.example(f, v, doc, pos, cat, pieces, acts, first);
                    insert(&mut self.sample[fi], e, self.options.sample_k, |a, b| {
                        sample_order((a.priority, a.doc, a.position), (b.priority, b.doc, b.position))
                    });
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // the fields of one example, all needed
    fn example(&self, f: u32, v: f32, doc: u64, pos: usize, cat: usize, pieces: &[String], acts: &SparseActs, first: usize) -> Example {
        let start = pos.saturating_sub(self.options.window_before).max(first);
        let end = (pos + self.options.window_after + 1).min(pieces.len());
        let text: String = pieces[start..end].concat();
        let mut at = 0u32;
        let ends = pieces[start..end]
            .iter()
            .map(|p| {
                at += p.len() as u32;
                at
            })
            .collect();
        Example {
            act: v,
            doc,
            position: pos as u32,
            category: cat as u32,
            priority: priority(doc, pos as u32, f),
            window_start: start as u32,
            text,
            ends,
            acts: (start..end).map(|p| acts.get(p, f)).collect(),
        }
    }

    /// Fold `other` (another part of the same corpus, built with the same options) in.
    pub fn merge(&mut self, other: Sketch) -> Result<()> {
        if other.d_sae != self.d_sae || other.options != self.options {
            return Err(Error::Mismatch(format!(
                "cannot merge sketches built differently (d_sae {} vs {}, options equal: {})",
                self.d_sae,
                other.d_sae,
                other.options == self.options
            )));
        }
        let remap: Vec<usize> = other.categories.iter().map(|c| self.category(c)).collect();
        self.n_tokens += other.n_tokens;
        self.n_docs += other.n_docs;
        for (i, &to) in remap.iter().enumerate() {
            self.category_tokens[to] += other.category_tokens[i];
            for (a, b) in self.category_firing[to].iter_mut().zip(&other.category_firing[i]) {
                *a += b;
            }
        }
        for f in 0..self.d_sae {
            self.firing[f] += other.firing[f];
            self.sum_fixed[f] += other.sum_fixed[f];
            self.max[f] = self.max[f].max(other.max[f]);
        }
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            *a = a.saturating_add(*b);
        }
        let (top_k, sample_k) = (self.options.top_k, self.options.sample_k);
        for (f, (top, sample)) in other.top.into_iter().zip(other.sample).enumerate() {
            for mut e in top {
                e.category = remap[e.category as usize] as u32;
                insert(&mut self.top[f], e, top_k, |a, b| top_order((a.act, a.doc, a.position), (b.act, b.doc, b.position)));
            }
            for mut e in sample {
                e.category = remap[e.category as usize] as u32;
                insert(&mut self.sample[f], e, sample_k, |a, b| {
                    sample_order((a.priority, a.doc, a.position), (b.priority, b.doc, b.position))
                });
            }
        }
        self.canonicalise();
        Ok(())
    }

    /// Put categories in name order (and remap everything that refers to them), so that two
    /// sketches of the same documents are equal whatever order their parts were seen in.
    pub fn canonicalise(&mut self) {
        let mut order: Vec<usize> = (0..self.categories.len()).collect();
        order.sort_by(|&a, &b| self.categories[a].cmp(&self.categories[b]));
        let mut new_of = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_of[old] = new as u32;
        }
        self.categories = order.iter().map(|&o| self.categories[o].clone()).collect();
        self.category_tokens = order.iter().map(|&o| self.category_tokens[o]).collect();
        self.category_firing = order.iter().map(|&o| std::mem::take(&mut self.category_firing[o])).collect();
        for e in self.top.iter_mut().chain(self.sample.iter_mut()).flatten() {
            e.category = new_of[e.category as usize];
        }
    }

    /// Mean activation of feature `f` over all tokens, and over those where it fires.
    pub fn means(&self, f: usize) -> (f32, f32) {
        let sum = self.sum_fixed[f] as f64 / SCALE;
        let over = |n: u64| if n == 0 { 0.0 } else { (sum / n as f64) as f32 };
        (over(self.n_tokens), over(self.firing[f]))
    }

    /// The `q`-quantile (nearest rank) of feature `f`'s nonzero activations, read from the
    /// histogram: the geometric middle of the bin holding that rank (capped by the max).
    pub fn quantile(&self, f: usize, q: f64) -> f32 {
        let n = self.firing[f];
        if n == 0 {
            return 0.0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let spec: HistSpec = self.options.hist;
        let row = &self.hist[f * spec.bins..(f + 1) * spec.bins];
        let mut seen = 0u64;
        for (b, &c) in row.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                let (lo, hi) = spec.edges(b);
                let mid = if b == 0 {
                    lo.max(spec.lo / 2.0)
                } else if hi.is_finite() {
                    (lo * hi).sqrt()
                } else {
                    self.max[f]
                };
                return mid.min(self.max[f]);
            }
        }
        self.max[f]
    }

    /// Serialise (postcard).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        postcard::to_allocvec(self).map_err(|e| Error::Invalid(format!("cannot serialise a sketch: {e}")))
    }

    /// Deserialise, checking the shapes are consistent.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sketch> {
        let s: Sketch = postcard::from_bytes(bytes).map_err(|e| Error::Invalid(format!("not a saex sketch: {e}")))?;
        let d = s.d_sae;
        let n_cat = s.categories.len();
        let ok = s.firing.len() == d
            && s.sum_fixed.len() == d
            && s.max.len() == d
            && s.hist.len() == d * s.options.hist.bins
            && s.top.len() == d
            && s.sample.len() == d
            && s.category_tokens.len() == n_cat
            && s.category_firing.len() == n_cat
            && s.category_firing.iter().all(|c| c.len() == d)
            && s.top.iter().chain(&s.sample).flatten().all(|e| {
                (e.category as usize) < n_cat && e.ends.len() == e.acts.len() && e.ends.last().is_none_or(|&x| x as usize == e.text.len())
            });
        if !ok {
            return Err(Error::Invalid("a sketch with inconsistent shapes".into()));
        }
        Ok(s)
    }
}

/// Insert `e` into `v` (sorted by `cmp`, best first), keeping at most `k`.
fn insert(v: &mut Vec<Example>, e: Example, k: usize, cmp: impl Fn(&Example, &Example) -> Ordering) {
    let at = v.partition_point(|x| cmp(x, &e) == Ordering::Less);
    if at >= k {
        return;
    }
    v.insert(at, e);
    v.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> IndexOptions {
        IndexOptions { top_k: 2, sample_k: 3, quantile_bins: 1, per_bin: 2, window_before: 1, window_after: 1, ..Default::default() }
    }

    /// bos + 3 tokens; feature 1 fires 1, 3, 2 on tokens 1..=3; feature 0 fires 5 at bos only.
    fn doc() -> (Vec<String>, SparseActs) {
        let pieces = ["<bos>", "a", "b", "c"].map(String::from).to_vec();
        let acts = SparseActs { indptr: vec![0, 1, 2, 3, 4], features: vec![0, 1, 1, 1], values: vec![5.0, 1.0, 3.0, 2.0], d_sae: 2 };
        (pieces, acts)
    }

    #[test]
    fn counts_means_top_and_windows_by_hand() {
        let (pieces, acts) = doc();
        let mut s = Sketch::new(2, &opts());
        s.observe(7, Some("x"), &pieces, &acts, 1).unwrap();
        assert_eq!((s.n_tokens, s.firing.clone()), (3, vec![0, 3]), "bos is not counted");
        // mean over 3 tokens: (1 + 3 + 2) / 3 = 2; over firing tokens: 2.
        assert_eq!(s.means(1), (2.0, 2.0));
        assert_eq!(s.max, [0.0, 3.0]);
        let top: Vec<(f32, u32)> = s.top[1].iter().map(|e| (e.act, e.position)).collect();
        assert_eq!(top, [(3.0, 2), (2.0, 3)]);
        // Window of the peak at 2: tokens 1..=3 (1 before, 1 after).
        assert_eq!(s.top[1][0].tokens(), ["a", "b", "c"]);
        assert_eq!(s.top[1][0].acts, [1.0, 3.0, 2.0]);
        // At position 1 the window cannot reach back into bos.
        assert_eq!(s.sample[1].iter().find(|e| e.position == 1).unwrap().window_start, 1);
    }

    #[test]
    fn merging_parts_equals_seeing_them_at_once() {
        let (pieces, acts) = doc();
        let mut whole = Sketch::new(2, &opts());
        for (d, c) in [(1, "b"), (2, "a"), (3, "b")] {
            whole.observe(d, Some(c), &pieces, &acts, 1).unwrap();
        }
        whole.canonicalise();
        let mut left = Sketch::new(2, &opts());
        left.observe(3, Some("b"), &pieces, &acts, 1).unwrap();
        let mut right = Sketch::new(2, &opts());
        right.observe(2, Some("a"), &pieces, &acts, 1).unwrap();
        right.observe(1, Some("b"), &pieces, &acts, 1).unwrap();
        left.merge(right).unwrap();
        assert_eq!(left, whole);
        assert_eq!(left.categories, ["a", "b"]);
        // Ties on activation go to the earlier document: doc 1 and doc 2 hold the two 3.0s.
        assert_eq!(left.top[1].iter().map(|e| e.doc).collect::<Vec<_>>(), [1, 2]);
        let back = Sketch::from_bytes(&left.to_bytes().unwrap()).unwrap();
        assert_eq!(back, left);
        assert!(Sketch::from_bytes(&[1, 2, 3]).is_err());
    }

    #[test]
    fn quantiles_come_from_the_histogram() {
        let o = IndexOptions { hist: HistSpec { lo: 1.0, hi: 1000.0, bins: 5 }, ..opts() };
        let mut s = Sketch::new(1, &o);
        // 20 firings: 19 at 2.0 (bin [1, 10)), one at 50 (bin [10, 100)).
        let mut values = vec![2.0f32; 19];
        values.push(50.0);
        let n = values.len();
        let acts = SparseActs { indptr: (0..=n).collect(), features: vec![0; n], values, d_sae: 1 };
        let pieces = vec!["t".to_string(); n];
        s.observe(0, None, &pieces, &acts, 0).unwrap();
        // P95 = rank 19 of 20 → bin [1, 10) → sqrt(10) = 3.162; P100 → bin [10, 100) → 31.6.
        assert!((s.quantile(0, 0.95) - 10f32.sqrt()).abs() < 1e-5);
        assert!((s.quantile(0, 1.0) - 1000f32.sqrt()).abs() < 1e-3);
    }

    #[test]
    fn priorities_are_stable() {
        // Frozen values: the sample of an index must not change between builds of saex.
        // Values computed independently (Python, the same SplitMix64 finaliser).
        assert_eq!(priority(1, 2, 3), 14_160_868_677_571_091_529);
        assert_eq!(priority(12_345, 67, 890), 16_496_408_436_915_286_390);
        assert_ne!(priority(1, 2, 3), priority(1, 2, 4));
    }
}
