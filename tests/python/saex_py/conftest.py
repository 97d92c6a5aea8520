"""Shared fixtures: the demo model and SAE (found as crates/testutil does), one Session
for the whole run, and the saex CLI to compare with."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMO_SAE = str(ROOT / "demo/sae")
TINY_SAE = str(ROOT / "fixtures/models/tiny-gpt2-l1")


def models_dir() -> Path:
    """`SAEX_MODELS`, else ~/.cache/saex/models (scripts/fetch-models.sh)."""
    d = os.environ.get("SAEX_MODELS")
    return Path(d) if d else Path.home() / ".cache/saex/models"


def gemma() -> str:
    p = models_dir() / "gemma-3-270m-q4_k_m.gguf"
    assert p.is_file(), f"{p} is missing: run scripts/fetch-models.sh"
    return str(p)


def saex_bin() -> str:
    """The CLI: `SAEX_BIN` (set by crates/cli/tests/python_module.rs), else the release
    binary of the target dir."""
    if os.environ.get("SAEX_BIN"):
        return os.environ["SAEX_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "release/saex")


def cli_json(*args: str):
    """`saex ARGS --json`, parsed (one JSON value on stdout)."""
    out = subprocess.run([saex_bin(), *args, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def model() -> str:
    return gemma()


@pytest.fixture(scope="session")
def session(model):
    import saex

    return saex.Session(model, saes=[DEMO_SAE])


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    """`saex ARGS`, checked (exit 0); `env` entries are added to the environment."""
    out = subprocess.run([saex_bin(), *args], capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="session")
def index_dir(model, tmp_path_factory) -> str:
    """A corpus index of the demo SAE over examples/diverse_texts.jsonl (70 short texts,
    a few seconds), built by the CLI."""
    out = tmp_path_factory.mktemp("index") / "ix"
    run_cli("index", "build", "--model", model, "--sae", DEMO_SAE, "--corpus", str(ROOT / "examples/diverse_texts.jsonl"),
            "--out", str(out), "--ctx", "32", "--no-logits")
    return str(out)
