//! End-to-end tests of the `saex` binary: outputs on tiny fixture models, and one test per
//! kind of bad input (a one-line error and exit code 2, never a panic).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::{DType, Device};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tiny(arch: &str) -> PathBuf {
    root().join("fixtures/parity/tiny").join(arch)
}

fn saex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saex")).args(args).output().expect("run saex")
}

/// Asserts a clean failure: exit code 2, one line on stderr containing every `needle`.
fn fails_with(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in: {stderr}");
    }
}

/// A copy of a tiny fixture model that a test may break.
fn copy_model(arch: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(tiny(arch).join(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

mod capture {
    use super::*;

    #[test]
    fn writes_every_hook_and_the_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("acts.safetensors");
        let model = tiny("gpt2");
        let r = saex(&[
            "capture",
            "--model",
            model.to_str().unwrap(),
            "--hooks",
            "blocks.1.hook_resid_pre,blocks.0.attn.hook_z",
            "--text",
            "People in Paris read.",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let got = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
        let reference = candle_core::safetensors::load(tiny("gpt2").join("reference.safetensors"), &Device::Cpu).unwrap();
        assert_eq!(got["tokens"].dtype(), DType::I64);
        let tokens: Vec<i64> = got["tokens"].to_vec1().unwrap();
        assert_eq!(tokens, reference["p1.tokens"].to_vec1::<i64>().unwrap());
        for hook in ["blocks.1.hook_resid_pre", "blocks.0.attn.hook_z"] {
            let a = &got[hook];
            let e = &reference[&format!("p1.{hook}")];
            assert_eq!(a.dims(), e.dims(), "{hook}");
            let diff = (a - e).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
            assert!(diff < 1e-4, "{hook}: {diff}");
        }
        // The summary names each hook and its shape.
        let stdout = String::from_utf8_lossy(&r.stdout);
        let expected = format!("blocks.1.hook_resid_pre [{}, 64]", tokens.len());
        assert!(stdout.contains(&expected), "{stdout}");
    }

    #[test]
    fn no_bos_drops_the_first_token() {
        let model = tiny("gpt2");
        let with = saex(&["tokenize", "--model", model.to_str().unwrap(), "--text", "The tower", "--json"]);
        let without = saex(&["tokenize", "--model", model.to_str().unwrap(), "--text", "The tower", "--json", "--no-bos"]);
        let ids = |o: &Output| -> Vec<u64> {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            v["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
        };
        let (a, b) = (ids(&with), ids(&without));
        assert_eq!(a[0], 0, "gpt2 gets <|endoftext|> (id 0 in the fixture tokenizer)");
        assert_eq!(&a[1..], &b[..]);
    }
}

mod generate {
    use super::*;

    #[test]
    fn same_seed_same_text() {
        let model = tiny("llama");
        let run = |seed: &str| {
            let o = saex(&[
                "generate",
                "--model",
                model.to_str().unwrap(),
                "--prompt",
                "The tower",
                "--max-tokens",
                "12",
                "--temperature",
                "1.0",
                "--top-p",
                "0.9",
                "--seed",
                seed,
                "--json",
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            v["ids"].clone()
        };
        assert_eq!(run("1"), run("1"));
        assert_ne!(run("1"), run("2"));
    }
}

mod bad_input {
    use super::*;

    fn capture(model: &Path, hooks: &str, text: &str) -> Output {
        saex(&["capture", "--model", model.to_str().unwrap(), "--hooks", hooks, "--text", text])
    }

    #[test]
    fn missing_model_file() {
        fails_with(&capture(Path::new("/nonexistent/model.gguf"), "hook_embed", "x"), &["/nonexistent/model.gguf", "no such file"]);
    }

    #[test]
    fn missing_hub_model_names_the_repo() {
        let cache = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_saex"))
            .args(["tokenize", "--model", "google/gemma-2-2b", "--text", "x"])
            .env("HF_HUB_CACHE", cache.path())
            .output()
            .unwrap();
        fails_with(&out, &["google/gemma-2-2b", "models--google--gemma-2-2b"]);
    }

    #[test]
    fn truncated_safetensors() {
        let dir = copy_model("gpt2");
        let f = dir.path().join("model.safetensors");
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
        fails_with(&capture(dir.path(), "hook_embed", "x"), &["model.safetensors"]);
    }

    #[test]
    fn truncated_gguf() {
        // The real Gemma 3 file cut at 40 MB: header and tokenizer intact, tensor data not.
        let real = saex_testutil::real_model("gemma-3-270m-q4_k_m.gguf");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cut.gguf");
        let mut bytes = std::fs::read(&real).unwrap();
        bytes.truncate(40 << 20);
        std::fs::write(&f, &bytes).unwrap();
        fails_with(&capture(&f, "hook_embed", "x"), &["cut.gguf", "remaining"]);
        // Cut inside the header.
        std::fs::write(&f, &bytes[..1000]).unwrap();
        fails_with(&capture(&f, "hook_embed", "x"), &["cut.gguf", "not a readable GGUF file"]);
    }

    #[test]
    fn unsupported_quantization_type() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("iq.gguf");
        // ggml type 16 is IQ2_XXS, which candle cannot dequantize.
        std::fs::write(&f, gguf_bytes(16, 256)).unwrap();
        fails_with(&capture(&f, "hook_embed", "x"), &["iq.gguf", "16"]);
    }

    #[test]
    fn missing_tensor_is_named() {
        let dir = copy_model("llama");
        let f = dir.path().join("model.safetensors");
        let mut t = candle_core::safetensors::load(&f, &Device::Cpu).unwrap();
        t.remove("model.layers.1.mlp.up_proj.weight").unwrap();
        candle_core::safetensors::save(&t, &f).unwrap();
        // A capture loads only the blocks it needs; the final norm's hook needs them all.
        fails_with(&capture(dir.path(), "ln_final.hook_normalized", "x"), &["model.layers.1.mlp.up_proj.weight", "missing tensor"]);
    }

    #[test]
    fn wrong_shape_says_expected_and_got() {
        let dir = copy_model("llama");
        edit_config(dir.path(), |c| c["intermediate_size"] = 100.into());
        fails_with(&capture(dir.path(), "blocks.0.hook_resid_post", "x"), &["gate_proj.weight", "[128, 64]", "[100, 64]"]);
    }

    #[test]
    fn unsupported_architecture_lists_supported() {
        let dir = copy_model("llama");
        edit_config(dir.path(), |c| c["model_type"] = "mamba".into());
        fails_with(&capture(dir.path(), "hook_embed", "x"), &["mamba", "gemma3", "llama"]);
    }

    #[test]
    fn unknown_hook_name() {
        fails_with(&capture(&tiny("gpt2"), "blocks.1.resid_pre", "x"), &["blocks.1.resid_pre", "blocks.L.hook_resid_pre"]);
    }

    #[test]
    fn layer_out_of_range() {
        fails_with(&capture(&tiny("gemma3"), "blocks.7.hook_resid_post", "x"), &["blocks.7.hook_resid_post", "3 layers"]);
    }

    #[test]
    fn pos_embed_on_a_rotary_model() {
        fails_with(&capture(&tiny("llama"), "hook_pos_embed", "x"), &["hook_pos_embed"]);
    }

    #[test]
    fn text_longer_than_the_context() {
        let long = "Paris ".repeat(400);
        fails_with(&capture(&tiny("gpt2"), "hook_embed", &long), &["longer than the model's context of 128"]);
    }

    #[test]
    fn bad_config_json() {
        let dir = copy_model("gpt2");
        std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
        fails_with(&capture(dir.path(), "hook_embed", "x"), &["config.json", "bad JSON"]);
    }

    /// A minimal GGUF v3 file: metadata `general.architecture = gemma3` and one tensor of
    /// `n` elements of ggml type `dtype`.
    fn gguf_bytes(dtype: u32, n: u64) -> Vec<u8> {
        let mut b = Vec::new();
        let s = |b: &mut Vec<u8>, s: &str| {
            b.extend((s.len() as u64).to_le_bytes());
            b.extend(s.as_bytes());
        };
        b.extend(b"GGUF");
        b.extend(3u32.to_le_bytes());
        b.extend(1u64.to_le_bytes()); // tensors
        b.extend(1u64.to_le_bytes()); // metadata entries
        s(&mut b, "general.architecture");
        b.extend(8u32.to_le_bytes()); // string
        s(&mut b, "gemma3");
        s(&mut b, "token_embd.weight");
        b.extend(1u32.to_le_bytes());
        b.extend(n.to_le_bytes());
        b.extend(dtype.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        b.extend(vec![0u8; 4 * n as usize]);
        b
    }

    #[test]
    fn empty_token_input() {
        fails_with(
            &saex(&["capture", "--model", tiny("gpt2").to_str().unwrap(), "--hooks", "hook_embed", "--text", "", "--no-bos"]),
            &["no tokens"],
        );
    }
}

mod sae {
    use super::*;

    fn tiny_sae() -> PathBuf {
        root().join("fixtures/models/tiny-gpt2-l1")
    }

    fn run_ok(args: &[&str]) -> Output {
        let o = saex(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    }

    #[test]
    fn encode_writes_tokens_input_and_feature_acts() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("enc.safetensors");
        let (m, s) = (tiny("gpt2"), tiny_sae());
        run_ok(&[
            "encode",
            "--model",
            m.to_str().unwrap(),
            "--sae",
            s.to_str().unwrap(),
            "--text",
            "People in Paris read.",
            "--out",
            out.to_str().unwrap(),
        ]);
        let got = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
        let r = candle_core::safetensors::load(root().join("fixtures/models/tiny-gpt2-l1.reference.safetensors"), &Device::Cpu).unwrap();
        assert_eq!(got["tokens"].dtype(), DType::I64);
        assert_eq!(got["blocks.1.hook_resid_pre"].dims()[1], 64);
        let (a, e) = (&got["feature_acts"], &r["p1.feature_acts"]);
        assert_eq!(a.dims(), e.dims());
        let diff = (a - e).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn top_features_json_is_ranked() {
        let (m, s) = (tiny("gpt2"), tiny_sae());
        for reduce in ["max", "mean", "sum", "last"] {
            let o = run_ok(&[
                "top-features",
                "--model",
                m.to_str().unwrap(),
                "--sae",
                s.to_str().unwrap(),
                "--text",
                "The tower",
                "--k",
                "4",
                "--reduce",
                reduce,
                "--json",
            ]);
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let feats = v["features"].as_array().unwrap();
            assert!(!feats.is_empty() && feats.len() <= 4, "{reduce}: {v}");
            let vals: Vec<f64> = feats.iter().map(|f| f["value"].as_f64().unwrap()).collect();
            assert!(vals.windows(2).all(|w| w[0] >= w[1]), "{reduce}: {vals:?}");
            assert_eq!(v["hook"], "blocks.1.hook_resid_pre");
        }
    }

    #[test]
    fn sae_info_and_eval_report_json() {
        let (m, s) = (tiny("gpt2"), tiny_sae());
        let o = run_ok(&["sae-info", s.to_str().unwrap(), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((v["d_in"].as_u64(), v["d_sae"].as_u64(), v["architecture"].as_str()), (Some(64), Some(128), Some("standard")));
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("t.txt");
        std::fs::write(&text, "People in Paris read. The tower is tall.\n".repeat(8)).unwrap();
        let o = run_ok(&[
            "eval",
            "--model",
            m.to_str().unwrap(),
            "--sae",
            s.to_str().unwrap(),
            "--text-file",
            text.to_str().unwrap(),
            "--ctx",
            "32",
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for k in ["l0", "explained_variance", "mse", "ce_loss_clean", "ce_loss_with_sae", "ce_loss_zero_ablation", "ce_loss_recovered"] {
            assert!(v[k].as_f64().is_some_and(f64::is_finite), "{k}: {v}");
        }
    }

    #[test]
    fn a_hook_of_another_width_is_refused() {
        let (m, s) = (tiny("gpt2"), tiny_sae());
        let o = saex(&[
            "top-features",
            "--model",
            m.to_str().unwrap(),
            "--sae",
            s.to_str().unwrap(),
            "--hook",
            "blocks.0.mlp.hook_post",
            "--text",
            "x",
        ]);
        fails_with(&o, &["d_in 64", "128", "blocks.0.mlp.hook_post"]);
    }

    #[test]
    fn an_sae_without_a_hook_needs_one() {
        let s = root().join("fixtures/sae/gemma_scope/bare");
        let o = saex(&["top-features", "--model", tiny("gpt2").to_str().unwrap(), "--sae", s.to_str().unwrap(), "--text", "x"]);
        fails_with(&o, &["--hook"]);
    }

    #[test]
    fn unknown_reduce_and_missing_sae() {
        let (m, s) = (tiny("gpt2"), tiny_sae());
        let o = saex(&["top-features", "--model", m.to_str().unwrap(), "--sae", s.to_str().unwrap(), "--text", "x", "--reduce", "median"]);
        fails_with(&o, &["median"]);
        let o = saex(&["sae-info", "/nonexistent/sae"]);
        fails_with(&o, &["/nonexistent/sae"]);
    }

    #[test]
    fn an_sae_trained_on_another_model_warns_but_runs() {
        let o = saex(&["top-features", "--model", tiny("llama").to_str().unwrap(), "--sae", tiny_sae().to_str().unwrap(), "--text", "x"]);
        assert!(o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.starts_with("warning: ") && stderr.contains("the SAE was trained on `tiny-gpt2`"), "{stderr}");
    }
}
