//! `index build` and `index merge`: the corpus activation index (see `saex-index`), fed by
//! the encode pipeline. One streaming pass in fixed blocks of corpus lines, checkpointed, so
//! a killed run resumes; `--shard I/N` runs a deterministic part for array jobs on many
//! machines, and merging the parts gives exactly the index of one run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use saex_index::index::{checkpoint, merge_shards, write_index, write_shard, SaePart};
use saex_index::manifest::{folder_name, CorpusRef, Manifest, ModelRef, SaeRef, FORMAT};
use saex_index::record::{LogitTokens, TokenValue};
use saex_index::{IndexOptions, Shard, Sketch};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::logit_lens::{logit_lens, LensOptions};
use crate::session::Session;
use crate::stats::{FeatureStats, STATS_FILE};

/// An `index build` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndexBuildRequest {
    /// The corpus (JSONL, `{"text", "category"?}` per line).
    #[schema(value_type = String)]
    pub corpus: PathBuf,
    /// The index folder.
    #[schema(value_type = String)]
    pub out: PathBuf,
    /// How to build.
    pub options: IndexOptions,
    /// Which part of the corpus.
    pub shard: Shard,
    /// Also store each feature's top ± logit tokens (needs the model's unembedding).
    pub logits: bool,
    /// Tokens kept at each end of the logit table.
    pub logit_k: usize,
    /// Seconds between checkpoints (0: after every block).
    pub checkpoint_secs: u64,
}

/// Progress of a build, as the progress bar shows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Non-bos tokens indexed so far (this shard).
    pub tokens: u64,
    /// In all (this shard).
    pub total: u64,
}

/// What a build did.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndexBuildReport {
    /// The manifest written.
    pub manifest: Manifest,
    /// Whether the run continued a checkpoint.
    pub resumed: bool,
    /// Whether the index was already there, built from the same inputs (nothing ran).
    pub reused: bool,
    /// Seconds spent.
    pub seconds: f64,
}

/// One document, tokenized for the index.
struct Doc {
    line: u64,
    category: Option<String>,
    ids: Vec<u32>,
    pieces: Vec<String>,
}

fn tokenized(session: &Session, d: &saex_corpus::Doc, ctx: usize) -> Result<Doc> {
    let (mut ids, mut offs) =
        session.model.tokenizer.encode_with_offsets(&d.text, session.model.add_bos()).map_err(saex_model::Error::from)?;
    ids.truncate(ctx);
    offs.truncate(ctx);
    let pieces = offs.iter().map(|&(a, b)| d.text.get(a..b).unwrap_or("").to_string()).collect();
    Ok(Doc { line: d.line as u64, category: d.category.clone(), ids, pieces })
}

fn identity(m: &Manifest) -> String {
    let key = serde_json::json!({ "model": m.model, "saes": m.saes.iter().map(|s| &s.sha256).collect::<Vec<_>>(), "corpus": m.corpus.sha256, "options": m.options, "shard": m.shard });
    saex_cache::Key::of(&[key.to_string().as_bytes()]).hex()
}

/// The statistics discover reads, from a sketch (P95 from its histogram).
fn stats_of(s: &Sketch) -> FeatureStats {
    let m = s.d_sae;
    let mut st = FeatureStats {
        n_tokens: s.n_tokens as usize,
        firing_rate: vec![0.0; m],
        mean: vec![0.0; m],
        mean_nonzero: vec![0.0; m],
        p95: vec![0.0; m],
        max: s.max.clone(),
    };
    for f in 0..m {
        st.firing_rate[f] = if s.n_tokens == 0 { 0.0 } else { (s.firing[f] as f64 / s.n_tokens as f64) as f32 };
        (st.mean[f], st.mean_nonzero[f]) = s.means(f);
        st.p95[f] = s.quantile(f, 0.95);
    }
    st
}

/// Write `feature_stats.safetensors` into an SAE's index folder.
fn write_stats(dir: &Path, part: &SaePart) -> saex_index::Result<()> {
    let meta = [("source", "saex index (P95 from the index histogram)".to_string())];
    stats_of(&part.sketch).save(&dir.join(STATS_FILE), &meta).map_err(|e| saex_index::Error::Invalid(e.to_string()))
}

fn logit_tables(session: &Session, sae: usize, k: usize) -> Result<Vec<LogitTokens>> {
    let piece = |t: u32| session.model.tokenizer.id_to_piece(t).unwrap_or_default();
    let features: Vec<u32> = (0..session.saes[sae].sae.d_sae() as u32).collect();
    let mut out = Vec::with_capacity(features.len());
    logit_lens(session, sae, &features, LensOptions { raw: false, k }, &mut |f| {
        let tv = |&(t, v): &(u32, f32)| TokenValue { token_id: t, token: piece(t), value: v };
        out.push(LogitTokens { boosted: f.boosted.iter().map(tv).collect(), suppressed: f.suppressed.iter().map(tv).collect() });
        Ok(())
    })?;
    Ok(out)
}

