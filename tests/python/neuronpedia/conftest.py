"""Neuronpedia's published Python client (neuronpedia-inference-client 1.10.1) against a
running `saex serve`, every answer checked against saex's CLI for the same input.

Run by crates/cli/tests/neuronpedia.rs, which starts the servers and sets:
  SAEX_BIN            the saex binary
  SAEX_NP_URL         http://127.0.0.1:PORT of `saex serve` on Gemma 3 270M + the demo SAE
  SAEX_NP_SECRET      the X-SECRET-KEY it checks
  SAEX_NP_MODEL_PATH  the Gemma GGUF, SAEX_NP_SAE the demo SAE directory (for the CLI)
  SAEX_NP_CHAT_URL    `saex serve` on SmolLM2 135M Instruct (a chat template) + a random SAE
  SAEX_NP_CHAT_MODEL_PATH  its GGUF
"""

import json
import os
import struct
import subprocess

import numpy as np
import pytest
from neuronpedia_inference_client import ApiClient, Configuration
from neuronpedia_inference_client.api.default_api import DefaultApi

MODEL = "gemma-3-270m"
SOURCE = "6-saex-res-4k"
SOURCE_SET = "saex-res-4k"


def env(name):
    v = os.environ.get(name)
    if not v:
        pytest.fail(f"{name} is not set: run through `cargo test -p saex --test neuronpedia`")
    return v


def client(url, secret):
    cfg = Configuration(host=url.rstrip("/") + "/v1")
    if secret is not None:
        cfg.api_key["SimpleSecretAuth"] = secret
    return DefaultApi(ApiClient(cfg))


@pytest.fixture(scope="session")
def api():
    return client(env("SAEX_NP_URL"), env("SAEX_NP_SECRET"))


@pytest.fixture(scope="session")
def chat_api():
    return client(env("SAEX_NP_CHAT_URL"), None)


def saex(*args):
    """Run the saex CLI; its stdout."""
    out = subprocess.run([env("SAEX_BIN"), *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def model_sae():
    return ["--model", env("SAEX_NP_MODEL_PATH"), "--sae", env("SAEX_NP_SAE")]


def read_safetensors(path):
    """{name: ndarray} of a safetensors file (f32, i64, u32), read with numpy alone."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64, "U32": np.uint32, "F64": np.float64, "I32": np.int32}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


_encoded = {}


def saex_encode(text, tmp_path_factory):
    """`saex encode`'s feature_acts [n_tokens, d_sae] and token ids for `text`."""
    if text not in _encoded:
        out = tmp_path_factory.mktemp("enc") / "enc.safetensors"
        saex("encode", *model_sae(), "--text", text, "--out", str(out))
        t = read_safetensors(out)
        _encoded[text] = (t["feature_acts"], t["tokens"].tolist())
    return _encoded[text]


def saex_tokenize(text, bos=True):
    args = ["tokenize", "--model", env("SAEX_NP_MODEL_PATH"), "--text", text, "--json"]
    if not bos:
        args.append("--no-bos")
    return json.loads(saex(*args))["ids"]
