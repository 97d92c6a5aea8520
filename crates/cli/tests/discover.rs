//! `saex discover` and `saex serve` end to end on the real Gemma 3 270M with the demo SAE
//! (TopK, d_sae 4096, `blocks.6.hook_resid_pre`, ships `feature_stats.safetensors`).
//!
//! Topics: output formats (`--json`, `--csv`, `--out`), seed 002's flag spellings,
//! generation, the request options, labels, JSONL batches, the activation cache (including
//! corrupt entries), CLI ≡ API (`saex serve` answers the same JSON), bad input.
//!
//! Every run uses `--no-cache` or a temporary `--cache-dir`, never the user's cache.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

mod common;
use common::{demo_sae, fails_with, gemma, saex};

use saex_analysis::discover::{DiscoverResponse, LineError};
use serde_json::{json, Value};

/// `saex discover --model <gemma> --sae <demo> ARGS`, with `--no-cache` unless ARGS name a
/// cache directory.
fn discover(args: &[&str]) -> Output {
    let (model, sae) = (gemma(), demo_sae());
    let mut all = vec!["discover", "--model", &model, "--sae", &sae];
    all.extend_from_slice(args);
    if !args.contains(&"--cache-dir") && !args.contains(&"--no-cache") {
        all.push("--no-cache");
    }
    saex(&all)
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    out
}

/// `discover ARGS --json`, parsed.
fn discover_json(args: &[&str]) -> DiscoverResponse {
    let mut all = args.to_vec();
    all.push("--json");
    let out = ok(discover(&all));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// 17 tokens after bos, all kept (17 < topk_tokens_per_seq 64). Measured: 19 features pass
/// the p95 coverage gate and the 0.1 density cut, 25 (the default top X) without the cut.
const FOX: &str = "The quick brown fox jumps over the lazy dog. Then it ran into the forest.";

/// `--text FOX --json` with every default, run once for the whole binary.
fn baseline() -> &'static DiscoverResponse {
    static B: OnceLock<DiscoverResponse> = OnceLock::new();
    B.get_or_init(|| discover_json(&["--text", FOX]))
}

/// The invariants of any response: shape, ranking, the coverage gate, spans in code points.
fn check(r: &DiscoverResponse, min_coverage_pct: f64) {
    assert_eq!(r.model_id, gemma());
    assert_eq!(r.sae_id, demo_sae());
    assert_eq!(r.analyzed.layers, [6]);
    assert!(r.analyzed.kept_tokens <= r.analyzed.tokens);
    let chars: Vec<char> = r.analyzed.text.chars().collect();
    for w in r.features.windows(2) {
        assert!(w[0].score >= w[1].score, "not sorted: {} then {}", w[0].score, w[1].score);
    }
    for f in &r.features {
        assert_eq!((f.layer, f.stream.as_str()), (Some(6), "resid_pre"));
        let s = f.scores;
        assert!((0.0..=1.0).contains(&s.coverage), "{s:?}");
        assert!(s.coverage as f64 * 100.0 + 1e-4 >= min_coverage_pct, "feature {} under the gate: {s:?}", f.feature_id);
        // coverage = (tokens with act > τ) / kept tokens: a whole number of kept tokens.
        let count = s.coverage * r.analyzed.kept_tokens as f32;
        assert!((count - count.round()).abs() < 1e-3, "coverage {} of {} kept tokens", s.coverage, r.analyzed.kept_tokens);
        for sp in &f.top_spans {
            let [a, b] = sp.position;
            assert!(a < b && b <= chars.len(), "{sp:?}");
            assert_eq!(sp.text, chars[a..b].iter().collect::<String>());
        }
    }
}

/// The proto-labels the demo SAE ships in its own `labels.jsonl` (none if it ships none).
fn shipped_labels() -> std::collections::HashMap<u32, String> {
    let path = saex_testutil::root().join("demo/sae/labels.jsonl");
    if !path.exists() {
        return Default::default();
    }
    saex_engine::labels::read(&path).unwrap().into_iter().map(|e| (e.feature, e.label)).collect()
}

