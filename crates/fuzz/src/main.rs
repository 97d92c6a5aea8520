//! `saex-fuzz`: run a fuzz target for a number of executions or a time, in a child process
//! under a memory limit, restarting it after an abort or a hang (both findings, with the
//! input that caused them), and print the figures as JSON.
//!
//!     saex-fuzz list
//!     saex-fuzz run TARGET [--execs 1000000] [--seconds S] [--seed 0] [--crashes DIR]
//!     saex-fuzz replay TARGET FILE...

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use saex_fuzz::{fuzz, prepare, Config, Finding, Outcome, Report};

#[derive(Parser)]
#[command(about = "Fuzz saex's parsers with mutations of real files")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The targets, one per line.
    List {
        /// Also what each reads (tab-separated).
        #[arg(long)]
        about: bool,
    },
    /// Fuzz one target.
    Run {
        target: String,
        #[arg(long, default_value_t = 1_000_000)]
        execs: u64,
        /// Stop after this many seconds (whichever comes first).
        #[arg(long)]
        seconds: Option<f64>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where findings' inputs are saved.
        #[arg(long, default_value = "target/fuzz-findings")]
        crashes: PathBuf,
        /// The child's address-space limit (MiB): a size read from a file must be refused,
        /// not allocated.
        #[arg(long, default_value_t = 6144)]
        mem_mb: u64,
        /// A child silent this long is hung (seconds).
        #[arg(long, default_value_t = 60)]
        hang: u64,
        /// Longest input, bytes.
        #[arg(long, default_value_t = 1 << 20)]
        max_len: usize,
    },
    /// Run saved inputs once each and say what they did.
    Replay { target: String, files: Vec<PathBuf> },
    /// (internal) The child `run` starts.
    #[command(hide = true)]
    Child {
        target: String,
        #[arg(long)]
        execs: u64,
        #[arg(long)]
        seconds: Option<f64>,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        crashes: PathBuf,
        #[arg(long)]
        scratch: PathBuf,
        #[arg(long)]
        max_len: usize,
    },
}

fn root() -> PathBuf {
    std::env::var_os("SAEX_ROOT").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

fn scratch_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && std::fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly()) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::List { about } => {
            for n in saex_fuzz::names() {
                out(&if about { format!("{n}\t{}", saex_fuzz::about(n)) } else { n.to_string() });
            }
        }
        Cmd::Replay { target, files } => {
            let scratch = scratch_base().join(format!("saex-fuzz-replay-{}", std::process::id()));
            let t = prepare(&target, &root(), &scratch)?;
            saex_fuzz::quiet_panics();
            for f in files {
                let input = std::fs::read(&f)?;
                let what = match t.run(&input) {
                    Outcome::Ok => "accepted".to_string(),
                    Outcome::Rejected(m) => format!("rejected: {m}"),
                    Outcome::Finding(m) => format!("FINDING: {m}"),
                };
                out(&format!("{}: {what}", f.display()));
            }
            let _ = std::fs::remove_dir_all(scratch);
        }
        Cmd::Child { target, execs, seconds, seed, crashes, scratch, max_len } => {
            let t = prepare(&target, &root(), &scratch)?;
            let cfg = Config { execs, time: seconds.map(Duration::from_secs_f64), seed, max_len, crashes: Some(crashes) };
            let r = fuzz(&target, &t, &cfg, |r| out(&serde_json::to_string(r).unwrap_or_default()));
            out(&serde_json::to_string(&r)?);
            out("done");
        }
        Cmd::Run { target, execs, seconds, seed, crashes, mem_mb, hang, max_len } => {
            let r = run(&target, execs, seconds, seed, &crashes, mem_mb, hang, max_len)?;
            out(&serde_json::to_string_pretty(&r)?);
        }
    }
    Ok(())
}

/// Run children until `execs` (or the time) are used up; a child that dies or hangs is a
/// finding, its input kept, and a new child goes on with another seed.
#[allow(clippy::too_many_arguments)]
fn run(
    target: &str,
    execs: u64,
    seconds: Option<f64>,
    seed: u64,
    crashes: &Path,
    mem_mb: u64,
    hang: u64,
    max_len: usize,
) -> anyhow::Result<Report> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let mut total = Report { target: target.into(), ..Default::default() };
    let mut attempt = 0;
    while total.execs < execs && seconds.is_none_or(|s| start.elapsed().as_secs_f64() < s) {
        let scratch = scratch_base().join(format!("saex-fuzz-{}-{target}-{attempt}", std::process::id()));
        let left = seconds.map(|s| (s - start.elapsed().as_secs_f64()).max(1.0));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", mem_mb * 1024))
            .arg(&exe)
            .args(["child", target, "--execs", &(execs - total.execs).to_string(), "--seed", &(seed + attempt).to_string()])
            .arg("--crashes")
            .arg(crashes)
            .arg("--scratch")
            .arg(&scratch)
            .args(["--max-len", &max_len.to_string()]);
        if let Some(l) = left {
            cmd.args(["--seconds", &l.to_string()]);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut last: Option<Report> = None;
        let mut done = false;
        let mut hung = false;
        loop {
            match rx.recv_timeout(Duration::from_secs(hang)) {
                Ok(line) if line == "done" => done = true,
                Ok(line) => last = serde_json::from_str(&line).ok().or(last),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    hung = true;
                    let _ = child.kill();
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait()?;
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        let r = last.unwrap_or_default();
        total.execs += r.execs.max(1);
        total.accepted += r.accepted;
        total.distinct_errors = total.distinct_errors.max(r.distinct_errors);
        total.pool = total.pool.max(r.pool);
        total.findings.extend(r.findings);
        if !done {
            if r.execs == 0 && !hung && stderr.contains("error:") {
                anyhow::bail!("target `{target}` cannot start: {}", stderr.trim());
            }
            let input = std::fs::read(saex_fuzz::current_path(&scratch, target, &root()));
            let saved = input.ok().and_then(|i| saex_fuzz::save(crashes, target, &i).ok());
            let how = if hung {
                format!("hang: no progress for {hang} s")
            } else {
                format!("the child died ({status}): {}", stderr.lines().last().unwrap_or(""))
            };
            total.findings.push(Finding { message: how, input: saved.map(|p| p.display().to_string()) });
        }
        let _ = std::fs::remove_dir_all(&scratch);
        attempt += 1;
    }
    total.secs = start.elapsed().as_secs_f64();
    Ok(total)
}