/// Save the sketches so far (each under its SAE's folder name), to resume from `next_block`.
fn save_checkpoint(out: &Path, id: &str, next_block: usize, done: u64, names: &[String], sketches: &[Sketch]) -> Result<()> {
    let named: Vec<(String, &Sketch)> = names.iter().cloned().zip(sketches.iter()).collect();
    checkpoint::save(out, id, next_block, done, &named).map_err(index_err)
}

/// Build the index (or one shard of it) of every SAE of the session over the corpus. A set
/// `cancel` flag stops it between blocks of documents, after saving a checkpoint, with
/// `Cancelled`: the same request then resumes where it stopped (a notebook's Ctrl-C loses
/// nothing).
pub fn index_build(
    session: &Session,
    req: &IndexBuildRequest,
    progress: &mut dyn FnMut(Progress),
    cancel: Option<&AtomicBool>,
) -> Result<IndexBuildReport> {
    let started = Instant::now();
    let opts = &req.options;
    opts.check().map_err(|e| Error::field("options", e.to_string()))?;
    if session.saes.is_empty() {
        return Err(Error::field("sae", "give at least one SAE"));
    }
    if req.logits {
        session.need_logits("the index's logit table")?;
    }
    let docs = saex_corpus::read_docs(&req.corpus, saex_corpus::Split::All)?;
    let corpus_sha = saex_cache::fingerprint(&req.corpus, session.cache.as_ref().map(saex_cache::Cache::dir))?;
    let mut saes = Vec::new();
    for (i, s) in session.saes.iter().enumerate() {
        // A directory is named by its own name, a release path by the whole id.
        let path = Path::new(&s.id);
        let base = match path.is_dir().then(|| path.canonicalize().ok()).flatten() {
            Some(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| s.id.clone()),
            None => s.id.clone(),
        };
        let name = folder_name(&base);
        if saes.iter().any(|x: &SaeRef| x.name == name) {
            return Err(Error::field("sae", format!("two SAEs would share the index folder sae={name}; give them distinct paths")));
        }
        saes.push(SaeRef {
            name,
            id: s.id.clone(),
            sha256: session.sae_fingerprint(i)?.to_string(),
            hook: s.hook.to_string(),
            d_sae: s.sae.d_sae(),
            neuronpedia_id: s.neuronpedia_id().map(str::to_string),
            label_key: Some(s.label_key.clone()),
        });
    }
    let lines = std::fs::read(&req.corpus).map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64).unwrap_or(0);
    let mut manifest = Manifest {
        format: FORMAT.into(),
        kind: if req.shard.count > 1 { "shard" } else { "index" }.into(),
        shard: (req.shard.count > 1).then_some(req.shard),
        model: ModelRef { name: session.model.info.name.clone(), sha256: session.model_fingerprint()?.to_string() },
        saes,
        corpus: CorpusRef { sha256: corpus_sha, lines, docs: 0, tokens: 0 },
        options: opts.clone(),
        files: Vec::new(),
    };
    let id = identity(&manifest);
    // A finished index (or shard) of the same inputs is reused; another one is never
    // overwritten.
    if let Ok(existing) = Manifest::read(&req.out) {
        let same = existing.kind == manifest.kind && existing.shard == manifest.shard && existing.same_build(&manifest).is_ok();
        if same {
            return Ok(IndexBuildReport { manifest: existing, resumed: false, reused: true, seconds: started.elapsed().as_secs_f64() });
        }
        return Err(Error::File {
            path: req.out.display().to_string(),
            message: format!(
                "holds an index of other inputs ({}); give another --out (nothing was overwritten)",
                existing.same_build(&manifest).err().unwrap_or_else(|| "another shard".into())
            ),
        });
    }
    // Each document's non-bos tokens (one tokenizer pass, cheap next to the model): for the
    // corpus prefix holding max_tokens tokens (every shard computes the same cut) and for
    // the progress bar.
    let mut counts = Vec::with_capacity(docs.len());
    let mut total_all = 0usize;
    for d in &docs {
        if opts.max_tokens > 0 && total_all >= opts.max_tokens {
            break;
        }
        let ids = session.tokenize_ids(&d.text, session.model.add_bos())?;
        let n = ids.len().min(opts.ctx).saturating_sub(session.bos_skip(&ids)) as u64;
        total_all += n as usize;
        counts.push(n);
    }
    let docs = &docs[..counts.len()];
    let total: u64 = docs.iter().zip(&counts).filter(|(d, _)| req.shard.owns(d.line / opts.block)).map(|(_, &n)| n).sum();
    let n_blocks = docs.last().map_or(0, |d| d.line / opts.block + 1);
    let names: Vec<String> = manifest.saes.iter().map(|s| s.name.clone()).collect();
    let (mut next_block, mut done, mut sketches, resumed) = match checkpoint::load(&req.out, &id, &names)? {
        Some((b, t, s)) => (b, t, s, true),
        None => (0, 0, session.saes.iter().map(|s| Sketch::new(s.sae.d_sae(), opts)).collect(), false),
    };
    progress(Progress { tokens: done, total });
    let sel: Vec<usize> = (0..session.saes.len()).collect();
    let mut last_save = Instant::now();
    let mut cursor = docs.partition_point(|d| d.line / opts.block < next_block);
    while cursor < docs.len() {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            if next_block > 0 {
                save_checkpoint(&req.out, &id, next_block, done, &names, &sketches)?;
            }
            return Err(Error::Model(saex_model::Error::Cancelled));
        }
        let b = docs[cursor].line / opts.block;
        let end = cursor + docs[cursor..].partition_point(|d| d.line / opts.block == b);
        if b >= next_block && req.shard.owns(b) {
            let block: Vec<Doc> = docs[cursor..end].iter().map(|d| tokenized(session, d, opts.ctx)).collect::<Result<_>>()?;
            let runnable: Vec<&Doc> = block.iter().filter(|d| d.ids.len() > session.bos_skip(&d.ids)).collect();
            let seqs: Vec<Vec<u32>> = runnable.iter().map(|d| d.ids.clone()).collect();
            if !seqs.is_empty() {
                for (doc, enc) in runnable.iter().zip(session.encode_batch(&sel, &seqs)?) {
                    for (sk, codes) in sketches.iter_mut().zip(&enc.codes) {
                        sk.observe(doc.line, doc.category.as_deref(), &doc.pieces, codes, enc.first_real())
                            .map_err(|e| Error::Invalid(e.to_string()))?;
                    }
                    done += (doc.ids.len() - enc.first_real()) as u64;
                }
            }
            next_block = b + 1;
            progress(Progress { tokens: done, total });
            if last_save.elapsed() >= Duration::from_secs(req.checkpoint_secs) && next_block < n_blocks {
                save_checkpoint(&req.out, &id, next_block, done, &names, &sketches)?;
                last_save = Instant::now();
            }
        }
        cursor = end;
    }
    manifest.corpus.docs = sketches.first().map_or(0, |s| s.n_docs);
    manifest.corpus.tokens = sketches.first().map_or(0, |s| s.n_tokens);
    let compute_logits = req.logits && req.shard.index == 0;
    let mut parts: Vec<SaePart> = Vec::new();
    for (i, (sae, sketch)) in manifest.saes.clone().into_iter().zip(sketches).enumerate() {
        let logits = if compute_logits { Some(logit_tables(session, i, req.logit_k)?) } else { None };
        parts.push(SaePart { sae, sketch, logits });
    }
    let manifest = if req.shard.count > 1 {
        write_shard(&req.out, manifest, &mut parts)
    } else {
        write_index(&req.out, manifest, &mut parts, &write_stats)
    }
    .map_err(index_err)?;
    checkpoint::clear(&req.out).map_err(index_err)?;
    Ok(IndexBuildReport { manifest, resumed, reused: false, seconds: started.elapsed().as_secs_f64() })
}

