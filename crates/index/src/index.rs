//! An index folder: opening and checking it, answering queries, and writing it (a finished
//! index from sketches, a shard, a checkpoint) so that a reader never sees half of one.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::manifest::{FileRef, Manifest, SaeRef};
use crate::record::{finalize, FeatureRecord, IndexedExample, LogitTokens, Stats};
use crate::sketch::Sketch;
use crate::store;

/// An index on disk, opened and checked.
#[derive(Debug, Clone)]
pub struct Index {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::file(path, e)
}

impl Index {
    /// Open `dir`: its manifest must be a finished index's, and every file it lists present
    /// with its size.
    pub fn open(dir: &Path) -> Result<Index> {
        let manifest = Manifest::read(dir)?;
        if manifest.kind != "index" {
            return Err(Error::file(
                dir,
                format!("a {} of an index, not an index: merge the shards first (saex index merge)", manifest.kind),
            ));
        }
        manifest.check_files(dir)?;
        Ok(Index { dir: dir.to_path_buf(), manifest })
    }

    fn sae_dir(&self, sae: &SaeRef) -> PathBuf {
        self.dir.join(format!("sae={}", sae.name))
    }

    fn feature(&self, sae: Option<&str>, feature: u32) -> Result<(&SaeRef, PathBuf)> {
        let s = self.manifest.sae(sae)?;
        if feature as usize >= s.d_sae {
            return Err(Error::NotFound(format!(
                "feature {feature} is out of range: {} has d_sae {} (0..={})",
                s.id,
                s.d_sae,
                s.d_sae - 1
            )));
        }
        Ok((s, self.sae_dir(s)))
    }

    /// Everything about one feature.
    pub fn record(&self, sae: Option<&str>, feature: u32) -> Result<FeatureRecord> {
        let (s, dir) = self.feature(sae, feature)?;
        store::read_record(&dir, &s.id, feature)
    }

    /// The feature's `k` strongest examples, strongest first.
    pub fn top_texts(&self, sae: Option<&str>, feature: u32, k: usize) -> Result<Vec<IndexedExample>> {
        let (_, dir) = self.feature(sae, feature)?;
        let (mut top, _) = store::read_examples(&dir, feature, Some("top"))?;
        top.truncate(k);
        Ok(top)
    }

    /// Every feature's statistics, in feature order.
    pub fn all_stats(&self, sae: Option<&str>) -> Result<Vec<(u32, Stats)>> {
        let s = self.manifest.sae(sae)?;
        store::read_all_stats(&self.sae_dir(s))
    }
}

/// Where a staged write goes before it is published.
fn staging(out: &Path) -> PathBuf {
    out.join(format!(".staging-{}", std::process::id()))
}

/// Move every entry of `stage` into `out` (renames within one file system), then
/// `manifest.json` last: until that rename, `out` holds no (new) index.
fn publish(stage: &Path, out: &Path) -> Result<()> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(stage).map_err(io(stage))?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>().map_err(io(stage))?;
    entries.sort_by_key(|p| p.file_name() == Some("manifest.json".as_ref()));
    for from in entries {
        let name = from.file_name().ok_or_else(|| Error::file(&from, "no file name"))?;
        let to = out.join(name);
        if to.is_dir() {
            std::fs::remove_dir_all(&to).map_err(io(&to))?;
        }
        std::fs::rename(&from, &to).map_err(io(&to))?;
    }
    std::fs::remove_dir(stage).map_err(io(stage))
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<FileRef>) -> Result<()> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(io(dir))?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>().map_err(io(dir))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            list_files(root, &p, out)?;
        } else {
            let rel = p.strip_prefix(root).map_err(|_| Error::file(&p, "outside the index"))?.to_string_lossy().replace('\\', "/");
            out.push(FileRef { path: rel, bytes: std::fs::metadata(&p).map_err(io(&p))?.len() });
        }
    }
    Ok(())
}

/// What one SAE brings to a finished index: its sketch, its logit tokens (one per feature)
/// when computed, and extra files to place in its folder (e.g. `feature_stats.safetensors`,
/// written by the engine that owns that format).
pub struct SaePart {
    /// Its manifest entry.
    pub sae: SaeRef,
    /// Its sketch (canonicalised by the writer).
    pub sketch: Sketch,
    /// Top ± logit tokens per feature.
    pub logits: Option<Vec<LogitTokens>>,
}

