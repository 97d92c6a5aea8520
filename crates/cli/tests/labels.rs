//! `saex label …` and `saex explain …` end to end: the registry verbs on the tiny GPT-2 SAE,
//! two concurrent writer processes, a corrupt registry, Neuronpedia exports (with a bad
//! line) shown by `saex discover` on the real Gemma 3 270M with the demo SAE, `explain fetch`
//! against a local server, and `label auto` on the demo index.
//!
//! Every run points `SAEX_LABELS_DIR` at a temporary directory, never the user's registry.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{demo_sae, fails_with, gemma};

use serde_json::{json, Value};

fn tiny_sae() -> String {
    saex_testutil::root().join("fixtures/models/tiny-gpt2-l1").to_str().unwrap().to_string()
}

/// `saex ARGS` with the registry in `reg`.
fn saex_in(reg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saex"))
        .env("SAEX_LABELS_DIR", reg)
        .env_remove("NEURONPEDIA_API_KEY")
        .args(args)
        .output()
        .expect("run saex")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    o
}

fn json_of(o: Output) -> Value {
    let o = ok(o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

/// The one registry file under `reg`.
fn registry_file(reg: &Path) -> std::path::PathBuf {
    let mut found = Vec::new();
    let mut stack = vec![reg.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                found.push(p);
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

#[test]
fn set_get_list_export_import_round_trip() {
    let reg = tempfile::tempdir().unwrap();
    let sae = tiny_sae();
    let r = json_of(saex_in(
        reg.path(),
        &[
            "label",
            "set",
            "--sae",
            &sae,
            "12",
            "--name",
            "geographic_locations",
            "--description",
            "city and country names",
            "--example",
            "Paris, France",
            "--example",
            "Tokyo, Japan",
            "--confidence",
            "high",
            "--json",
        ],
    ));
    assert_eq!(r["label"], "geographic_locations");
    assert_eq!(r["entry"]["source"], "hand");
    // Fields not given are kept.
    ok(saex_in(reg.path(), &["label", "set", "--sae", &sae, "12", "--notes", "strong on Europe"]));
    let g = json_of(saex_in(reg.path(), &["label", "get", "--sae", &sae, "12", "--json"]));
    assert_eq!(g["entry"]["examples"], json!(["Paris, France", "Tokyo, Japan"]));
    assert_eq!(g["entry"]["notes"], "strong on Europe");
    // The file is seed 003's layout: json.load gives {"12": {name, description, ...}}.
    let file: Value = serde_json::from_slice(&std::fs::read(registry_file(reg.path())).unwrap()).unwrap();
    assert_eq!(file["12"]["confidence"], "high");
    // Export, import into a fresh registry, same entries.
    let exported = reg.path().join("../export-sae_features.json");
    ok(saex_in(reg.path(), &["label", "export", "--sae", &sae, "-o", exported.to_str().unwrap()]));
    let other = tempfile::tempdir().unwrap();
    let rep = json_of(saex_in(other.path(), &["label", "import", "--sae", &sae, exported.to_str().unwrap(), "--json"]));
    assert_eq!(rep["imported"], 1);
    let a = json_of(saex_in(reg.path(), &["label", "list", "--sae", &sae, "--json"]));
    let b = json_of(saex_in(other.path(), &["label", "list", "--sae", &sae, "--json"]));
    assert_eq!(a["labels"], b["labels"]);
    assert_eq!(a["counts"], json!({"hand": 1, "neuronpedia": 0, "auto": 0}));
    let _ = std::fs::remove_file(exported);
}

#[test]
fn unknown_feature_and_empty_set_are_refused() {
    let reg = tempfile::tempdir().unwrap();
    let sae = tiny_sae();
    // The tiny SAE has 128 features.
    fails_with(&saex_in(reg.path(), &["label", "set", "--sae", &sae, "128", "--name", "x"]), &["feature 128 is out of range", "d_sae 128"]);
    fails_with(&saex_in(reg.path(), &["label", "get", "--sae", &sae, "999"]), &["feature 999 is out of range"]);
    fails_with(&saex_in(reg.path(), &["label", "set", "--sae", &sae, "3"]), &["nothing to set"]);
    assert!(std::fs::read_dir(reg.path()).unwrap().next().is_none(), "nothing written");
}

#[test]
fn two_writer_processes_lose_no_update() {
    let reg = tempfile::tempdir().unwrap();
    let sae = tiny_sae();
    let per = 25;
    let t = std::time::Instant::now();
    std::thread::scope(|s| {
        for w in 0..2u32 {
            let (reg, sae) = (reg.path(), sae.as_str());
            s.spawn(move || {
                for i in 0..per {
                    let f = (w * per + i).to_string();
                    ok(saex_in(reg, &["label", "set", "--sae", sae, &f, "--name", &format!("writer{w}-{i}")]));
                }
            });
        }
    });
    eprintln!("2 processes × {per} sets: {:.1} s", t.elapsed().as_secs_f64());
    let list = json_of(saex_in(reg.path(), &["label", "list", "--sae", &sae, "--json"]));
    let labels = list["labels"].as_object().unwrap();
    assert_eq!(labels.len(), 2 * per as usize, "lost updates");
    for w in 0..2 {
        for i in 0..per {
            assert_eq!(labels[&(w * per + i).to_string()]["name"], format!("writer{w}-{i}"));
        }
    }
}

#[test]
fn a_corrupt_registry_is_refused_kept_and_backed_up() {
    let reg = tempfile::tempdir().unwrap();
    let sae = tiny_sae();
    ok(saex_in(reg.path(), &["label", "set", "--sae", &sae, "1", "--name", "one"]));
    ok(saex_in(reg.path(), &["label", "set", "--sae", &sae, "2", "--name", "two"]));
    let file = registry_file(reg.path());
    let broken = b"{\n  \"1\": {\"name\": \"one\"},\n  \"2\": {\"name\": \"tw";
    std::fs::write(&file, broken).unwrap();
    let out = saex_in(reg.path(), &["label", "set", "--sae", &sae, "3", "--name", "three"]);
    fails_with(&out, &["not a valid label registry", "line 3", "will not write over it", ".json.bak"]);
    assert_eq!(std::fs::read(&file).unwrap(), broken, "not overwritten");
    fails_with(&saex_in(reg.path(), &["label", "list", "--sae", &sae]), &["not a valid label registry"]);
    let bak: Value = serde_json::from_slice(&std::fs::read(file.with_extension("json.bak")).unwrap()).unwrap();
    assert_eq!(bak["1"]["name"], "one", "the backup is the last good version but one");
}

/// A Neuronpedia explanation export as published (JSONL rows of their Explanation table).
fn export_row(np_model: &str, layer: &str, index: u32, description: &str, score: f64) -> String {
    json!({"id": format!("clx{index}"), "modelId": np_model, "layer": layer, "index": index.to_string(), "description": description,
        "authorId": "clkht01d40000jv08hvalcvly", "embedding": null, "typeName": "oai_token-act-pair", "explanationModelName": "gpt-4o-mini",
        "umap_x": 0.0, "umap_y": 0.0, "umap_cluster": 0, "umap_log_feature_sparsity": 0.0, "scoreV1": score, "scoreV2": null,
        "createdAt": "2024-08-01T12:00:00.000Z", "updatedAt": "2024-08-01T12:00:00.000Z"})
    .to_string()
}

const FOX: &str = "The quick brown fox jumps over the lazy dog. Then it ran into the forest.";

#[test]
fn explain_import_shows_in_discover_and_reports_bad_lines() {
    let reg = tempfile::tempdir().unwrap();
    let (model, sae) = (gemma(), demo_sae());
    let discover =
        |reg: &Path| json_of(saex_in(reg, &["discover", "--model", &model, "--sae", &sae, "--text", FOX, "--no-cache", "--json"]));
    let before = discover(reg.path());
    let top: u32 = before["features"][0]["feature_id"].as_u64().unwrap() as u32;
    let second: u32 = before["features"][1]["feature_id"].as_u64().unwrap() as u32;
    // Gzipped JSONL: a worse explanation of `top`, a malformed line 3, the better one on 4,
    // another SAE's row, and `second`.
    let np = "gemma-3-270m/6-saex-res-4k";
    let lines = [
        export_row("gemma-3-270m", "6-saex-res-4k", top, "worse explanation", 0.1),
        export_row("gemma-3-270m", "6-saex-res-4k", second, "the second feature, from Neuronpedia", 0.5),
        "{\"modelId\": \"gemma-3-270m\", \"layer\": ".to_string(),
        export_row("gemma-3-270m", "6-saex-res-4k", top, "animals in a story, from Neuronpedia", 0.8),
        export_row("gemma-2-2b", "6-gemmascope-res-16k", 5, "someone else's", 0.9),
    ];
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("batch-0.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(lines.join("\n").as_bytes()).unwrap();
    enc.finish().unwrap();
    let out = ok(saex_in(reg.path(), &["explain", "import", gz.to_str().unwrap(), "--sae", &sae, "--neuronpedia-id", np, "--json"]));
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((rep["rows"].as_u64(), rep["imported"].as_u64(), rep["skipped"].as_u64()), (Some(5), Some(2), Some(1)), "{rep}");
    assert_eq!(rep["duplicates"], 1);
    assert_eq!(rep["unmatched_ids"], json!({"gemma-2-2b/6-gemmascope-res-16k": 1}));
    let problem = rep["problems"][0].as_str().unwrap();
    assert!(problem.contains("batch-0.jsonl.gz: line 3: not JSON"), "{problem}");
    // The table form warns with the line number too.
    let again = ok(saex_in(reg.path(), &["explain", "import", gz.to_str().unwrap(), "--sae", &sae, "--neuronpedia-id", np]));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(String::from_utf8_lossy(&again.stdout).contains("2 unchanged"));
    // The same rows with the SAE named by `--source modelId/layer=SAE`: nothing new.
    let source = format!("{np}={sae}");
    let by_source = json_of(saex_in(reg.path(), &["explain", "import", gz.to_str().unwrap(), "--source", &source, "--json"]));
    assert_eq!((by_source["unchanged"].as_u64(), by_source["imported"].as_u64()), (Some(2), Some(0)), "{by_source}");

    let after = discover(reg.path());
    let label_of = |f: u32| after["features"].as_array().unwrap().iter().find(|x| x["feature_id"] == f).map(|x| x["proto_label"].clone());
    assert_eq!(label_of(top), Some(json!("animals in a story, from Neuronpedia")), "the better-scored explanation");
    assert_eq!(label_of(second), Some(json!("the second feature, from Neuronpedia")));
    // A hand label wins over Neuronpedia's.
    ok(saex_in(reg.path(), &["label", "set", "--sae", &sae, &top.to_string(), "--name", "fox_story_animals"]));
    let hand = discover(reg.path());
    assert_eq!(hand["features"].as_array().unwrap().iter().find(|x| x["feature_id"] == top).unwrap()["proto_label"], "fox_story_animals");
}

/// A local server answering `GET /api/feature/{model}/{layer}/{index}` in Neuronpedia's shape:
/// the first request for feature 2 gets a 429. Returns the base URL and the keys it saw.
fn neuronpedia_stub() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = keys.clone();
    std::thread::spawn(move || {
        let mut limited = false;
        for mut s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.strip_prefix("x-api-key:") {
                    seen.lock().unwrap().push(v.trim().to_string());
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            let index = path.rsplit('/').next().unwrap_or("").to_string();
            let (status, body) = if index == "2" && !limited {
                limited = true;
                ("429 Too Many Requests\r\nRetry-After: 0", "{\"message\":\"rate limited\"}".to_string())
            } else {
                ("200 OK", json!({"modelId": "gpt2-small", "layer": "1-tiny", "index": index,
                    "explanations": [{"id": "e", "description": format!("fetched explanation {index}"), "typeName": "oai_token-act-pair", "scores": []}],
                    "activations": []}).to_string())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes()));
        }
    });
    (base, keys)
}

#[test]
fn explain_fetch_from_a_local_server() {
    let reg = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let sae = tiny_sae();
    let (base, keys) = neuronpedia_stub();
    let key = "np-key-7d2e0b";
    let out = Command::new(env!("CARGO_BIN_EXE_saex"))
        .env("SAEX_LABELS_DIR", reg.path())
        .env("NEURONPEDIA_API_KEY", key)
        .env("RUST_LOG", "debug")
        .args(["explain", "fetch", "--sae", &sae, "--features", "1,2,3", "--neuronpedia-id", "gpt2-small/1-tiny", "--base-url", &base])
        .args(["--backoff-ms", "10", "--cache-dir", cache.path().to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let r = json_of(out);
    assert_eq!((r["found"].as_u64(), r["requests"].as_u64(), r["retries"].as_u64()), (Some(3), Some(4), Some(1)), "{r}");
    assert!(keys.lock().unwrap().iter().all(|k| k == key) && keys.lock().unwrap().len() == 4);
    assert!(!stderr.contains(key), "key in the logs: {stderr}");
    for dir in [reg.path(), cache.path()] {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    assert!(!std::fs::read_to_string(e.path()).unwrap().contains(key), "key in {}", e.path().display());
                }
            }
        }
    }
    let g = json_of(saex_in(reg.path(), &["label", "get", "--sae", &sae, "2", "--json"]));
    assert_eq!(g["label"], "fetched explanation 2");
    assert_eq!(g["entry"]["source"], "neuronpedia");
}

fn demo_index() -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let p = Path::new(&home).join(".cache/saex/demo-index");
    assert!(p.join("manifest.json").is_file(), "{} is missing: build it with `saex index build --model <gemma> --sae demo/sae --corpus <corpus.jsonl> --out ~/.cache/saex/demo-index --max-tokens 100000`", p.display());
    p.to_str().unwrap().to_string()
}

#[test]
fn label_auto_never_overrides_a_hand_label() {
    let reg = tempfile::tempdir().unwrap();
    let (sae, index) = (demo_sae(), demo_index());
    ok(saex_in(reg.path(), &["label", "set", "--sae", &sae, "251", "--name", "the token ' world'"]));
    let r = json_of(saex_in(reg.path(), &["label", "auto", "--sae", &sae, "--index", &index, "--features", "251,264,297", "--json"]));
    let labels = r["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 3, "{r}");
    for l in labels {
        assert!(l["label"].as_str().unwrap().starts_with("auto: \""), "{l}");
    }
    assert_eq!(labels[0]["offered"], "kept");
    assert_eq!(r["boosted_from"], "index");
    // Deterministic: a second run writes nothing new.
    let again = json_of(saex_in(reg.path(), &["label", "auto", "--sae", &sae, "--index", &index, "--features", "251,264,297", "--json"]));
    assert_eq!(
        again["labels"],
        json!(labels
            .iter()
            .map(|l| {
                let mut l = l.clone();
                if l["offered"] != "kept" {
                    l["offered"] = json!("same");
                }
                l
            })
            .collect::<Vec<_>>())
    );
    let g = json_of(saex_in(reg.path(), &["label", "get", "--sae", &sae, "251", "--json"]));
    assert_eq!((g["entry"]["source"].as_str(), g["label"].as_str()), (Some("hand"), Some("the token ' world'")));
    let g = json_of(saex_in(reg.path(), &["label", "get", "--sae", &sae, "264", "--json"]));
    assert_eq!(g["entry"]["source"], "auto");
}

/// An index built from an SAE named by a relative path records the SAE's registry key, so
/// `saex feature --index` finds a hand label from any working directory (it once looked the
/// SAE up by its relative path, found it only from the directory the build ran in).
#[test]
fn an_index_of_a_relative_sae_path_finds_its_labels_from_anywhere() {
    let reg = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let sae = work.path().join("sae");
    std::fs::create_dir(&sae).unwrap();
    for f in ["cfg.json", "sae_weights.safetensors"] {
        std::fs::copy(Path::new(&tiny_sae()).join(f), sae.join(f)).unwrap();
    }
    let root = saex_testutil::root();
    let model = root.join("fixtures/parity/tiny/gpt2");
    let corpus = root.join("corpus/sample.jsonl");
    let build = Command::new(env!("CARGO_BIN_EXE_saex"))
        .current_dir(work.path())
        .env("SAEX_LABELS_DIR", reg.path())
        .args(["index", "build", "--model", model.to_str().unwrap(), "--sae", "sae", "--corpus", corpus.to_str().unwrap()])
        .args(["--out", "idx", "--ctx", "32", "--max-tokens", "2000"])
        .output()
        .unwrap();
    ok(build);
    let index = work.path().join("idx");
    let manifest: Value = serde_json::from_slice(&std::fs::read(index.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["saes"][0]["id"], "sae");
    let key = manifest["saes"][0]["label_key"].as_str().expect("the manifest records the SAE's registry key").to_string();
    assert!(key.starts_with("saex-local/64x128-"), "{key}");
    // A hand label, set naming the SAE by its absolute path.
    let f = "5";
    ok(saex_in(reg.path(), &["label", "set", "--sae", sae.to_str().unwrap(), f, "--name", "hand_label_of_the_test"]));
    // Queried from elsewhere (this process's working directory is not `work`).
    let rec = json_of(saex_in(reg.path(), &["feature", "--index", index.to_str().unwrap(), f, "--json"]));
    assert_eq!(rec["label"], "hand_label_of_the_test");
}
