//! The corpus activation index on the tiny GPT-2 fixture and its SAE over the committed
//! corpus sample: top examples equal a brute-force pass, shards merge into exactly the
//! single run's files, statistics equal a dense recount, and bad inputs are refused.

use std::path::{Path, PathBuf};

use saex_engine::index_store::{Index, IndexOptions, Shard};
use saex_engine::{index_build, index_merge, IndexBuildRequest, IndexLabels, Session, SessionOptions};

fn root() -> PathBuf {
    saex_testutil::root()
}

fn session() -> Session {
    let model = root().join("fixtures/parity/tiny/gpt2");
    let sae = root().join("fixtures/models/tiny-gpt2-l1");
    Session::open(model.to_str().unwrap(), &[sae.to_str().unwrap().to_string()], SessionOptions { logits: true, ..Default::default() })
        .unwrap()
}

fn corpus() -> PathBuf {
    root().join("corpus/sample.jsonl")
}

fn opts() -> IndexOptions {
    IndexOptions { ctx: 48, top_k: 5, quantile_bins: 3, per_bin: 2, sample_k: 12, block: 4, ..Default::default() }
}

fn build(s: &Session, out: &Path, shard: Shard) -> saex_engine::IndexBuildReport {
    let req = IndexBuildRequest {
        corpus: corpus(),
        out: out.to_path_buf(),
        options: opts(),
        shard,
        logits: true,
        logit_k: 5,
        checkpoint_secs: 60,
    };
    index_build(s, &req, &mut |_| {}, None).unwrap()
}

/// Every file under `dir` (but build-specific ones) with its bytes, sorted by path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn top_examples_equal_a_brute_force_pass_and_stats_a_recount() {
    let s = session();
    let dir = tempfile::tempdir().unwrap();
    let report = build(&s, dir.path(), Shard::WHOLE);
    assert!(!report.reused && !report.resumed);
    let index = Index::open(dir.path()).unwrap();
    let labels = IndexLabels::load(&index, &[], None).unwrap();
    let docs = saex_corpus::read_docs(&corpus(), saex_corpus::Split::All).unwrap();
    // Brute force: every (act, doc, position) of every feature, from `saex encode`'s path.
    let d_sae = s.saes[0].sae.d_sae();
    let mut all: Vec<Vec<(f32, u64, u32)>> = vec![Vec::new(); d_sae];
    let mut n_tokens = 0u64;
    for d in &docs {
        // The document's first ctx tokens, alone in a forward pass (the index ran it in a
        // padded batch of its block).
        let mut ids = s.model.tokenizer.encode(&d.text, true).unwrap();
        ids.truncate(opts().ctx);
        let n = ids.len();
        let (codes, _) = s.encode_tokens(&[0], &ids, saex_engine::RunOptions::default()).unwrap();
        let enc = &codes[0];
        n_tokens += (n - 1) as u64;
        for p in 1..n {
            let (fs, vs) = enc.acts.token(p).unwrap();
            for (&f, &v) in fs.iter().zip(vs) {
                if v > 0.0 {
                    all[f as usize].push((v, d.line as u64, p as u32));
                }
            }
        }
    }
    assert_eq!(index.manifest.corpus.tokens, n_tokens);
    let mut checked = 0;
    for (f, mut firings) in all.into_iter().enumerate() {
        let r = saex_engine::feature(&index, None, f as u32, &labels).unwrap();
        assert_eq!(r.stats.firing_count, firings.len() as u64, "feature {f}");
        if firings.is_empty() {
            assert!(r.top.is_empty());
            continue;
        }
        firings.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let want: Vec<(u64, u32)> = firings.iter().take(opts().top_k).map(|x| (x.1, x.2)).collect();
        let got: Vec<(u64, u32)> = r.top.iter().map(|e| (e.doc, e.position)).collect();
        assert_eq!(got, want, "feature {f}: top examples");
        for (e, w) in r.top.iter().zip(&firings) {
            assert!((e.act - w.0).abs() <= 1e-5 * w.0.abs().max(1.0), "feature {f}: {} vs {}", e.act, w.0);
            assert_eq!(e.acts[e.peak as usize], e.act);
        }
        let max = firings[0].0;
        assert!((r.stats.max - max).abs() <= 1e-5 * max.max(1.0));
        let mean = firings.iter().map(|x| f64::from(x.0)).sum::<f64>() / n_tokens as f64;
        assert!((f64::from(r.stats.mean) - mean).abs() <= 1e-5 * mean.max(1e-3), "feature {f}: mean {} vs {mean}", r.stats.mean);
        assert!(r.logits.as_ref().is_some_and(|l| l.boosted.len() == 5 && l.suppressed.len() == 5));
        checked += 1;
    }
    assert!(checked > 4, "only {checked} features fire");
    // discover's statistics file, one owner: the engine's FeatureStats reads it.
    let stats = saex_engine::FeatureStats::load(&dir.path().join("sae=tiny-gpt2-l1/feature_stats.safetensors"), d_sae).unwrap();
    assert_eq!(stats.n_tokens as u64, n_tokens);
}

