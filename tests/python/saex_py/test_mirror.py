"""The objects beside Session: saex.Model (mlxterp's calls), saex.Sae and the label registry,
saex.Index, saex.drift — each equal to the CLI's JSON for the same input."""

import json

import pytest
import saex

from conftest import DEMO_SAE, ROOT, cli_json, run_cli

TEXT = "Paris is the capital of France, and Berlin is the capital of Germany."
TEXTS = ["The cat sat on the mat.", TEXT, "Berlin is in Germany.", "Tokyo is the capital of Japan."]


@pytest.fixture(scope="module")
def mlx(model):
    return saex.Model(model)


def test_hook_for():
    assert saex.hook_for(6, "resid_pre") == "blocks.6.hook_resid_pre"
    assert saex.hook_for(10, "mlp") == "blocks.10.hook_mlp_out"
    assert saex.hook_for(2, "attn") == "blocks.2.hook_attn_out"
    assert saex.hook_for(3, "output") == "blocks.3.hook_resid_post"
    assert saex.hook_for(0, "blocks.4.hook_resid_mid") == "blocks.4.hook_resid_mid"
    with pytest.raises(saex.SaexError, match="component 'ffn'"):
        saex.hook_for(1, "ffn")


def test_model_mlxterp_calls(mlx, session):
    sae = mlx.load_sae(DEMO_SAE)
    assert isinstance(sae, saex.Sae) and sae.d_sae == 4096
    top = mlx.get_top_features_for_text(text=TEXT, sae=sae, layer=6, component="resid_pre", top_k=5)
    assert top == session.get_top_features_for_text(TEXT, top_k=5)
    assert all(isinstance(f, int) and isinstance(a, float) for f, a in top)
    # A path works where mlxterp takes one, and is the same SAE.
    assert mlx.get_top_features_for_text(TEXT, DEMO_SAE, 6, "resid_pre", 5) == top
    ex = mlx.get_top_texts_for_feature(feature_id=top[0][0], sae=sae, texts=TEXTS, layer=6, component="resid_pre", top_k=2)
    assert ex == session.get_top_texts_for_feature(top[0][0], TEXTS, top_k=2)
    assert ex and all(isinstance(t, str) and isinstance(a, float) and isinstance(p, int) for t, a, p in ex)
    h = mlx.visualize_feature_activations(TEXT, sae, 6, "resid_pre", feature_ids=[f for f, _ in top[:2]])
    assert [f["feature_id"] for f in h["features"]] == [f for f, _ in top[:2]]
    assert mlx.generate("The capital of France is", max_new_tokens=4) == session.generate("The capital of France is", max_new_tokens=4)["text"]


def test_model_checks_layer_and_component(mlx):
    with pytest.raises(saex.SaexError, match=r"reads blocks\.6\.hook_resid_pre; layer=10, component='mlp' names blocks\.10\.hook_mlp_out"):
        mlx.get_top_features_for_text(TEXT, DEMO_SAE, layer=10, component="mlp")
    with pytest.raises(saex.SaexError):
        mlx.get_top_features_for_text(TEXT, "/nonexistent/sae", layer=6, component="resid_pre")
    # The failed load left the model usable.
    assert mlx.get_top_features_for_text(TEXT, DEMO_SAE, 6, "resid_pre", 1)


def test_sae_object(model, tmp_path):
    sae = saex.Sae(DEMO_SAE, registry=tmp_path)
    assert sae.id == DEMO_SAE and sae.d_sae == 4096 and sae.hook is None
    assert repr(sae) == f'saex.Sae("{DEMO_SAE}", d_sae=4096)'
    with pytest.raises(saex.SaexError, match="no-such-sae"):
        saex.Sae("/nonexistent/no-such-sae")
    with pytest.raises(saex.SaexError):
        saex.Sae(DEMO_SAE, hook="blocks.6.resid")
    with pytest.raises(saex.SaexError, match="an SAE is a path"):
        saex.Session(model, saes=[42])
    # A Sae goes wherever an SAE is named, and its hook is the one the session reads.
    s = saex.Session(model, saes=[saex.Sae(DEMO_SAE, hook="blocks.5.hook_resid_pre")], logits=False)
    assert s.saes == [{"id": DEMO_SAE, "hook": "blocks.5.hook_resid_pre", "d_sae": 4096}]