fn ids(r: &DiscoverResponse) -> Vec<u32> {
    r.features.iter().map(|f| f.feature_id).collect()
}

mod output {
    use super::*;

    /// The page's data block (what its script renders).
    pub fn page_data(html: &str) -> serde_json::Value {
        let tag = "<script type=\"application/json\" id=\"data\">";
        let start = html.find(tag).expect("a data block") + tag.len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    }

    #[test]
    fn html_shows_the_text_once_and_every_feature_shades_it() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("d.html");
        let out = ok(discover(&["--text", FOX, "--json", "--html", page.to_str().unwrap()]));
        let r: DiscoverResponse = serde_json::from_slice(&out.stdout).unwrap();
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Discovered SAE features"));
        let data = page_data(&html);
        let views = data["views"].as_array().unwrap();
        assert_eq!(views.len(), 1, "the text is shown once");
        let v = &views[0];
        let tokens: Vec<&str> = v["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(tokens.concat(), FOX, "bos left out, every other token once");
        assert_eq!(v["boundary"], Value::Null, "a text has no continuation");
        let feats = v["features"].as_array().unwrap();
        assert_eq!(feats.len(), r.features.len());
        for (f, pf) in r.features.iter().zip(feats) {
            assert_eq!(pf["id"], f.feature_id);
            let acts: Vec<f32> = pf["acts"].as_array().unwrap().iter().map(|a| a.as_f64().unwrap() as f32).collect();
            assert_eq!(acts.len(), tokens.len());
            // All 17 tokens are kept, so the shading's peak is the feature's max.
            assert_eq!(acts.iter().copied().fold(0.0, f32::max), f.scores.max, "feature {}", f.feature_id);
        }
    }

    #[test]
    fn html_marks_where_the_continuation_starts() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("g.html");
        let out = ok(discover(&["--prompt", "Once upon a time", "--gen-tokens", "6", "--json", "--html", page.to_str().unwrap()]));
        let r: DiscoverResponse = serde_json::from_slice(&out.stdout).unwrap();
        let data = page_data(&std::fs::read_to_string(&page).unwrap());
        let v = &data["views"][0];
        let tokens: Vec<&str> = v["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        let b = v["boundary"].as_u64().unwrap() as usize;
        assert_eq!(tokens[..b].concat(), "Once upon a time");
        let prompt: String = r.analyzed.text.chars().take(r.analyzed.prompt_end).collect();
        assert_eq!(prompt, "Once upon a time");
        assert_eq!(tokens.concat(), r.analyzed.text);
    }

    #[test]
    fn json_has_the_response_shape() {
        let r = baseline();
        check(r, 0.5);
        assert_eq!(r.analyzed.mode, "text");
        assert_eq!(r.analyzed.text, FOX);
        assert_eq!((r.analyzed.tokens, r.analyzed.kept_tokens), (17, 17));
        assert!(r.features.len() >= 5 && r.features.len() <= 25, "{} features", r.features.len());
        for f in &r.features {
            // One SAE, mean×coverage: score = mean × coverage.
            assert!((f.score - f.scores.mean * f.scores.coverage).abs() <= 1e-6, "{f:?}");
            assert!(!f.top_spans.is_empty(), "{f:?}");
            // Labels come from the catalog the SAE ships.
            assert_eq!(f.proto_label.as_ref(), shipped_labels().get(&f.feature_id), "feature {}", f.feature_id);
            // Reference statistics ship with the SAE: selectivity has a background.
            assert!(f.scores.selectivity.is_some());
        }
    }