/// Merge the shards in `dirs` into the index at `out` (byte for byte the index one run
/// would have written). Refuses to overwrite an index in `out`.
pub fn index_merge(dirs: &[PathBuf], out: &Path) -> Result<Manifest> {
    if Manifest::read(out).is_ok() {
        return Err(Error::File {
            path: out.display().to_string(),
            message: "already holds an index; give another --out (nothing was overwritten)".into(),
        });
    }
    let (manifest, mut parts) = merge_shards(dirs).map_err(index_err)?;
    write_index(out, manifest, &mut parts, &write_stats).map_err(index_err)
}

fn index_err(e: saex_index::Error) -> Error {
    e.into()
}

/// Errors of the index crate as engine errors (queries from every face).
pub fn from_index(e: saex_index::Error) -> Error {
    e.into()
}

/// Check that `manifest` is an index of the session's model and of SAEs it has loaded (by
/// content hash, not by path), so a server never answers from an index of other weights.
pub fn check_index_matches(session: &Session, manifest: &Manifest, dir: &Path) -> Result<()> {
    let here = dir.display().to_string();
    let model = session.model_fingerprint()?;
    if manifest.model.sha256 != model {
        return Err(Error::File {
            path: here,
            message: format!(
                "an index of another model ({}, sha256 {}…), not the loaded {} ({}…)",
                manifest.model.name,
                &manifest.model.sha256[..12.min(manifest.model.sha256.len())],
                session.model.info.name,
                &model[..12.min(model.len())]
            ),
        });
    }
    let loaded: Vec<String> = (0..session.saes.len()).map(|i| session.sae_fingerprint(i).map(str::to_string)).collect::<Result<_>>()?;
    for s in &manifest.saes {
        if !loaded.contains(&s.sha256) {
            return Err(Error::File {
                path: here,
                message: format!(
                    "indexes SAE {} (sha256 {}…), which is not among the loaded SAEs (give it with --sae)",
                    s.id,
                    &s.sha256[..12.min(s.sha256.len())]
                ),
            });
        }
    }
    Ok(())
}
