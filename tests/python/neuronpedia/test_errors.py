"""Errors as Neuronpedia's server answers them: status and {"error": ...}, never a 500."""

import json

import pytest
from neuronpedia_inference_client.exceptions import ApiException, BadRequestException, UnauthorizedException, UnprocessableEntityException
from neuronpedia_inference_client.models import (
    ActivationAllPostRequest,
    ActivationSinglePostRequest,
    ActivationTopkByTokenPostRequest,
    NPFeature,
    NPSteerChatMessage,
    NPSteerFeature,
    NPSteerMethod,
    NPSteerType,
    SteerCompletionChatPostRequest,
    TokenizePostRequest,
    UtilSaeTopkByDecoderCossimPostRequest,
    UtilSaeVectorPostRequest,
)

from conftest import MODEL, SOURCE, SOURCE_SET, client, env


def error_of(exc):
    body = json.loads(exc.value.body)
    assert set(body) <= {"error", "detail"} and isinstance(body["error"], str), body
    return body["error"]


def test_bad_source(api):
    with pytest.raises(BadRequestException) as e:
        api.activation_topk_by_token_post(ActivationTopkByTokenPostRequest(prompt="Hi", model=MODEL, source="7-res-jb", top_k=3, ignore_bos=True))
    assert error_of(e).startswith("Invalid SAE ID or type: 7-res-jb")
    with pytest.raises(BadRequestException) as e:
        api.activation_all_post(ActivationAllPostRequest(prompt="Hi", model=MODEL, source_set="res-jb", selected_sources=[],
                                                         sort_by_token_indexes=[], ignore_bos=True))
    assert error_of(e).startswith("Invalid source set")


def test_unknown_model(api):
    with pytest.raises(BadRequestException) as e:
        api.util_sae_vector_post(UtilSaeVectorPostRequest(model="gpt2-small", source=SOURCE, index=1))
    assert error_of(e).startswith("Unsupported model")


def test_feature_out_of_range(api):
    with pytest.raises(BadRequestException) as e:
        api.util_sae_topk_by_decoder_cossim_post(UtilSaeTopkByDecoderCossimPostRequest(
            feature=NPFeature(model=MODEL, source=SOURCE, index=4096), model=MODEL, source=SOURCE, num_results=3))
    assert error_of(e) == "Feature index 4096 is out of range for 6-saex-res-4k, which has 4096 features"
    with pytest.raises(BadRequestException):
        api.activation_single_post(ActivationSinglePostRequest(prompt="Hi", model=MODEL, source=SOURCE, index="99999"))


def test_oversize_prompt(api):
    with pytest.raises(BadRequestException) as e:
        api.tokenize_post(TokenizePostRequest(model=MODEL, text="word " * 400))
    assert error_of(e).startswith("Text too long:") and "max is 200" in error_of(e)


def test_wrong_or_missing_secret():
    for secret in ["wrong", None]:
        bad = client(env("SAEX_NP_URL"), secret)
        with pytest.raises(UnauthorizedException) as e:
            bad.tokenize_post(TokenizePostRequest(model=MODEL, text="Hi"))
        assert json.loads(e.value.body) == {"error": "Invalid or missing X-SECRET-KEY header"}


def test_chat_without_a_template(api):
    with pytest.raises(BadRequestException) as e:
        api.steer_completion_chat_post(SteerCompletionChatPostRequest(
            prompt=[NPSteerChatMessage(role="user", content="Hi")], model=MODEL, steer_method=NPSteerMethod.SIMPLE_ADDITIVE,
            normalize_steering=False, types=[NPSteerType.DEFAULT], features=[NPSteerFeature(model=MODEL, source=SOURCE, index=1, strength=1)],
            n_completion_tokens=2, temperature=0, strength_multiplier=1, freq_penalty=0, seed=1, steer_special_tokens=True))
    assert "no chat template" in error_of(e)


def test_no_500s_for_bad_requests(api):
    # Both modes at once, and neither.
    for kw in [dict(source=SOURCE, index="1", vector=[0.0] * 640, hook="blocks.6.hook_resid_pre"), dict()]:
        with pytest.raises(BadRequestException) as e:
            api.activation_single_post(ActivationSinglePostRequest(prompt="Hi", model=MODEL, **kw))
        assert "exactly one of" in error_of(e)
    with pytest.raises(ApiException) as e:
        api.activation_all_post(ActivationAllPostRequest(prompt="Hi", model=MODEL, source_set=SOURCE_SET, selected_sources=[],
                                                         sort_by_token_indexes=[99], ignore_bos=True))
    assert e.value.status == 400
