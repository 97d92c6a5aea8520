//! What the index says about one feature — the JSON of `saex feature`, of
//! `GET /v1/features/{sae}/{n}` and the data of its dashboard — and how a sketch becomes
//! one ([`finalize`]).

use serde::{Deserialize, Serialize};

use crate::sketch::{Example, Sketch};

/// A feature's activation statistics over the indexed tokens (bos left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stats {
    /// Tokens indexed.
    pub n_tokens: u64,
    /// Tokens where the feature fires.
    pub firing_count: u64,
    /// `firing_count / n_tokens`.
    pub firing_rate: f64,
    /// Mean activation over all tokens.
    pub mean: f32,
    /// Mean over the tokens where it fires.
    pub mean_nonzero: f32,
    /// Largest activation.
    pub max: f32,
    /// 95th percentile of the nonzero activations, from the histogram (within one bin:
    /// ±3.7% with the default bins).
    pub p95: f32,
}

/// One histogram bar: nonzero activations in `[lo, hi)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistBin {
    /// Lower edge.
    pub lo: f32,
    /// Upper edge (`null` for the open last bin).
    pub hi: Option<f32>,
    /// Activations in the bin.
    pub count: u64,
}

/// Firings in one corpus category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryCount {
    /// The category (`""` when the corpus has none).
    pub category: String,
    /// Tokens of the category where the feature fires.
    pub count: u64,
    /// Tokens of the category indexed.
    pub tokens: u64,
}

/// An activating example: a window of tokens around the token where it fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndexedExample {
    /// The activation at the token.
    pub act: f32,
    /// The document: its 0-based line in the corpus.
    pub doc: u64,
    /// Its category.
    pub category: String,
    /// The token's position in the document (bos = 0 when present).
    pub position: u32,
    /// Index of that token in `tokens`.
    pub peak: u32,
    /// The window's tokens, as their text in the document.
    pub tokens: Vec<String>,
    /// The feature's activation at each of them.
    pub acts: Vec<f32>,
}

impl IndexedExample {
    /// The window's text.
    pub fn text(&self) -> String {
        self.tokens.concat()
    }
}

/// Examples drawn from one activation-quantile group of the feature's firings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuantileGroup {
    /// The group, 0 = weakest.
    pub bin: u32,
    /// Smallest activation in the group (of the sample).
    pub lo: f32,
    /// Largest.
    pub hi: f32,
    /// Examples, strongest first.
    pub examples: Vec<IndexedExample>,
}

/// A token and what a feature's decoder direction does to its logit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenValue {
    /// Vocabulary id.
    pub token_id: u32,
    /// Its piece.
    pub token: String,
    /// `W_dec[f] · W_U[:, token]`.
    pub value: f32,
}

/// The tokens a feature's decoder direction boosts and suppresses most (logit lens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogitTokens {
    /// Largest first.
    pub boosted: Vec<TokenValue>,
    /// Most negative first.
    pub suppressed: Vec<TokenValue>,
}

/// Everything the index knows about a feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureRecord {
    /// The SAE (as the index names it).
    pub sae_id: String,
    /// Feature id.
    pub feature_id: u32,
    /// Activation statistics.
    pub stats: Stats,
    /// Log-spaced histogram of the nonzero activations, from the first to the last nonempty bar.
    pub histogram: Vec<HistBin>,
    /// Firings per corpus category.
    pub categories: Vec<CategoryCount>,
    /// The strongest examples, strongest first.
    pub top: Vec<IndexedExample>,
    /// Examples from each activation-quantile group, weakest group first.
    pub quantiles: Vec<QuantileGroup>,
    /// The top ± logit tokens, when the index holds them.
    pub logits: Option<LogitTokens>,
    /// Its label, when a catalog has one.
    pub label: Option<String>,
    /// Its Neuronpedia page, when the SAE has an id.
    pub neuronpedia_url: Option<String>,
}

/// Histogram bars shown at most (besides under/overflow): regular bins are merged in groups
/// to fit, so the default 254 make bars of 8, a quarter of a decade wide.
const BARS: usize = 32;

fn example(s: &Sketch, e: &Example) -> IndexedExample {
    IndexedExample {
        act: e.act,
        doc: e.doc,
        category: s.categories.get(e.category as usize).cloned().unwrap_or_default(),
        position: e.position,
        peak: e.position - e.window_start,
        tokens: e.tokens(),
        acts: e.acts.clone(),
    }
}

/// The histogram bars of feature `f`: under/overflow bins on their own, regular bins merged
/// to at most [`BARS`] bars, trimmed to the nonempty range.
fn histogram(s: &Sketch, f: usize) -> Vec<HistBin> {
    let spec = s.options.hist;
    let row = &s.hist[f * spec.bins..(f + 1) * spec.bins];
    let bar = (spec.bins - 2).div_ceil(BARS);
    let mut bars: Vec<HistBin> = Vec::new();
    let mut b = 0;
    while b < spec.bins {
        let end = if b == 0 || b == spec.bins - 1 { b + 1 } else { (b + bar).min(spec.bins - 1) };
        let (lo, _) = spec.edges(b);
        let (_, hi) = spec.edges(end - 1);
        bars.push(HistBin { lo, hi: hi.is_finite().then_some(hi), count: row[b..end].iter().map(|&c| u64::from(c)).sum() });
        b = end;
    }
    let first = bars.iter().position(|x| x.count > 0);
    let last = bars.iter().rposition(|x| x.count > 0);
    match (first, last) {
        (Some(a), Some(z)) => bars[a..=z].to_vec(),
        _ => Vec::new(),
    }
}

