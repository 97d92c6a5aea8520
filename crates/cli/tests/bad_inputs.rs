//! The bad-input catalogue (`docs/bad-inputs.md`): one test per case of a user's broken file,
//! argument or request. Each must end in one clear line naming the problem and exit code 2
//! (CLI) or a 4xx with a JSON error body (HTTP) — never a panic, never a 500, never output
//! that looks like a result.
//!
//! `scripts/bad-inputs.sh` runs this file with `SAEX_CATALOGUE_DIR` set: every case then also
//! writes its row (what was given, exit code, the exact message) and the script assembles the
//! rows into `docs/bad-inputs.md`, so the catalogue is what the binary says today.

mod common;

use std::path::{Path, PathBuf};

use common::{demo_sae, gemma, http, http_raw, saex, serve};

fn root() -> PathBuf {
    saex_testutil::root()
}

/// The tiny GPT-2 fixture model (context 64) and its SAE: fast to load.
fn tiny() -> String {
    root().join("fixtures/parity/tiny/gpt2").to_str().unwrap().to_string()
}

fn tiny_sae() -> String {
    root().join("fixtures/models/tiny-gpt2-l1").to_str().unwrap().to_string()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A copy of an SAE directory with `edit` applied to it.
fn broken_sae(dir: &Path, edit: impl FnOnce(&Path)) -> String {
    let d = dir.join("sae");
    std::fs::create_dir_all(&d).unwrap();
    for f in ["cfg.json", "sae_weights.safetensors"] {
        std::fs::copy(Path::new(&tiny_sae()).join(f), d.join(f)).unwrap();
    }
    edit(&d);
    s(&d)
}

/// Record a catalogue row when asked to (see the module docs).
fn record(id: &str, what: &str, code: &str, message: &str) {
    if let Ok(dir) = std::env::var("SAEX_CATALOGUE_DIR") {
        let row = format!("| {id} | {what} | {code} | `{}` |\n", message.trim().replace('|', "\\|").replace('`', "'"));
        std::fs::write(Path::new(&dir).join(format!("{id}.md")), row).unwrap();
    }
}

/// Run `saex ARGS`; assert a clean failure containing every needle; record the row.
fn case(id: &str, what: &str, args: &[&str], needles: &[&str]) {
    let out = saex(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{id}: exit {:?}; stderr: {stderr}", out.status.code());
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{id}: panic: {stderr}");
    let lines: Vec<&str> = stderr.trim_end().lines().filter(|l| !l.starts_with("warning:")).collect();
    assert_eq!(lines.len(), 1, "{id}: not one line: {stderr}");
    for n in needles {
        assert!(lines[0].contains(n), "{id}: {n:?} not in: {}", lines[0]);
    }
    record(id, what, "exit 2", lines[0]);
}

macro_rules! cases {
    ($($name:ident: $what:expr => |$t:ident| $body:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let $t = tempfile::tempdir().unwrap();
                let (args, needles): (Vec<String>, Vec<&str>) = $body;
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                case(stringify!($name), $what, &args, &needles);
            }
        )*
    };
}

fn v(a: &[&str]) -> Vec<String> {
    a.iter().map(|x| x.to_string()).collect()
}

fn write(p: &Path, bytes: &[u8]) -> String {
    std::fs::write(p, bytes).unwrap();
    s(p)
}

cases! {
    c01_model_missing: "a model path that does not exist" => |t| {
        let _ = &t;
        (v(&["top-features", "--model", "/nonexistent/model.gguf", "--sae", &tiny_sae(), "--text", "hi"]), vec!["/nonexistent/model.gguf"])
    };
    c02_gguf_truncated_header: "a GGUF cut inside its header (first 1,000 bytes)" => |t| {
        let bytes = std::fs::read(gemma()).map(|b| b[..1000].to_vec()).unwrap();
        let m = write(&t.path().join("cut.gguf"), &bytes);
        (v(&["top-features", "--model", &m, "--sae", &demo_sae(), "--text", "hi"]), vec!["cut.gguf"])
    };
    c03_gguf_bad_magic: "a .gguf file that is not GGUF (random bytes)" => |t| {
        let m = write(&t.path().join("noise.gguf"), &[7u8; 4096]);
        (v(&["top-features", "--model", &m, "--sae", &demo_sae(), "--text", "hi"]), vec!["noise.gguf"])
    };
    c04_gguf_truncated_data: "a GGUF whose header is whole but whose tensor data is cut (first 20 MB)" => |t| {
        let bytes = std::fs::read(gemma()).map(|b| b[..20_000_000].to_vec()).unwrap();
        let m = write(&t.path().join("short.gguf"), &bytes);
        (v(&["top-features", "--model", &m, "--sae", &demo_sae(), "--text", "hi"]), vec!["short.gguf"])
    };
    c05_sae_missing: "an SAE path that does not exist" => |t| {
        let _ = &t;
        (v(&["top-features", "--model", &tiny(), "--sae", "/nonexistent/sae", "--text", "hi"]), vec!["/nonexistent/sae"])
    };
    c06_sae_cfg_not_json: "an SAE whose cfg.json is not JSON" => |t| {
        let sae = broken_sae(t.path(), |d| { std::fs::write(d.join("cfg.json"), "{not json").unwrap(); });
        (v(&["top-features", "--model", &tiny(), "--sae", &sae, "--text", "hi"]), vec!["cfg.json"])
    };
    c07_sae_cfg_missing_field: "an SAE cfg.json without d_sae" => |t| {
        let sae = broken_sae(t.path(), |d| {
            let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("cfg.json")).unwrap()).unwrap();
            c.as_object_mut().unwrap().remove("d_sae");
            std::fs::write(d.join("cfg.json"), c.to_string()).unwrap();
        });
        (v(&["top-features", "--model", &tiny(), "--sae", &sae, "--text", "hi"]), vec!["d_sae"])
    };
    c08_sae_weights_truncated: "SAE weights cut in half" => |t| {
        let sae = broken_sae(t.path(), |d| {
            let p = d.join("sae_weights.safetensors");
            let b = std::fs::read(&p).unwrap();
            std::fs::write(&p, &b[..b.len() / 2]).unwrap();
        });
        (v(&["top-features", "--model", &tiny(), "--sae", &sae, "--text", "hi"]), vec!["sae_weights.safetensors"])
    };
    c09_sae_weights_garbage_header: "SAE weights whose safetensors header is garbage" => |t| {
        let sae = broken_sae(t.path(), |d| { std::fs::write(d.join("sae_weights.safetensors"), [0xffu8; 64]).unwrap(); });
        (v(&["top-features", "--model", &tiny(), "--sae", &sae, "--text", "hi"]), vec!["sae_weights.safetensors"])
    };
    c10_sae_shape_disagrees_with_cfg: "cfg.json says d_sae 999 but the weights have another width" => |t| {
        let sae = broken_sae(t.path(), |d| {
            let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("cfg.json")).unwrap()).unwrap();
            c["d_sae"] = 999.into();
            std::fs::write(d.join("cfg.json"), c.to_string()).unwrap();
        });
        (v(&["top-features", "--model", &tiny(), "--sae", &sae, "--text", "hi"]), vec!["999"])
    };
    c11_sae_for_another_width: "an SAE for another model's width (tiny GPT-2's SAE on Gemma 3)" => |t| {
        let _ = &t;
        (v(&["top-features", "--model", &gemma(), "--sae", &tiny_sae(), "--text", "hi"]), vec!["640"])
    };
    c12_hook_out_of_range: "a hook past the model's last block" => |t| {
        let _ = &t;
        (v(&["top-features", "--model", &tiny(), "--sae", &tiny_sae(), "--hook", "blocks.99.hook_resid_pre", "--text", "hi"]), vec!["blocks.99"])
    };
    c13_hook_garbage: "a hook name that is not a hook" => |t| {
        let _ = &t;
        (v(&["top-features", "--model", &tiny(), "--sae", &tiny_sae(), "--hook", "resid_everywhere", "--text", "hi"]), vec!["resid_everywhere"])
    };
    c14_text_file_invalid_utf8: "a --text-file that is not UTF-8" => |t| {
        let f = write(&t.path().join("latin1.txt"), b"caf\xe9 au lait");
        (v(&["top-features", "--model", &tiny(), "--sae", &tiny_sae(), "--text-file", &f]), vec!["latin1.txt", "UTF-8"])
    };
    c15_text_file_missing: "a --text-file that does not exist" => |t| {
        let _ = &t;
        (v(&["discover", "--model", &tiny(), "--sae", &tiny_sae(), "--text-file", "/nonexistent/prompt.txt"]), vec!["/nonexistent/prompt.txt"])
    };
    c16_top_k_zero: "top-features --k 0" => |t| {
        let _ = &t;
        (v(&["top-features", "--model", &tiny(), "--sae", &tiny_sae(), "--text", "hi", "--k", "0"]), vec!["k"])
    };
    c17_steer_feature_out_of_range: "steering a feature the SAE does not have" => |t| {
        let _ = &t;
        (v(&["steer", "--model", &tiny(), "--sae", &tiny_sae(), "--prompt", "hi", "--feature", "100000=+4"]), vec!["100000"])
    };
    c18_steer_strength_nan: "a steering strength of NaN" => |t| {
        let _ = &t;
        (v(&["steer", "--model", &tiny(), "--sae", &tiny_sae(), "--prompt", "hi", "--feature", "1=NaN"]), vec!["NaN"])
    };
    c19_logit_stats_feature_out_of_range: "logit-stats of a feature past d_sae" => |t| {
        let _ = &t;
        (v(&["logit-stats", "--model", &tiny(), "--sae", &tiny_sae(), "--features", "5000"]), vec!["5000"])
    };
    c20_logit_stats_thresholds_not_json: "logit-stats --thresholds that is not JSON" => |t| {
        let _ = &t;
        (v(&["logit-stats", "--model", &tiny(), "--sae", &tiny_sae(), "--thresholds", "{high_kurtosis: 6"]), vec!["--thresholds"])
    };
    c21_logit_stats_unknown_threshold: "logit-stats --thresholds naming a threshold that does not exist" => |t| {
        let _ = &t;
        (v(&["logit-stats", "--model", &tiny(), "--sae", &tiny_sae(), "--thresholds", "{\"kurtosis\": 6}"]), vec!["kurtosis"])
    };
    c22_neighbors_out_of_range: "neighbors of feature 4096 on a 4,096-feature SAE" => |t| {
        let _ = &t;
        (v(&["neighbors", "--sae", &demo_sae(), "--feature", "4096"]), vec!["4096", "out of range"])
    };
    c23_neighbors_k_zero: "neighbors --k 0" => |t| {
        let _ = &t;
        (v(&["neighbors", "--sae", &demo_sae(), "--feature", "1", "--k", "0"]), vec!["k"])
    };
    c24_dtype_unknown: "--dtype that is not stored or f32" => |t| {
        let _ = &t;
        (v(&["--dtype", "int3", "top-features", "--model", &tiny(), "--sae", &tiny_sae(), "--text", "hi"]), vec!["int3"])
    };
    c25_index_missing: "top-texts from an index folder that does not exist" => |t| {
        let _ = &t;
        (v(&["top-texts", "--index", "/nonexistent/index", "--feature", "1"]), vec!["/nonexistent/index"])
    };
    c26_index_manifest_corrupt: "an index whose manifest.json is not JSON" => |t| {
        let d = t.path().join("idx");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("manifest.json"), "{\"version\": ").unwrap();
        (v(&["top-texts", "--index", &s(&d), "--feature", "1"]), vec!["manifest.json"])
    };
    c27_groups_data_missing: "groups build from a data file that does not exist" => |t| {
        (v(&["groups", "build", "--model", &tiny(), "--sae", &tiny_sae(), "--data", "/nonexistent/roles.jsonl", "--out", &s(&t.path().join("g"))]), vec!["/nonexistent/roles.jsonl"])
    };
    c28_groups_line_not_json: "groups build data whose line 2 is not JSON" => |t| {
        let f = write(&t.path().join("r.jsonl"), b"{\"role\": \"a\", \"text\": \"x\"}\n{oops\n");
        (v(&["groups", "build", "--model", &tiny(), "--sae", &tiny_sae(), "--data", &f, "--out", &s(&t.path().join("g"))]), vec!["line 2"])
    };
    c29_groups_name_with_slash: "a group name that would escape the output folder (../x)" => |t| {
        let f = write(&t.path().join("r.jsonl"), b"{\"role\": \"../x\", \"text\": \"hello\"}\n");
        (v(&["groups", "build", "--model", &tiny(), "--sae", &tiny_sae(), "--data", &f, "--out", &s(&t.path().join("g"))]), vec!["line 1"])
    };
    c30_groups_generate_no_template: "groups build --generate on a model without a chat template" => |t| {
        let f = write(&t.path().join("q.jsonl"), b"{\"role\": \"a\", \"prompt\": \"hi\"}\n");
        (v(&["groups", "build", "--model", &tiny(), "--sae", &tiny_sae(), "--data", &f, "--generate", "4", "--out", &s(&t.path().join("g"))]), vec!["chat template"])
    };
    c31_groups_select_missing: "groups select of a folder that does not exist" => |t| {
        let _ = &t;
        (v(&["groups", "select", "/nonexistent/groups"]), vec!["/nonexistent/groups"])
    };
    c32_groups_select_not_groups: "groups select of a folder that is not a groups folder" => |t| {
        (v(&["groups", "select", &s(t.path())]), vec![t.path().to_str().unwrap()])
    };
    c33_eval_corpus_missing: "eval on a corpus that does not exist" => |t| {
        let _ = &t;
        (v(&["eval", "--model", &tiny(), "--sae", &tiny_sae(), "--corpus", "/nonexistent/corpus.jsonl"]), vec!["/nonexistent/corpus.jsonl"])
    };
    c34_train_empty_corpus: "train on an empty corpus" => |t| {
        let f = write(&t.path().join("empty.jsonl"), b"");
        (v(&["train", "--model", &tiny(), "--hook", "blocks.1.hook_resid_pre", "--corpus", &f, "--out", &s(&t.path().join("sae")),
            "--d-sae", "32", "--k", "4", "--tokens", "4096", "--batch", "512", "--buffer", "1024"]), vec!["empty.jsonl"])
    };
    c35_discover_out_dir_missing: "discover --out into a folder that does not exist" => |t| {
        let _ = &t;
        (v(&["discover", "--model", &tiny(), "--sae", &tiny_sae(), "--text", "hello there", "--out", "/nonexistent/dir/out.json"]), vec!["/nonexistent/dir"])
    };
    c36_drift_prompts_missing: "drift with a prompts file that does not exist" => |t| {
        let _ = &t;
        (v(&["drift", "--model-a", &tiny(), "--model-b", &tiny(), "--sae", &tiny_sae(), "--prompts", "/nonexistent/prompts.txt"]), vec!["/nonexistent/prompts.txt"])
    };
    c37_sae_info_not_an_sae: "sae-info of a folder that holds no SAE" => |t| {
        (v(&["sae-info", &s(t.path())]), vec![t.path().to_str().unwrap()])
    };
    c38_explore_empty_data: "explore on a data file with no texts" => |t| {
        let f = write(&t.path().join("none.jsonl"), b"\n\n");
        (v(&["explore", "--model", &tiny(), "--sae", &tiny_sae(), "--data", &f]), vec!["none.jsonl"])
    };
    c39_gguf_unknown_quant_type: "a GGUF tensor of a ggml type that does not exist (99)" => |t| {
        let mut b = std::fs::read(root().join("fuzz/seeds/tiny-llama.gguf")).unwrap();
        // The tensor table entry: name, n_dims (u32), dims (u64 each), type (u32).
        let name = b"blk.0.attn_q.weight";
        let at = b.windows(name.len()).rposition(|w| w == name).unwrap() + name.len();
        let nd = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
        let ty = at + 4 + 8 * nd;
        b[ty..ty + 4].copy_from_slice(&99u32.to_le_bytes());
        let m = write(&t.path().join("q99.gguf"), &b);
        (v(&["top-features", "--model", &m, "--sae", &tiny_sae(), "--text", "hi"]), vec!["q99.gguf", "blk.0.attn_q.weight"])
    };
    c40_sae_weights_nan: "SAE weights holding a NaN" => |t| {
        let d = broken_sae(t.path(), |d| {
            let p = d.join("sae_weights.safetensors");
            let mut b = std::fs::read(&p).unwrap();
            let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
            b[8 + n..8 + n + 4].copy_from_slice(&f32::NAN.to_le_bytes());
            std::fs::write(&p, b).unwrap();
        });
        (v(&["top-features", "--model", &tiny(), "--sae", &d, "--text", "hi"]), vec!["sae_weights.safetensors"])
    };
    c41_output_dir_is_a_file: "discover --out under a path that is a file" => |t| {
        let f = write(&t.path().join("plain"), b"x");
        (v(&["discover", "--model", &tiny(), "--sae", &tiny_sae(), "--text", "hi", "--out", &format!("{f}/d.json")]), vec!["plain"])
    };
    c42_prompt_longer_than_context: "a text of 25,000 tokens on a 128-token model" => |t| {
        let _ = &t;
        (v(&["top-features", "--model", &tiny(), "--sae", &tiny_sae(), "--text", &"hello ".repeat(5000)]), vec!["context"])
    };
}

