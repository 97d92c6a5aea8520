//! Building from a small fake source tree laid out like `scripts/fetch-corpus.sh`'s.

use std::path::Path;

use saex_corpus::{build, sources::SOURCES, BuildOptions, Error};

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

fn opts(seed: u64) -> BuildOptions {
    BuildOptions { seed, chunk_tokens: 16, min_tokens: 2, max_tokens_per_category: 1000 }
}

/// One file per source with a few documents of its kind.
fn fake_tree(root: &Path) {
    for (i, s) in SOURCES.iter().enumerate() {
        let dir = root.join(s.package).join(s.dir);
        std::fs::create_dir_all(&dir).unwrap();
        let name = s.names.first().map(|n| n.to_string()).unwrap_or_else(|| format!("f{i}{}", s.suffixes.first().copied().unwrap_or("")));
        let body = match s.reader {
            saex_corpus::sources::Reader::Whole => format!("{} document number {i} line one\nline two of it\n", s.category),
            _ => (0..5).map(|j| format!("{} fortune {i} entry {j} words here\n%\n", s.category)).collect(),
        };
        if name.ends_with(".gz") {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(body.as_bytes()).unwrap();
            std::fs::write(dir.join(name), gz.finish().unwrap()).unwrap();
        } else {
            std::fs::write(dir.join(name), body).unwrap();
        }
    }
}

#[test]
fn same_seed_same_corpus_and_every_category_present() {
    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path());
    let (a, m) = build(tmp.path(), "words", &words, opts(7)).unwrap();
    let (b, _) = build(tmp.path(), "words", &words, opts(7)).unwrap();
    let (c, _) = build(tmp.path(), "words", &words, opts(8)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c, "another seed shuffles differently");
    assert_eq!(m.categories.len(), 11);
    assert!(m.categories.values().all(|s| s.chunks > 0));
    assert_eq!(m.total_chunks, a.len());
    assert!(a.iter().all(|l| l.source.contains(':')));
}

#[test]
fn duplicates_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path());
    let s = SOURCES.iter().find(|s| s.package == "fortunes-de").unwrap();
    std::fs::write(tmp.path().join(s.package).join(s.dir).join("dup"), "Hallo   Welt wie geht es\n%\nHallo Welt wie geht es\n%\n").unwrap();
    let (lines, m) = build(tmp.path(), "words", &words, opts(1)).unwrap();
    assert_eq!(lines.iter().filter(|l| l.text.starts_with("Hallo")).count(), 1);
    assert!(m.categories["german"].duplicates >= 1);
}

#[test]
fn a_missing_package_and_an_empty_category_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path());
    std::fs::remove_dir_all(tmp.path().join("fortunes-ru")).unwrap();
    let err = build(tmp.path(), "words", &words, opts(1)).unwrap_err();
    assert!(matches!(err, Error::MissingSource { .. }) && err.to_string().contains("fortunes-ru"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    fake_tree(tmp.path());
    let s = SOURCES.iter().find(|s| s.package == "fortunes-it").unwrap();
    for f in std::fs::read_dir(tmp.path().join(s.package).join(s.dir)).unwrap() {
        std::fs::write(f.unwrap().path(), "%\n%\n").unwrap();
    }
    let err = build(tmp.path(), "words", &words, opts(1)).unwrap_err();
    assert!(err.to_string().contains("italian"), "{err}");
}
