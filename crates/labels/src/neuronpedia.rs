//! Neuronpedia explanations as published: the explanation exports (a JSON array, as the old
//! `/api/explanation/export` answered, or JSONL, as the datasets' `explanations/batch-N.jsonl.gz`
//! files are; gzipped or not) and the `explanations` of the feature API's answer.
//!
//! An export row is Neuronpedia's `Explanation` table row: `modelId`, `layer` (the source id,
//! e.g. `6-gemmascope-res-16k`; `source` is accepted too), `index` (a string in their
//! database, a number accepted), `description`, and more (`id`, `typeName`,
//! `explanationModelName`, `scoreV1`, `scoreV2`, `embedding`, `umap_*`, `authorId`, …).
//! The entry keeps `id`, `typeName`, `explanationModelName`, and every field whose name says
//! score (`scoreV1`, `scoreV2`, the feature API's `scores`), under the key `neuronpedia`;
//! the embedding, map coordinates and author are dropped.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use crate::entry::{Entry, Source};
use crate::error::{Error, Result};

/// The entry key holding Neuronpedia's own fields.
pub const NEURONPEDIA_KEY: &str = "neuronpedia";

/// One explanation of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// Neuronpedia's model id (`gemma-2-2b`).
    pub model_id: String,
    /// Its source (SAE) id (`6-gemmascope-res-16k`).
    pub layer: String,
    /// Feature index.
    pub index: u32,
    /// The explanation.
    pub description: String,
    /// Fields kept (see the module docs).
    pub kept: Map<String, Value>,
}

impl Explanation {
    /// `modelId/layer`: the SAE's Neuronpedia id.
    pub fn neuronpedia_id(&self) -> String {
        format!("{}/{}", self.model_id, self.layer)
    }

    /// `(scoreV2, scoreV1)`, missing as −∞: which of a feature's explanations to keep.
    fn rank(&self) -> (f64, f64) {
        let s = |k: &str| self.kept.get(k).and_then(Value::as_f64).unwrap_or(f64::NEG_INFINITY);
        (s("scoreV2"), s("scoreV1"))
    }

    /// Whether `self` should replace `other` (strictly better scores; ties keep the first).
    pub fn better_than(&self, other: &Explanation) -> bool {
        self.rank() > other.rank()
    }

    /// The registry entry.
    pub fn entry(&self) -> Entry {
        entry_from(&self.description, &self.kept)
    }
}

fn keep(key: &str) -> bool {
    matches!(key, "id" | "typeName" | "explanationModelName") || key.to_ascii_lowercase().contains("score")
}

fn entry_from(description: &str, kept: &Map<String, Value>) -> Entry {
    let mut extra = BTreeMap::new();
    if !kept.is_empty() {
        extra.insert(NEURONPEDIA_KEY.to_string(), Value::Object(kept.clone()));
    }
    Entry { description: description.trim().to_string(), source: Source::Neuronpedia, extra, ..Default::default() }
}

fn id_of(v: Option<&Value>, key: &str) -> std::result::Result<u32, String> {
    match v {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or(format!("`{key}` {n} is not a feature index")),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| format!("`{key}` {s:?} is not a feature index")),
        Some(other) => Err(format!("`{key}` {other} is not a feature index")),
        None => Err(format!("missing `{key}`")),
    }
}

/// One export row.
pub fn explanation(v: &Value) -> std::result::Result<Explanation, String> {
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let model_id = obj.get("modelId").and_then(Value::as_str).ok_or("missing `modelId` (a string)")?.to_string();
    let layer = match obj.get("layer").or_else(|| obj.get("source")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("missing `layer` (or `source`)".into()),
    };
    let index = id_of(obj.get("index"), "index")?;
    let description = obj.get("description").and_then(Value::as_str).ok_or("missing `description` (a string)")?;
    if description.trim().is_empty() {
        return Err("empty `description`".into());
    }
    let kept = obj.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(Explanation { model_id, layer, index, description: description.to_string(), kept })
}

/// Where a row sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// A JSONL line (1-based).
    Line(usize),
    /// An item of a JSON array (1-based).
    Item(usize),
    /// The whole file (it did not parse).
    File,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Line(n) => write!(f, "line {n}"),
            At::Item(n) => write!(f, "item {n}"),
            At::File => write!(f, "whole file"),
        }
    }
}

