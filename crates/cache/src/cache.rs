//! [`Cache`]: entries on disk, one file per key, evicted least-recently-used.

use crate::entry::{self, HEADER_LEN};
use crate::error::{io, Result};
use crate::key::Key;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Temp files older than this are left over from a crashed writer and are deleted by eviction.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// Makes temp file names unique within this process (the pid makes them unique across).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The result of [`Cache::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The payload, checked against its sha256.
    Hit(Vec<u8>),
    /// No entry (never stored, evicted, or unreadable).
    Miss,
    /// the entry was damaged (bad checksum, truncated, bad header); it has been deleted
    Corrupt(String),
}

/// A directory of entries, `<dir>/<first 2 hex>/<hex>.bin`, capped at `max_bytes` in total.
///
/// Several threads and processes may share one directory: entries are written to a temp file
/// in the same directory and renamed into place, so a reader sees a whole entry or none.
/// LRU order is the entries' mtime, which [`Cache::get`] bumps.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
}

/// One entry file found by a scan.
struct Found {
    path: PathBuf,
    size: u64,
    mtime: SystemTime,
}

impl Cache {
    /// `$SAEX_CACHE_DIR` if set, else `$XDG_CACHE_HOME/saex/discover`, else
    /// `~/.cache/saex/discover`.
    pub fn default_dir() -> PathBuf {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(d) = var("SAEX_CACHE_DIR") {
            return d;
        }
        let base = var("XDG_CACHE_HOME").unwrap_or_else(|| var("HOME").unwrap_or_default().join(".cache"));
        base.join("saex").join("discover")
    }

    /// Creates the directory. `max_bytes`: total size cap of entries (entry files, headers
    /// included).
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Cache> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        Ok(Cache { dir, max_bytes })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size cap given to [`Cache::open`].
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where the entry for `key` lives (it may not exist).
    pub fn entry_path(&self, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.dir.join(&hex[..2]).join(format!("{hex}.bin"))
    }

