//! `manifest.json`: what an index (or a shard of one) was built from, with the sha256 of the
//! model, each SAE and the corpus, the options, the token counts, and every file it holds
//! with its size. It is written last: an index without one is incomplete. Where and when it
//! was built (host, paths, times) goes to `build.json` instead, so that the same inputs give
//! the same manifest byte for byte, whichever machines or shards computed them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::options::{IndexOptions, Shard};

/// Format tag of this layout.
pub const FORMAT: &str = "saex-index/1";

/// The model an index was built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelRef {
    /// Its own name (GGUF `general.name`, HF `_name_or_path`).
    pub name: String,
    /// sha256 of its files.
    pub sha256: String,
}

/// One SAE of an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SaeRef {
    /// The folder of its tables (`sae=<name>`): `name`.
    pub name: String,
    /// How it was named when the index was built.
    pub id: String,
    /// sha256 of its files.
    pub sha256: String,
    /// The hook it reads.
    pub hook: String,
    /// Its width.
    pub d_sae: usize,
    /// Neuronpedia id, when known.
    pub neuronpedia_id: Option<String>,
    /// Its file in the label registry (a key derived from its weights), so an index finds
    /// the SAE's labels wherever it is queried from, not only where `id` was a valid
    /// relative path. Absent in indexes built before saex recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_key: Option<String>,
}

/// The corpus of an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CorpusRef {
    /// sha256 of the JSONL file.
    pub sha256: String,
    /// Its lines.
    pub lines: u64,
    /// Documents indexed (after `max_tokens`; for a shard, its own).
    pub docs: u64,
    /// Non-bos tokens indexed.
    pub tokens: u64,
}

/// A file of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileRef {
    /// Path relative to the index folder.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// `index` (queryable) or `shard` (a part, for `saex index merge`).
    pub kind: String,
    /// The shard, for a shard.
    pub shard: Option<Shard>,
    /// The model.
    pub model: ModelRef,
    /// The SAEs.
    pub saes: Vec<SaeRef>,
    /// The corpus.
    pub corpus: CorpusRef,
    /// The options.
    pub options: IndexOptions,
    /// Every file, with its size.
    pub files: Vec<FileRef>,
}

impl Manifest {
    /// Read `DIR/manifest.json`; errors say what is wrong in one line.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join("manifest.json");
        if !dir.is_dir() {
            return Err(Error::file(dir, "no such index folder"));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::file(dir, "not a saex index: no manifest.json (a build that has not finished, or another folder)")
            } else {
                Error::file(&path, e)
            }
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| Error::file(&path, format!("not a saex index manifest: {e}")))?;
        if m.format != FORMAT {
            return Err(Error::file(&path, format!("format {:?}, this saex reads {FORMAT:?}", m.format)));
        }
        Ok(m)
    }

    /// Check every listed file is present with its size (a partial copy or a truncated
    /// table is refused here, before any query).
    pub fn check_files(&self, dir: &Path) -> Result<()> {
        for f in &self.files {
            let p = dir.join(&f.path);
            let got = std::fs::metadata(&p).map_err(|_| Error::file(&p, "missing: the index is incomplete (copy the whole folder)"))?.len();
            if got != f.bytes {
                return Err(Error::file(&p, format!("{got} bytes, the manifest says {}: the file is truncated or was changed", f.bytes)));
            }
        }
        Ok(())
    }

    /// The identity two parts must share to be merged (everything but the shard, the
    /// counts and the files).
    pub fn same_build(&self, other: &Manifest) -> std::result::Result<(), String> {
        if self.model != other.model {
            return Err(format!(
                "another model ({} {} vs {} {})",
                other.model.name,
                short(&other.model.sha256),
                self.model.name,
                short(&self.model.sha256)
            ));
        }
        if self.saes.iter().map(|s| &s.sha256).ne(other.saes.iter().map(|s| &s.sha256)) {
            return Err("other SAEs".into());
        }
        if self.corpus.sha256 != other.corpus.sha256 {
            return Err(format!("another corpus (sha256 {} vs {})", short(&other.corpus.sha256), short(&self.corpus.sha256)));
        }
        if self.options != other.options {
            return Err("other options".into());
        }
        Ok(())
    }

    /// The SAE named `key` (its folder name, its id or its Neuronpedia id).
    pub fn sae(&self, key: Option<&str>) -> Result<&SaeRef> {
        let names = || self.saes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
        match key {
            None if self.saes.len() == 1 => Ok(&self.saes[0]),
            None => Err(Error::NotFound(format!("the index holds {} SAEs; name one of: {}", self.saes.len(), names()))),
            Some(k) => self
                .saes
                .iter()
                .find(|s| s.name == k || s.id == k || s.neuronpedia_id.as_deref() == Some(k))
                .ok_or_else(|| Error::NotFound(format!("the index holds no SAE {k:?}; it holds: {}", names()))),
        }
    }
}

/// The first 12 hex digits of a sha256, for messages.
pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A folder name for an SAE id: letters, digits, `.`, `-` and `_` kept, the rest `_` (ids
/// are paths or release names with `/`).
pub fn folder_name(id: &str) -> String {
    let last: String =
        id.trim_end_matches('/').chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    last.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_path_safe() {
        assert_eq!(folder_name("demo/sae"), "demo_sae");
        assert_eq!(folder_name("gpt2-small-res-jb/blocks.8.hook_resid_pre"), "gpt2-small-res-jb_blocks.8.hook_resid_pre");
        assert_eq!(folder_name("/abs/path/"), "abs_path");
    }
}
