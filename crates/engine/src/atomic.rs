//! Atomic file replacement: write a temporary file beside the target, then rename it over
//! the target, so a reader (or a run killed midway) never sees a half-written file.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The temporary path beside `path` (same directory, so the rename stays on one device).
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.{}.partial", std::process::id()))
}

/// Write `path` through `write(tmp)` and rename; the temporary file is removed on failure.
pub fn write_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(Error::File { path: dir.display().to_string(), message: "output directory does not exist".into() });
    }
    let tmp = temp_path(path);
    let result = write(&tmp)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::File { path: path.display().to_string(), message: e.to_string() }));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |tmp| std::fs::write(tmp, bytes).map_err(|e| Error::File { path: tmp.display().to_string(), message: e.to_string() }))
}
