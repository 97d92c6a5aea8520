"""Every route through the client's DefaultApi and model classes, against saex's CLI."""

import json

import numpy as np
import pytest
from neuronpedia_inference_client.models import (
    ActivationAllBatchPostRequest,
    ActivationAllPostRequest,
    ActivationSingleBatchPostRequest,
    ActivationSinglePostRequest,
    ActivationSourcePostRequest,
    ActivationTopkByTokenBatchPostRequest,
    ActivationTopkByTokenPostRequest,
    NPFeature,
    NPSteerChatMessage,
    NPSteerFeature,
    NPSteerMethod,
    NPSteerType,
    NPSteerVector,
    SteerCompletionChatPostRequest,
    SteerCompletionRequest,
    TokenizePostRequest,
    UtilSaeTopkByDecoderCossimPostRequest,
    UtilSaeVectorPostRequest,
)

from conftest import MODEL, SOURCE, SOURCE_SET, env, model_sae, saex, saex_encode, saex_tokenize

FOX = "The quick brown fox jumps over the lazy dog."
HELLO = "Hello world, this is saex."
MATH = "The area of a circle is $A = \\pi r^2$, where"


def f32(x):
    return np.float32(x)


def test_tokenize_equals_saex_tokenize(api):
    r = api.tokenize_post(TokenizePostRequest(model=MODEL, text=FOX))
    assert r.tokens == saex_tokenize(FOX)
    assert r.prepend_bos is True
    assert r.token_strings[0] == "<bos>" and len(r.token_strings) == len(r.tokens)
    r = api.tokenize_post(TokenizePostRequest(model=MODEL, text=FOX, prepend_bos=False))
    assert r.tokens == saex_tokenize(FOX, bos=False) and r.prepend_bos is False


def test_activation_all_equals_saex_encode(api, tmp_path_factory):
    acts, ids = saex_encode(FOX, tmp_path_factory)
    r = api.activation_all_post(ActivationAllPostRequest(
        prompt=FOX, model=MODEL, source_set=SOURCE_SET, selected_sources=[], sort_by_token_indexes=[],
        ignore_bos=True, num_results=20))
    assert len(r.tokens) == len(ids) == acts.shape[0]
    assert len(r.activations) == 20
    # Ranked by the max over tokens past bos: the CLI's 20 best features, in order.
    peak = acts[1:].max(axis=0)
    order = sorted(range(acts.shape[1]), key=lambda f: (-peak[f], f))[:20]
    assert [a.index for a in r.activations] == order
    for a in r.activations:
        assert a.source == SOURCE
        col = acts[:, a.index].copy()
        col[0] = 0.0
        assert np.array_equal(np.array(a.values, dtype=np.float32), col)
        assert f32(a.max_value) == col.max() and a.max_value_index == int(col.argmax())


def test_activation_all_sorted_by_token_and_batch(api, tmp_path_factory):
    acts, _ = saex_encode(FOX, tmp_path_factory)
    r = api.activation_all_post(ActivationAllPostRequest(
        prompt=FOX, model=MODEL, source_set=SOURCE_SET, selected_sources=[SOURCE], sort_by_token_indexes=[2, 3],
        ignore_bos=False, num_results=5))
    sums = acts[2] + acts[3]
    assert [a.index for a in r.activations] == sorted(range(acts.shape[1]), key=lambda f: (-sums[f], f))[:5]
    assert f32(r.activations[0].sum_values) == pytest.approx(sums.max(), rel=1e-6)
    rb = api.activation_all_batch_post(ActivationAllBatchPostRequest(
        prompts=[FOX, HELLO], model=MODEL, source_set=SOURCE_SET, selected_sources=[], sort_by_token_indexes=[],
        ignore_bos=True, num_results=5))
    assert len(rb.results) == 2
    hello, _ = saex_encode(HELLO, tmp_path_factory)
    assert [a.index for a in rb.results[1].activations] == sorted(range(hello.shape[1]), key=lambda f: (-hello[1:, f].max(), f))[:5]