/// Write a finished index into `out` (created if needed): each SAE's tables, then
/// `extra(sae folder, part)` for files other crates own, then the manifest. Staged and
/// published so a reader never sees half of it.
pub fn write_index(
    out: &Path,
    mut manifest: Manifest,
    parts: &mut [SaePart],
    extra: &dyn Fn(&Path, &SaePart) -> Result<()>,
) -> Result<Manifest> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let stage = staging(out);
    if stage.exists() {
        std::fs::remove_dir_all(&stage).map_err(io(&stage))?;
    }
    for part in parts.iter_mut() {
        part.sketch.canonicalise();
        let dir = stage.join(format!("sae={}", part.sae.name));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mut records: Vec<FeatureRecord> = (0..part.sketch.d_sae).map(|f| finalize(&part.sketch, &part.sae.id, f)).collect();
        if let Some(l) = &part.logits {
            for (r, t) in records.iter_mut().zip(l) {
                r.logits = Some(t.clone());
            }
        }
        store::write_tables(&dir, &records)?;
        extra(&dir, part)?;
    }
    manifest.kind = "index".into();
    manifest.files.clear();
    list_files(&stage, &stage, &mut manifest.files)?;
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Invalid(e.to_string()))? + "\n";
    std::fs::write(stage.join("manifest.json"), text).map_err(io(&stage))?;
    publish(&stage, out)?;
    Ok(manifest)
}

/// Write a shard (its sketches, and logit tokens when it computed them) into `out`.
pub fn write_shard(out: &Path, mut manifest: Manifest, parts: &mut [SaePart]) -> Result<Manifest> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let stage = staging(out);
    if stage.exists() {
        std::fs::remove_dir_all(&stage).map_err(io(&stage))?;
    }
    for part in parts.iter_mut() {
        part.sketch.canonicalise();
        let dir = stage.join(format!("sae={}", part.sae.name));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        std::fs::write(dir.join("sketch.bin"), part.sketch.to_bytes()?).map_err(io(&dir))?;
        if let Some(l) = &part.logits {
            std::fs::write(dir.join("logits.json"), serde_json::to_vec(l).map_err(|e| Error::Invalid(e.to_string()))?).map_err(io(&dir))?;
        }
    }
    manifest.kind = "shard".into();
    manifest.files.clear();
    list_files(&stage, &stage, &mut manifest.files)?;
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Invalid(e.to_string()))? + "\n";
    std::fs::write(stage.join("manifest.json"), text).map_err(io(&stage))?;
    publish(&stage, out)?;
    Ok(manifest)
}

/// Read a shard folder: its manifest and each SAE's part.
pub fn read_shard(dir: &Path) -> Result<(Manifest, Vec<SaePart>)> {
    let m = Manifest::read(dir)?;
    if m.kind != "shard" {
        return Err(Error::file(dir, format!("a {}, not a shard: merge takes the folders `saex index build --shard I/N` wrote", m.kind)));
    }
    m.check_files(dir)?;
    let mut parts = Vec::new();
    for s in &m.saes {
        let d = dir.join(format!("sae={}", s.name));
        let p = d.join("sketch.bin");
        let sketch = Sketch::from_bytes(&std::fs::read(&p).map_err(io(&p))?).map_err(|e| Error::file(&p, e))?;
        if sketch.d_sae != s.d_sae {
            return Err(Error::file(&p, format!("d_sae {}, the manifest says {}", sketch.d_sae, s.d_sae)));
        }
        let lp = d.join("logits.json");
        let logits = if lp.is_file() {
            Some(
                serde_json::from_slice(&std::fs::read(&lp).map_err(io(&lp))?)
                    .map_err(|e| Error::file(&lp, format!("not logit tokens: {e}")))?,
            )
        } else {
            None
        };
        parts.push(SaePart { sae: s.clone(), sketch, logits });
    }
    Ok((m, parts))
}