    /// The exact header, then one row per feature of the `--json` run, in order.
    #[test]
    fn csv_has_seed_columns_and_one_row_per_feature() {
        let out = ok(discover(&["--text", FOX, "--csv"]));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().next(), Some("feature_id,layer,stream,score,mean,coverage,max,selectivity,proto_label,top_span_text"));
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        let r = baseline();
        assert_eq!(rows.len(), r.features.len());
        for (row, f) in rows.iter().zip(&r.features) {
            assert_eq!(row.len(), 10);
            assert_eq!(row[0].parse::<u32>().unwrap(), f.feature_id);
            assert_eq!((&row[1], &row[2]), ("6", "resid_pre"));
            assert_eq!(row[3].parse::<f32>().unwrap(), f.score);
            assert_eq!(row[5].parse::<f32>().unwrap(), f.scores.coverage);
            assert_eq!(&row[8], f.proto_label.as_deref().unwrap_or(""));
            assert_eq!(&row[9], f.top_spans[0].text);
        }
    }

    #[test]
    fn out_json_is_pretty_and_equals_stdout_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        let out = ok(discover(&["--text", FOX, "--out", path.to_str().unwrap()]));
        assert!(String::from_utf8_lossy(&out.stdout).contains("wrote"), "{}", String::from_utf8_lossy(&out.stdout));
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.starts_with("{\n  \"model_id\": "), "not pretty: {}", &written[..40.min(written.len())]);
        let r: DiscoverResponse = serde_json::from_str(&written).unwrap();
        assert_eq!(&r, baseline());
    }

    #[test]
    fn out_csv_writes_csv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        ok(discover(&["--text", FOX, "--return-top-x", "4", "--out", path.to_str().unwrap()]));
        let written = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines[0], "feature_id,layer,stream,score,mean,coverage,max,selectivity,proto_label,top_span_text");
        let first: Vec<u32> = lines[1..].iter().map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
        assert_eq!(first, ids(baseline())[..4]);
    }
}

mod flags {
    use super::*;

    const PROMPT: &str = "Stock market analysis indicates";

    /// Seed 002's underscore spellings, as its example writes them, run the same request as
    /// the dashed flags; the same seed generates the same text twice.
    #[test]
    fn seed_spellings_and_same_seed_same_output() {
        let seed_style = discover_json(&[
            "--prompt",
            PROMPT,
            "--generate",
            "true",
            "--gen_tokens",
            "8",
            "--topk_tokens_per_seq",
            "16",
            "--return_top_x",
            "5",
            "--score_mode",
            "mean×coverage",
            "--min_coverage_pct",
            "0.5",
            "--merge_across_layers",
            "true",
            "--attach_examples",
            "true",
            "--attach_proto_labels",
            "true",
            "--seed",
            "42",
            "--layers",
            "6",
            "--streams",
            "resid_pre",
        ]);
        let dashed = discover_json(&[
            "--prompt",
            PROMPT,
            "--generate",
            "--gen-tokens",
            "8",
            "--topk-tokens-per-seq",
            "16",
            "--return-top-x",
            "5",
            "--score-mode",
            "mean*coverage",
            "--seed",
            "42",
        ]);
        assert_eq!(seed_style, dashed);
        let r = &dashed;
        check(r, 0.5);
        assert_eq!(r.analyzed.mode, "prompt+gen");
        assert!(r.analyzed.text.starts_with(PROMPT) && r.analyzed.text.len() > PROMPT.len(), "{:?}", r.analyzed.text);
        // "Stock market analysis indicates": 4 to 5 tokens, plus up to 8 generated.
        assert!(r.analyzed.tokens > 4 && r.analyzed.tokens <= 5 + 8, "{:?}", r.analyzed);
        assert_eq!(r.analyzed.kept_tokens, r.analyzed.tokens.min(16));
        assert!(!r.features.is_empty() && r.features.len() <= 5);
    }

    #[test]
    fn generate_false_analyses_the_prompt_only() {
        let r = discover_json(&["--prompt", PROMPT, "--generate", "false", "--gen-tokens", "8"]);
        check(&r, 0.5);
        assert_eq!((r.analyzed.mode.as_str(), r.analyzed.text.as_str()), ("prompt", PROMPT));
    }

    /// With a gate of 0 every candidate passes, and only candidates are scored.
    #[test]
    fn restrict_features() {
        let r = discover_json(&["--text", FOX, "--restrict-features", "1", "2", "3", "--min-coverage-pct", "0"]);
        check(&r, 0.0);
        assert_eq!(ids(&r).into_iter().collect::<BTreeSet<_>>(), BTreeSet::from([1, 2, 3]));
    }