def test_activation_single_equals_saex_encode(api, tmp_path_factory):
    acts, ids = saex_encode(FOX, tmp_path_factory)
    f = int(acts[1:].max(axis=0).argmax())
    r = api.activation_single_post(ActivationSinglePostRequest(prompt=FOX, model=MODEL, source=SOURCE, index=str(f)))
    assert np.array_equal(np.array(r.activation.values, dtype=np.float32), acts[1:, f])
    assert len(r.tokens) == len(ids) - 1 and r.tokens_is_special == [False] * (len(ids) - 1)
    assert r.activation.max_value_index == int(acts[1:, f].argmax())
    rb = api.activation_single_batch_post(ActivationSingleBatchPostRequest(prompts=[FOX, HELLO], model=MODEL, source=SOURCE, index=str(f)))
    assert rb.results[0].activation.values == r.activation.values
    hello, _ = saex_encode(HELLO, tmp_path_factory)
    assert np.array_equal(np.array(rb.results[1].activation.values, dtype=np.float32), hello[1:, f])


def test_activation_single_by_vector(api, tmp_path_factory):
    # The feature's encoder column at its hook: values are h·W_enc[:, f], the SAE's
    # pre-activation minus its bias terms (here checked against the route's own math: the
    # encoder column dotted with saex capture's hook values).
    v = api.util_sae_vector_post(UtilSaeVectorPostRequest(model=MODEL, source=SOURCE, index=7))
    r = api.activation_single_post(ActivationSinglePostRequest(prompt=HELLO, model=MODEL, vector=v.vector, hook=v.hook_name))
    out = tmp_path_factory.mktemp("cap") / "cap.safetensors"
    saex("capture", "--model", env("SAEX_NP_MODEL_PATH"), "--hooks", v.hook_name, "--text", HELLO, "--out", str(out))
    from conftest import read_safetensors

    h = read_safetensors(out)[v.hook_name]
    want = h.astype(np.float64) @ np.array(v.vector, dtype=np.float64)
    assert len(r.tokens) == h.shape[0]
    assert np.allclose(r.activation.values, want, rtol=1e-4, atol=1e-3 * np.abs(want).max())


def test_topk_by_token_equals_saex_encode(api, tmp_path_factory):
    acts, ids = saex_encode(FOX, tmp_path_factory)
    r = api.activation_topk_by_token_post(ActivationTopkByTokenPostRequest(prompt=FOX, model=MODEL, source=SOURCE, top_k=4, ignore_bos=True))
    assert len(r.results) == len(ids) - 1 and r.results[0].token_position == 1
    for t in r.results:
        row = acts[t.token_position]
        want = sorted(range(row.shape[0]), key=lambda f: (-row[f], f))[:4]
        assert [x.feature_index for x in t.top_features] == want
        assert [f32(x.activation_value) for x in t.top_features] == [row[f] for f in want]
        assert t.is_special is False
    rb = api.activation_topk_by_token_batch_post(ActivationTopkByTokenBatchPostRequest(
        prompts=[FOX, HELLO], model=MODEL, source=SOURCE, top_k=2, ignore_bos=False))
    assert rb.results[0].results[0].token == "<bos>" and rb.results[0].results[0].is_special is True
    assert len(rb.results[1].tokens) == len(saex_tokenize(HELLO))


def test_activation_source_equals_saex_encode(api, tmp_path_factory):
    acts, ids = saex_encode(FOX, tmp_path_factory)
    r = api.activation_source_post(ActivationSourcePostRequest(prompts=[FOX], model=MODEL, source=SOURCE))
    active = r.results[0].active_features
    assert active, "activeFeatures parsed (camelCase on the wire)"
    want = {(t, f) for t, f in zip(*np.nonzero(acts[1:])) for t in [t + 1]}
    got = {(int(t), int(f)) for f, pairs in active.items() for t, _ in pairs}
    assert got == want
    for f, pairs in active.items():
        for t, v in pairs:
            assert abs(v - acts[int(t), int(f)]) <= 5e-4


def test_util_sae_vector_and_cossim(api):
    v = api.util_sae_vector_post(UtilSaeVectorPostRequest(model=MODEL, source=SOURCE, index=5))
    assert v.hook_name == "blocks.6.hook_resid_pre" and len(v.vector) == 640
    r = api.util_sae_topk_by_decoder_cossim_post(UtilSaeTopkByDecoderCossimPostRequest(
        feature=NPFeature(model=MODEL, source=SOURCE, index=5), model=MODEL, source=SOURCE, num_results=5))
    assert r.feature.index == 5
    top = r.topk_decoder_cossim_features
    assert len(top) == 5 and top[0].feature.index == 5 and top[0].cosine_similarity == pytest.approx(1.0, abs=1e-5)
    assert all(a.cosine_similarity >= b.cosine_similarity for a, b in zip(top, top[1:]))
    rv = api.util_sae_topk_by_decoder_cossim_post(UtilSaeTopkByDecoderCossimPostRequest(
        vector=[1.0] * 640, model=MODEL, source=SOURCE, num_results=3))
    assert rv.feature is None and len(rv.topk_decoder_cossim_features) == 3