/// Merge the shards in `dirs` (all `N` of one build, each once) into one set of parts and
/// the manifest of the whole.
pub fn merge_shards(dirs: &[PathBuf]) -> Result<(Manifest, Vec<SaePart>)> {
    let mut shards = Vec::new();
    for d in dirs {
        shards.push(read_shard(d)?);
    }
    let Some((first, _)) = shards.first() else { return Err(Error::Invalid("give at least one shard folder".into())) };
    let n = first.shard.map_or(1, |s| s.count);
    let mut seen = vec![false; n];
    for (d, (m, _)) in dirs.iter().zip(&shards) {
        first
            .same_build(m)
            .map_err(|why| Error::Mismatch(format!("{}: not a shard of the same build as {}: {why}", d.display(), dirs[0].display())))?;
        let s = m.shard.ok_or_else(|| Error::file(d, "a shard manifest without its shard"))?;
        if s.count != n {
            return Err(Error::Mismatch(format!(
                "{}: shard {}/{}, but {} is one of {n}",
                d.display(),
                s.index,
                s.count,
                dirs[0].display()
            )));
        }
        if std::mem::replace(&mut seen[s.index], true) {
            return Err(Error::Mismatch(format!("{}: shard {}/{n} is given twice", d.display(), s.index)));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(Error::Mismatch(format!("shard {missing}/{n} is missing ({} of {n} given)", dirs.len())));
    }
    let mut shards = shards.into_iter();
    let (mut manifest, mut parts) = shards.next().ok_or_else(|| Error::Invalid("no shard".into()))?;
    for (m, more) in shards {
        manifest.corpus.docs += m.corpus.docs;
        manifest.corpus.tokens += m.corpus.tokens;
        for (p, q) in parts.iter_mut().zip(more) {
            p.sketch.merge(q.sketch)?;
            if p.logits.is_none() {
                p.logits = q.logits;
            }
        }
    }
    manifest.shard = None;
    Ok((manifest, parts))
}

/// A run's checkpoint in `out/checkpoint/`: the sketches so far and the next block to run,
/// tagged with the identity of the run (a rerun with other arguments must not resume it).
pub mod checkpoint {
    use super::*;

    /// The checkpoint folder of `out`.
    pub fn dir(out: &Path) -> PathBuf {
        out.join("checkpoint")
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Progress {
        identity: String,
        generation: u64,
        next_block: usize,
        tokens_done: u64,
    }

    /// Save: the sketches of a new generation first, then `progress.json` pointing at them
    /// (an atomic rename), then the previous generation is removed. A kill at any point
    /// leaves the last complete generation readable.
    pub fn save(out: &Path, identity: &str, next_block: usize, tokens_done: u64, sketches: &[(String, &Sketch)]) -> Result<()> {
        let d = dir(out);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
        let previous = read_progress(&d).map(|p| p.generation);
        let generation = previous.map_or(0, |g| g + 1);
        for (name, s) in sketches {
            let p = d.join(format!("{generation}-{name}.sketch"));
            let tmp = p.with_extension("partial");
            std::fs::write(&tmp, s.to_bytes()?).map_err(io(&tmp))?;
            std::fs::rename(&tmp, &p).map_err(io(&p))?;
        }
        let progress = Progress { identity: identity.to_string(), generation, next_block, tokens_done };
        let tmp = d.join("progress.json.partial");
        std::fs::write(&tmp, serde_json::to_vec(&progress).map_err(|e| Error::Invalid(e.to_string()))?).map_err(io(&tmp))?;
        std::fs::rename(&tmp, d.join("progress.json")).map_err(io(&d))?;
        if let Some(g) = previous {
            for (name, _) in sketches {
                let _ = std::fs::remove_file(d.join(format!("{g}-{name}.sketch")));
            }
        }
        Ok(())
    }

    fn read_progress(d: &Path) -> Option<Progress> {
        serde_json::from_slice(&std::fs::read(d.join("progress.json")).ok()?).ok()
    }

    /// Load the checkpoint of `out` if it belongs to the run `identity`: (next block, tokens
    /// done, sketches by name). Another run's checkpoint is an error (never silently
    /// discarded or mixed in).
    pub fn load(out: &Path, identity: &str, names: &[String]) -> Result<Option<(usize, u64, Vec<Sketch>)>> {
        let d = dir(out);
        if !d.exists() {
            return Ok(None);
        }
        let Some(p) = read_progress(&d) else { return Ok(None) };
        if p.identity != identity {
            return Err(Error::Mismatch(format!(
                "{} holds the checkpoint of a run with other arguments (model, SAEs, corpus, options or shard); give another --out or remove it",
                out.display()
            )));
        }
        let mut sketches = Vec::new();
        for name in names {
            let f = d.join(format!("{}-{name}.sketch", p.generation));
            sketches.push(Sketch::from_bytes(&std::fs::read(&f).map_err(io(&f))?).map_err(|e| Error::file(&f, e))?);
        }
        Ok(Some((p.next_block, p.tokens_done, sketches)))
    }

    /// Remove the checkpoint (after the run's results are published).
    pub fn clear(out: &Path) -> Result<()> {
        let d = dir(out);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(io(&d))?;
        }
        Ok(())
    }
}
