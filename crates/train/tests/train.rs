//! `saex-train` on the tiny GPT-2 fixture: a whole run, stop and resume, and bad input.

use std::path::{Path, PathBuf};

use saex_model::Model;
use saex_train::{train, RunControl, TrainOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> Model {
    Model::load(root().join("fixtures/parity/tiny/gpt2").to_str().unwrap()).unwrap()
}

fn corpus(dir: &Path) -> PathBuf {
    let texts = [
        "People in Paris read books in the park.",
        "def f(x):\n\treturn x + 1",
        "Grüße aus Köln und München!",
        "The tower is tall and old.",
        "for i in range(10): print(i)",
    ];
    let p = dir.join("corpus.jsonl");
    let lines: Vec<String> = (0..60)
        .map(|i| serde_json::json!({"text": format!("{} {i}", texts[i % texts.len()]), "category": "x", "source": "test"}).to_string())
        .collect();
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn opts() -> TrainOptions {
    TrainOptions {
        model: "tiny-gpt2".into(),
        hook: "blocks.1.hook_resid_pre".into(),
        architecture: "topk".into(),
        d_sae: 96,
        k: 4,
        l1_coeff: 0.0,
        tokens: 2048,
        batch: 128,
        lr: 1e-2,
        warmup_steps: 2,
        decay_start: 0.8,
        aux_k: 16,
        aux_coeff: 1.0 / 32.0,
        dead_tokens: 512,
        ctx: 32,
        model_batch: 4,
        buffer: 512,
        heldout_every: 10,
        seed: 1,
    }
}

#[test]
fn a_run_writes_a_saelens_sae_that_saex_loads_and_learns() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, c, out) = (model(), corpus(tmp.path()), tmp.path().join("sae"));
    let mut evs = Vec::new();
    let report = train(&m, &c, &out, &opts(), RunControl::default(), &mut |p| evs.push(p.stats.explained_variance)).unwrap().unwrap();
    assert_eq!(report.steps, 16);
    assert_eq!(report.tokens, 2048);
    assert!(evs.last().unwrap() > evs.first().unwrap(), "explained variance did not improve: {evs:?}");
    for f in ["cfg.json", "sae_weights.safetensors", "sparsity.safetensors", "training.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let sae = saex_sae::Sae::load(out.to_str().unwrap()).unwrap();
    assert_eq!((sae.d_in(), sae.d_sae(), sae.hook().map(|h| h.to_string())), (64, 96, Some("blocks.1.hook_resid_pre".into())));
    assert!(sae.log_sparsity().is_some());
}

#[test]
fn a_relu_l1_run_writes_a_standard_sae() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, c, out) = (model(), corpus(tmp.path()), tmp.path().join("sae"));
    let o = TrainOptions { architecture: "standard".into(), l1_coeff: 0.5, ..opts() };
    let mut evs = Vec::new();
    train(&m, &c, &out, &o, RunControl::default(), &mut |p| evs.push(p.stats.explained_variance)).unwrap().unwrap();
    assert!(evs.last().unwrap() > evs.first().unwrap(), "{evs:?}");
    let sae = saex_sae::Sae::load(out.to_str().unwrap()).unwrap();
    assert_eq!(sae.config().architecture.as_str(), "standard");
}

#[test]
fn stop_and_resume_finish_the_run_and_nothing_is_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, c, out) = (model(), corpus(tmp.path()), tmp.path().join("sae"));
    let stopped = train(&m, &c, &out, &opts(), RunControl { resume: false, stop_at_step: Some(8) }, &mut |_| {}).unwrap();
    assert!(stopped.is_none());
    let state = std::fs::read_to_string(out.join("checkpoint/state.json")).unwrap();
    assert!(state.contains("\"step\": 8"), "{state}");
    // Starting again over it is refused; the checkpoint is untouched.
    let err = train(&m, &c, &out, &opts(), RunControl::default(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
    // Resuming with another config is refused; the checkpoint is untouched.
    let other = TrainOptions { d_sae: 128, ..opts() };
    let err = train(&m, &c, &out, &other, RunControl { resume: true, stop_at_step: None }, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("different config") && err.contains("d_sae"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("checkpoint/state.json")).unwrap(), state);
    // Resuming finishes it.
    let mut first_step = None;
    let report = train(&m, &c, &out, &opts(), RunControl { resume: true, stop_at_step: None }, &mut |p| {
        first_step.get_or_insert(p.step);
    })
    .unwrap()
    .unwrap();
    assert_eq!(first_step, Some(9), "resume continues at the next step");
    assert_eq!((report.steps, report.tokens), (16, 2048));
}

#[test]
fn bad_input_is_refused_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (m, c) = (model(), corpus(tmp.path()));
    let run = |o: TrainOptions, corpus: &Path| {
        train(&m, corpus, &tmp.path().join(format!("out-{}", rand_name())), &o, RunControl::default(), &mut |_| {}).unwrap_err().to_string()
    };
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    assert!(run(opts(), &empty).contains("no training text"));
    let no_text = tmp.path().join("notext.jsonl");
    std::fs::write(&no_text, "{\"category\": \"german\", \"source\": \"x\"}\n").unwrap();
    assert!(run(opts(), &no_text).contains("no string field \"text\""));
    assert!(run(TrainOptions { d_sae: 0, ..opts() }, &c).contains("d_sae"));
    assert!(run(TrainOptions { k: 200, ..opts() }, &c).contains("k must be"));
    assert!(run(TrainOptions { hook: "blocks.9.hook_resid_pre".into(), ..opts() }, &c).contains("out of range"));
    assert!(run(TrainOptions { architecture: "gated".into(), ..opts() }, &c).contains("topk or standard"));
    assert!(run(TrainOptions { architecture: "standard".into(), l1_coeff: 0.0, ..opts() }, &c).contains("l1_coeff"));
}

fn rand_name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
