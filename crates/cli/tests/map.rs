//! `saex map` end to end on the demo SAE (Gemma 3 270M): the same request writes the same
//! bytes twice (JSON and page, UMAP and PCA); a groups folder built from the example texts
//! colours the map and the page works in chromium; bad requests fail on one line; without
//! `--model` the map is the same.

mod common;

use std::path::{Path, PathBuf};

use common::{check_page, demo_sae, fails_with, gemma, saex};

fn ok(o: std::process::Output) -> std::process::Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// `saex map` on the demo SAE with `extra`, writing `name`.html and `name`.json in `dir`.
fn map(dir: &Path, name: &str, extra: &[&str]) -> (std::process::Output, PathBuf, PathBuf) {
    let (page, json) = (dir.join(format!("{name}.html")), dir.join(format!("{name}.json")));
    let (m, s) = (gemma(), demo_sae());
    let mut args = vec!["map", "--model", &m, "--sae", &s, "--out", page.to_str().unwrap(), "--json", json.to_str().unwrap()];
    args.extend_from_slice(extra);
    (saex(&args), page, json)
}

/// Every 16th feature: 256 rows.
fn features() -> String {
    (0..4096).step_by(16).map(|f: u32| f.to_string()).collect::<Vec<_>>().join(",")
}

#[test]
fn the_same_request_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let f = features();
    for method in ["umap", "pca"] {
        let (a, page_a, json_a) = map(dir.path(), &format!("{method}-a"), &["--features", &f, "--method", method]);
        let text = String::from_utf8_lossy(&ok(a).stdout).into_owned();
        assert!(text.contains("256 features (features named)") && text.contains("trustworthiness 0."), "{text}");
        let (b, page_b, json_b) = map(dir.path(), &format!("{method}-b"), &["--features", &f, "--method", method]);
        ok(b);
        assert_eq!(std::fs::read(&json_a).unwrap(), std::fs::read(&json_b).unwrap(), "{method}: the JSON differs between runs");
        assert_eq!(std::fs::read(&page_a).unwrap(), std::fs::read(&page_b).unwrap(), "{method}: the page differs between runs");
        let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_a).unwrap()).unwrap();
        let points = r["points"].as_array().unwrap();
        assert_eq!(points.len(), 256);
        assert_eq!(points[1]["feature_id"], 16);
        assert!(points.iter().all(|p| p["x"].as_f64().unwrap().is_finite() && p["y"].as_f64().unwrap().is_finite()));
        assert_eq!(r["method"], method);
        // Decoder rows of an SAE are far from a low-dimensional manifold; both maps keep
        // more neighbours than a random layout (≈ 0.5).
        assert!(r["trustworthiness"].as_f64().unwrap() > 0.55, "{}", r["trustworthiness"]);
    }
    let (other, _, json_c) = map(dir.path(), "seed7", &["--features", &f, "--seed", "7"]);
    ok(other);
    assert_ne!(std::fs::read(json_c).unwrap(), std::fs::read(dir.path().join("umap-a.json")).unwrap(), "--seed changes nothing");
}

/// Three groups of the example texts, built with the demo SAE.
fn groups(dir: &Path) -> PathBuf {
    let data = dir.join("data.jsonl");
    let keep = ["python", "math", "non-english"];
    let lines: Vec<String> = std::fs::read_to_string(saex_testutil::root().join("examples/diverse_texts.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| keep.iter().any(|k| l.contains(&format!("\"category\": \"{k}\""))))
        .map(str::to_string)
        .collect();
    std::fs::write(&data, lines.join("\n") + "\n").unwrap();
    let out = dir.join("groups");
    let (m, s) = (gemma(), demo_sae());
    ok(saex(&[
        "groups",
        "build",
        "--model",
        &m,
        "--sae",
        &s,
        "--data",
        data.to_str().unwrap(),
        "--group-field",
        "category",
        "--out",
        out.to_str().unwrap(),
    ]));
    out
}

