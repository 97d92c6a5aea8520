//! `saex groups build | select` end to end: the tiny GPT-2 fixture writes seed 000's layout,
//! numpy reads it without pickle, and the seed's own cells 1-4 (run verbatim by
//! `fixtures/groups/run_seed_cells.py`) select exactly what `saex groups select` selects.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{fails_with, saex};

fn root() -> PathBuf {
    saex_testutil::root()
}

fn ok(o: std::process::Output) -> std::process::Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn python() -> PathBuf {
    let p = root().join(".venv-tests/bin/python");
    assert!(p.exists(), "the Python checks need scripts/setup-python.sh (numpy)");
    p
}

/// The committed corpus sample as responses grouped by category, each line twice with a
/// suffix (so every group has several responses).
fn data(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("data.jsonl");
    let mut lines = Vec::new();
    for (i, l) in std::fs::read_to_string(root().join("corpus/sample.jsonl")).unwrap().lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        for k in 0..2 {
            lines.push(serde_json::json!({ "role": v["category"], "text": format!("{} {k}{i}", v["text"].as_str().unwrap()) }).to_string());
        }
    }
    lines.push(serde_json::json!({ "text": "no role here" }).to_string());
    lines.push(serde_json::json!({ "role": "code", "text": "" }).to_string());
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn the_seeds_cells_select_what_saex_selects_on_saex_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(dir.path());
    let out = dir.path().join("groups");
    let model = root().join("fixtures/parity/tiny/gpt2");
    let sae = root().join("fixtures/models/tiny-gpt2-l1");
    let o = ok(saex(&[
        "groups",
        "build",
        "--model",
        model.to_str().unwrap(),
        "--sae",
        sae.to_str().unwrap(),
        "--data",
        d.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("11 groups") && stdout.contains("skipped 2 lines"), "{stdout}");
    // Loose thresholds so the tiny SAE selects something in most groups.
    let args = ["groups", "select", out.to_str().unwrap(), "--json", "--min-preference-ratio", "1.5", "--min-cv", "0.2"];
    let ours: serde_json::Value = serde_json::from_slice(&ok(saex(&args)).stdout).unwrap();
    // The seed's cells with the same thresholds: patch the three constants the cell sets.
    let script = format!(
        "import sys, runpy; sys.argv = ['run_seed_cells.py', {dir:?}]\n\
         import gen_seed000_fixture as g\n\
         g.CELL_1 = g.CELL_1.replace('MIN_PREFERENCE_RATIO = 5.0', 'MIN_PREFERENCE_RATIO = 1.5').replace('MIN_CV = 0.5 ', 'MIN_CV = 0.2 ')\n\
         runpy.run_path({script:?}, run_name='__main__')",
        dir = out.to_str().unwrap(),
        script = root().join("fixtures/groups/run_seed_cells.py").to_str().unwrap()
    );
    let o = Command::new(python()).args(["-c", &script]).env("PYTHONPATH", root().join("fixtures/groups")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let seed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ours["selected"], seed["selected"]);
    assert_eq!((&ours["c1"], &ours["c3"], &ours["candidates"]), (&seed["c1"], &seed["c3"], &seed["candidates"]));
    let got: Vec<serde_json::Value> = ours["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| !g["features"].as_array().unwrap().is_empty())
        .map(|g| {
            serde_json::json!([g["group"], g["features"].as_array().unwrap().iter().map(|f| f["feature_id"].clone()).collect::<Vec<_>>()])
        })
        .collect();
    assert_eq!(serde_json::Value::Array(got), seed["role_features"]);
    assert!(!ours["selected"].as_array().unwrap().is_empty(), "nothing selected: the comparison would be empty");
}

#[test]
fn bad_group_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("fixtures/parity/tiny/gpt2");
    let sae = root().join("fixtures/models/tiny-gpt2-l1");
    let one = dir.path().join("one.jsonl");
    std::fs::write(&one, "{\"role\": \"a\", \"text\": \"hello\"}\n").unwrap();
    let out = dir.path().join("o");
    ok(saex(&[
        "groups",
        "build",
        "--model",
        model.to_str().unwrap(),
        "--sae",
        sae.to_str().unwrap(),
        "--data",
        one.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    fails_with(&saex(&["groups", "select", out.to_str().unwrap()]), &["at least 2 groups"]);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"role\": \"a/b\", \"text\": \"hello\"}\n").unwrap();
    fails_with(
        &saex(&[
            "groups",
            "build",
            "--model",
            model.to_str().unwrap(),
            "--sae",
            sae.to_str().unwrap(),
            "--data",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]),
        &["line 1", "file name"],
    );
    fails_with(&saex(&["groups", "select", dir.path().to_str().unwrap()]), &["per_role.npz"]);

    // --strategy writes only what it names; selecting another strategy says what is there.
    let two = dir.path().join("two.jsonl");
    std::fs::write(&two, "{\"role\": \"a\", \"text\": \"hello there\"}\n{\"role\": \"b\", \"text\": \"def f(x): pass\"}\n").unwrap();
    let only = dir.path().join("only-max");
    let build = |strategy: &str| {
        saex(&[
            "groups",
            "build",
            "--model",
            model.to_str().unwrap(),
            "--sae",
            sae.to_str().unwrap(),
            "--data",
            two.to_str().unwrap(),
            "--out",
            only.to_str().unwrap(),
            "--strategy",
            strategy,
        ])
    };
    ok(build("max"));
    assert!(only.join("aggregated/max/per_role.npz").is_file() && !only.join("aggregated/mean").exists());
    fails_with(&saex(&["groups", "select", only.to_str().unwrap()]), &["no `mean` aggregation", "it has: max"]);
    ok(saex(&["groups", "select", only.to_str().unwrap(), "--strategy", "max", "--json"]));
    fails_with(&build("median"), &["median"]);
}
