//! `saex index build | merge`, `saex feature`, `saex top-texts --index` and `saex dashboard`
//! end to end on the tiny GPT-2 fixture (fast) and, for the pages, the real demo model:
//! a run killed with SIGKILL resumes to the same bytes, N processes of shards merge into the
//! single run, DuckDB reads the Parquet and gets saex's answer, pages work in chromium.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{check_page, fails_with, saex};

fn root() -> PathBuf {
    saex_testutil::root()
}

fn tiny_model() -> String {
    root().join("fixtures/parity/tiny/gpt2").to_str().unwrap().to_string()
}

fn tiny_sae() -> String {
    root().join("fixtures/models/tiny-gpt2-l1").to_str().unwrap().to_string()
}

/// A corpus of `n` lines cycling through the committed sample (each line made distinct).
fn corpus(dir: &Path, n: usize) -> PathBuf {
    let sample: Vec<serde_json::Value> =
        std::fs::read_to_string(root().join("corpus/sample.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let p = dir.join("corpus.jsonl");
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let mut v = sample[i % sample.len()].clone();
            v["text"] = format!("{} ({i})", v["text"].as_str().unwrap()).into();
            v.to_string()
        })
        .collect();
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn build_args<'a>(corpus: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "index",
        "build",
        "--model",
        Box::leak(tiny_model().into_boxed_str()),
        "--sae",
        Box::leak(tiny_sae().into_boxed_str()),
        "--corpus",
        corpus,
        "--out",
        out,
        "--block",
        "4",
        "--ctx",
        "64",
    ]
}

fn ok(o: std::process::Output) -> std::process::Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
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

/// SIGKILL a real build after its first checkpoint, rerun it with the same arguments: it
/// resumes, and the index is identical (every file) to an uninterrupted run's.
#[test]
fn a_killed_build_resumes_to_the_same_index() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), 1000);
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    ok(saex(&build_args(c.to_str().unwrap(), whole.to_str().unwrap())));
    let mut child = Command::new(env!("CARGO_BIN_EXE_saex"))
        .args(build_args(c.to_str().unwrap(), killed.to_str().unwrap()))
        .args(["--checkpoint-secs", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let progress = killed.join("checkpoint/progress.json");
    let t = Instant::now();
    while !progress.exists() && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(progress.exists(), "no checkpoint was written before the kill");
    assert!(!killed.join("manifest.json").exists(), "the run finished before it could be killed");
    let out = ok(saex(&build_args(c.to_str().unwrap(), killed.to_str().unwrap())));
    assert!(String::from_utf8_lossy(&out.stdout).contains("resumed from its checkpoint"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!killed.join("checkpoint").exists());
    let (a, b) = (tree(&whole), tree(&killed));
    assert_eq!(a.len(), b.len());
    for ((n, x), (m, y)) in a.iter().zip(&b) {
        assert_eq!(n, m);
        assert!(x == y, "{n} differs after the resume");
    }
}

/// Three processes, one shard each, then `saex index merge`: the single run's files.
#[test]
fn three_shard_processes_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), 60);
    let whole = dir.path().join("whole");
    ok(saex(&build_args(c.to_str().unwrap(), whole.to_str().unwrap())));
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("s{i}"))).collect();
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut args = build_args(c.to_str().unwrap(), shards[i].to_str().unwrap());
            args.extend(["--shard", Box::leak(format!("{i}/3").into_boxed_str())]);
            Command::new(env!("CARGO_BIN_EXE_saex")).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for ch in children {
        let o = ch.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // The scheduler's environment picks the shard too (Slurm array task 1 of 3).
    let env_shard = dir.path().join("env1");
    let o = Command::new(env!("CARGO_BIN_EXE_saex"))
        .args(build_args(c.to_str().unwrap(), env_shard.to_str().unwrap()))
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ok(o).stdout).contains("shard 1/3"));
    assert_eq!(tree(&env_shard), tree(&shards[1]));
    let merged = dir.path().join("merged");
    let mut args = vec!["index", "merge"];
    args.extend(shards.iter().rev().map(|s| s.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    ok(saex(&args));
    assert!(tree(&whole) == tree(&merged), "merge(shards) != single run");
    // Shards of another corpus do not merge with these.
    let c2 = dir.path().join("other.jsonl");
    std::fs::write(&c2, std::fs::read_to_string(&c).unwrap().replace("(1)", "(one)")).unwrap();
    let other = dir.path().join("other-s2");
    let mut a2 = build_args(c2.to_str().unwrap(), other.to_str().unwrap());
    a2.extend(["--shard", "2/3"]);
    ok(saex(&a2));
    let bad = dir.path().join("bad");
    let o = saex(&[
        "index",
        "merge",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        other.to_str().unwrap(),
        "--out",
        bad.to_str().unwrap(),
    ]);
    fails_with(&o, &["another corpus"]);
    assert!(!bad.join("manifest.json").exists());
}

fn python() -> PathBuf {
    let p = root().join(".venv-tests/bin/python");
    assert!(p.exists(), "the Python checks need scripts/setup-python.sh (duckdb, numpy)");
    p
}

/// DuckDB reads the Parquet as is (Hive partitions) and gets the same top texts and
/// statistics as `saex top-texts --index` and `saex feature`.
#[test]
fn duckdb_reads_the_index_and_agrees_with_saex() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), 40);
    let ix = dir.path().join("ix");
    ok(saex(&build_args(c.to_str().unwrap(), ix.to_str().unwrap())));
    // The most frequent feature, by saex.
    let sql = r#"import duckdb, json, sys
