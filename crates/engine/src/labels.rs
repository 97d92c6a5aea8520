//! Proto-label catalogs: short human descriptions of features, attached to discovery results.
//!
//! Two formats, in JSON (an array) or JSONL (one object per line), mixed freely:
//! - saex's own: `{"sae_id": "demo/sae", "feature_id": 159, "label": "…"}`. `sae_id` may be
//!   left out in a `labels.jsonl` shipped inside an SAE's directory (it is that SAE's).
//! - Neuronpedia explanation exports: `{"modelId": "gemma-2-2b", "layer":
//!   "6-gemmascope-res-16k", "index": "159", "description": "…"}`, matched against the SAE's
//!   `neuronpedia_id` (`gemma-2-2b/6-gemmascope-res-16k`).
//!
//! The first label of a feature wins: `--labels` files in the order given, then the SAE's own
//! `labels.jsonl`, so a user's catalog overrides what an SAE ships.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::session::{SessionSae, LABELS_FILE};

/// One catalog entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelEntry {
    /// Which SAE: a saex `sae_id` or a Neuronpedia `modelId/layer`; `None`: the SAE whose
    /// directory holds the file.
    pub sae: Option<String>,
    /// Feature id.
    pub feature: u32,
    /// The label.
    pub label: String,
}

fn entry(v: &Value) -> std::result::Result<LabelEntry, String> {
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let id = |key: &str| -> std::result::Result<u32, String> {
        match obj.get(key) {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or(format!("`{key}` {n} is not a feature id")),
            Some(Value::String(s)) => s.parse().map_err(|_| format!("`{key}` {s:?} is not a feature id")),
            _ => Err(format!("missing `{key}`")),
        }
    };
    let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
    if obj.contains_key("modelId") {
        let model = text("modelId").ok_or("`modelId` must be a string")?;
        let layer = match obj.get("layer") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("missing `layer`".into()),
        };
        let label = text("description").ok_or("missing `description`")?;
        return Ok(LabelEntry { sae: Some(format!("{model}/{layer}")), feature: id("index")?, label });
    }
    let label = text("label").ok_or("missing `label` (saex format) or `modelId`/`description` (Neuronpedia export)")?;
    Ok(LabelEntry { sae: text("sae_id"), feature: id("feature_id")?, label: label.trim().to_string() })
}

/// Read a catalog file; errors name the file and line.
pub fn read(path: &Path) -> Result<Vec<LabelEntry>> {
    let err = |m: String| Error::File { path: path.display().to_string(), message: m };
    let content = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let trimmed = content.trim_start();
    if trimmed.starts_with('[') {
        let all: Vec<Value> = serde_json::from_str(trimmed).map_err(|e| err(e.to_string()))?;
        return all.iter().enumerate().map(|(i, v)| entry(v).map_err(|m| err(format!("item {i}: {m}")))).collect();
    }
    content
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l).map_err(|e| err(format!("line {}: {e}", i + 1)))?;
            entry(&v).map_err(|m| err(format!("line {}: {m}", i + 1)))
        })
        .collect()
}

/// Attach labels to `saes`: the user's `catalogs` first, then each SAE directory's own
/// `labels.jsonl`; the first label of a feature wins. A catalog matching no loaded SAE adds
/// a warning; an entry out of an SAE's range is an error naming the file.
pub fn attach(saes: &mut [SessionSae], catalogs: &[PathBuf], warnings: &mut Vec<String>) -> Result<()> {
    for path in catalogs {
        let entries = read(path)?;
        let mut matched = 0;
        for e in entries {
            let targets: Vec<usize> = match &e.sae {
                Some(key) => (0..saes.len()).filter(|&i| saes[i].id == *key || saes[i].neuronpedia_id() == Some(key.as_str())).collect(),
                None if saes.len() == 1 => vec![0],
                None => {
                    return Err(Error::File {
                        path: path.display().to_string(),
                        message: format!("an entry for feature {} names no `sae_id`, and {} SAEs are loaded", e.feature, saes.len()),
                    })
                }
            };
            for i in targets {
                matched += 1;
                if e.feature as usize >= saes[i].sae.d_sae() {
                    return Err(Error::File {
                        path: path.display().to_string(),
                        message: format!("feature {} is out of range for {} (d_sae {})", e.feature, saes[i].id, saes[i].sae.d_sae()),
                    });
                }
                saes[i].labels.entry(e.feature).or_insert_with(|| e.label.clone());
            }
        }
        if matched == 0 && !saes.is_empty() {
            warnings.push(format!(
                "{}: no label matches a loaded SAE (saex `sae_id` must be one of {}; Neuronpedia `modelId/layer` must be an SAE's neuronpedia_id)",
                path.display(),
                saes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for s in saes.iter_mut() {
        let own = s.sae.source().join(LABELS_FILE);
        if own.is_file() {
            for e in read(&own)? {
                if e.feature as usize >= s.sae.d_sae() {
                    return Err(Error::File {
                        path: own.display().to_string(),
                        message: format!("feature {} is out of range (d_sae {})", e.feature, s.sae.d_sae()),
                    });
                }
                s.labels.entry(e.feature).or_insert(e.label);
            }
        }
    }
    Ok(())
}

/// The labels of one SAE without a session (queries of an index): the user's `catalogs`
/// first (entries naming this SAE by `sae_id` or Neuronpedia id, or naming none), then
/// the SAE directory's own `labels.jsonl` when `dir` has one.
pub fn for_sae(sae_id: &str, neuronpedia_id: Option<&str>, dir: Option<&Path>, catalogs: &[PathBuf]) -> Result<HashMap<u32, String>> {
    let mut out = HashMap::new();
    for path in catalogs {
        for e in read(path)? {
            let mine = match &e.sae {
                Some(k) => k == sae_id || Some(k.as_str()) == neuronpedia_id,
                None => true,
            };
            if mine {
                out.entry(e.feature).or_insert(e.label);
            }
        }
    }
    if let Some(own) = dir.map(|d| d.join(LABELS_FILE)).filter(|p| p.is_file()) {
        for e in read(&own)? {
            out.entry(e.feature).or_insert(e.label);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_in_jsonl_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.jsonl");
        std::fs::write(
            &p,
            concat!(
                "{\"sae_id\": \"demo/sae\", \"feature_id\": 3, \"label\": \" only / just \"}\n",
                "\n",
                "{\"modelId\": \"gemma-2-2b\", \"layer\": \"6-gemmascope-res-16k\", \"index\": \"159\", \"description\": \"finance\"}\n",
                "{\"feature_id\": 7, \"label\": \"no sae\"}\n",
            ),
        )
        .unwrap();
        let e = read(&p).unwrap();
        assert_eq!(e[0], LabelEntry { sae: Some("demo/sae".into()), feature: 3, label: "only / just".into() });
        assert_eq!(e[1], LabelEntry { sae: Some("gemma-2-2b/6-gemmascope-res-16k".into()), feature: 159, label: "finance".into() });
        assert_eq!(e[2].sae, None);
        let j = dir.path().join("l.json");
        std::fs::write(&j, r#"[{"modelId": "m", "layer": 6, "index": 1, "description": "d"}]"#).unwrap();
        assert_eq!(read(&j).unwrap()[0].sae.as_deref(), Some("m/6"));
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        std::fs::write(&p, "{\"feature_id\": 1, \"label\": \"a\"}\n{\"feature_id\": \"x\", \"label\": \"b\"}\n").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("bad.jsonl") && e.contains("line 2") && e.contains("feature_id"), "{e}");
        std::fs::write(&p, "{\"feature\": 1}\n").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("missing `label`"));
    }
}