    /// One SAE: the top 3 are the first 3 of the default ranking, without their spans.
    #[test]
    fn return_top_x_and_no_examples() {
        let r = discover_json(&["--text", FOX, "--return-top-x", "3", "--attach-examples", "false"]);
        let mut want = baseline().features[..3].to_vec();
        for f in &mut want {
            f.top_spans.clear();
        }
        assert_eq!(r.features, want);
    }

    /// The density cut: by default no returned feature fires on more than 10% of the
    /// reference corpus' tokens (`firing_rate` in the SAE's feature_stats.safetensors);
    /// `--max-density 1` lets such dense features back into the ranking.
    #[test]
    fn max_density_cuts_dense_features() {
        let bytes = std::fs::read(saex_testutil::root().join("demo/sae/feature_stats.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let rate: Vec<f32> =
            st.tensor("firing_rate").unwrap().data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(rate.len(), 4096);
        assert!(baseline().features.iter().all(|f| rate[f.feature_id as usize] <= 0.1), "a dense feature passed the default cut");
        let all = discover_json(&["--text", FOX, "--max-density", "1"]);
        check(&all, 0.5);
        let dense: Vec<u32> = all.features.iter().map(|f| f.feature_id).filter(|&f| rate[f as usize] > 0.1).collect();
        assert!(!dense.is_empty(), "no dense feature on this text: the cut is untested");
        // What the cut leaves is ranked as before.
        let kept: Vec<u32> = ids(&all).into_iter().filter(|f| !dense.contains(f)).collect();
        assert_eq!(kept, ids(baseline())[..kept.len()]);
    }

    #[test]
    fn spans_inside_the_text_only() {
        let r = discover_json(&["--text", FOX, "--span", "0:10", "--score-mode", "selectivity"]);
        check(&r, 0.5);
        // Ranked by selectivity, so by the score shown in scores.selectivity.
        assert!(r.features.iter().all(|f| Some(f.score) == f.scores.selectivity), "{:?}", r.features);
        // Reversed: refused before the model loads; past the 73 characters: after.
        fails_with(&discover(&["--text", FOX, "--span", "5:2"]), &["spans", "[5, 2]"]);
        fails_with(&discover(&["--text", FOX, "--span", "0:100000"]), &["spans", "73 characters"]);
    }

    /// τ only changes coverage (act > τ): with τ = 0 each feature covers at least as many
    /// tokens as with its p95, mean and max unchanged.
    #[test]
    fn tau_zero_raises_coverage() {
        let r = discover_json(&["--text", FOX, "--tau", "0", "--return-top-x", "4096", "--min-coverage-pct", "0"]);
        let mut raised = 0;
        for b in &baseline().features {
            let f = r.features.iter().find(|f| f.feature_id == b.feature_id).expect("every feature is returned at gate 0");
            assert_eq!((f.scores.mean, f.scores.max), (b.scores.mean, b.scores.max), "feature {}", b.feature_id);
            assert!(f.scores.coverage >= b.scores.coverage, "feature {}", b.feature_id);
            raised += usize::from(f.scores.coverage > b.scores.coverage);
        }
        assert!(raised > 0, "τ = 0 changed no coverage");
    }

    /// The norm proxy keeps 4 tokens: coverage is a multiple of 1/4, and the 0.5% gate means
    /// at least one of them.
    #[test]
    fn norm_filter_keeps_k_tokens() {
        let r = discover_json(&["--text", FOX, "--token-filter", "norm", "--topk-tokens-per-seq", "4"]);
        check(&r, 0.5);
        assert_eq!((r.analyzed.tokens, r.analyzed.kept_tokens), (17, 4));
        assert!(r.features.iter().all(|f| f.scores.coverage >= 0.25));
    }
}

mod labels {
    use super::*;

    /// A user catalog labels its feature, over what the SAE ships for it; the shipped
    /// labels still label the rest.
    #[test]
    fn a_catalog_labels_its_feature() {
        let shipped = shipped_labels();
        // A feature the text returns, with a shipped label when there is one.
        let f =
            baseline().features.iter().map(|f| f.feature_id).find(|f| shipped.contains_key(f)).unwrap_or(baseline().features[1].feature_id);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.jsonl");
        let entry = json!({ "sae_id": demo_sae(), "feature_id": f, "label": "my label" });
        std::fs::write(&path, format!("{entry}\n")).unwrap();
        let r = discover_json(&["--text", FOX, "--labels", path.to_str().unwrap()]);
        assert_eq!(ids(&r), ids(baseline()));
        for x in &r.features {
            let want = if x.feature_id == f { Some("my label") } else { shipped.get(&x.feature_id).map(String::as_str) };
            assert_eq!(x.proto_label.as_deref(), want, "feature {}", x.feature_id);
        }
        let r = discover_json(&["--text", FOX, "--labels", path.to_str().unwrap(), "--attach-proto-labels", "false"]);
        assert!(r.features.iter().all(|x| x.proto_label.is_none()));
    }
}

mod batch {
    use super::*;

    /// Lines answer in order; a bad line becomes an error object naming its field, and the
    /// batch goes on (exit 0). A good line's answer is the single run's plus its id.
    #[test]
    fn jsonl_in_jsonl_out_with_error_objects() {
        let dir = tempfile::tempdir().unwrap();
        let prompts = dir.path().join("prompts.jsonl");
        let lines = [
            json!({ "id": "a", "text": FOX }).to_string(),
            json!({ "id": "b", "text": "x", "score_mode": "median" }).to_string(),
            json!("A bare prompt line").to_string(),
        ];
        std::fs::write(&prompts, lines.join("\n") + "\n").unwrap();
        let out_path = dir.path().join("out.jsonl");
        let out = ok(discover(&["--prompts-file", prompts.to_str().unwrap(), "--generate", "false", "--out", out_path.to_str().unwrap()]));
        assert!(String::from_utf8_lossy(&out.stdout).contains("2 results, 1 errors"), "{}", String::from_utf8_lossy(&out.stdout));
        let written = std::fs::read_to_string(&out_path).unwrap();
        let got: Vec<&str> = written.lines().collect();
        assert_eq!(got.len(), 3, "{written}");

        let a: DiscoverResponse = serde_json::from_str(got[0]).unwrap();
        assert_eq!(a.id, Some(json!("a")));
        assert_eq!(DiscoverResponse { id: None, ..a }, *baseline());

        let b: LineError = serde_json::from_str(got[1]).unwrap();
        assert_eq!((b.line, b.id, b.field.as_deref()), (2, Some(json!("b")), Some("score_mode")));
        assert!(b.error.contains("median"), "{}", b.error);

        let c: DiscoverResponse = serde_json::from_str(got[2]).unwrap();
        assert_eq!((c.id, c.analyzed.mode.as_str(), c.analyzed.text.as_str()), (None, "prompt", "A bare prompt line"));
    }

    /// A line of invalid UTF-8 is that line's error; the lines around it are answered.
    #[test]
    fn an_invalid_utf8_line_is_reported_and_the_batch_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let prompts = dir.path().join("p.jsonl");
        let mut bytes = json!({ "text": "Hi there" }).to_string().into_bytes();
        bytes.extend(b"\n{\"text\": \"caf\xe9\"}\n");
        bytes.extend(json!({ "text": "Good bye" }).to_string().into_bytes());
        bytes.push(b'\n');
        std::fs::write(&prompts, bytes).unwrap();
        let out = ok(discover(&["--prompts-file", prompts.to_str().unwrap(), "--token-filter", "norm"]));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let got: Vec<&str> = stdout.lines().collect();
        assert_eq!(got.len(), 3, "{stdout}");
        assert!(serde_json::from_str::<DiscoverResponse>(got[0]).is_ok());
        let bad: LineError = serde_json::from_str(got[1]).unwrap();
        assert_eq!(bad.line, 2);
        assert!(bad.error.contains("UTF-8"), "{}", bad.error);
        assert_eq!(serde_json::from_str::<DiscoverResponse>(got[2]).unwrap().analyzed.text, "Good bye");
    }

    #[test]
    fn csv_is_refused_for_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let prompts = dir.path().join("p.jsonl");
        std::fs::write(&prompts, "\"hi\"\n").unwrap();
        fails_with(&discover(&["--prompts-file", prompts.to_str().unwrap(), "--csv"]), &["--csv", "batch"]);
        let out = dir.path().join("out.csv");
        fails_with(&discover(&["--prompts-file", prompts.to_str().unwrap(), "--out", out.to_str().unwrap()]), &["--csv", "batch"]);
        assert!(!out.exists());
    }
}

