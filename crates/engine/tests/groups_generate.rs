//! `groups build` with generated responses on the real SmolLM2 135M Instruct (a chat model
//! with a template in its GGUF): each response vector is the mean over the *answer's* tokens
//! only (checked against encoding prompt + answer and averaging by hand from the answer's
//! first position), the same seed makes the same answers, and a killed run's answers are
//! reused on resume.

use std::collections::HashMap;
use std::path::Path;

use saex_engine::{groups_build, read_groups, GenerateSpec, GeneratedResponse, GroupsBuildRequest, Session, SessionOptions};

/// A standard SAE with seeded pseudo-random weights on SmolLM2's width.
fn write_random_sae(dir: &Path) {
    let sae = saex_testutil::RandomSae { d_in: 576, d_sae: 96, hook: "blocks.6.hook_resid_pre", seed: 7, scale: 0.2, b_dec_scale: 0.0 };
    saex_testutil::write_random_sae(dir, sae);
}

fn responses(dir: &Path) -> Vec<GeneratedResponse> {
    std::fs::read_to_string(dir.join("responses.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn answers_only_seeded_and_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let sae = tmp.path().join("sae");
    std::fs::create_dir(&sae).unwrap();
    write_random_sae(&sae);
    let model = saex_testutil::real_model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let s =
        Session::open(model.to_str().unwrap(), &[sae.to_str().unwrap().to_string()], SessionOptions { logits: true, ..Default::default() })
            .unwrap();
    let data = tmp.path().join("q.jsonl");
    std::fs::write(
        &data,
        [
            r#"{"role": "pirate", "system": "You are a pirate. Answer like one.", "prompt": "What is the capital of France?"}"#,
            r#"{"role": "pirate", "system": "You are a pirate. Answer like one.", "prompt": "How do I boil an egg?"}"#,
            r#"{"role": "teacher", "prompt": "What is the capital of France?"}"#,
            r#"{"prompt": "no role here"}"#,
            r#"{"role": "teacher", "prompt": "How do I boil an egg?"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let spec = GenerateSpec { max_new_tokens: 6, temperature: 0.8, top_p: 0.95, seed: 3 };
    let build = |out: &Path| {
        let req = GroupsBuildRequest {
            data: data.clone(),
            group_field: "role".into(),
            out: out.to_path_buf(),
            strategies: vec![],
            generate: Some(spec.clone()),
        };
        groups_build(&s, &req, &mut |_, _| {}).unwrap()
    };
    let a = tmp.path().join("a");
    let m = build(&a);
    assert_eq!(m.skipped.len(), 1, "the line without a role is counted, not dropped silently");
    let rs = responses(&a);
    assert_eq!(rs.len(), 4);

    // Each stored mean vector = the mean over the answer's positions of encoding prompt + answer.
    let (_, v) = read_groups(&a).unwrap();
    let d = v.d_sae;
    let seqs: Vec<Vec<u32>> = rs.iter().map(|r| [r.prompt_ids.clone(), r.ids.clone()].concat()).collect();
    let enc = s.encode_batch(&[0], &seqs).unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut prompt_would_differ = 0;
    for ((r, e), seq) in rs.iter().zip(&enc).zip(&seqs) {
        assert!(!r.ids.is_empty() && r.ids.len() <= 6);
        let mut want = vec![0f32; d];
        for p in r.prompt_ids.len()..seq.len() {
            if let Some((fs, vs)) = e.codes[0].token(p) {
                for (&f, &x) in fs.iter().zip(vs) {
                    want[f as usize] += x / r.ids.len() as f32;
                }
            }
        }
        let g = v.names.iter().position(|n| *n == r.group).unwrap();
        let k = seen.entry(r.group.clone()).or_insert(0);
        let got = &v.rows[g][0][*k * d..(*k + 1) * d];
        *k += 1;
        for (x, y) in got.iter().zip(&want) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{}: {x} vs {y}", r.group);
        }
        // Had the prompt's positions been aggregated too, the vector would differ.
        let mut everything = vec![0f32; d];
        for p in 0..seq.len() {
            if let Some((fs, vs)) = e.codes[0].token(p) {
                for (&f, &x) in fs.iter().zip(vs) {
                    everything[f as usize] += x / seq.len() as f32;
                }
            }
        }
        prompt_would_differ += usize::from(everything.iter().zip(got).any(|(x, y)| (x - y).abs() > 1e-3));
    }
    assert_eq!(prompt_would_differ, 4, "the test must be able to tell prompt tokens from answer tokens");

    // Same seed, same answers, byte for byte.
    let b = tmp.path().join("b");
    build(&b);
    assert_eq!(std::fs::read(a.join("responses.jsonl")).unwrap(), std::fs::read(b.join("responses.jsonl")).unwrap());

    // A killed run's answers are reused: plant one (marked) in the partial log of a new run.
    let c = tmp.path().join("c");
    std::fs::create_dir(&c).unwrap();
    let mut planted = rs[1].clone();
    planted.text = "PLANTED".into();
    std::fs::write(c.join(".responses.partial.jsonl"), serde_json::to_string(&planted).unwrap() + "\n{\"torn").unwrap();
    build(&c);
    let rc = responses(&c);
    assert_eq!(rc[1].text, "PLANTED");
    assert_eq!(rc[0], rs[0]);
    assert!(!c.join(".responses.partial.jsonl").exists());
}

#[test]
fn a_model_without_a_chat_template_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("q.jsonl");
    std::fs::write(&data, r#"{"role": "a", "prompt": "hi"}"#).unwrap();
    let model = saex_testutil::real_model("gemma-3-270m-q4_k_m.gguf");
    let demo = saex_testutil::root().join("demo/sae");
    let s = Session::open(
        model.to_str().unwrap(),
        &[demo.to_str().unwrap().to_string()],
        SessionOptions { logits: true, ..Default::default() },
    )
    .unwrap();
    let req = GroupsBuildRequest {
        data,
        group_field: "role".into(),
        out: tmp.path().join("out"),
        strategies: vec![],
        generate: Some(GenerateSpec { max_new_tokens: 4, temperature: 0.0, top_p: 1.0, seed: 0 }),
    };
    let e = groups_build(&s, &req, &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("line 1") && e.contains("no chat template"), "{e}");
}
