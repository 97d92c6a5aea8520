"""Type stubs of the native module ``saex._saex`` (re-exported as ``saex``).

Every verb returns what ``saex <verb> --json`` prints (the engine's report through JSON),
so fields and defaults are the CLI's and the HTTP API's. Keyword arguments named
``**fields`` are the verb's request fields; an unknown or mistyped one raises SaexError.
"""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

class SaexError(ValueError):
    """An error from saex with the CLI's one-line message (a missing file, an SAE that
    does not fit the model, a feature out of range, an invalid request field)."""

class Session:
    """A model and its SAEs, loaded once. Model work runs with the GIL released."""

    def __init__(
        self,
        model: str,
        saes: Sequence[str] = ...,
        logits: bool = True,
        hooks: Sequence[str] = ...,
        sae_hooks: Sequence[Optional[str]] = ...,
        labels: Sequence[Union[str, PathLike[str]]] = ...,
        cache_dir: Optional[Union[str, PathLike[str]]] = None,
        dtype: Optional[str] = None,
        registry: Optional[Union[str, PathLike[str]]] = None,
    ) -> None:
        """Load ``model`` (a .gguf file, a Hugging Face model directory or a hub id in the
        local HF cache) and ``saes`` (SAE directories or SAELens release paths).

        logits: load the whole model (generation, steering, the entropy filter, logit
            stats); False loads only the blocks up to the deepest hook.
        hooks: extra TransformerLens hooks to capture besides the SAEs'.
        sae_hooks: the hook of each SAE that does not name its own.
        labels: extra label catalogs (saex or Neuronpedia format).
        cache_dir: the discovery activation cache (None: no cache).
        dtype: "stored" (quantized, the default) or "f32".
        registry: the label registry directory (None: the default one, see docs/labels.md).
        Warnings (an SAE trained on another model) are issued as Python warnings."""
    @property
    def model_id(self) -> str:
        """How the model was named when loaded."""
    @property
    def saes(self) -> List[Dict[str, Any]]:
        """The SAEs in load order: ``[{"id", "hook", "d_sae"}]``."""
    @property
    def warnings(self) -> List[str]:
        """Non-fatal findings while opening."""
    def tokenize(self, text: str, bos: bool = True) -> Dict[str, Any]:
        """``saex tokenize --json``: ids, pieces and each token's span."""
    def top_features(self, text: str, **fields: Any) -> Dict[str, Any]:
        """``saex top-features --json``: the text's top features. Fields: k=10,
        reduce="max" ("mean", "sum", "last"), bos=True, max_density=0.1, sae_id."""
    def discover(self, **fields: Any) -> Dict[str, Any]:
        """``saex discover --json``. Fields: text or prompt (generate=True from a prompt),
        gen_tokens, temperature, top_p, seed, layers, streams, restrict_features,
        topk_tokens_per_seq, token_filter ("entropy", "norm"), return_top_x, score_mode,
        min_coverage_pct, tau ("p95" or a number), max_density, merge_across_layers,
        attach_examples, attach_proto_labels, spans ([[start, end]])."""
    def steer(self, **fields: Any) -> Dict[str, Any]:
        """``saex steer --json``. Fields: prompt, features ([{"feature_id", "coefficient"}]),
        max_new_tokens=32, temperature=0, top_p=1, seed=42, compare=False, sae_id."""
    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 32,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
        bos: bool = True,
    ) -> Dict[str, Any]:
        """A continuation: ``{"prompt", "prompt_ids", "ids", "text"}`` (``saex generate
        --json``). temperature 0 is greedy."""
    def logit_stats(self, **fields: Any) -> Dict[str, Any]:
        """``saex logit-stats --json``. Fields: features (None: all), raw_unembed, k,
        thresholds, sae_id."""
    def neighbors(self, feature: int, k: int = 10, by: str = "decoder", **fields: Any) -> List[Dict[str, Any]]:
        """``saex neighbors --json``: the features nearest ``feature`` by decoder (or
        "encoder") cosine, ``[{"feature_id", "cosine"}]``. Fields: sae_id."""
    def groups(self, **fields: Any) -> Dict[str, Any]:
        """Group-discriminative features of responses given inline (``POST
        /v1/analysis/groups``). Fields: items ([{"group", "text"}]), select ({"strategy",
        "thresholds", "target_per_group"}), sae_id."""
    def explore(self, **fields: Any) -> Dict[str, Any]:
        """``saex explore --json``. Fields: texts ([{"text", "category"}]), reduce="last",
        strong=5, sae_id."""
    def concept(self, **fields: Any) -> Dict[str, Any]:
        """``saex explore --concept --json``: features shared by texts of one concept.
        Fields: texts, reduce="last", strong=5, k=5, sae_id."""
    def encode(self, text: str, sae: int = 0, bos: bool = True) -> Dict[str, Any]:
        """``saex encode``: ``{"tokens": [piece], "token_ids": [int], "hook": str,
        "activations": float32 [n_tokens, d_in], "feature_acts": float32 [n_tokens, d_sae]}``
        (dense: zero where a feature is off)."""
    def capture(self, text: str, hooks: Sequence[str], bos: bool = True) -> Dict[str, npt.NDArray[np.float32]]:
        """``saex capture``: ``{hook: float32 [n_tokens, ...]}`` for each TransformerLens
        hook (the session must have loaded the blocks up to it: logits=True or ``hooks``)."""
    def top_texts(
        self,
        features: Sequence[int],
        texts: Sequence[str],
        k: int = 10,
        ctx_tokens: int = 128,
        context: int = 40,
        sae: int = 0,
    ) -> List[Dict[str, Any]]:
        """``saex top-texts --texts-file --json``: per feature, the ``k`` texts where it fires
        hardest, each at its peak token with ``context`` characters either side."""
    def get_top_features_for_text(self, text: str, top_k: int = 10) -> List[Tuple[int, float]]:
        """mlxterp's call: ``[(feature_id, activation)]``, strongest first (max over tokens,
        dense features skipped as in ``top_features``)."""
    def get_top_texts_for_feature(self, feature_id: int, texts: Sequence[str], top_k: int = 10) -> List[Tuple[str, float, int]]:
        """mlxterp's call: ``[(text, activation, position)]``, strongest first, one per text
        (its peak token; position counts bos)."""