mod cache {
    use super::*;

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for shard in std::fs::read_dir(dir).unwrap() {
            let shard = shard.unwrap().path();
            if shard.is_dir() {
                for e in std::fs::read_dir(&shard).unwrap() {
                    let p = e.unwrap().path();
                    if p.extension().is_some_and(|x| x == "bin") {
                        out.push(p);
                    }
                }
            }
        }
        out
    }

    /// Stored, then hit (same JSON, no new entry); corrupt entries are recomputed with a
    /// warning (same JSON) and rewritten.
    #[test]
    fn entries_are_reused_and_corrupt_ones_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let args = ["--text", FOX, "--cache-dir", d, "--json"];
        let first = ok(discover(&args));
        let stored = entries(dir.path());
        assert!(!stored.is_empty(), "the first run stored nothing");
        let second = ok(discover(&args));
        assert_eq!(second.stdout, first.stdout);
        assert_eq!(entries(dir.path()), stored, "a hit must not store again");
        assert!(!String::from_utf8_lossy(&second.stderr).contains("recomputing"));
        let r: DiscoverResponse = serde_json::from_slice(&first.stdout).unwrap();
        assert_eq!(&r, baseline(), "cached or not, the same answer");

        let good: Vec<Vec<u8>> = stored.iter().map(|p| std::fs::read(p).unwrap()).collect();
        for (p, bytes) in stored.iter().zip(&good) {
            let mut bytes = bytes.clone();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x20;
            std::fs::write(p, bytes).unwrap();
        }
        let third = ok(discover(&args));
        assert_eq!(third.stdout, first.stdout);
        let stderr = String::from_utf8_lossy(&third.stderr);
        assert!(stderr.contains("recomputing"), "{stderr}");
        assert!(stderr.lines().all(|l| l.starts_with("warning:")), "{stderr}");
        // Rewritten, byte for byte as the first run stored it (the capture is deterministic).
        for (p, bytes) in stored.iter().zip(&good) {
            assert!(std::fs::read(p).unwrap() == *bytes, "{} was not rewritten", p.display());
        }
    }

    #[test]
    fn no_cache_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        ok(discover(&["--text", FOX, "--no-cache", "--cache-dir", dir.path().to_str().unwrap(), "--token-filter", "norm"]));
        assert!(entries(dir.path()).is_empty());
    }
}

