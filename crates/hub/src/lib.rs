//! # Brief overview
//!
//! `saex-hub` finds files of Hugging Face hub repositories in the local HF cache, so that a
//! model or SAE can be named by its hub id (`google/gemma-2-2b`) and used offline.
//! [`cache_dir`] is the cache root; [`snapshot`] resolves a repo and revision to its snapshot
//! directory; [`file`] resolves one file in it; every failure is a [`NotCached`] naming the
//! repo, revision and path that was looked for.
//!
//! Lookup is written here rather than through the hf-hub crate because hf-hub ignores
//! `HF_HUB_CACHE` and `HF_HUB_OFFLINE`, and the layout is small and documented:
//! `models--{org}--{name}/refs/{revision}` holds a commit hash, `snapshots/{hash}/` the files.
//! Downloading ([`fetch`]) does use hf-hub, behind the off-by-default `download` feature
//! (it brings an HTTP and TLS stack that offline builds do not need).
//!
//! ```
//! let dir = std::env::temp_dir().join("saex-hub-doctest");
//! std::env::set_var("HF_HUB_CACHE", &dir);
//! let err = saex_hub::file("google/gemma-2-2b", "main", "config.json").unwrap_err();
//! assert!(err.to_string().contains("google/gemma-2-2b"));
//! ```
#![deny(missing_docs)]

use std::path::PathBuf;

/// A file or repo that is not in the local cache.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "`{repo}` (revision {revision}) is not in the local Hugging Face cache: no {missing}; \
     saex does not download: put the files there (e.g. `huggingface-cli download {repo}`) \
     or pass a local path"
)]
pub struct NotCached {
    /// The repo id.
    pub repo: String,
    /// The revision asked for.
    pub revision: String,
    /// The path that does not exist.
    pub missing: String,
}

/// The HF hub cache directory: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (huggingface_hub's own order).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HF_HUB_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("HF_HOME") {
        return PathBuf::from(d).join("hub");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".cache").join("huggingface").join("hub")
}

/// True if `s` has the shape of a hub repo id (`org/name`) rather than a relative path.
pub fn looks_like_repo_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| !p.is_empty() && !p.starts_with('.') && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

/// The snapshot directory of `repo` at `revision` (a branch, tag or commit hash).
pub fn snapshot(repo: &str, revision: &str) -> Result<PathBuf, NotCached> {
    let missing = |p: PathBuf| NotCached { repo: repo.to_string(), revision: revision.to_string(), missing: p.display().to_string() };
    let root = cache_dir().join(format!("models--{}", repo.replace('/', "--")));
    if !root.is_dir() {
        return Err(missing(root));
    }
    let is_hash = revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
    let hash = if is_hash {
        revision.to_string()
    } else {
        let r = root.join("refs").join(revision);
        std::fs::read_to_string(&r).map_err(|_| missing(r))?.trim().to_string()
    };
    let snap = root.join("snapshots").join(hash);
    if snap.is_dir() {
        Ok(snap)
    } else {
        Err(missing(snap))
    }
}

/// One file (path inside the repo, `/`-separated) of `repo` at `revision`.
pub fn file(repo: &str, revision: &str, path: &str) -> Result<PathBuf, NotCached> {
    let f = snapshot(repo, revision)?.join(path);
    if f.exists() {
        Ok(f)
    } else {
        Err(NotCached { repo: repo.to_string(), revision: revision.to_string(), missing: f.display().to_string() })
    }
}

/// Why [`fetch`] could not provide a file.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Not in the cache, and not downloaded (offline, or built without `download`).
    #[error(transparent)]
    NotCached(#[from] NotCached),
    /// The download failed.
    #[error("downloading `{path}` of `{repo}` failed: {msg}")]
    Download {
        /// The repo id.
        repo: String,
        /// The file in the repo.
        path: String,
        /// What went wrong.
        msg: String,
    },
}

/// True when `HF_HUB_OFFLINE` asks for no network access (huggingface_hub's convention).
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// `path` of `repo` at `revision`: from the local cache, or else downloaded into it with the
/// hf-hub crate when saex is built with the `download` feature and `HF_HUB_OFFLINE` is unset.
pub fn fetch(repo: &str, revision: &str, path: &str) -> Result<PathBuf, FetchError> {
    match file(repo, revision, path) {
        Ok(p) => Ok(p),
        Err(missing) if offline() || !cfg!(feature = "download") => Err(missing.into()),
        Err(_) => download(repo, revision, path),
    }
}

#[cfg(feature = "download")]
fn download(repo: &str, revision: &str, path: &str) -> Result<PathBuf, FetchError> {
    use hf_hub::api::sync::ApiBuilder;
    let fail = |e: hf_hub::api::sync::ApiError| FetchError::Download { repo: repo.to_string(), path: path.to_string(), msg: e.to_string() };
    let api = ApiBuilder::from_env().with_cache_dir(cache_dir()).with_progress(true).build().map_err(fail)?;
    let handle = api.repo(hf_hub::Repo::with_revision(repo.to_string(), hf_hub::RepoType::Model, revision.to_string()));
    handle.get(path).map_err(fail)
}

#[cfg(not(feature = "download"))]
fn download(repo: &str, revision: &str, path: &str) -> Result<PathBuf, FetchError> {
    file(repo, revision, path).map_err(FetchError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_are_told_from_paths() {
        assert!(looks_like_repo_id("google/gemma-2-2b"));
        assert!(looks_like_repo_id("HuggingFaceTB/SmolLM2-135M"));
        assert!(!looks_like_repo_id("models/x/y"));
        assert!(!looks_like_repo_id("model.gguf"));
        assert!(!looks_like_repo_id("../x"));
    }

    #[test]
    fn a_cached_snapshot_is_found_by_branch_and_hash() {
        let tmp = std::env::temp_dir().join(format!("saex-hub-test-{}", std::process::id()));
        let hash = "0123456789abcdef0123456789abcdef01234567";
        let root = tmp.join("models--org--name");
        std::fs::create_dir_all(root.join("refs")).unwrap();
        std::fs::create_dir_all(root.join("snapshots").join(hash).join("sub")).unwrap();
        std::fs::write(root.join("refs/main"), format!("{hash}\n")).unwrap();
        std::fs::write(root.join("snapshots").join(hash).join("sub/cfg.json"), "{}").unwrap();
        std::env::set_var("HF_HUB_CACHE", &tmp);
        assert!(file("org/name", "main", "sub/cfg.json").unwrap().is_file());
        assert!(file("org/name", hash, "sub/cfg.json").is_ok());
        let err = file("org/name", "main", "sub/other.json").unwrap_err();
        assert!(err.missing.ends_with("sub/other.json"), "{err}");
        std::env::set_var("HF_HUB_OFFLINE", "1");
        assert!(fetch("org/name", "main", "sub/cfg.json").is_ok());
        assert!(matches!(fetch("org/name", "main", "sub/other.json"), Err(FetchError::NotCached(_))));
        let err = file("org/absent", "main", "x").unwrap_err().to_string();
        assert!(err.contains("org/absent") && err.contains("models--org--absent"), "{err}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
