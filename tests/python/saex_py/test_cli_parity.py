"""Each verb returns exactly what `saex <verb> --json` prints for the same input."""

from conftest import DEMO_SAE, cli_json

TEXT = "The Eiffel Tower is in Paris. Its engineer, Gustave Eiffel, also built bridges."


def test_tokenize(session, model):
    assert session.tokenize(TEXT) == cli_json("tokenize", "--model", model, "--text", TEXT)
    assert session.tokenize(TEXT, bos=False) == cli_json("tokenize", "--model", model, "--text", TEXT, "--no-bos")


def test_top_features(session, model):
    got = session.top_features(TEXT, k=7, reduce="mean")
    want = cli_json("top-features", "--model", model, "--sae", DEMO_SAE, "--text", TEXT, "--k", "7", "--reduce", "mean")
    assert got == want
    assert len(got["features"]) == 7


def test_discover(session, model):
    got = session.discover(text=TEXT, return_top_x=10)
    want = cli_json("discover", "--model", model, "--sae", DEMO_SAE, "--text", TEXT, "--return-top-x", "10", "--no-cache")
    assert got == want
    assert got["features"]


def test_logit_stats(session, model):
    got = session.logit_stats(features=[3, 17, 400], k=5)
    want = cli_json("logit-stats", "--model", model, "--sae", DEMO_SAE, "--features", "3,17,400", "--k", "5")
    assert got == want


def test_neighbors(session):
    got = session.neighbors(42, k=8, by="encoder")
    want = cli_json("neighbors", "--sae", DEMO_SAE, "--feature", "42", "--k", "8", "--by", "encoder")
    assert got == want
    assert [n["feature_id"] for n in got] != [42] * 8
