//! The registry on disk: one seed-003 file per SAE under a directory, read without locks,
//! written under an advisory lock with atomic replacement and a backup.
//!
//! Writes are read-modify-write under an exclusive `flock` of `<file>.lock` (std's
//! `File::lock`), so two writers (processes or threads) serialize and neither loses the
//! other's update. The new content goes to a temporary file beside the target, is fsynced,
//! the current file is copied to `<file>.bak`, and the temporary file is renamed over the
//! target (then the directory is fsynced): a reader sees the old or the new file, never half
//! of one. A file that does not parse is refused with [`Error::Corrupt`], and is never
//! written over.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::entry::{self, Registry};
use crate::error::{Error, Result};

/// The environment variable naming the registry directory.
pub const ENV_DIR: &str = "SAEX_LABELS_DIR";

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A registry directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The registry in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// `$SAEX_LABELS_DIR`, else `$XDG_DATA_HOME/saex/labels`, else
    /// `$HOME/.local/share/saex/labels` (else `./saex-labels`).
    pub fn default_dir() -> PathBuf {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(d) = env(ENV_DIR) {
            return d;
        }
        if let Some(d) = env("XDG_DATA_HOME") {
            return d.join("saex/labels");
        }
        env("HOME").map(|h| h.join(".local/share/saex/labels")).unwrap_or_else(|| PathBuf::from("saex-labels"))
    }

    /// The registry at [`Store::default_dir`].
    pub fn default_location() -> Store {
        Store::new(Store::default_dir())
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of SAE `key` (see [`file_key`]): `<dir>/<key>.json`.
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_key(key)))
    }

    /// SAE `key`'s registry; empty when it has no file yet. A file that does not parse is
    /// an [`Error::Corrupt`].
    pub fn read(&self, key: &str) -> Result<Registry> {
        read_file(&self.path(key))
    }

    /// Read-modify-write SAE `key`'s registry under its lock; `change` returns whether it
    /// changed anything (nothing is written otherwise) and a value passed back.
    pub fn update<T>(&self, key: &str, change: impl FnOnce(&mut Registry) -> Result<(bool, T)>) -> Result<T> {
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.dir).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| Error::file(&dir, e))?;
        let lock_path = with_suffix(&path, ".lock");
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| Error::file(&lock_path, e))?;
        lock.lock().map_err(|e| Error::file(&lock_path, format!("cannot lock: {e}")))?;
        let mut reg = read_file(&path)?;
        let (changed, out) = change(&mut reg)?;
        if changed {
            replace(&path, &entry::to_bytes(&reg))?;
        }
        // Dropping the file releases the lock; say so to keep it alive until here.
        drop(lock);
        Ok(out)
    }

    /// Every SAE key with a file here (relative to the directory, without `.json`).
    pub fn keys(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        walk(&self.dir, &self.dir, &mut out)?;
        out.sort();
        Ok(out)
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let Ok(rd) = fs::read_dir(dir) else { return Ok(()) };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else if let (Some(rel), Some("json")) = (p.strip_prefix(root).ok(), p.extension().and_then(|x| x.to_str())) {
            let rel = rel.with_extension("");
            if !rel.to_string_lossy().split('/').any(|c| c.starts_with('.')) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}

/// A key as a relative path: `/`-separated components of `[A-Za-z0-9._-]`, others `_`,
/// so no key reaches outside the directory (`..` becomes `__`).
pub fn file_key(key: &str) -> String {
    let comps: Vec<String> = key
        .split('/')
        .filter(|c| !c.is_empty())
        .map(|c| {
            let s: String = c.chars().map(|ch| if ch.is_ascii_alphanumeric() || "._-".contains(ch) { ch } else { '_' }).collect();
            match s.strip_prefix('.') {
                Some(rest) => format!("_{rest}"),
                None => s,
            }
        })
        .collect();
    if comps.is_empty() {
        "_".into()
    } else {
        comps.join("/")
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The backup kept of `path` (its previous good version).
pub fn backup_path(path: &Path) -> PathBuf {
    with_suffix(path, ".bak")
}

/// Read a registry file; missing: empty.
pub fn read_file(path: &Path) -> Result<Registry> {
    match fs::read(path) {
        Ok(bytes) => entry::parse(&bytes).map_err(|message| {
            let b = backup_path(path);
            Error::Corrupt { path: path.display().to_string(), message, backup: b.is_file().then(|| b.display().to_string()) }
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::new()),
        Err(e) => Err(Error::file(path, e)),
    }
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::file(path, e))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| Error::file(path, e))
}

/// Replace `path` with `bytes`: temporary file + fsync, the current file copied to `.bak`
/// (the same way), rename, fsync of the directory.
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(path);
    let result = (|| {
        write_synced(&tmp, bytes)?;
        if path.is_file() {
            let old = fs::read(path).map_err(|e| Error::file(path, e))?;
            let btmp = temp_beside(path);
            write_synced(&btmp, &old)?;
            let bak = backup_path(path);
            fs::rename(&btmp, &bak).map_err(|e| {
                let _ = fs::remove_file(&btmp);
                Error::file(&bak, e)
            })?;
        }
        fs::rename(&tmp, path).map_err(|e| Error::file(path, e))?;
        if let Some(dir) = path.parent() {
            // Make the rename itself durable; a directory that cannot be opened for sync
            // (some filesystems) still got the rename.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;

    #[test]
    fn keys_stay_inside_the_directory() {
        assert_eq!(file_key("gemma-2-2b/6-gemmascope-res-16k"), "gemma-2-2b/6-gemmascope-res-16k");
        assert_eq!(file_key("../../etc/passwd"), "_./_./etc/passwd");
        assert_eq!(file_key("/abs//x y"), "abs/x_y");
        assert_eq!(file_key(""), "_");
        let s = Store::new("/r");
        assert_eq!(s.path("a/b"), PathBuf::from("/r/a/b.json"));
        assert!(!s.path("..").starts_with("/r/.."));
    }

    #[test]
    fn update_writes_backup_and_refuses_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::new(dir.path());
        let e = |d: &str| Entry { description: d.into(), ..Default::default() };
        s.update("m/l", |r| Ok((r.insert(1, e("one")).is_none(), ()))).unwrap();
        assert!(!backup_path(&s.path("m/l")).exists(), "nothing to back up on the first write");
        s.update("m/l", |r| Ok((r.insert(2, e("two")).is_none(), ()))).unwrap();
        assert_eq!(s.read("m/l").unwrap().len(), 2);
        assert_eq!(read_file(&backup_path(&s.path("m/l"))).unwrap().len(), 1);
        assert_eq!(s.keys().unwrap(), vec!["m/l".to_string()]);
        // Corrupt it: refused on read and on write, bytes untouched.
        fs::write(s.path("m/l"), b"{\"1\": {\"name\": ").unwrap();
        let err = s.update("m/l", |r| Ok((r.insert(3, e("three")).is_none(), ()))).unwrap_err().to_string();
        assert!(err.contains("not a valid label registry") && err.contains(".bak"), "{err}");
        assert_eq!(fs::read(s.path("m/l")).unwrap(), b"{\"1\": {\"name\": ");
        assert!(matches!(s.read("m/l"), Err(Error::Corrupt { .. })));
        // No temporary files left behind.
        let left: Vec<_> = fs::read_dir(dir.path().join("m")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")), "{left:?}");
    }
}
