"""Results are the CLI's JSON and more: `.to_pandas()` for their tables, `_repr_html_` for
the pages the CLI writes (shown inline by Jupyter), pickling as plain values."""

import html
import json
import pickle
import re
import sys

import numpy as np
import pytest
import saex

from conftest import DEMO_SAE, cli_json, run_cli

TEXT = "The Eiffel Tower is in Paris. Its engineer, Gustave Eiffel, also built bridges."


def page_of(fragment: str) -> str:
    """The page inside a `_repr_html_` fragment, checked to be one sandboxed iframe."""
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts allow-popups" style="[^"]*"></iframe>', fragment)
    assert m, fragment[:200]
    page = html.unescape(m.group(1))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Self-contained: nothing fetched from elsewhere.
    assert not re.search(r'(src|href)="https?:|url\(https?:|@import', page)
    return page


def page_data(page: str):
    """The JSON block the page's script reads."""
    m = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    assert m, "no data block"
    return json.loads(m.group(1))


def test_results_are_their_json(session):
    top = session.top_features(TEXT, k=5)
    assert isinstance(top, dict) and isinstance(top, saex.Report) and top.verb == "top_features"
    assert json.loads(json.dumps(top)) == top
    near = session.neighbors(42, k=3)
    assert isinstance(near, list) and isinstance(near, saex.Rows)
    back = pickle.loads(pickle.dumps(top))
    assert back == top and type(back) is saex.Report and back._session is None


def test_to_pandas_tables(session):
    pd = pytest.importorskip("pandas")
    top = session.top_features(TEXT, k=6)
    df = top.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert df["feature_id"].tolist() == [f["feature_id"] for f in top["features"]]
    assert {"value", "peak_token", "peak_position", "density", "label"} <= set(df.columns)
    d = session.discover(text=TEXT, return_top_x=5)
    ddf = d.to_pandas()
    assert ddf["feature_id"].tolist() == [f["feature_id"] for f in d["features"]]
    assert ddf["scores.coverage"].tolist() == [f["scores"]["coverage"] for f in d["features"]]
    assert session.neighbors(42, k=4).to_pandas()["cosine"].tolist() == [n["cosine"] for n in session.neighbors(42, k=4)]
    ls = session.logit_stats(features=[3, 17, 400], k=3)
    assert ls.tables() == ["features", "types"]
    assert ls.to_pandas()["feature_id"].tolist() == [3, 17, 400]
    assert len(ls.to_pandas("types")) == len(ls["types"])
    texts = ["The cat sat on the mat.", TEXT, "Berlin is in Germany."]
    tt = session.top_texts([f["feature_id"] for f in top["features"][:2]], texts, k=2)
    rows = tt.to_pandas()
    assert len(rows) == sum(len(f["examples"]) for f in tt) > 0
    assert {"feature_id", "sae_id", "act", "text_index", "token"} <= set(rows.columns)
    h = session.highlight(TEXT, [top["features"][0]["feature_id"], 7])
    hdf = h.to_pandas()
    assert hdf["token"].tolist() == h["tokens"]
    assert hdf[top["features"][0]["feature_id"]].tolist() == h["features"][0]["acts"]
    items = [{"group": g, "text": t} for g, t in [("cats", "The cat purrs"), ("cats", "A kitten sleeps"), ("dogs", "The dog barks"), ("dogs", "A puppy runs")]]
    g = session.groups(items=items)
    assert len(g.to_pandas()) == sum(len(x["features"]) for x in g["groups"])
    assert sorted(g.to_pandas("groups")["group"]) == ["cats", "dogs"]
    with pytest.raises(KeyError, match="no table 'nope'"):
        top.to_pandas("nope")
    with pytest.raises(TypeError, match="has no table"):
        session.generate("Hi", max_new_tokens=1).to_pandas()


def test_to_pandas_without_pandas(session, monkeypatch):
    top = session.top_features(TEXT, k=2)
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` raises ImportError
    with pytest.raises(ImportError, match="needs pandas.*pip install pandas"):
        top.to_pandas()


def test_highlight_page_inline(session, model, tmp_path):
    top = session.top_features(TEXT, k=4)
    ids = [f["feature_id"] for f in top["features"]]
    page = page_of(top._repr_html_())
    data = page_data(page)
    (view,) = data["views"]
    assert [f["id"] for f in view["features"]] == ids
    # The tokens and activations are saex highlight's, and so is the whole page.
    want = json.loads(run_cli("highlight", "--model", model, "--sae", DEMO_SAE, "--text", TEXT, "--features", ",".join(map(str, ids)),
                              "--out", str(tmp_path / "h.html"), "--json").stdout)
    assert view["tokens"] == want["tokens"]
    assert [f["acts"] for f in view["features"]] == [f["acts"] for f in want["features"]]
    h = session.highlight(TEXT, ids)
    assert h == want
    assert page_data(page_of(h._repr_html_()))["views"] == page_data((tmp_path / "h.html").read_text())["views"]
    assert h.html().startswith("<!DOCTYPE html>")


def test_report_pages_inline(session, model, tmp_path):
    d = session.discover(text=TEXT, return_top_x=5)
    (view,) = page_data(page_of(d._repr_html_()))["views"]
    assert [f["id"] for f in view["features"]] == [f["feature_id"] for f in d["features"]]
    ls = session.logit_stats(features=[3, 17], k=3)
    assert page_data(page_of(ls._repr_html_()))["report"] == ls
    texts = [{"text": "I love this film", "category": "pos"}, {"text": "What a day", "category": "pos"}, {"text": "This is terrible", "category": "neg"}]
    ex = session.explore(texts=texts, strong=1.0)
    assert page_data(page_of(ex._repr_html_()))["report"] == ex
    mp = session.map(features=list(range(30)), method="pca")
    run_cli("map", "--model", model, "--sae", DEMO_SAE, "--features", ",".join(map(str, range(30))), "--method", "pca",
            "--out", str(tmp_path / "m.html"), "--json", str(tmp_path / "m.json"))
    assert mp == json.loads((tmp_path / "m.json").read_text())
    assert page_data(page_of(mp._repr_html_()))["report"] == mp
    # Results without a page have no HTML repr (Jupyter shows the dict).
    assert session.tokenize("hi")._repr_html_() is None
    with pytest.raises(TypeError, match="no page"):
        session.neighbors(1, k=2).html()


def test_encode_is_csr_by_default_with_scipy(session):
    sp = pytest.importorskip("scipy.sparse")
    dense = session.encode(TEXT, sparse=False)["feature_acts"]
    for csr in (session.encode(TEXT)["feature_acts"], session.encode(TEXT, sparse=True)["feature_acts"]):
        assert sp.issparse(csr) and csr.format == "csr" and csr.shape == dense.shape and csr.dtype == np.float32
        assert (csr.toarray() == dense).all()
    # Sparse indeed: the demo SAE keeps a few dozen of its 4,096 features per token.
    assert csr.nnz < dense.size / 20


def test_encode_without_scipy_is_dense(session, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)  # `import scipy.sparse` raises ImportError
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    enc = session.encode(TEXT)
    assert isinstance(enc["feature_acts"], np.ndarray) and enc["feature_acts"].shape[1] == 4096
    with pytest.raises(ImportError, match="needs scipy.*pip install scipy"):
        session.encode(TEXT, sparse=True)