#[test]
fn groups_colour_the_map_and_the_page_works() {
    let dir = tempfile::tempdir().unwrap();
    let g = groups(dir.path());
    let (out, page, json) = map(dir.path(), "groups", &["--groups", g.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&ok(out).stdout).into_owned();
    assert!(text.contains("seed 000's conditions"), "{text}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["groups"], serde_json::json!(["python", "math", "non-english"]));
    let points = r["points"].as_array().unwrap();
    assert!(points.len() >= 3, "{} selected", points.len());
    for p in points {
        assert!(r["groups"].as_array().unwrap().contains(&p["group"]), "{p}");
        // Selected by the seed's conditions: fires in at least half its group's responses.
        assert!(p["firing_rate"].as_f64().unwrap() >= 0.5 && p["activation"].as_f64().unwrap() > 0.0, "{p}");
    }
    let report = check_page(&page, "map", &dir.path().join("map.png"));
    assert!(report.contains(&format!("\"points\":{}", points.len())) && report.contains("\"groups\":3"), "{report}");

    // Named features coloured by the same folder.
    let (out, _, json) = map(dir.path(), "named", &["--groups", g.to_str().unwrap(), "--features", "1,2,3,4", "--method", "pca"]);
    ok(out);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    // Each coloured by its preferred group, or by none when it is silent in all three.
    let names = r["groups"].as_array().unwrap();
    assert!(r["points"].as_array().unwrap().iter().all(|p| p["group"].is_null() || names.contains(&p["group"])));
}

#[test]
fn bad_requests_fail_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (out, ..) = map(dir.path(), "x", &["--features", "1,2,5000"]);
    fails_with(&out, &["feature 5000 is out of range (d_sae 4096)"]);
    let (out, ..) = map(dir.path(), "x", &["--features", "1,2"]);
    fails_with(&out, &["a map needs at least 3 features, got 2"]);
    let (out, ..) = map(dir.path(), "x", &["--features", "1,2,2"]);
    fails_with(&out, &["feature 2 is named twice"]);
    let missing = dir.path().join("no-such-groups");
    let (out, ..) = map(dir.path(), "x", &["--groups", missing.to_str().unwrap()]);
    fails_with(&out, &["no-such-groups", "no aggregated/{mean,max,last,sum}/per_role.npz"]);
    let small = saex_testutil::root().join("fixtures/groups/seed000_fixture");
    let (out, ..) = map(dir.path(), "x", &["--groups", small.to_str().unwrap()]);
    fails_with(&out, &["its vectors have 64 features, the SAE 4096"]);
    let (out, ..) = map(dir.path(), "x", &[]);
    fails_with(&out, &["name the features"]);
    assert!(!dir.path().join("x.html").exists(), "a failed map wrote a page");
}

/// `--index DIR --top N`: the index's N most frequent features, each point carrying the
/// corpus firing rate and max the index holds for it (the tiny GPT-2 and its SAE with the
/// tiny index of `fuzz/seeds/index`, which `fuzz/seeds/gen.sh` built).
#[test]
fn an_index_picks_and_annotates_the_features() {
    let dir = tempfile::tempdir().unwrap();
    let root = saex_testutil::root();
    let (model, sae, index) =
        (root.join("fixtures/parity/tiny/gpt2"), root.join("fixtures/models/tiny-gpt2-l1"), root.join("fuzz/seeds/index"));
    let (page, json) = (dir.path().join("m.html"), dir.path().join("m.json"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (model, sae, index_s, page, json_s) = (s(&model), s(&sae), s(&index), s(&page), s(&json));
    let args =
        ["map", "--model", &model, "--sae", &sae, "--index", &index_s, "--top", "20", "--method", "pca", "--out", &page, "--json", &json_s];
    ok(saex(&args));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let points = r["points"].as_array().unwrap();
    assert_eq!(points.len(), 20);
    let rates: Vec<f64> = points.iter().map(|p| p["corpus_firing_rate"].as_f64().expect("a corpus firing rate")).collect();
    assert!(points.iter().all(|p| p["corpus_max"].as_f64().is_some()), "{points:?}");
    // The 20 most frequent: none of the features left out fires more often.
    let ix = saex_engine::index_store::Index::open(&index).unwrap();
    let mut all: Vec<f64> = ix.all_stats(None).unwrap().iter().map(|(_, st)| st.firing_rate).collect();
    all.sort_by(|a, b| b.total_cmp(a));
    let lowest = rates.iter().copied().fold(f64::INFINITY, f64::min);
    assert!((lowest - all[19]).abs() < 1e-12, "lowest mapped {lowest}, 20th most frequent {}", all[19]);
    // Without --model: the same points (the map reads the SAE alone); the report names the
    // model of the SAE's config.
    let json2 = s(&dir.path().join("m2.json"));
    for method in ["pca", "umap"] {
        let with = [
            "map", "--model", &model, "--sae", &sae, "--index", &index_s, "--top", "20", "--method", method, "--out", &page, "--json",
            &json_s,
        ];
        ok(saex(&with));
        ok(saex(&["map", "--sae", &sae, "--index", &index_s, "--top", "20", "--method", method, "--out", &page, "--json", &json2]));
        let a: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_s).unwrap()).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&std::fs::read(&json2).unwrap()).unwrap();
        assert_eq!(a["points"], b["points"], "{method}");
        assert_eq!(b["model_id"], "tiny-gpt2");
    }
}