/// The quantile groups of feature `f` from its sample: sorted by activation, cut into
/// `quantile_bins` equal parts; from each, the `per_bin` examples of lowest priority (a
/// uniform draw), shown strongest first.
fn quantiles(s: &Sketch, f: usize) -> Vec<QuantileGroup> {
    let mut sample: Vec<&Example> = s.sample[f].iter().collect();
    sample.sort_by(|a, b| a.act.total_cmp(&b.act).then(a.doc.cmp(&b.doc)).then(a.position.cmp(&b.position)));
    let (n, bins) = (sample.len(), s.options.quantile_bins);
    let mut out = Vec::new();
    for q in 0..bins {
        let part = &sample[q * n / bins..(q + 1) * n / bins];
        if part.is_empty() {
            continue;
        }
        let mut drawn: Vec<&Example> = part.to_vec();
        drawn.sort_by_key(|e| (e.priority, e.doc, e.position));
        drawn.truncate(s.options.per_bin);
        drawn.sort_by(|a, b| b.act.total_cmp(&a.act).then(a.doc.cmp(&b.doc)).then(a.position.cmp(&b.position)));
        out.push(QuantileGroup {
            bin: q as u32,
            lo: part[0].act,
            hi: part[part.len() - 1].act,
            examples: drawn.into_iter().map(|e| example(s, e)).collect(),
        });
    }
    out
}

/// Feature `f`'s record from the sketch of SAE `sae_id` (labels, links and logits are
/// attached by the caller).
pub fn finalize(s: &Sketch, sae_id: &str, f: usize) -> FeatureRecord {
    let (mean, mean_nonzero) = s.means(f);
    FeatureRecord {
        sae_id: sae_id.to_string(),
        feature_id: f as u32,
        stats: Stats {
            n_tokens: s.n_tokens,
            firing_count: s.firing[f],
            firing_rate: if s.n_tokens == 0 { 0.0 } else { s.firing[f] as f64 / s.n_tokens as f64 },
            mean,
            mean_nonzero,
            max: s.max[f],
            p95: s.quantile(f, 0.95),
        },
        histogram: histogram(s, f),
        categories: s
            .categories
            .iter()
            .enumerate()
            .map(|(c, name)| CategoryCount { category: name.clone(), count: s.category_firing[c][f], tokens: s.category_tokens[c] })
            .collect(),
        top: s.top[f].iter().map(|e| example(s, e)).collect(),
        quantiles: quantiles(s, f),
        logits: None,
        label: None,
        neuronpedia_url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{HistSpec, IndexOptions};
    use saex_sae::SparseActs;

    #[test]
    fn a_record_by_hand() {
        let o = IndexOptions {
            top_k: 2,
            sample_k: 4,
            quantile_bins: 2,
            per_bin: 1,
            hist: HistSpec { lo: 1.0, hi: 1000.0, bins: 5 },
            ..Default::default()
        };
        let mut s = Sketch::new(1, &o);
        // One document, 4 tokens firing 1.5, 20, 3, 200 (no bos).
        let acts = SparseActs { indptr: vec![0, 1, 2, 3, 4], features: vec![0; 4], values: vec![1.5, 20.0, 3.0, 200.0], d_sae: 1 };
        let pieces = ["a", "b", "c", "d"].map(String::from).to_vec();
        s.observe(0, Some("x"), &pieces, &acts, 0).unwrap();
        let r = finalize(&s, "sae", 0);
        assert_eq!((r.stats.firing_count, r.stats.max), (4, 200.0));
        assert!((r.stats.mean - 56.125).abs() < 1e-4); // (1.5 + 20 + 3 + 200) / 4
                                                       // Bins [1,10) [10,100) [100,1000): counts 2, 1, 1 (one bar each: fewer than BAR bins).
        assert_eq!(r.histogram.iter().map(|b| b.count).collect::<Vec<_>>(), [2, 1, 1]);
        assert_eq!(r.top.iter().map(|e| e.act).collect::<Vec<_>>(), [200.0, 20.0]);
        assert_eq!((r.top[0].peak, r.top[0].text()), (3, "abcd".to_string()));
        // Two quantile groups of the 4 sampled firings: {1.5, 3} and {20, 200}.
        assert_eq!(r.quantiles.len(), 2);
        assert_eq!((r.quantiles[0].lo, r.quantiles[0].hi, r.quantiles[1].lo, r.quantiles[1].hi), (1.5, 3.0, 20.0, 200.0));
        assert_eq!(r.categories, [CategoryCount { category: "x".into(), count: 4, tokens: 4 }]);
    }
}
