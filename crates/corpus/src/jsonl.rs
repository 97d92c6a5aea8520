//! Reading a corpus back: the one reader of corpus JSONL (`{"text", "category"?, "source"?}`
//! per line) and the one held-out rule, shared by training, evaluation, statistics and the
//! activation index.
//!
//! The held-out rule: with `every = n`, lines `0, n, 2n, …` (0-based) are held out. Training
//! never sees them; evaluation reads only them. It is by line number, so it does not depend
//! on the order documents are read in, and a shard of the corpus agrees with the whole.

use std::path::Path;

use crate::error::{Error, Result};

/// `saex train`'s default: every 20th line is held out.
pub const HELDOUT_EVERY: usize = 20;

/// Which lines to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Every line.
    All,
    /// The training lines: all but every n-th (n = 0: all).
    Train(usize),
    /// Only every n-th line (n = 0: all).
    Heldout(usize),
}

impl Split {
    /// Whether the line at 0-based index `i` is in this split.
    pub fn contains(self, i: usize) -> bool {
        match self {
            Split::All | Split::Train(0) | Split::Heldout(0) => true,
            Split::Train(n) => !i.is_multiple_of(n),
            Split::Heldout(n) => i.is_multiple_of(n),
        }
    }
}

/// One corpus line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Doc {
    /// 0-based line index in the file (blank lines count).
    pub line: usize,
    /// The text.
    pub text: String,
    /// Its category, when the line has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Where it came from, when the line says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Parse one line (0-based index `i`) of `path`; `Ok(None)` for a blank line.
pub fn parse_line(path: &Path, i: usize, raw: &[u8]) -> Result<Option<Doc>> {
    let bad = |m: String| Error::Invalid(format!("{}: line {}: {m}", path.display(), i + 1));
    let line = std::str::from_utf8(raw).map_err(|e| bad(format!("not valid UTF-8 ({e})")))?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
    let text = v.get("text").and_then(|t| t.as_str()).ok_or_else(|| bad("no string field \"text\"".into()))?;
    let field = |k: &str| match v.get(k) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(bad(format!("\"{k}\" must be a string, got {other}"))),
    };
    Ok(Some(Doc { line: i, text: text.to_string(), category: field("category")?, source: field("source")? }))
}

/// The documents of `split` in the corpus at `path`, in file order. Errors name the file and
/// the line (bad JSON, no `text`, invalid UTF-8) whichever split it is in; an empty result is
/// an error too.
pub fn read(path: &Path, split: Split) -> Result<Vec<Doc>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        // Every line is checked, in the split or not: a malformed corpus is reported the
        // same way whichever split a verb reads.
        if let Some(doc) = parse_line(path, i, raw)? {
            if split.contains(i) {
                out.push(doc);
            }
        }
    }
    if out.is_empty() {
        let which = match split {
            Split::All => "",
            Split::Train(_) => " training",
            Split::Heldout(_) => " held-out",
        };
        return Err(Error::Invalid(format!("{}: the corpus has no{which} text", path.display())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_follow_the_line_number() {
        // every 3: lines 0 and 3 held out.
        assert_eq!((0..6).filter(|&i| Split::Heldout(3).contains(i)).collect::<Vec<_>>(), [0, 3]);
        assert_eq!((0..6).filter(|&i| Split::Train(3).contains(i)).collect::<Vec<_>>(), [1, 2, 4, 5]);
        assert!((0..6).all(|i| Split::All.contains(i) && Split::Train(0).contains(i)));
    }

    #[test]
    fn reads_docs_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        std::fs::write(&p, "{\"text\": \"a\", \"category\": \"x\"}\n\n{\"text\": \"b\"}\n").unwrap();
        let all = read(&p, Split::All).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].line, all[0].category.as_deref()), (0, Some("x")));
        assert_eq!((all[1].line, all[1].category.as_deref()), (2, None));
        assert_eq!(read(&p, Split::Train(2)).unwrap_err().to_string(), format!("{}: the corpus has no training text", p.display()));
        std::fs::write(&p, b"{\"text\": \"a\"}\n{\"text\": \"\xff\"}\n").unwrap();
        let e = read(&p, Split::All).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
        std::fs::write(&p, "{\"txt\": 1}\n").unwrap();
        assert!(read(&p, Split::All).unwrap_err().to_string().contains("line 1: no string field \"text\""));
    }
}
