//! Proto-labels: short human descriptions of features, attached to every verb that shows
//! features (discover, top-features, dashboards, groups, explore, logit-stats, feature).
//!
//! Where a feature's label comes from, first found wins:
//! 1. `--labels` catalog files, in the order given;
//! 2. the label registry's hand entries (`saex label set`, a seed-made `sae_features.json`
//!    imported with `saex label import`), then its Neuronpedia explanations (`saex explain
//!    import`/`fetch`) — see `saex_labels` and docs/labels.md;
//! 3. the `labels.jsonl` shipped inside the SAE's directory;
//! 4. the registry's automatic labels (`saex label auto`, always starting `auto: `).
//!
//! Catalog files are read-only, in JSON (an array) or JSONL (one object per line), two
//! formats mixed freely:
//! - saex's own: `{"sae_id": "demo/sae", "feature_id": 159, "label": "…"}`. `sae_id` may be
//!   left out in a `labels.jsonl` shipped inside an SAE's directory (it is that SAE's).
//! - Neuronpedia explanation exports: `{"modelId": "gemma-2-2b", "layer":
//!   "6-gemmascope-res-16k", "index": "159", "description": "…"}`, matched against the SAE's
//!   `neuronpedia_id` (`gemma-2-2b/6-gemmascope-res-16k`).
//!
//! The registry keeps one file per SAE, named by [`sae_key`]: the SAE's Neuronpedia id when
//! its config has one, else a key computed from its decoder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use saex_labels::{Registry, Source, Store};
use saex_sae::Sae;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::session::{SessionSae, LABELS_FILE};

/// Rows of the decoder hashed into a local SAE's key.
const KEY_ROWS: usize = 64;

/// The SAE's file in the label registry: its Neuronpedia id (`gemma-2-2b/6-gemmascope-res-16k`)
/// when its config has one; else `saex-local/{d_in}x{d_sae}-{h}`, `h` the first 16 hex
/// digits of the sha256 of `saex-sae-key/1`, `d_in` and `d_sae` (u64 LE), and 64 evenly
/// spaced decoder rows (`W_dec[i·(d_sae−1)/63]`, their indices as u32 LE, then their values as
/// f32 LE). So the key follows the weights: it survives moving or renaming the directory and
/// adding statistics or labels to it, and changes when the SAE is retrained.
pub fn sae_key(sae: &Sae) -> Result<String> {
    if let Some(id) = sae.config().metadata.neuronpedia_id.as_deref().filter(|s| !s.is_empty()) {
        return Ok(id.to_string());
    }
    let w = sae.w_dec(); // [d_sae, d_in]
    let (d_sae, d_in) = w.dims2()?;
    let n = d_sae.min(KEY_ROWS);
    let rows: Vec<u32> = (0..n).map(|i| if n < 2 { 0 } else { (i * (d_sae - 1) / (n - 1)) as u32 }).collect();
    let idx = Tensor::new(rows.as_slice(), w.device())?;
    let values = w.index_select(&idx, 0)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let mut h = Sha256::new();
    h.update(b"saex-sae-key/1");
    h.update((d_in as u64).to_le_bytes());
    h.update((d_sae as u64).to_le_bytes());
    for r in &rows {
        h.update(r.to_le_bytes());
    }
    for v in values {
        h.update(v.to_le_bytes());
    }
    let hex: String = h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("saex-local/{d_in}x{d_sae}-{hex}"))
}

/// What the registry needs to know of an SAE.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LabelTarget {
    /// How it was named when loaded.
    pub sae_id: String,
    /// Its Neuronpedia id, when its config has one.
    pub neuronpedia_id: Option<String>,
    /// Features.
    pub d_sae: usize,
    /// Its registry file's key ([`sae_key`]).
    pub key: String,
}

/// Load an SAE (no model) for the label verbs.
pub fn label_target(spec: &str) -> Result<LabelTarget> {
    let sae = Sae::load(spec)?;
    Ok(LabelTarget {
        sae_id: spec.to_string(),
        neuronpedia_id: sae.config().metadata.neuronpedia_id.clone().filter(|s| !s.is_empty()),
        d_sae: sae.d_sae(),
        key: sae_key(&sae)?,
    })
}

