//! Fuzzing of every parser that reads a user's file or request (issue "Hardening").
//!
//! A target is a loader saex's verbs call ([`targets::FILE_TARGETS`]) or the HTTP router
//! ([`http`]); [`fuzz`] feeds it mutations ([`mutate`]) of real files, catches panics, and
//! keeps every input that produced an error message not seen before as a new seed: without
//! compiler coverage on the stable toolchain, a new message is the sign that an input got
//! somewhere new in the parser. The `saex-fuzz` binary runs a target in a child process
//! under a memory limit, so an abort (an allocation of a size read from a file) or a hang is
//! caught too; `tests/smoke.rs` runs every target briefly and replays `fuzz/regressions/`.

#![deny(missing_docs)]

pub mod http;
pub mod mutate;
pub mod structure;
pub mod targets;

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::targets::{FileTarget, FILE_TARGETS};

/// The names of all targets.
pub fn names() -> Vec<&'static str> {
    FILE_TARGETS.iter().map(|t| t.name).chain(["http"]).collect()
}

/// One description per target, for `docs/fuzzing.md`.
pub fn about(name: &str) -> &'static str {
    FILE_TARGETS
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.about)
        .unwrap_or("every HTTP route (saex's and Neuronpedia's): method, path and JSON body")
}

/// A target ready to run.
pub struct Prepared {
    runner: Runner,
    /// The unmutated seeds.
    pub seeds: Vec<Vec<u8>>,
    text: bool,
    fields: Option<targets::Fields>,
    /// The file that holds the input being run (what to keep when the process dies).
    pub current: PathBuf,
}

enum Runner {
    /// `files`: the one file an input replaces, or for several (the index's tables) the
    /// first input byte picks which, and the original is put back after the run.
    File {
        dir: PathBuf,
        files: Vec<(PathBuf, Vec<u8>)>,
        target: &'static FileTarget,
    },
    Http(Box<http::HttpTarget>),
}

/// Prepare target `name`: copy its template into `scratch`, read its seeds from `root`.
pub fn prepare(name: &str, root: &Path, scratch: &Path) -> anyhow::Result<Prepared> {
    std::fs::create_dir_all(scratch)?;
    if name == "http" {
        let (t, seeds) = http::HttpTarget::new(root, scratch)?;
        return Ok(Prepared { runner: Runner::Http(Box::new(t)), seeds, text: true, fields: None, current: scratch.join("current") });
    }
    let target = FILE_TARGETS
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| anyhow::anyhow!("no target `{name}`; targets: {}", names().join(", ")))?;
    let dir = scratch.join("t");
    if let Some(tpl) = target.template {
        copy_dir(&root.join(tpl), &dir)?;
    } else {
        std::fs::create_dir_all(&dir)?;
    }
    let read = |p: &Path| std::fs::read(p).map_err(|e| anyhow::anyhow!("seed {}: {e}", p.display()));
    let current = current_path(scratch, target.name, root);
    if target.file == targets::PARQUET {
        let mut tables = targets::parquet_files(&dir, &dir);
        tables.sort();
        let mut files = Vec::new();
        let mut seeds = Vec::new();
        for (i, t) in tables.iter().enumerate() {
            let bytes = read(&dir.join(t))?;
            seeds.push([&[i as u8][..], &bytes].concat());
            files.push((dir.join(t), bytes));
        }
        return Ok(Prepared { runner: Runner::File { dir, files, target }, seeds, text: false, fields: None, current });
    }
    let seeds = target.seeds.iter().map(|s| read(&root.join(s))).collect::<anyhow::Result<_>>()?;
    let runner = Runner::File { dir, files: vec![(current.clone(), Vec::new())], target };
    Ok(Prepared { runner, seeds, text: target.text, fields: target.fields, current })
}

/// Where a target's input being run is kept (what to save when the process dies): the file
/// a single-file target replaces, else `SCRATCH/current`.
pub fn current_path(scratch: &Path, target: &str, root: &Path) -> PathBuf {
    match FILE_TARGETS.iter().find(|t| t.name == target) {
        Some(t) if t.file != targets::PARQUET => scratch.join("t").join(targets::resolve_file(root, t)),
        _ => scratch.join("current"),
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), dest)?;
        }
    }
    Ok(())
}

/// What one input did.
pub enum Outcome {
    /// Accepted (loaded, or answered 2xx).
    Ok,
    /// Refused with this message (the expected way to meet bad input).
    Rejected(String),
    /// A bug: a panic, or a 5xx.
    Finding(String),
}

static PANIC: Mutex<String> = Mutex::new(String::new());

/// Route panic messages to [`PANIC`] instead of stderr (a fuzz run panics on purpose).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut p) = PANIC.lock() {
            *p = info.to_string();
        }
    }));
}

