"""Every other method runs on the demo model and returns what its stub says."""

import threading

import numpy as np
import pytest

TEXT = "Paris is the capital of France, and Berlin is the capital of Germany."

def test_encode_is_dense_and_matches_top_features(session):
    enc = session.encode(TEXT, sparse=False)
    n = len(enc["tokens"])
    assert enc["hook"] == "blocks.6.hook_resid_pre"
    assert enc["feature_acts"].shape == (n, 4096) and enc["feature_acts"].dtype == np.float32
    assert enc["activations"].shape == (n, 640)
    assert len(enc["token_ids"]) == n
    assert enc["token_ids"] == [t["id"] for t in session.tokenize(TEXT)["tokens"]]
    # top_features' max over the tokens (bos left out) is the dense array's column max.
    top = session.top_features(TEXT, k=5, max_density=1.0)
    for f in top["features"]:
        col = enc["feature_acts"][1:, f["feature_id"]]
        assert abs(float(col.max()) - f["value"]) < 1e-6
        assert int(col.argmax()) + 1 == f["peak_position"]

def test_capture_shapes_and_agrees_with_encode(session):
    acts = session.capture(TEXT, ["blocks.6.hook_resid_pre", "blocks.2.hook_mlp_out"])
    enc = session.encode(TEXT)
    assert set(acts) == {"blocks.6.hook_resid_pre", "blocks.2.hook_mlp_out"}
    assert acts["blocks.2.hook_mlp_out"].shape == (len(enc["tokens"]), 640)
    np.testing.assert_allclose(acts["blocks.6.hook_resid_pre"], enc["activations"], rtol=0, atol=1e-5)

def test_generate_greedy_is_deterministic(session):
    a = session.generate("The capital of France is", max_new_tokens=6)
    b = session.generate("The capital of France is", max_new_tokens=6)
    assert a == b and len(a["ids"]) <= 6 and a["prompt"] == "The capital of France is"

def test_steer(session):
    s = session.steer(prompt="I think that", features=[{"feature_id": 10, "coefficient": 20}], max_new_tokens=5, compare=True)
    assert s["steered"] != "" and s["baseline"] is not None

def test_explore_and_concept(session):
    texts = [
        {"text": "I love this film", "category": "positive"},
        {"text": "What a wonderful day", "category": "positive"},
        {"text": "This is terrible", "category": "negative"},
    ]
    r = session.explore(texts=texts)
    assert [t["text"] for t in r["texts"]] == [t["text"] for t in texts]
    c = session.concept(texts=["Paris", "Berlin", "Rome"], k=3)
    assert isinstance(c, dict)

def test_groups(session):
    items = [{"group": g, "text": t} for g, t in [("cats", "The cat purrs"), ("cats", "A kitten sleeps"), ("dogs", "The dog barks"), ("dogs", "A puppy runs")]]
    r = session.groups(items=items)
    assert sorted(g["group"] for g in r["groups"]) == ["cats", "dogs"]

def test_mlxterp_wrappers(session):
    top = session.get_top_features_for_text(TEXT, top_k=5)
    assert len(top) == 5 and all(isinstance(f, int) and isinstance(a, float) for f, a in top)
    want = session.top_features(TEXT, k=5)["features"]
    assert [f for f, _ in top] == [f["feature_id"] for f in want]
    # f32 as a Python float here; the JSON report prints the f32's shortest decimal.
    assert [a for _, a in top] == pytest.approx([f["value"] for f in want], rel=1e-6)
    texts = ["The cat sat on the mat.", TEXT, "Berlin is in Germany."]
    found = session.get_top_texts_for_feature(top[0][0], texts, top_k=2)
    assert len(found) <= 2 and found[0][0] == TEXT
    assert found == sorted(found, key=lambda r: -r[1])

def test_model_work_releases_the_gil(session):
    # Two threads each run the model; with the GIL held they could not overlap, but they
    # must at least both finish with the same answer as one thread alone.
    want = session.top_features(TEXT, k=3)
    got = []
    threads = [threading.Thread(target=lambda: got.append(session.top_features(TEXT, k=3))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [want, want]