/// Labels from a registry file, in two passes: hand and Neuronpedia entries (`auto`
/// false), or automatic ones (`auto` true). Entries past `d_sae` (a hand-edited file) are
/// left out with a warning.
fn registry_labels(reg: &Registry, auto: bool, d_sae: usize, what: &str, warnings: &mut Vec<String>) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for (&f, e) in reg {
        if (e.source == Source::Auto) != auto {
            continue;
        }
        if f as usize >= d_sae {
            warnings.push(format!("{what}: feature {f} is out of range (d_sae {d_sae}); ignored"));
            continue;
        }
        if let Some(l) = e.label() {
            out.push((f, l));
        }
    }
    out
}

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

/// Attach labels to `saes` in the order of the module docs; the first label of a feature
/// wins. A catalog matching no loaded SAE adds a warning; an entry out of an SAE's range is
/// an error naming the file; a corrupt registry file is an error.
pub fn attach(saes: &[SessionSae], catalogs: &[PathBuf], store: &Store, warnings: &mut Vec<String>) -> Result<()> {
    let maps = compute(saes, catalogs, store, warnings)?;
    for (s, m) in saes.iter().zip(maps) {
        *s.labels.write().unwrap_or_else(|p| p.into_inner()) = m;
    }
    Ok(())
}

fn compute(saes: &[SessionSae], catalogs: &[PathBuf], store: &Store, warnings: &mut Vec<String>) -> Result<Vec<HashMap<u32, String>>> {
    let mut maps: Vec<HashMap<u32, String>> = vec![HashMap::new(); saes.len()];
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
                maps[i].entry(e.feature).or_insert_with(|| e.label.clone());
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
    for (s, labels) in saes.iter().zip(maps.iter_mut()) {
        let reg = store.read(&s.label_key)?;
        let what = store.path(&s.label_key).display().to_string();
        let d_sae = s.sae.d_sae();
        for (f, l) in registry_labels(&reg, false, d_sae, &what, warnings) {
            labels.entry(f).or_insert(l);
        }
        let own = s.sae.source().join(LABELS_FILE);
        if own.is_file() {
            for e in read(&own)? {
                if e.feature as usize >= s.sae.d_sae() {
                    return Err(Error::File {
                        path: own.display().to_string(),
                        message: format!("feature {} is out of range (d_sae {})", e.feature, s.sae.d_sae()),
                    });
                }
                labels.entry(e.feature).or_insert(e.label);
            }
        }
        for (f, l) in registry_labels(&reg, true, d_sae, &what, warnings) {
            labels.entry(f).or_insert(l);
        }
    }
    Ok(maps)
}

/// The registry key of an SAE known by id only (an index's): its Neuronpedia id, else the
/// key recorded when the index was built, else the key of its directory when `sae_id` names
/// one from here.
pub fn key_of(sae_id: &str, neuronpedia_id: Option<&str>, recorded: Option<&str>) -> Result<Option<String>> {
    if let Some(id) = neuronpedia_id.filter(|s| !s.is_empty()) {
        return Ok(Some(id.to_string()));
    }
    if let Some(key) = recorded.filter(|s| !s.is_empty()) {
        return Ok(Some(key.to_string()));
    }
    if Path::new(sae_id).is_dir() {
        return Ok(Some(sae_key(&Sae::load(sae_id)?)?));
    }
    Ok(None)
}

/// The labels of one SAE without a session (queries of an index), in the order of the
/// module docs: the user's `catalogs` (entries naming this SAE by `sae_id` or Neuronpedia
/// id, or naming none), the registry (when `store` is given and [`key_of`] finds a key),
/// the SAE directory's own `labels.jsonl` when `dir` has one, the registry's automatic ones.
pub fn for_sae(
    sae_id: &str,
    neuronpedia_id: Option<&str>,
    label_key: Option<&str>,
    dir: Option<&Path>,
    catalogs: &[PathBuf],
    store: Option<&Store>,
) -> Result<HashMap<u32, String>> {
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
    let reg = match store {
        Some(st) => match key_of(sae_id, neuronpedia_id, label_key)? {
            Some(k) => st.read(&k)?,
            None => Registry::new(),
        },
        None => Registry::new(),
    };
    let mut ignored = Vec::new();
    for (f, l) in registry_labels(&reg, false, usize::MAX, "", &mut ignored) {
        out.entry(f).or_insert(l);
    }
    if let Some(own) = dir.map(|d| d.join(LABELS_FILE)).filter(|p| p.is_file()) {
        for e in read(&own)? {
            out.entry(e.feature).or_insert(e.label);
        }
    }
    for (f, l) in registry_labels(&reg, true, usize::MAX, "", &mut ignored) {
        out.entry(f).or_insert(l);
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