def steer_request(**kw):
    base = dict(prompt=MATH, model=MODEL, steer_method=NPSteerMethod.SIMPLE_ADDITIVE, normalize_steering=False,
                types=[NPSteerType.STEERED, NPSteerType.DEFAULT],
                features=[NPSteerFeature(model=MODEL, source=SOURCE, index=342, strength=2.5)],
                n_completion_tokens=10, temperature=0.8, strength_multiplier=2.0, freq_penalty=0.0, seed=7, stream=False, n_logprobs=0)
    base.update(kw)
    return SteerCompletionRequest(**base)


def test_steer_completion_equals_saex_steer(api):
    r = api.steer_completion_post(steer_request())
    cli = json.loads(saex("steer", *model_sae(), "--feature", "342=5", "--prompt", MATH, "--max-tokens", "10",
                          "--temperature", "0.8", "--seed", "7", "--compare", "--json"))
    assert [o.type for o in r.outputs] == [NPSteerType.STEERED, NPSteerType.DEFAULT]
    assert r.outputs[0].output == MATH + cli["steered"]
    assert r.outputs[1].output == MATH + cli["baseline"]
    assert r.outputs[0].output != r.outputs[1].output


def test_steer_methods_vectors_and_logprobs(api):
    for method in [NPSteerMethod.ORTHOGONAL_DECOMP, NPSteerMethod.PROJECTION_CAP]:
        r = api.steer_completion_post(steer_request(steer_method=method, types=[NPSteerType.STEERED], temperature=0, n_logprobs=2))
        lps = r.outputs[0].logprobs
        assert lps and all(len(lp.top_logprobs) == 2 and lp.logprob <= 0 for lp in lps)
    vec = [0.0] * 640
    vec[0] = 1.0
    r = api.steer_completion_post(steer_request(
        features=None, vectors=[NPSteerVector(steering_vector=vec, strength=0.0, hook="blocks.6.hook_resid_pre")], temperature=0))
    assert r.outputs[0].output == r.outputs[1].output, "strength 0 steers nothing"


def test_steer_stream_is_sse_of_cumulative_frames(api):
    raw = api.steer_completion_post_without_preload_content(steer_request(stream=True))
    assert raw.status == 200 and raw.headers["content-type"].startswith("text/event-stream")
    frames = [json.loads(line[len("data: "):]) for line in raw.data.decode().split("\n\n") if line.startswith("data: ")]
    final = api.steer_completion_post(steer_request())
    assert len(frames) > 2
    assert frames[-1] == json.loads(final.to_json())


def test_chat_through_the_models_template(chat_api):
    model = "smollm2-135m-instruct"
    msgs = [NPSteerChatMessage(role="user", content="What is the capital of France?")]
    r = chat_api.steer_completion_chat_post(SteerCompletionChatPostRequest(
        prompt=msgs, model=model, steer_method=NPSteerMethod.SIMPLE_ADDITIVE, normalize_steering=False,
        types=[NPSteerType.STEERED, NPSteerType.DEFAULT],
        features=[NPSteerFeature(model=model, source="3-saex-res-64", index=7, strength=40.0)],
        n_completion_tokens=8, temperature=0, strength_multiplier=1, freq_penalty=0, seed=1, n_logprobs=0,
        steer_special_tokens=True))
    raw = r.input.raw
    assert raw.endswith("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    default = r.outputs[1]
    assert default.type == NPSteerType.DEFAULT and default.raw.startswith(raw)
    assert default.chat_template[-1].role == "assistant"
    # DEFAULT is saex generate's greedy continuation of the rendered prompt.
    gen = json.loads(saex("generate", "--model", env("SAEX_NP_CHAT_MODEL_PATH"), "--prompt", raw, "--max-tokens", "8", "--json"))
    assert default.raw == raw + gen["text"]