    /// The payload stored under `key`. On a hit the entry's mtime is bumped (LRU). A damaged
    /// entry is deleted and reported as [`Lookup::Corrupt`]. A missing file, or one that
    /// cannot be opened or read, is a [`Lookup::Miss`]: the caller recomputes, and a real
    /// filesystem problem then surfaces as an error from [`Cache::put`].
    pub fn get(&self, key: &Key) -> Lookup {
        let path = self.entry_path(key);
        let Ok(mut file) = File::open(&path) else {
            return Lookup::Miss;
        };
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return Lookup::Miss;
        }
        match entry::decode(bytes) {
            Ok(payload) => {
                let now = SystemTime::now();
                // Best effort: a read-only handle may set times on Unix (owner); else reopen.
                if file.set_modified(now).is_err() {
                    if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                        let _ = f.set_modified(now);
                    }
                }
                Lookup::Hit(payload)
            }
            Err(reason) => {
                // NotFound: a racing reader deleted it already.
                let _ = fs::remove_file(&path);
                Lookup::Corrupt(format!("{}: {reason}", path.display()))
            }
        }
    }

    /// Stores `bytes` under `key`: written to a temp file in the same directory, then renamed
    /// over the entry (atomic, no fsync). Then evicts least-recently-used entries until the
    /// total is at most the cap, never the entry just written. An entry that alone exceeds
    /// the cap is not stored (and that is `Ok`).
    pub fn put(&self, key: &Key, bytes: &[u8]) -> Result<()> {
        if (HEADER_LEN as u64).saturating_add(bytes.len() as u64) > self.max_bytes {
            return Ok(());
        }
        let path = self.entry_path(key);
        let shard = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(shard).map_err(io("create directory", shard))?;
        let (tmp, mut file) = create_tmp(shard, key)?;
        let written =
            file.write_all(&entry::header(bytes)).and_then(|()| file.write_all(bytes)).map_err(io("write", &tmp)).and_then(|()| {
                // Precise mtime for LRU order (the kernel's own is tick-coarse); best effort.
                let _ = file.set_modified(SystemTime::now());
                drop(file);
                fs::rename(&tmp, &path).map_err(io("rename into place", &path))
            });
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        self.evict(&path)
    }

    /// Total bytes of entry files now in the directory.
    pub fn total_bytes(&self) -> u64 {
        let mut total = 0;
        self.scan(|f| total += f.size);
        total
    }

    /// Deletes every entry (and leftover temp file). Files outside the two-hex-digit shard
    /// directories, such as a fingerprint memo, are kept.
    pub fn clear(&self) -> Result<()> {
        for shard in self.shards()? {
            for e in fs::read_dir(&shard).map_err(io("list", &shard))?.flatten() {
                let p = e.path();
                match fs::remove_file(&p) {
                    Err(err) if err.kind() != ErrorKind::NotFound => return Err(io("delete", p)(err)),
                    _ => {}
                }
            }
            // Another writer may have just added a file: then the shard stays.
            let _ = fs::remove_dir(&shard);
        }
        Ok(())
    }

    /// Deletes least-recently-used entries other than `keep` until the total fits the cap.
    fn evict(&self, keep: &Path) -> Result<()> {
        let mut found = Vec::new();
        self.scan(|f| found.push(f));
        let mut total: u64 = found.iter().map(|f| f.size).sum();
        if total <= self.max_bytes {
            return Ok(());
        }
        found.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.path.cmp(&b.path)));
        for f in found {
            if total <= self.max_bytes {
                break;
            }
            if f.path == keep {
                continue;
            }
            match fs::remove_file(&f.path) {
                Ok(()) => total -= f.size,
                // Another process evicted it first.
                Err(e) if e.kind() == ErrorKind::NotFound => total -= f.size,
                Err(e) => return Err(io("evict", f.path)(e)),
            }
        }
        Ok(())
    }

    /// The shard directories (two lowercase hex digits) under the cache directory.
    fn shards(&self) -> Result<Vec<PathBuf>> {
        let list = fs::read_dir(&self.dir).map_err(io("list", &self.dir))?;
        Ok(list
            .flatten()
            .filter(|e| is_hex(&e.file_name().to_string_lossy(), 2))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect())
    }

    /// Calls `each` for every entry file; deletes stale temp files on the way. Files that
    /// vanish mid-scan (a racing eviction) are skipped.
    fn scan(&self, mut each: impl FnMut(Found)) {
        let now = SystemTime::now();
        for shard in self.shards().unwrap_or_default() {
            let Ok(list) = fs::read_dir(&shard) else {
                continue;
            };
            for e in list.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                let Ok(meta) = e.metadata() else { continue };
                let Ok(mtime) = meta.modified() else { continue };
                if name.starts_with('.') && name.ends_with(".tmp") {
                    if now.duration_since(mtime).is_ok_and(|age| age > STALE_TMP) {
                        let _ = fs::remove_file(e.path());
                    }
                } else if meta.is_file() && name.strip_suffix(".bin").is_some_and(|h| is_hex(h, 64)) {
                    each(Found { path: e.path(), size: meta.len(), mtime });
                }
            }
        }
    }
}

/// A new temp file `.<hex>.<pid>.<n>.tmp` in `shard`, created exclusively.
fn create_tmp(shard: &Path, key: &Key) -> Result<(PathBuf, File)> {
    let pid = std::process::id();
    loop {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = shard.join(format!(".{}.{pid}.{n}.tmp", key.hex()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            // Left over by an earlier process with the same pid: take the next number.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("create", tmp)(e)),
        }
    }
}

/// `s` is `len` lowercase hex digits.
fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_names() {
        assert!(is_hex("0a", 2));
        assert!(!is_hex("0A", 2));
        assert!(!is_hex("0g", 2));
        assert!(!is_hex("0a0", 2));
    }

    #[test]
    fn entry_path_is_sharded_by_first_two_hex_digits() {
        let c = Cache { dir: PathBuf::from("/c"), max_bytes: 0 };
        let k = Key([0xab; 32]);
        let want = format!("/c/ab/{}.bin", "ab".repeat(32));
        assert_eq!(c.entry_path(&k), PathBuf::from(want));
    }

    #[test]
    fn default_dir_order() {
        // The only test that touches these variables.
        std::env::set_var("SAEX_CACHE_DIR", "/s");
        std::env::set_var("XDG_CACHE_HOME", "/x");
        std::env::set_var("HOME", "/h");
        assert_eq!(Cache::default_dir(), PathBuf::from("/s"));
        std::env::remove_var("SAEX_CACHE_DIR");
        assert_eq!(Cache::default_dir(), PathBuf::from("/x/saex/discover"));
        std::env::set_var("XDG_CACHE_HOME", "");
        assert_eq!(Cache::default_dir(), PathBuf::from("/h/.cache/saex/discover"));
    }
}
