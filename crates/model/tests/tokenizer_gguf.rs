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
