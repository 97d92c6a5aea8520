//! Building the corpus: documents per category, chunked to a token budget, deduplicated,
//! capped, and shuffled, all deterministically from a seed.

use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::read;
use crate::sources::{categories, SOURCES};

/// Options of [`build`].
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Seed of every shuffle.
    pub seed: u64,
    /// Most tokens per chunk.
    pub chunk_tokens: usize,
    /// Chunks with fewer tokens are dropped.
    pub min_tokens: usize,
    /// Stop adding chunks to a category past this many tokens.
    pub max_tokens_per_category: usize,
}

/// One corpus line.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Line {
    /// The text.
    pub text: String,
    /// Its category.
    pub category: String,
    /// `package:path[#entry]` it came from.
    pub source: String,
}

/// What a category holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CategoryStats {
    /// Chunks kept.
    pub chunks: usize,
    /// Tokens in them.
    pub tokens: usize,
    /// Documents read (before the cap).
    pub documents: usize,
    /// Chunks dropped as exact duplicates (after whitespace normalisation).
    pub duplicates: usize,
}

/// A source package as used.
#[derive(Debug, Clone, Serialize)]
pub struct PackageInfo {
    /// Debian package.
    pub package: String,
    /// Its version (from `packages.tsv`).
    pub version: String,
    /// License of the text.
    pub license: String,
    /// Category it feeds.
    pub category: String,
    /// Files read.
    pub files: usize,
}

/// How the corpus was made.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Seed.
    pub seed: u64,
    /// Token budget per chunk.
    pub chunk_tokens: usize,
    /// Minimum tokens per chunk.
    pub min_tokens: usize,
    /// Cap per category.
    pub max_tokens_per_category: usize,
    /// The tokenizer chunks were counted with.
    pub tokenizer: String,
    /// Source packages.
    pub packages: Vec<PackageInfo>,
    /// Per category.
    pub categories: BTreeMap<String, CategoryStats>,
    /// Chunks in all.
    pub total_chunks: usize,
    /// Tokens in all.
    pub total_tokens: usize,
}

fn versions(root: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(root.join("packages.tsv"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect()
}

fn normalized_hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for w in s.split_whitespace() {
        w.hash(&mut h);
    }
    h.finish()
}

/// Split a document into chunks of at most `budget` tokens, at line boundaries where
/// possible (a line longer than the budget is cut by characters).
fn chunks(doc: &str, budget: usize, count: &dyn Fn(&str) -> usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let (mut cur, mut cur_tokens) = (String::new(), 0usize);
    let mut pieces: Vec<String> = Vec::new();
    for line in doc.split_inclusive('\n') {
        let n = count(line);
        if n <= budget {
            pieces.push(line.to_string());
        } else {
            // Cut so that each piece has about `budget` tokens, at char boundaries.
            let chars: Vec<char> = line.chars().collect();
            let per = (chars.len() * budget / n.max(1)).max(1);
            pieces.extend(chars.chunks(per).map(|c| c.iter().collect::<String>()));
        }
    }
    for p in pieces {
        let n = count(&p);
        if cur_tokens + n > budget && !cur.is_empty() {
            out.push((std::mem::take(&mut cur), cur_tokens));
            cur_tokens = 0;
        }
        cur.push_str(&p);
        cur_tokens += n;
    }
    if !cur.trim().is_empty() {
        out.push((cur, cur_tokens));
    }
    out.into_iter().map(|(c, n)| (c.trim_end().to_string(), n)).collect()
}

/// Build the corpus from the packages unpacked under `root` (see `scripts/fetch-corpus.sh`).
/// `count` gives a text's token count (the model's tokenizer, without bos).
pub fn build(root: &Path, tokenizer: &str, count: &dyn Fn(&str) -> usize, opts: BuildOptions) -> Result<(Vec<Line>, Manifest)> {
    if opts.chunk_tokens == 0 || opts.min_tokens > opts.chunk_tokens {
        return Err(Error::Invalid(format!(
            "chunk_tokens must be >= 1 and >= min_tokens (got {} and {})",
            opts.chunk_tokens, opts.min_tokens
        )));
    }
    let versions = versions(root);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut lines = Vec::new();
    let mut stats: BTreeMap<String, CategoryStats> = BTreeMap::new();
    let mut packages = Vec::new();
    for (ci, cat) in categories().into_iter().enumerate() {
        let mut docs: Vec<(String, String)> = Vec::new(); // (source, text)
        for src in SOURCES.iter().filter(|s| s.category == cat) {
            let files = read::files(root, src)?;
            packages.push(PackageInfo {
                package: src.package.to_string(),
                version: versions.get(src.package).cloned().unwrap_or_default(),
                license: src.license.to_string(),
                category: cat.to_string(),
                files: files.len(),
            });
            for f in files {
                let rel = f.strip_prefix(root.join(src.package)).unwrap_or(&f).display().to_string();
                let ds = read::documents(&f, src.reader)?;
                let single = ds.len() == 1;
                for (i, d) in ds.into_iter().enumerate() {
                    let source = if single { format!("{}:{rel}", src.package) } else { format!("{}:{rel}#{i}", src.package) };
                    docs.push((source, d));
                }
            }
        }
        let st = stats.entry(cat.to_string()).or_default();
        st.documents = docs.len();
        if docs.is_empty() {
            return Err(Error::EmptyCategory { category: cat.to_string() });
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed.wrapping_add(ci as u64 * 0x9E37_79B9));
        docs.shuffle(&mut rng);
        'docs: for (source, doc) in docs {
            for (text, n) in chunks(&doc, opts.chunk_tokens, count) {
                if n < opts.min_tokens {
                    continue;
                }
                if !seen.insert(normalized_hash(&text)) {
                    st.duplicates += 1;
                    continue;
                }
                st.chunks += 1;
                st.tokens += n;
                lines.push(Line { text, category: cat.to_string(), source: source.clone() });
                if st.tokens >= opts.max_tokens_per_category {
                    break 'docs;
                }
            }
        }
        if st.chunks == 0 {
            return Err(Error::EmptyCategory { category: cat.to_string() });
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    lines.shuffle(&mut rng);
    let manifest = Manifest {
        seed: opts.seed,
        chunk_tokens: opts.chunk_tokens,
        min_tokens: opts.min_tokens,
        max_tokens_per_category: opts.max_tokens_per_category,
        tokenizer: tokenizer.to_string(),
        packages,
        total_chunks: lines.len(),
        total_tokens: stats.values().map(|s| s.tokens).sum(),
        categories: stats,
    };
    Ok((lines, manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    #[test]
    fn chunks_respect_the_budget_at_line_boundaries() {
        let doc = "a b c\nd e\nf g h i\n";
        let c = chunks(doc, 5, &words);
        // "a b c\nd e" is 5 words; "f g h i" starts a new chunk.
        assert_eq!(c, vec![("a b c\nd e".to_string(), 5), ("f g h i".to_string(), 4)]);
        // A line longer than the budget is cut.
        let long = chunks(&"x ".repeat(12), 5, &words);
        assert!(long.iter().all(|(_, n)| *n <= 5), "{long:?}");
    }
}