#[test]
fn shards_merge_into_the_single_runs_files_byte_for_byte() {
    let s = session();
    let whole = tempfile::tempdir().unwrap();
    build(&s, whole.path(), Shard::WHOLE);
    let parts = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..3).map(|i| parts.path().join(format!("shard-{i}"))).collect();
    // Shards in a scrambled order, as a scheduler would finish them.
    for i in [2, 0, 1] {
        let r = build(&s, &dirs[i], Shard { index: i, count: 3 });
        assert_eq!(r.manifest.kind, "shard");
    }
    let merged = parts.path().join("merged");
    index_merge(&[dirs[1].clone(), dirs[2].clone(), dirs[0].clone()], &merged).unwrap();
    let (a, b) = (files(whole.path()), files(&merged));
    assert_eq!(a.iter().map(|x| &x.0).collect::<Vec<_>>(), b.iter().map(|x| &x.0).collect::<Vec<_>>());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between the single run and the merge");
    }
    // Merging again into a folder that holds an index is refused, nothing overwritten.
    let e = index_merge(&dirs, &merged).unwrap_err().to_string();
    assert!(e.contains("already holds an index"), "{e}");
    // Missing and duplicate shards.
    let other = parts.path().join("other");
    assert!(index_merge(&dirs[..2], &other).unwrap_err().to_string().contains("shard 2/3 is missing"));
    let e = index_merge(&[dirs[0].clone(), dirs[0].clone(), dirs[1].clone()], &other).unwrap_err().to_string();
    assert!(e.contains("given twice"), "{e}");
}

#[test]
fn a_rerun_reuses_and_other_inputs_are_refused() {
    let s = session();
    let dir = tempfile::tempdir().unwrap();
    build(&s, dir.path(), Shard::WHOLE);
    let before = files(dir.path());
    assert!(build(&s, dir.path(), Shard::WHOLE).reused);
    // Other options into the same folder: refused, nothing overwritten.
    let req = IndexBuildRequest {
        corpus: corpus(),
        out: dir.path().to_path_buf(),
        options: IndexOptions { top_k: 7, ..opts() },
        shard: Shard::WHOLE,
        logits: true,
        logit_k: 5,
        checkpoint_secs: 60,
    };
    let e = index_build(&s, &req, &mut |_| {}, None).unwrap_err().to_string();
    assert!(e.contains("other inputs") && e.contains("nothing was overwritten"), "{e}");
    assert_eq!(files(dir.path()), before);
    // A truncated table is caught at open.
    let t = dir.path().join("sae=tiny-gpt2-l1/examples.parquet");
    let bytes = std::fs::read(&t).unwrap();
    std::fs::write(&t, &bytes[..bytes.len() / 2]).unwrap();
    let e = Index::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("examples.parquet") && e.contains("truncated"), "{e}");
    // A folder without an index, and a feature out of range.
    let empty = tempfile::tempdir().unwrap();
    assert!(Index::open(empty.path()).unwrap_err().to_string().contains("no manifest.json"));
    std::fs::write(&t, &bytes).unwrap();
    let index = Index::open(dir.path()).unwrap();
    let e = index.record(None, 99_999).unwrap_err().to_string();
    assert!(e.contains("out of range") && e.contains("d_sae"), "{e}");
}

/// A cancel (a notebook's Ctrl-C) between blocks saves a checkpoint and stops with
/// `Cancelled`; the same request then resumes from it to exactly the uninterrupted index.
#[test]
fn a_cancelled_build_checkpoints_and_resumes_to_the_same_index() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = session();
    let (whole, cut) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    build(&s, whole.path(), Shard::WHOLE);
    let req = IndexBuildRequest {
        corpus: corpus(),
        out: cut.path().to_path_buf(),
        options: opts(),
        shard: Shard::WHOLE,
        logits: true,
        logit_k: 5,
        checkpoint_secs: 3600, // no timed checkpoint: only the cancel's
    };
    let cancel = AtomicBool::new(false);
    let mut blocks = 0;
    let e = index_build(
        &s,
        &req,
        &mut |p| {
            if p.tokens > 0 {
                blocks += 1;
                if blocks == 2 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        },
        Some(&cancel),
    )
    .unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    assert!(cut.path().join("checkpoint/progress.json").is_file(), "the cancel saved no checkpoint");
    assert!(!cut.path().join("manifest.json").exists());
    let r = index_build(&s, &req, &mut |_| {}, None).unwrap();
    assert!(r.resumed && !r.reused);
    assert_eq!(files(whole.path()), files(cut.path()));
}