/// `saex serve` answers the JSON `saex discover --json` prints.
mod cli_is_api {
    use super::*;

    fn serve(cache: &Path) -> common::Server {
        common::serve(&["--model", &gemma(), "--sae", &demo_sae(), "--cache-dir", cache.to_str().unwrap()])
    }

    use common::http;

    fn stdout_json(out: Output) -> Value {
        serde_json::from_slice(&ok(out).stdout).unwrap()
    }

    #[test]
    fn serve_answers_what_the_cli_prints() {
        let cache = tempfile::tempdir().unwrap();
        let server = serve(cache.path());
        let a = server.addr.as_str();

        // Text mode: every default.
        let (status, api) = http(a, "POST", "/v1/sae/features/discover", &json!({ "text": FOX }).to_string());
        assert_eq!(status, 200, "{api}");
        assert_eq!(serde_json::from_value::<DiscoverResponse>(api).unwrap(), *baseline());

        // Generation: a few tokens, a fixed seed, temperature 0.7 (the default of both).
        let body = json!({ "prompt": "Once upon a time", "gen_tokens": 8, "seed": 7, "return_top_x": 10 });
        let (status, api) = http(a, "POST", "/v1/sae/features/discover", &body.to_string());
        assert_eq!(status, 200, "{api}");
        let cli =
            stdout_json(discover(&["--prompt", "Once upon a time", "--gen-tokens", "8", "--seed", "7", "--return-top-x", "10", "--json"]));
        assert_eq!(api, cli);
        assert_eq!(api["analyzed"]["mode"], "prompt+gen");

        // The norm filter: the CLI loads the model only up to layer 6, the server all of it.
        let (status, api) = http(
            a,
            "POST",
            "/v1/sae/features/discover",
            &json!({ "text": FOX, "token_filter": "norm", "topk_tokens_per_seq": 8 }).to_string(),
        );
        assert_eq!(status, 200, "{api}");
        let cli = stdout_json(discover(&["--text", FOX, "--token-filter", "norm", "--topk-tokens-per-seq", "8", "--json"]));
        assert_eq!(api, cli);

        // The other verbs with a route.
        let (model, sae) = (gemma(), demo_sae());
        let (status, api) = http(a, "POST", "/v1/tokenize", &json!({ "text": "Hello world" }).to_string());
        assert_eq!(status, 200, "{api}");
        assert_eq!(api, stdout_json(saex(&["tokenize", "--model", &model, "--text", "Hello world", "--json"])));
        let (status, api) = http(a, "POST", "/v1/sae/features/top", &json!({ "text": FOX, "k": 5 }).to_string());
        assert_eq!(status, 200, "{api}");
        assert_eq!(api, stdout_json(saex(&["top-features", "--model", &model, "--sae", &sae, "--text", FOX, "--k", "5", "--json"])));
        let steer = json!({ "prompt": "The weather today", "features": [{ "feature_id": 3705, "coefficient": 8.0 }],
            "max_new_tokens": 8, "temperature": 0.8, "top_p": 0.9, "seed": 7, "compare": true });
        let (status, api) = http(a, "POST", "/v1/steer", &steer.to_string());
        assert_eq!(status, 200, "{api}");
        let cli = stdout_json(saex(&[
            "steer",
            "--model",
            &model,
            "--sae",
            &sae,
            "--prompt",
            "The weather today",
            "--feature",
            "3705=8",
            "--max-tokens",
            "8",
            "--temperature",
            "0.8",
            "--top-p",
            "0.9",
            "--seed",
            "7",
            "--compare",
            "--json",
        ]));
        assert_eq!(api, cli);

        // A bad field is a 400 naming it, as the CLI's message does.
        let (status, api) = http(a, "POST", "/v1/sae/features/discover", &json!({ "text": FOX, "tau": "p50" }).to_string());
        assert_eq!((status, api["field"].as_str()), (400, Some("tau")), "{api}");
    }
}

mod bad_input {
    use super::*;

    /// `saex discover --json | head -c1`: a reader that goes away is not an error (exit 0,
    /// nothing on stderr), as with the table and `--csv`.
    #[test]
    fn a_closed_stdout_is_not_an_error() {
        let (model, sae) = (gemma(), demo_sae());
        let mut child = Command::new(env!("CARGO_BIN_EXE_saex"))
            .args(["discover", "--model", &model, "--sae", &sae, "--text", FOX, "--token-filter", "norm", "--no-cache", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // closed before the model has even loaded
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!((out.status.code(), stderr.as_ref()), (Some(0), ""));
    }

    #[test]
    fn an_sae_dir_without_cfg() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not an SAE").unwrap();
        let out = saex(&["discover", "--model", &gemma(), "--sae", dir.path().to_str().unwrap(), "--text", FOX, "--no-cache"]);
        fails_with(&out, &["not an SAE directory", "cfg.json"]);
    }

    #[test]
    fn tau_p50() {
        fails_with(&discover(&["--text", FOX, "--tau", "p50"]), &["tau", "p50"]);
    }
}
