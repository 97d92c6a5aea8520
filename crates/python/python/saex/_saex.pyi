"""Type stubs of the native module ``saex._saex`` (re-exported as ``saex``).

Every verb returns what ``saex <verb> --json`` prints (the engine's report through JSON),
so fields and defaults are the CLI's and the HTTP API's. The value is a ``saex.Report``
(a dict) or ``saex.Rows`` (a list): equal to that JSON, with ``.to_pandas()`` for its
tables and, where the CLI writes a page, ``_repr_html_`` (Jupyter shows it inline) and
``.html()``. Keyword arguments named ``**fields`` are the verb's request fields; an unknown
or mistyped one raises SaexError.

Model work runs with the GIL released, on a worker thread; Ctrl-C raises
KeyboardInterrupt and stops generation, steering and discovery at their next step (other
verbs finish first).
"""

from os import PathLike
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._results import Report, Rows

__version__: str

_Path = Union[str, PathLike[str]]

class SaexError(ValueError):
    """An error from saex with the CLI's one-line message (a missing file, an SAE that
    does not fit the model, a feature out of range, an invalid request field)."""

class Sae:
    """An SAE on its own, without a model: checked and sized when made. Pass it to
    ``Session(saes=[...])`` or ``Model`` calls wherever an SAE is named."""

    def __init__(self, path_or_release: _Path, hook: Optional[str] = None, registry: Optional[_Path] = None) -> None:
        """Load ``path_or_release`` (an SAE directory in any format saex reads, or a SAELens
        release path such as ``gpt2-small-res-jb/blocks.8.hook_resid_pre``) to check it.
        hook: the TransformerLens hook it reads, for sessions (needed when the SAE does not
            name one; overrides it otherwise).
        registry: the label registry directory (None: the default one, see docs/labels.md)."""
    @property
    def id(self) -> str:
        """The path or release, as given (the SAE's id in sessions and results)."""
    @property
    def hook(self) -> Optional[str]:
        """The hook given, if any."""
    @property
    def d_sae(self) -> int:
        """Its number of features."""
    @property
    def neuronpedia_id(self) -> Optional[str]:
        """Its Neuronpedia id (modelId/layer), when its config names one."""
    @property
    def registry_path(self) -> str:
        """Its label registry file (seed 003's ``sae_features.json`` layout)."""
    def label(self, feature: int) -> Report:
        """``saex label get --json``: ``{"sae_id", "key", "feature_id", "label", "entry"}``."""
    def set_label(self, feature: int, **fields: Any) -> Report:
        """``saex label set --json``. Fields: name, description, examples ([str]),
        confidence ("high", "medium", "low"), notes. The entry becomes a hand entry."""
    def labels(self, source: Optional[str] = None) -> Report:
        """``saex label list --json``: counts by source and ``labels`` in seed 003's layout
        (``{feature_id: entry}``); ``source``: "hand", "neuronpedia" or "auto"."""
    def import_labels(self, registry: Union[Dict[Any, Any], _Path], source: Optional[str] = None) -> Report:
        """``saex label import --json``: seed 003's registry (the dict it ``json.dump``s, or
        the file) into this SAE's; hand entries win over Neuronpedia's over automatic ones."""

class Index:
    """A corpus activation index (``saex index build``), opened for queries; no model."""

    def __init__(self, path: _Path, labels: Sequence[_Path] = ..., registry: Optional[_Path] = None) -> None:
        """Open the index folder ``path`` and its SAEs' labels (``labels``: extra catalogs;
        ``registry``: the label registry, None for the default one)."""
    @property
    def path(self) -> str:
        """The folder."""
    @property
    def saes(self) -> List[str]:
        """Its SAEs' ids."""
    def feature(self, feature: int, sae: Optional[str] = None) -> Report:
        """``saex feature --json``: statistics, histogram, categories, top and quantile
        examples, logit tokens, label. Shows as the feature's dashboard in Jupyter."""
    def top_texts(self, feature: int, k: int = 5, sae: Optional[str] = None) -> Rows:
        """``saex top-texts --index --json``: ``[{"sae_id", "feature_id", "text",
        "activation", "position", "doc", "category", "token"}]``, strongest first."""
    def features(self, sae: Optional[str] = None) -> Rows:
        """Every feature with its statistics and label: ``[{"feature_id", "label", "stats"}]``."""

