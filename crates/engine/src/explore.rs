//! `explore` and `concept` (seed 001): each text becomes one feature vector (by default its
//! last token's, as the notebook reads it; or the mean, max or sum over its tokens but bos)
//! and [`saex_analysis::explore`] runs the notebook's analyses over them.

use std::collections::BTreeMap;

use saex_analysis::explore::{concept as concept_of, explore as explore_of, Concept, Exploration};
use saex_analysis::top::Reduce;
use saex_sae::SparseActs;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::session::Session;

/// A text and its category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategorizedText {
    /// The text.
    pub text: String,
    /// Its category (`""`: none).
    #[serde(default)]
    pub category: String,
}

fn last() -> Reduce {
    Reduce::Last
}
fn five() -> f32 {
    5.0
}
fn k5() -> usize {
    5
}

/// An `explore` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExploreRequest {
    /// The SAE; may be omitted when one is loaded.
    #[serde(default)]
    pub sae_id: Option<String>,
    /// The texts.
    pub texts: Vec<CategorizedText>,
    /// One vector per text: `last` (the notebook's), `mean`, `max` or `sum` over its tokens.
    #[serde(default = "last")]
    pub reduce: Reduce,
    /// The "strong" threshold.
    #[serde(default = "five")]
    pub strong: f32,
}

/// What `explore` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExploreReport {
    /// The SAE.
    pub sae_id: String,
    /// How each text became one vector.
    pub reduce: Reduce,
    /// The texts, in order.
    pub texts: Vec<CategorizedText>,
    /// The analyses.
    pub exploration: Exploration,
    /// Labels of the features the analyses name (keys: feature ids).
    #[schema(value_type = BTreeMap<String, String>)]
    pub labels: BTreeMap<u32, String>,
    /// The SAE's Neuronpedia id, for links.
    pub neuronpedia_id: Option<String>,
}

/// One row per text: its reduced feature vector (sparse).
fn reduced(session: &Session, sae: usize, texts: &[&str], reduce: Reduce) -> Result<SparseActs> {
    let d_sae = session.saes[sae].sae.d_sae();
    let mut out = SparseActs::new(d_sae);
    let n_ctx = session.model.dims().n_ctx;
    let mut seqs = Vec::with_capacity(texts.len());
    for (i, t) in texts.iter().enumerate() {
        let mut ids = session.tokenize_ids(t, session.model.add_bos())?;
        if ids.len() <= session.bos_skip(&ids) {
            return Err(Error::field("texts", format!("text {} is empty", i + 1)));
        }
        ids.truncate(n_ctx);
        seqs.push(ids);
    }
    for chunk in seqs.chunks(8) {
        for (ids, enc) in chunk.iter().zip(session.encode_batch(&[sae], chunk)?) {
            let acts = &enc.codes[0];
            let range = enc.first_real()..ids.len();
            let mut row: BTreeMap<u32, f32> = BTreeMap::new();
            let n = range.len() as f32;
            for p in range.clone() {
                if reduce == Reduce::Last && p + 1 != range.end {
                    continue;
                }
                if let Some((fs, vs)) = acts.token(p) {
                    for (&f, &v) in fs.iter().zip(vs) {
                        let e = row.entry(f).or_insert(0.0);
                        *e = match reduce {
                            Reduce::Max => e.max(v),
                            Reduce::Last => v,
                            Reduce::Mean | Reduce::Sum => *e + v,
                        };
                    }
                }
            }
            for (f, v) in row {
                let v = if reduce == Reduce::Mean { v / n } else { v };
                if v != 0.0 {
                    out.features.push(f);
                    out.values.push(v);
                }
            }
            out.indptr.push(out.values.len());
        }
    }
    Ok(out)
}

fn labels_of(session: &Session, sae: usize, features: impl IntoIterator<Item = u32>) -> BTreeMap<u32, String> {
    let s = &session.saes[sae];
    features.into_iter().filter_map(|f| s.label(f).map(|l| (f, l))).collect()
}

/// Run the notebook's analyses over the request's texts.
pub fn explore(session: &Session, req: &ExploreRequest) -> Result<ExploreReport> {
    if req.texts.is_empty() {
        return Err(Error::field("texts", "give at least one text"));
    }
    let i = session.one(req.sae_id.as_deref())?;
    let texts: Vec<&str> = req.texts.iter().map(|t| t.text.as_str()).collect();
    let a = reduced(session, i, &texts, req.reduce)?;
    let strings: Vec<String> = req.texts.iter().map(|t| t.text.clone()).collect();
    let cats: Vec<String> = req.texts.iter().map(|t| t.category.clone()).collect();
    let e = explore_of(&a, &strings, &cats, req.strong)?;
    let mentioned = e
        .frequent
        .iter()
        .chain(&e.strongest)
        .chain(&e.selective)
        .map(|r| r.feature_id)
        .chain(e.categories.iter().flat_map(|c| c.top.iter().map(|x| x.feature_id).chain(c.most_common.iter().map(|x| x.feature_id))))
        .collect::<Vec<_>>();
    Ok(ExploreReport {
        sae_id: session.saes[i].id.clone(),
        reduce: req.reduce,
        texts: req.texts.clone(),
        labels: labels_of(session, i, mentioned),
        neuronpedia_id: session.saes[i].neuronpedia_id().map(str::to_string),
        exploration: e,
    })
}

/// A `concept` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConceptRequest {
    /// The SAE; may be omitted when one is loaded.
    #[serde(default)]
    pub sae_id: Option<String>,
    /// Texts that share a concept.
    pub texts: Vec<String>,
    /// One vector per text (the notebook: `last`).
    #[serde(default = "last")]
    pub reduce: Reduce,
    /// The "strong" threshold.
    #[serde(default = "five")]
    pub strong: f32,
    /// Features per ranking.
    #[serde(default = "k5")]
    pub k: usize,
}

/// What `concept` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConceptReport {
    /// The SAE.
    pub sae_id: String,
    /// The rankings.
    pub concept: Concept,
    /// Labels of the features named (keys: feature ids).
    #[schema(value_type = BTreeMap<String, String>)]
    pub labels: BTreeMap<u32, String>,
}

/// The features the request's texts share (seed 001's concept finder).
pub fn concept(session: &Session, req: &ConceptRequest) -> Result<ConceptReport> {
    if req.k == 0 {
        return Err(Error::field("k", "must be at least 1"));
    }
    let i = session.one(req.sae_id.as_deref())?;
    let texts: Vec<&str> = req.texts.iter().map(String::as_str).collect();
    if texts.is_empty() {
        return Err(Error::field("texts", "give at least one text"));
    }
    let a = reduced(session, i, &texts, req.reduce)?;
    let c = concept_of(&a, req.strong, req.k)?;
    let named = c.by_consistency.iter().chain(&c.by_strength).map(|x| x.feature_id).collect::<Vec<_>>();
    Ok(ConceptReport { sae_id: session.saes[i].id.clone(), labels: labels_of(session, i, named), concept: c })
}