/// The bytes of a file, gunzipped when they start with gzip's magic number.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::file(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| Error::file(path, format!("gzip: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Every row of an export's bytes, each parsed or with what is wrong. A JSON array that
/// does not parse is one [`At::File`] failure (with serde's line and column); a JSONL line
/// that does not is that line's failure, and the others still count.
pub fn rows(bytes: &[u8]) -> Vec<(At, std::result::Result<Explanation, String>)> {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<Value>>(&text) {
            Ok(all) => all.iter().enumerate().map(|(i, v)| (At::Item(i + 1), explanation(v))).collect(),
            Err(e) => vec![(At::File, Err(format!("not a JSON array of explanations: {e}")))],
        };
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            (At::Line(i + 1), serde_json::from_str::<Value>(l).map_err(|e| format!("not JSON: {e}")).and_then(|v| explanation(&v)))
        })
        .collect()
}

/// The entry from a feature API answer (`GET /api/feature/{modelId}/{layer}/{index}`):
/// its first explanation, as seed 000 takes it (Neuronpedia orders them best first), with
/// that explanation's kept fields (its `scores` among them). `None`: no explanation.
pub fn from_feature_answer(v: &Value) -> Option<Entry> {
    let first = v
        .get("explanations")?
        .as_array()?
        .iter()
        .find(|e| e.get("description").and_then(Value::as_str).is_some_and(|d| !d.trim().is_empty()))?;
    let obj = first.as_object()?;
    let kept: Map<String, Value> = obj.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    Some(entry_from(obj.get("description")?.as_str()?, &kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn export_rows_in_neuronpedia_shape() {
        // A row as export-data.py writes it (index is a string in their database).
        let row = json!({"id": "clx1", "modelId": "gemma-2-2b", "layer": "6-gemmascope-res-16k", "index": "159",
            "authorId": "x", "description": " finance terms ", "embedding": null, "typeName": "oai_token-act-pair",
            "explanationModelName": "gpt-4o-mini", "umap_x": 0.0, "scoreV1": 0.4});
        let e = explanation(&row).unwrap();
        assert_eq!((e.neuronpedia_id().as_str(), e.index), ("gemma-2-2b/6-gemmascope-res-16k", 159));
        let entry = e.entry();
        assert_eq!(entry.description, "finance terms");
        assert_eq!(entry.source, Source::Neuronpedia);
        let np = entry.extra[NEURONPEDIA_KEY].as_object().unwrap();
        let mut keys: Vec<&str> = np.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["explanationModelName", "id", "scoreV1", "typeName"]);
        assert!(explanation(&json!({"modelId": "m", "source": "3-res", "index": 2, "description": "d"})).is_ok());
        assert!(explanation(&json!({"modelId": "m", "layer": "l", "index": "x", "description": "d"})).unwrap_err().contains("index"));
        assert!(explanation(&json!({"modelId": "m", "layer": "l", "index": 1})).unwrap_err().contains("description"));
    }

    #[test]
    fn jsonl_keeps_going_past_a_bad_line_and_arrays_fail_whole() {
        let text = "{\"modelId\":\"m\",\"layer\":\"l\",\"index\":\"1\",\"description\":\"a\"}\n{oops\n\n{\"modelId\":\"m\",\"layer\":\"l\",\"index\":\"2\",\"description\":\"b\"}\n";
        let r = rows(text.as_bytes());
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].0, At::Line(2));
        assert!(r[1].1.is_err());
        assert_eq!(r[2].0, At::Line(4));
        assert!(r[2].1.is_ok());
        let bad = rows(b"[{\"modelId\": \"m\"},\n  {oops]");
        assert_eq!(bad.len(), 1);
        assert!(bad[0].1.as_ref().unwrap_err().contains("line 2"), "{bad:?}");
    }

    #[test]
    fn better_scores_win_ties_keep_the_first() {
        let mk = |v2: Option<f64>, v1: f64| {
            let mut kept = Map::new();
            if let Some(v) = v2 {
                kept.insert("scoreV2".into(), json!(v));
            }
            kept.insert("scoreV1".into(), json!(v1));
            Explanation { model_id: "m".into(), layer: "l".into(), index: 0, description: "d".into(), kept }
        };
        assert!(mk(Some(0.1), 0.0).better_than(&mk(None, 0.9)));
        assert!(mk(None, 0.5).better_than(&mk(None, 0.4)));
        assert!(!mk(None, 0.5).better_than(&mk(None, 0.5)));
    }

    #[test]
    fn feature_answer_takes_the_first_explanation() {
        let v = json!({"modelId": "m", "layer": "l", "index": "3", "explanations": [
            {"id": "e1", "description": "first", "typeName": "t", "scores": [{"value": 0.7}], "triggeredByUser": {"name": "x"}},
            {"id": "e2", "description": "second"}]});
        let e = from_feature_answer(&v).unwrap();
        assert_eq!(e.description, "first");
        assert!(e.extra[NEURONPEDIA_KEY].get("scores").is_some() && e.extra[NEURONPEDIA_KEY].get("triggeredByUser").is_none());
        assert!(from_feature_answer(&json!({"explanations": []})).is_none());
    }
}