ix = sys.argv[1]
con = duckdb.connect()
f = con.execute("select feature from read_parquet('{}/*/features.parquet', hive_partitioning=true) order by firing_count desc, feature limit 1".format(ix)).fetchone()[0]
rows = con.execute("select act, position, array_to_string(tokens, '') from read_parquet('{}/*/examples.parquet', hive_partitioning=true) where feature = ? and kind = 'top' order by rank".format(ix), [f]).fetchall()
st = con.execute("select firing_count, mean, sae from read_parquet('{}/*/features.parquet', hive_partitioning=true) where feature = ?".format(ix), [f]).fetchone()
print(json.dumps({'feature': f, 'top': [[a, p, t] for a, p, t in rows], 'firing_count': st[0], 'mean': st[1], 'sae': st[2]}))"#;
    let o = Command::new(python()).args(["-c", sql, ix.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = d["feature"].as_u64().unwrap().to_string();
    assert_eq!(d["sae"], "tiny-gpt2-l1", "the Hive partition column");
    let ours: Vec<serde_json::Value> =
        serde_json::from_slice(&ok(saex(&["top-texts", "--index", ix.to_str().unwrap(), "--feature", &f, "--k", "20", "--json"])).stdout)
            .unwrap();
    let theirs = d["top"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(a["activation"].as_f64().unwrap() as f32, b[0].as_f64().unwrap() as f32);
        assert_eq!(a["position"], b[1]);
        assert_eq!(a["text"], b[2]);
    }
    let rec: serde_json::Value =
        serde_json::from_slice(&ok(saex(&["feature", "--index", ix.to_str().unwrap(), &f, "--json"])).stdout).unwrap();
    assert_eq!(rec["stats"]["firing_count"], d["firing_count"]);
    assert_eq!(rec["stats"]["mean"].as_f64().unwrap() as f32, d["mean"].as_f64().unwrap() as f32);
}

#[test]
fn bad_index_input_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), 12);
    let ix = dir.path().join("ix");
    ok(saex(&build_args(c.to_str().unwrap(), ix.to_str().unwrap())));
    fails_with(&saex(&["feature", "--index", ix.to_str().unwrap(), "99999"]), &["out of range", "d_sae"]);
    fails_with(&saex(&["feature", "--index", dir.path().to_str().unwrap(), "1"]), &["no manifest.json"]);
    fails_with(&saex(&["top-texts", "--index", ix.to_str().unwrap(), "--feature", "1", "--sae", "nope"]), &["holds no SAE", "nope"]);
    let t = ix.join("sae=tiny-gpt2-l1/features.parquet");
    let bytes = std::fs::read(&t).unwrap();
    std::fs::write(&t, &bytes[..bytes.len() - 10]).unwrap();
    fails_with(&saex(&["feature", "--index", ix.to_str().unwrap(), "1"]), &["features.parquet", "truncated"]);
    // An index of another SAE: a rebuild into it with another SAE is refused.
    std::fs::write(&t, &bytes).unwrap();
    let other_sae = dir.path().join("sae2");
    std::fs::create_dir_all(&other_sae).unwrap();
    for f in ["cfg.json", "sae_weights.safetensors"] {
        std::fs::copy(Path::new(&tiny_sae()).join(f), other_sae.join(f)).unwrap();
    }
    let mut w = std::fs::read(other_sae.join("sae_weights.safetensors")).unwrap();
    let n = w.len();
    w[n - 1] ^= 1; // other weights, other sha256
    std::fs::write(other_sae.join("sae_weights.safetensors"), w).unwrap();
    let args = [
        "index",
        "build",
        "--model",
        &tiny_model(),
        "--sae",
        other_sae.to_str().unwrap(),
        "--corpus",
        c.to_str().unwrap(),
        "--out",
        ix.to_str().unwrap(),
        "--block",
        "4",
        "--ctx",
        "64",
    ];
    fails_with(&saex(&args), &["other inputs", "nothing was overwritten"]);
    // ...and a server of another SAE will not answer from it.
    let serve =
        ["serve", "--addr", "127.0.0.1:0", "--model", &tiny_model(), "--sae", other_sae.to_str().unwrap(), "--index", ix.to_str().unwrap()];
    fails_with(&saex(&serve), &["indexes SAE", "not among the loaded SAEs"]);
    // Empty corpus.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let e_out = dir.path().join("e");
    let args = [
        "index",
        "build",
        "--model",
        &tiny_model(),
        "--sae",
        &tiny_sae(),
        "--corpus",
        empty.to_str().unwrap(),
        "--out",
        e_out.to_str().unwrap(),
    ];
    fails_with(&saex(&args), &["empty.jsonl", "no text"]);
}

/// Dashboards of the real demo SAE over a slice of the committed corpus sample: the browse
/// page finds a feature by id and by label, a dashboard shows values on hover.
#[test]
fn dashboards_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let ix = dir.path().join("ix");
    let c = root().join("corpus/sample.jsonl");
    ok(saex(&[
        "index",
        "build",
        "--model",
        &common::gemma(),
        "--sae",
        &common::demo_sae(),
        "--corpus",
        c.to_str().unwrap(),
        "--out",
        ix.to_str().unwrap(),
    ]));
    let out = dir.path().join("dash");
    ok(saex(&["dashboard", "--index", ix.to_str().unwrap(), "--top-frequent", "12", "--out", out.to_str().unwrap()]));
    let listed: Vec<u32> = std::fs::read_dir(out.join("features"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed.len(), 12);
    let report = check_page(&out.join("index.html"), "browse", &dir.path().join("browse.png"));
    assert!(report.contains("\"found\":true"), "{report}");
    let page = out.join(format!("features/{}.html", listed[0]));
    let report = check_page(&page, "dashboard", &dir.path().join("dashboard.png"));
    assert!(report.contains("\"examples\""), "{report}");
}
