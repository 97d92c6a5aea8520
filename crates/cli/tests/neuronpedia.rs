//! Neuronpedia's published Python client against `saex serve`: starts the server on
//! loopback (Gemma 3 270M + the demo SAE, with a secret; SmolLM2 135M Instruct + a random
//! SAE for chat) and runs `tests/python/neuronpedia` (pytest, `.venv-tests` from
//! `scripts/setup-python.sh`), which calls every route through the client's `DefaultApi` and
//! compares each answer with the saex CLI. Also: `saex serve` refuses a non-loopback
//! address without a secret.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::{demo_sae, fails_with, gemma, saex};

/// A running `saex serve`, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_saex"))
        .arg("serve")
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--max-concurrent", "2"])
        .envs(envs.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start saex serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(Ok(url.trim().to_string()));
            } else if line.starts_with("error") {
                let _ = tx.send(Err(line));
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(Ok(url)) => Server { child, url },
        other => {
            let _ = child.kill();
            panic!("saex serve did not start: {other:?}");
        }
    }
}

fn write_random_sae(dir: &Path, d_in: usize, d_sae: usize, hook: &str) {
    saex_testutil::write_random_sae(dir, saex_testutil::RandomSae { d_in, d_sae, hook, seed: 1, scale: 1.0, b_dec_scale: 1.0 });
}

#[test]
fn the_published_python_client_against_saex_serve() {
    let root = saex_testutil::root();
    let python = root.join(".venv-tests/bin/python");
    assert!(python.exists(), "the Python client tests need scripts/setup-python.sh (neuronpedia-inference-client, pytest)");
    let (model, sae) = (gemma(), demo_sae());
    let secret = "np-test-secret";
    let main = serve(&["--model", &model, "--sae", &sae, "--secret-env", "SAEX_TEST_NP_SECRET"], &[("SAEX_TEST_NP_SECRET", secret)]);
    let dir = tempfile::tempdir().unwrap();
    write_random_sae(dir.path(), 576, 64, "blocks.3.hook_resid_pre");
    let smol = saex_testutil::real_model("SmolLM2-135M-Instruct.Q4_1.gguf");
    let chat =
        serve(&["--model", smol.to_str().unwrap(), "--sae", dir.path().to_str().unwrap(), "--np-model", "smollm2-135m-instruct"], &[]);
    let out = Command::new(&python)
        .args(["-m", "pytest", "tests/python/neuronpedia", "-q", "-p", "no:cacheprovider"])
        .current_dir(&root)
        .env("SAEX_BIN", env!("CARGO_BIN_EXE_saex"))
        .env("SAEX_NP_URL", &main.url)
        .env("SAEX_NP_SECRET", secret)
        .env("SAEX_NP_MODEL_PATH", &model)
        .env("SAEX_NP_SAE", &sae)
        .env("SAEX_NP_CHAT_URL", &chat.url)
        .env("SAEX_NP_CHAT_MODEL_PATH", smol.to_str().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pytest failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("passed") && !stdout.contains("failed"), "{stdout}");
}

#[test]
fn no_secret_no_other_machines() {
    let (model, sae) = (gemma(), demo_sae());
    let out = saex(&["serve", "--model", &model, "--sae", &sae, "--addr", "0.0.0.0:0"]);
    fails_with(&out, &["refusing to listen on 0.0.0.0:0", "--secret-env"]);
    let out = saex(&["serve", "--model", &model, "--sae", &sae, "--secret-env", "SAEX_SURELY_UNSET_VAR"]);
    fails_with(&out, &["SAEX_SURELY_UNSET_VAR", "not set"]);
}