def test_labels_registry(model, tmp_path):
    sae = saex.Sae(DEMO_SAE, registry=tmp_path)
    env = {"SAEX_LABELS_DIR": str(tmp_path)}
    got = sae.set_label(1234, name="geographic_locations", description="Activates on city and country names",
                        examples=["Paris, France", "Tokyo, Japan"], confidence="high")
    assert got["label"] == "geographic_locations" and got["entry"]["source"] == "hand"
    assert sae.label(1234) == json.loads(run_cli("label", "get", "--sae", DEMO_SAE, "1234", "--json", env=env).stdout)
    # Seed 003's registry dict imports as is.
    reg = {3678: {"name": "mathematical_notation", "description": "Activates on equations", "examples": ["E=mc²"], "confidence": "medium"}}
    imp = sae.import_labels(reg)
    assert imp["imported"] == 1
    listed = sae.labels()
    assert listed == json.loads(run_cli("label", "list", "--sae", DEMO_SAE, "--json", env=env).stdout)
    assert sorted(listed["labels"]) == ["1234", "3678"]
    pd = pytest.importorskip("pandas")
    assert sorted(listed.to_pandas()["feature_id"]) == [1234, 3678]
    # A session reading that registry shows the label, and set_label there is seen at once.
    s = saex.Session(model, saes=[sae], registry=tmp_path)
    assert s.label(3678)["label"] == "mathematical_notation"
    top = s.top_features(TEXT, k=1)
    f = top["features"][0]["feature_id"]
    s.set_label(f, name="capitals")
    assert s.top_features(TEXT, k=1)["features"][0]["label"] == "capitals"
    with pytest.raises(saex.SaexError, match="out of range"):
        sae.label(99999)
    with pytest.raises(saex.SaexError, match="unknown field `colour`"):
        sae.set_label(1, colour="red")


def test_index(index_dir):
    ix = saex.Index(index_dir)
    assert ix.saes == [DEMO_SAE]
    feats = ix.features()
    assert len(feats) == 4096
    f = max(feats, key=lambda x: x["stats"]["firing_count"])["feature_id"]
    rec = ix.feature(f)
    assert rec == cli_json("feature", "--index", index_dir, str(f))
    assert rec["top"]
    tops = ix.top_texts(f, k=3)
    assert tops == cli_json("top-texts", "--index", index_dir, "--feature", str(f), "--k", "3")
    assert len(tops) == 3 and tops[0]["activation"] >= tops[-1]["activation"]
    from test_results import page_data, page_of

    assert page_data(page_of(rec._repr_html_()))["features"] == [rec]
    pd = pytest.importorskip("pandas")
    assert tops.to_pandas()["activation"].tolist() == [t["activation"] for t in tops]
    assert len(rec.to_pandas()) == len(rec["top"])
    with pytest.raises(saex.SaexError):
        saex.Index("/nonexistent/index")


def tree(d):
    """Every file under ``d`` with its bytes, by relative path."""
    from pathlib import Path

    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(Path(d).rglob("*")) if p.is_file()}


def test_index_build_and_merge_write_the_clis_files(session, model, index_dir, tmp_path):
    corpus = str(ROOT / "examples/diverse_texts.jsonl")
    # The CLI's build of the same inputs (conftest's index_dir): the same bytes.
    r = session.index_build(corpus, tmp_path / "py", ctx=32, logits=False)
    assert not r["reused"] and not r["resumed"] and r["manifest"]["corpus"]["docs"] == 70
    assert tree(tmp_path / "py") == tree(index_dir)
    assert session.index_build(corpus, tmp_path / "py", ctx=32, logits=False)["reused"]
    cli = cli_json("index", "build", "--model", model, "--sae", DEMO_SAE, "--corpus", corpus, "--out", str(tmp_path / "py"),
                   "--ctx", "32", "--no-logits")
    assert cli["reused"] and cli["manifest"] == r["manifest"]
    # Two shards, merged: the single run again.
    shards = [tmp_path / f"shard{i}" for i in range(2)]
    for i, d in enumerate(shards):
        assert session.index_build(corpus, d, ctx=32, logits=False, shard=f"{i}/2")["manifest"]["kind"] == "shard"
    m = saex.index_merge(shards, tmp_path / "merged")
    assert m["corpus"]["tokens"] == r["manifest"]["corpus"]["tokens"]
    assert tree(tmp_path / "merged") == tree(index_dir)
    with pytest.raises(saex.SaexError, match="shard"):
        session.index_build(corpus, tmp_path / "bad", shard="2/2")
    with pytest.raises(saex.SaexError, match="other inputs"):
        session.index_build(corpus, tmp_path / "py", ctx=48, logits=False)


def test_drift(session, model, tmp_path):
    prompts = [{"text": "The Eiffel Tower is in Paris."}, {"text": "def f(x): return x + 1"}]
    d = saex.drift(session, session, prompts, return_top_x=5)
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))
    want = cli_json("drift", "--model-a", model, "--model-b", model, "--sae", DEMO_SAE, "--prompts", str(tmp_path / "p.jsonl"), "--return-top-x", "5")
    assert d == want
    assert d["mean_spearman"] == 1.0
    # The same from discover results.
    res = [session.discover(return_top_x=5, **p) for p in prompts]
    assert saex.drift(res, res)["prompts"] == d["prompts"]
    from test_results import page_data, page_of

    assert page_data(page_of(d._repr_html_()))["drift"] == d
    with pytest.raises(saex.SaexError, match="give the prompts"):
        saex.drift(session, session)
