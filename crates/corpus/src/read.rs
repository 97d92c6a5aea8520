//! Turning files into documents: fortune entries, whole files (gzip-aware), UTF-8 or Latin-1.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sources::{Reader, Source};

/// The files of `src` under `root/<package>/<dir>`, sorted (deterministic).
pub fn files(root: &Path, src: &Source) -> Result<Vec<PathBuf>> {
    let dir = root.join(src.package).join(src.dir);
    if !dir.is_dir() {
        return Err(Error::MissingSource { package: src.package.to_string(), path: dir });
    }
    let mut out = Vec::new();
    walk(&dir, src, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, src: &Source, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in rd {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // Offensive fortunes live in `off/` folders and are left out; symlinks too (they
        // point at files already read).
        if path.is_symlink() || name == "off" {
            continue;
        }
        if path.is_dir() {
            if src.recursive {
                walk(&path, src, out)?;
            }
            continue;
        }
        let fortune = matches!(src.reader, Reader::Fortune | Reader::FortuneAnsi);
        // fortune index files; a real file `X.u8` is the UTF-8 copy of `X`, read instead of
        // it (when `X.u8` is only a symlink to `X`, `X` is read).
        let utf8_copy = path.with_file_name(format!("{name}.u8"));
        if fortune && (name.ends_with(".dat") || (utf8_copy.exists() && !utf8_copy.is_symlink())) {
            continue;
        }
        let suffix_ok = src.suffixes.is_empty() || src.suffixes.iter().any(|s| name.ends_with(s));
        let name_ok = (src.names.is_empty() || src.names.contains(&name)) && !src.exclude.contains(&name);
        if suffix_ok && name_ok {
            out.push(path);
        }
    }
    Ok(())
}

/// A file's text: gunzipped if `.gz`, UTF-8, or Latin-1 when it is not valid UTF-8 (older
/// fortune files).
pub fn text(path: &Path) -> Result<String> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| Error::io(path, e))?;
        out
    } else {
        raw
    };
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    })
}

/// Remove ANSI escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The documents of one file.
pub fn documents(path: &Path, reader: Reader) -> Result<Vec<String>> {
    let t = text(path)?;
    Ok(match reader {
        Reader::Whole => vec![t],
        Reader::Fortune | Reader::FortuneAnsi => {
            let t = if reader == Reader::FortuneAnsi { strip_ansi(&t) } else { t };
            let mut docs = Vec::new();
            let mut cur = String::new();
            for line in t.lines() {
                if line.trim_end() == "%" {
                    docs.push(std::mem::take(&mut cur));
                } else {
                    cur.push_str(line);
                    cur.push('\n');
                }
            }
            docs.push(cur);
            docs.into_iter().map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortunes_split_on_percent_lines_and_ansi_is_stripped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, "one\nline\n%\n\u{1b}[1;33m two\u{1b}[0m\n%\n%\n").unwrap();
        assert_eq!(documents(&f, Reader::FortuneAnsi).unwrap(), vec!["one\nline".to_string(), "two".to_string()]);
    }

    #[test]
    fn latin1_files_are_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"Gr\xfc\xdfe").unwrap(); // "Grüße" in Latin-1
        assert_eq!(text(&f).unwrap(), "Grüße");
    }
}
