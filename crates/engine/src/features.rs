//! Queries of a corpus activation index: `saex feature`, `saex top-texts --index`,
//! `GET /v1/features/{sae}/{n}`, and the dashboards' data. They read the index only; labels
//! come from the catalogs (and the SAE directory's own, when it is on this machine).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use saex_index::record::{FeatureRecord, IndexedExample, Stats};
use saex_index::Index;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::index::from_index;

/// Labels of an index's SAEs, by SAE id.
#[derive(Debug, Clone, Default)]
pub struct IndexLabels(HashMap<String, HashMap<u32, String>>);

impl IndexLabels {
    /// Load each SAE's labels: `catalogs`, the label registry `store`, the SAE directory's
    /// own `labels.jsonl` (see [`crate::labels`]).
    pub fn load(index: &Index, catalogs: &[PathBuf], store: Option<&saex_labels::Store>) -> Result<IndexLabels> {
        let mut by = HashMap::new();
        for s in &index.manifest.saes {
            let dir = Path::new(&s.id);
            let labels = crate::labels::for_sae(
                &s.id,
                s.neuronpedia_id.as_deref(),
                s.label_key.as_deref(),
                dir.is_dir().then_some(dir),
                catalogs,
                store,
            )?;
            by.insert(s.id.clone(), labels);
        }
        Ok(IndexLabels(by))
    }

    /// The label of `feature` of `sae_id`.
    pub fn get(&self, sae_id: &str, feature: u32) -> Option<String> {
        self.0.get(sae_id).and_then(|m| m.get(&feature)).cloned()
    }
}

/// Everything the index knows about `feature` of SAE `sae` (`None`: the only one), with
/// its label and Neuronpedia link.
pub fn feature(index: &Index, sae: Option<&str>, feature: u32, labels: &IndexLabels) -> Result<FeatureRecord> {
    let mut r = index.record(sae, feature).map_err(from_index)?;
    let s = index.manifest.sae(sae).map_err(from_index)?;
    r.label = labels.get(&s.id, feature);
    r.neuronpedia_url = s.neuronpedia_id.as_ref().map(|id| format!("https://www.neuronpedia.org/{id}/{feature}"));
    Ok(r)
}

/// One of a feature's top texts, as seed 003's `get_top_texts_for_feature` returns them:
/// `(text, activation, token position)`, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopText {
    /// The SAE (its id as the index names it).
    pub sae_id: String,
    /// The feature.
    pub feature_id: u32,
    /// The window of text around the token.
    pub text: String,
    /// The activation.
    pub activation: f32,
    /// The token's position in its document.
    pub position: u32,
    /// The document (0-based corpus line).
    pub doc: u64,
    /// Its category.
    pub category: String,
    /// The token itself.
    pub token: String,
}

/// The feature's `k` strongest examples from the index.
pub fn top_texts_indexed(index: &Index, sae: Option<&str>, feature: u32, k: usize) -> Result<Vec<TopText>> {
    let ex = index.top_texts(sae, feature, k).map_err(from_index)?;
    let sae_id = index.manifest.sae(sae).map_err(from_index)?.id.clone();
    Ok(ex.into_iter().map(|e| top_text(e, &sae_id, feature)).collect())
}

fn top_text(e: IndexedExample, sae_id: &str, feature_id: u32) -> TopText {
    TopText {
        sae_id: sae_id.to_string(),
        feature_id,
        text: e.tokens.concat(),
        activation: e.act,
        position: e.position,
        doc: e.doc,
        category: e.category,
        token: e.tokens.get(e.peak as usize).cloned().unwrap_or_default(),
    }
}

/// A feature in a browsing list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureSummary {
    /// Feature id.
    pub feature_id: u32,
    /// Its label.
    pub label: Option<String>,
    /// Its statistics.
    pub stats: Stats,
}

/// Every feature of SAE `sae` with its statistics and label, in feature order.
pub fn summaries(index: &Index, sae: Option<&str>, labels: &IndexLabels) -> Result<Vec<FeatureSummary>> {
    let s = index.manifest.sae(sae).map_err(from_index)?;
    let all = index.all_stats(sae).map_err(from_index)?;
    Ok(all.into_iter().map(|(f, stats)| FeatureSummary { feature_id: f, label: labels.get(&s.id, f), stats }).collect())
}