impl Prepared {
    /// Run one input.
    pub fn run(&self, input: &[u8]) -> Outcome {
        let res = catch_unwind(AssertUnwindSafe(|| {
            std::fs::write(&self.current, input).map_err(|e| format!("scratch write: {e}"))?;
            Ok(match &self.runner {
                Runner::File { dir, files, target } if files.len() > 1 => {
                    let Some((&pick, rest)) = input.split_first() else { return Ok(Some("empty".into())) };
                    let (file, original) = &files[pick as usize % files.len()];
                    std::fs::write(file, rest).map_err(|e| format!("scratch write: {e}"))?;
                    let res = (target.load)(dir, file).err();
                    std::fs::write(file, original).map_err(|e| format!("scratch write: {e}"))?;
                    res
                }
                Runner::File { dir, files, target } => (target.load)(dir, &files[0].0).err(),
                Runner::Http(h) => h.run(input)?.err(),
            })
        }));
        match res {
            Ok(Ok(None)) => Outcome::Ok,
            Ok(Ok(Some(msg))) => Outcome::Rejected(msg),
            Ok(Err(finding)) => Outcome::Finding(finding),
            Err(_) => Outcome::Finding(format!("panic: {}", PANIC.lock().map(|p| p.clone()).unwrap_or_default())),
        }
    }
}

/// How long and how to fuzz.
#[derive(Debug, Clone)]
pub struct Config {
    /// Stop after this many executions.
    pub execs: u64,
    /// Or after this long.
    pub time: Option<Duration>,
    /// The random seed (a run is reproducible from it, up to timing).
    pub seed: u64,
    /// Longest input (bytes).
    pub max_len: usize,
    /// Where inputs of findings are saved (`None`: not saved).
    pub crashes: Option<PathBuf>,
}

/// A bug found.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// The panic message or the 5xx answer.
    pub message: String,
    /// Where its input was saved.
    pub input: Option<String>,
}

/// The figures of a run.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The target.
    pub target: String,
    /// Inputs run.
    pub execs: u64,
    /// Of which accepted.
    pub accepted: u64,
    /// Distinct error messages seen (digits masked).
    pub distinct_errors: usize,
    /// Seeds in the pool at the end (the given ones plus inputs that found a new message).
    pub pool: usize,
    /// Seconds.
    pub secs: f64,
    /// Bugs, one per distinct message.
    pub findings: Vec<Finding>,
}

/// An error message with digits masked: the same check failing on another number is not news.
fn signature(msg: &str) -> String {
    msg.chars().take(96).map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
}

/// Fuzz `t`; `progress` is called about every two seconds with the report so far.
pub fn fuzz(name: &str, t: &Prepared, cfg: &Config, mut progress: impl FnMut(&Report)) -> Report {
    quiet_panics();
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let mut pool = t.seeds.clone();
    let mut seen = HashSet::new();
    let mut found = HashSet::new();
    let mut r = Report { target: name.into(), ..Default::default() };
    let start = Instant::now();
    let mut last = Instant::now();
    let mut input = Vec::new();
    while r.execs < cfg.execs && cfg.time.is_none_or(|d| start.elapsed() < d) {
        // The seeds as they are first, then mutations of the pool.
        input.clear();
        if (r.execs as usize) < t.seeds.len() {
            input.extend_from_slice(&t.seeds[r.execs as usize]);
        } else if !pool.is_empty() {
            input.extend_from_slice(&pool[rng.random_range(0..pool.len())]);
            let fields = t.fields.map(|f| f(&input)).unwrap_or_default();
            mutate::mutate(&mut rng, &mut input, &pool, t.text, &fields, cfg.max_len);
        }
        r.execs += 1;
        match t.run(&input) {
            Outcome::Ok => r.accepted += 1,
            Outcome::Rejected(msg) => {
                if seen.insert(signature(&msg)) && pool.len() < 1024 {
                    pool.push(input.clone());
                }
            }
            Outcome::Finding(msg) => {
                if found.insert(signature(&msg)) {
                    let saved = cfg.crashes.as_ref().and_then(|dir| save(dir, name, &input).ok());
                    r.findings.push(Finding { message: msg, input: saved.map(|p| p.display().to_string()) });
                }
            }
        }
        if last.elapsed() > Duration::from_secs(2) {
            last = Instant::now();
            r.secs = start.elapsed().as_secs_f64();
            r.distinct_errors = seen.len();
            r.pool = pool.len();
            progress(&r);
        }
    }
    r.secs = start.elapsed().as_secs_f64();
    r.distinct_errors = seen.len();
    r.pool = pool.len();
    r
}

/// Save a finding's input as `DIR/TARGET/SHA12`.
pub fn save(dir: &Path, target: &str, input: &[u8]) -> std::io::Result<PathBuf> {
    let sha = Sha256::digest(input);
    let hex: String = sha.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(hex);
    std::fs::write(&path, input)?;
    Ok(path)
}
