"""Bad input raises saex.SaexError with saex's one-line message, never crashes the
interpreter; each case is also checked against the CLI's error line."""

import subprocess

import pytest
import saex

from conftest import DEMO_SAE, TINY_SAE, saex_bin


def cli_error(*args: str) -> str:
    out = subprocess.run([saex_bin(), *args], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    return [l for l in out.stderr.splitlines() if not l.startswith("warning:")][-1]


def test_error_class():
    assert issubclass(saex.SaexError, ValueError)


def test_missing_model_file():
    with pytest.raises(saex.SaexError, match="no-such-model.gguf"):
        saex.Session("/nonexistent/no-such-model.gguf", saes=[DEMO_SAE])


def test_sae_width_mismatch(model):
    # tiny-gpt2-l1 reads d_in 64 (a GPT-2 toy); Gemma 3 270M writes 640.
    with pytest.raises(saex.SaexError) as e:
        saex.Session(model, saes=[TINY_SAE])
    msg = str(e.value)
    assert "\n" not in msg
    assert msg in cli_error("top-features", "--model", model, "--sae", TINY_SAE, "--text", "x")


def test_unknown_feature(session, model):
    with pytest.raises(saex.SaexError) as e:
        session.logit_stats(features=[999999])
    assert str(e.value) in cli_error("logit-stats", "--model", model, "--sae", DEMO_SAE, "--features", "999999")
    with pytest.raises(saex.SaexError, match="999999"):
        session.neighbors(999999)
    with pytest.raises(saex.SaexError, match="999999"):
        session.get_top_texts_for_feature(999999, ["a text"])


def test_bad_request_fields(session):
    with pytest.raises(saex.SaexError, match="unknown field `no_such_field`"):
        session.top_features("hi", no_such_field=1)
    with pytest.raises(saex.SaexError, match="unknown variant `median`"):
        session.top_features("hi", reduce="median")
    with pytest.raises(saex.SaexError):
        session.capture("hi", ["blocks.6.resid"])
    with pytest.raises(saex.SaexError, match="out of range"):
        session.encode("hi", sae=3)
    with pytest.raises(saex.SaexError, match="text"):
        session.top_features("", bos=False)


def test_session_still_works_after_errors(session):
    assert session.top_features("Paris", k=1)["features"]