/// The disk filling up under the output (stdout on /dev/full): a one-line error and exit 2,
/// not a panic of a failed print.
#[test]
fn c43_output_disk_full() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saex"))
        .args(["top-features", "--model", &tiny(), "--sae", &tiny_sae(), "--text", "Hello world", "--json"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.trim_end().lines().filter(|l| !l.starts_with("warning:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("No space left on device") && !stderr.contains("panicked"), "{stderr}");
    record("c43_output_disk_full", "the disk fills up under the output (stdout on /dev/full)", "exit 2", lines[0]);
}

/// id, what is wrong, method, path, body, the status wanted, a word the error must contain.
type HttpCase = (&'static str, &'static str, &'static str, &'static str, Vec<u8>, u16, &'static str);

/// HTTP: every case a 4xx with a JSON `error` naming the problem, on one running server.
#[test]
fn http_cases() {
    let server = serve(&["--model", &gemma(), "--sae", &demo_sae(), "--no-cache"]);
    let a = server.addr.as_str();
    let big = "x".repeat(3 << 20);
    let cases: Vec<HttpCase> = vec![
        (
            "h01_body_not_json",
            "POST discover with a body that is not JSON",
            "POST",
            "/v1/sae/features/discover",
            b"{text:".to_vec(),
            400,
            "",
        ),
        (
            "h02_unknown_field",
            "POST discover with a misspelt field (`txet`)",
            "POST",
            "/v1/sae/features/discover",
            br#"{"txet": "hi"}"#.to_vec(),
            400,
            "txet",
        ),
        (
            "h03_wrong_type",
            "POST top with k as a string",
            "POST",
            "/v1/sae/features/top",
            br#"{"text": "hi", "k": "ten"}"#.to_vec(),
            400,
            "k",
        ),
        (
            "h04_invalid_utf8",
            "POST tokenize with invalid UTF-8 in the body",
            "POST",
            "/v1/tokenize",
            b"{\"text\": \"caf\xe9\"}".to_vec(),
            400,
            "",
        ),
        (
            "h05_body_too_large",
            "POST discover with a 3 MiB body",
            "POST",
            "/v1/sae/features/discover",
            format!("{{\"text\": \"{big}\"}}").into_bytes(),
            413,
            "",
        ),
        ("h06_unknown_route", "GET a route that does not exist", "GET", "/v1/nothing", vec![], 404, ""),
        ("h07_wrong_method", "GET on a POST route", "GET", "/v1/sae/features/discover", vec![], 405, ""),
        (
            "h08_steer_out_of_range",
            "POST steer with feature 100000",
            "POST",
            "/v1/steer",
            br#"{"prompt": "hi", "features": [{"feature_id": 100000, "coefficient": 4}]}"#.to_vec(),
            400,
            "100000",
        ),
        (
            "h09_neighbors_vector_width",
            "POST neighbors with a 3-wide vector for a 640-wide SAE",
            "POST",
            "/v1/sae/neighbors",
            br#"{"vector": [1, 2, 3], "k": 3}"#.to_vec(),
            400,
            "640",
        ),
        (
            "h10_logit_stats_out_of_range",
            "POST logit-stats of feature 9999",
            "POST",
            "/v1/sae/logit-stats",
            br#"{"features": [9999]}"#.to_vec(),
            400,
            "9999",
        ),
        (
            "h11_unknown_sae_id",
            "POST top naming an SAE id that is not loaded",
            "POST",
            "/v1/sae/features/top",
            br#"{"text": "hi", "sae_id": "nope"}"#.to_vec(),
            400,
            "nope",
        ),
        (
            "h12_nan_literal",
            "POST top with NaN (not JSON)",
            "POST",
            "/v1/sae/features/top",
            br#"{"text": "hi", "k": NaN}"#.to_vec(),
            400,
            "",
        ),
        ("h13_empty_groups", "POST groups with no items", "POST", "/v1/analysis/groups", br#"{"items": []}"#.to_vec(), 400, ""),
        (
            "h14_group_traversal",
            "POST groups with a group named ../../etc",
            "POST",
            "/v1/analysis/groups",
            br#"{"items": [{"group": "../../etc", "text": "x"}]}"#.to_vec(),
            400,
            "",
        ),
    ];
    for (id, what, method, path, body, want, needle) in cases {
        let (status, v) = http_raw(a, method, path, &body);
        assert_eq!(status, want, "{id}: {v}");
        let msg = v["error"].as_str().or_else(|| v["message"].as_str()).unwrap_or_default().to_string();
        assert!(!msg.is_empty(), "{id}: no error message: {v}");
        assert!(msg.contains(needle), "{id}: {needle:?} not in {msg}");
        record(id, what, &status.to_string(), &msg);
    }
    // Still alive and answering after all of that.
    assert_eq!(http(a, "GET", "/healthz", "").0, 200);
}