class Session:
    """A model and its SAEs, loaded once."""

    def __init__(
        self,
        model: _Path,
        saes: Sequence[Union[_Path, Sae]] = ...,
        logits: bool = True,
        hooks: Sequence[str] = ...,
        sae_hooks: Sequence[Optional[str]] = ...,
        labels: Sequence[_Path] = ...,
        cache_dir: Optional[_Path] = None,
        dtype: Optional[str] = None,
        registry: Optional[_Path] = None,
    ) -> None:
        """Load ``model`` (a .gguf file, a Hugging Face model directory or a hub id in the
        local HF cache) and ``saes`` (SAE directories, SAELens release paths or ``Sae``s).

        logits: load the whole model (generation, steering, the entropy filter, logit
            stats); False loads only the blocks up to the deepest hook.
        hooks: extra TransformerLens hooks to capture besides the SAEs'.
        sae_hooks: the hook of each SAE that does not name its own (a ``Sae``'s own
            ``hook`` fills its entry when not given here).
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
    def tokenize(self, text: str, bos: bool = True) -> Report:
        """``saex tokenize --json``: ids, pieces and each token's span."""
    def top_features(self, text: str, **fields: Any) -> Report:
        """``saex top-features --json``: the text's top features. Fields: k=10,
        reduce="max" ("mean", "sum", "last"), bos=True, max_density=0.1, sae_id.
        Table: features. Page: the text shaded by each feature (runs the model again)."""
    def discover(self, **fields: Any) -> Report:
        """``saex discover --json``. Fields: text or prompt (generate=True from a prompt),
        gen_tokens, temperature, top_p, seed, layers, streams, restrict_features,
        topk_tokens_per_seq, token_filter ("entropy", "norm"), return_top_x, score_mode,
        min_coverage_pct, tau ("p95" or a number), max_density, merge_across_layers,
        attach_examples, attach_proto_labels, spans ([[start, end]]). Ctrl-C stops it.
        Table: features. Page: the analysed text shaded by each feature."""
    def steer(self, **fields: Any) -> Report:
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
    ) -> Report:
        """A continuation: ``{"prompt", "prompt_ids", "ids", "text"}`` (``saex generate
        --json``). temperature 0 is greedy. Ctrl-C stops it."""
    def logit_stats(self, **fields: Any) -> Report:
        """``saex logit-stats --json``. Fields: features (None: all), raw_unembed, k,
        thresholds, sae_id. Tables: features, types. Page: seed 004's plots."""
    def neighbors(self, feature: int, k: int = 10, by: str = "decoder", **fields: Any) -> Rows:
        """``saex neighbors --json``: the features nearest ``feature`` by decoder (or
        "encoder") cosine, ``[{"feature_id", "cosine"}]``. Fields: sae_id."""
    def groups(self, **fields: Any) -> Report:
        """Group-discriminative features of responses given inline (``POST
        /v1/analysis/groups``). Fields: items ([{"group", "text"}]), select ({"strategy",
        "thresholds", "target_per_group"}), sae_id. Tables: features (one row per group and
        feature), groups."""
    def explore(self, **fields: Any) -> Report:
        """``saex explore --json``. Fields: texts ([{"text", "category"}]), reduce="last",
        strong=5, sae_id. Tables: details, frequent, strongest, selective, categories, texts.
        Page: seed 001's report."""
    def concept(self, **fields: Any) -> Report:
        """``saex explore --concept --json``: features shared by texts of one concept.
        Fields: texts, reduce="last", strong=5, k=5, sae_id. Tables: by_consistency,
        by_strength."""
    def highlight(self, text: str, features: Sequence[int], **fields: Any) -> Report:
        """``saex highlight --json``: ``{"sae_id", "text", "tokens", "features": [{"feature_id",
        "label", "acts"}]}`` (bos left out). Fields: sae_id. Table: one row per token, a
        column per feature. Page: the text shaded by each feature."""
    def map(self, **fields: Any) -> Report:
        """``saex map --json``: SAE decoder rows in 2-D. Fields: features, groups (a folder),
        select, index (a folder), top, rank_by, method ("umap", "pca"), seed, sae_id.
        Table: points. Page: seed 000's feature map."""
    def encode(self, text: str, sae: int = 0, bos: bool = True, sparse: Optional[bool] = None) -> Dict[str, Any]:
        """``saex encode``: ``{"tokens": [piece], "token_ids": [int], "hook": str,
        "activations": float32 [n_tokens, d_in], "feature_acts": [n_tokens, d_sae]}``.
        ``feature_acts`` is a scipy.sparse CSR matrix (float32) when scipy is installed,
        a dense float32 array (zero where a feature is off) otherwise; ``sparse=False`` asks
        for the dense array, ``sparse=True`` for CSR (an ImportError without scipy)."""
    def capture(self, text: str, hooks: Sequence[str], bos: bool = True) -> Dict[str, npt.NDArray[np.float32]]:
        """``saex capture``: ``{hook: float32 [n_tokens, ...]}`` for each TransformerLens
        hook (the session must have loaded the blocks up to it: logits=True or ``hooks``)."""
    def index_build(
        self,
        corpus: _Path,
        out: _Path,
        ctx: int = 128,
        top_k: int = 20,
        quantile_bins: int = 10,
        per_bin: int = 5,
        block: int = 16,
        max_tokens: int = 0,
        shard: Optional[str] = None,
        logits: Optional[bool] = None,
        checkpoint_secs: int = 60,
    ) -> Report:
        """``saex index build``: the corpus activation index of the session's SAEs over the
        JSONL ``corpus`` (``{"text", "category"?}`` per line) into the folder ``out``, the
        same files as the CLI's. ``shard="I/N"`` builds one shard (``index_merge`` joins
        them); ``logits`` (default: the session's) stores each feature's top ± logit tokens.
        Returns ``{"manifest", "resumed", "reused", "seconds"}``; open it with ``Index(out)``.
        A rerun of a finished build reuses it; Ctrl-C saves a checkpoint and a rerun resumes."""
    def top_texts(
        self,
        features: Sequence[int],
        texts: Sequence[str],
        k: int = 10,
        ctx_tokens: int = 128,
        context: int = 40,
        sae: int = 0,
    ) -> Rows:
        """``saex top-texts --texts-file --json``: per feature, the ``k`` texts where it fires
        hardest, each at its peak token with ``context`` characters either side. Table:
        examples (one row per feature and example). From an index: ``Index.top_texts``."""
    def label(self, feature: int, sae_id: Optional[str] = None) -> Report:
        """``saex label get --json`` for a loaded SAE."""
    def set_label(self, feature: int, sae_id: Optional[str] = None, **fields: Any) -> Report:
        """``saex label set --json`` for a loaded SAE (fields as ``Sae.set_label``); later
        results of this session show the new label."""
    def labels(self, sae_id: Optional[str] = None, source: Optional[str] = None) -> Report:
        """``saex label list --json`` for a loaded SAE. Table: labels."""
    def import_labels(
        self, registry: Union[Dict[Any, Any], _Path], sae_id: Optional[str] = None, source: Optional[str] = None
    ) -> Report:
        """``saex label import --json`` into a loaded SAE's registry (as ``Sae.import_labels``)."""
    def reload_labels(self) -> None:
        """Read every SAE's labels again (after the registry changed elsewhere, e.g. through
        a ``saex.Sae``), so later results show them."""
    def get_top_features_for_text(self, text: str, top_k: int = 10, sae_id: Optional[str] = None) -> List[Tuple[int, float]]:
        """mlxterp's call: ``[(feature_id, activation)]``, strongest first (max over tokens,
        dense features skipped as in ``top_features``). With an SAE, layer and component:
        ``saex.Model``."""
    def get_top_texts_for_feature(self, feature_id: int, texts: Sequence[str], top_k: int = 10, sae: int = 0) -> List[Tuple[str, float, int]]:
        """mlxterp's call: ``[(text, activation, position)]``, strongest first, one per text
        (its peak token; position counts bos)."""

def drift(a: Union[Session, Sequence[Dict[str, Any]]], b: Union[Session, Sequence[Dict[str, Any]]], prompts: Optional[Sequence[Union[str, Dict[str, Any]]]] = None, **fields: Any) -> Report:
    """``saex drift --json``: seed 002's comparison of two models. With two Sessions (their
    SAEs the same), each prompt (a str, or a dict of discover fields such as ``{"text": …}``)
    is discovered on both with ``fields`` (discover's; generate=False unless given, as the
    CLI) and the rankings compared; with two lists of discover results, those are compared.
    Tables: prompts, most_gained, most_lost. Page: the drift report."""

def index_merge(shards: Sequence[_Path], out: _Path) -> Report:
    """``saex index merge``: the shard folders of one build (all N) into the index at
    ``out``, byte for byte what one run writes. Returns its manifest."""

def page(kind: str, data: Any, title: str, subtitle: str = "") -> str:
    """The self-contained HTML page of ``kind`` ("texts": highlight results, "dashboard":
    index feature records, "explore", "logit_stats", "map", "drift") for ``data``."""
