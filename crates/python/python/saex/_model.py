"""``saex.Model``: a model file with mlxterp's analysis calls (seed 003), as thin wrappers
over a ``Session``.

mlxterp's ``InterpretableModel`` takes the SAE, its layer and its component on every call.
Here the SAE says which hook it reads, so ``layer`` and ``component`` are checked against
it (or bind it, for an SAE that does not say); the work is ``Session.top_features`` and
``Session.get_top_texts_for_feature``.
"""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ._saex import SaexError, Sae, Session

__all__ = ["Model", "hook_for"]

# mlxterp's component names (the last part of its activation keys) and TransformerLens's
# stream names → the TransformerLens hook of a block.
_COMPONENTS = {
    "mlp": "hook_mlp_out",
    "mlp_out": "hook_mlp_out",
    "attn": "hook_attn_out",
    "self_attn": "hook_attn_out",
    "attn_out": "hook_attn_out",
    "resid_pre": "hook_resid_pre",
    "resid_mid": "hook_resid_mid",
    "resid": "hook_resid_post",
    "resid_post": "hook_resid_post",
    "output": "hook_resid_post",
}


def hook_for(layer: int, component: str) -> str:
    """The TransformerLens hook of ``component`` in block ``layer``: ``"mlp"`` →
    ``blocks.{layer}.hook_mlp_out``, ``"attn"`` → ``hook_attn_out``, ``"resid"``/``"output"``
    → ``hook_resid_post``, ``"resid_pre"``, ``"resid_mid"``; a full hook name is taken as is."""
    if component.startswith("blocks."):
        return component
    name = _COMPONENTS.get(component, component if component.startswith("hook_") else None)
    if name is None:
        raise SaexError(f"component {component!r}: give one of {', '.join(sorted(_COMPONENTS))} or a TransformerLens hook")
    return f"blocks.{int(layer)}.{name}"


def _spec(sae: Union[Sae, str, "os.PathLike[str]"]) -> Tuple[str, Optional[str]]:
    if isinstance(sae, Sae):
        return sae.id, sae.hook
    return os.fspath(sae), None


class Model:
    """A model (a .gguf file, a Hugging Face directory or hub id) for mlxterp-style calls.

    The SAEs named in calls are loaded into one ``Session`` with the model (opened again,
    with every SAE so far, when a new one is named). ``session_options`` are ``Session``'s
    keywords (``cache_dir``, ``dtype``, ``registry``, ``labels``)."""

    def __init__(self, path: Union[str, "os.PathLike[str]"], **session_options: Any):
        self.path = os.fspath(path)
        self._options = session_options
        self._saes: Dict[str, Optional[str]] = {}  # spec → the hook it was bound to, if given
        self._session: Optional[Session] = None

    def __repr__(self) -> str:
        return f"saex.Model({self.path!r}, saes={list(self._saes)})"

    def load_sae(self, path_or_release: Union[str, "os.PathLike[str]"], hook: Optional[str] = None) -> Sae:
        """mlxterp's ``model.load_sae(path)``: a ``saex.Sae`` (checked, not yet bound)."""
        return Sae(path_or_release, hook=hook, registry=self._options.get("registry"))

    @property
    def session(self) -> Session:
        """The session holding the model and every SAE named so far."""
        if self._session is None:
            self._session = Session(self.path, saes=list(self._saes), sae_hooks=list(self._saes.values()), **self._options)
        return self._session

    def _bound(self, sae, layer: int, component: str) -> str:
        """The id of ``sae`` in the session, loading it first; checks it reads ``layer``'s
        ``component``."""
        spec, hook = _spec(sae)
        want = hook_for(layer, component)
        if spec not in self._saes:
            self._saes[spec] = hook
            self._session = None
            try:
                self.session
            except SaexError as e:
                if hook is not None or "does not say which hook" not in str(e):
                    del self._saes[spec]
                    raise
                # An SAE without a hook of its own reads the one the call names.
                self._saes[spec] = want
                try:
                    self.session
                except SaexError:
                    del self._saes[spec]
                    raise
        got = next(s["hook"] for s in self.session.saes if s["id"] == spec)
        if got != want:
            raise SaexError(f"the SAE {spec} reads {got}; layer={layer}, component={component!r} names {want}")
        return spec

    def get_top_features_for_text(
        self, text: str, sae: Union[Sae, str], layer: int, component: str = "mlp", top_k: int = 10
    ) -> List[Tuple[int, float]]:
        """mlxterp's call: ``[(feature_id, activation)]``, strongest first (each feature's
        max over the text's tokens, bos left out; dense features skipped as in
        ``Session.top_features``)."""
        sae_id = self._bound(sae, layer, component)
        return self.session.get_top_features_for_text(text, top_k=top_k, sae_id=sae_id)

    def get_top_texts_for_feature(
        self,
        feature_id: int,
        sae: Union[Sae, str],
        texts: Sequence[str],
        layer: int,
        component: str = "mlp",
        top_k: int = 10,
    ) -> List[Tuple[str, float, int]]:
        """mlxterp's call: ``[(text, activation, token_position)]``, strongest first, one per
        text where the feature fires (its peak token; the position counts bos)."""
        sae_id = self._bound(sae, layer, component)
        index = next(i for i, s in enumerate(self.session.saes) if s["id"] == sae_id)
        return self.session.get_top_texts_for_feature(feature_id, list(texts), top_k=top_k, sae=index)

    def visualize_feature_activations(
        self, text: str, sae: Union[Sae, str], layer: int, component: str = "mlp", feature_ids: Sequence[int] = ()
    ):
        """mlxterp's planned call: the text shaded by each feature (``Session.highlight``);
        in Jupyter the result shows as the interactive page."""
        sae_id = self._bound(sae, layer, component)
        return self.session.highlight(text, list(feature_ids), sae_id=sae_id)

    def generate(self, prompt: str, max_new_tokens: int = 32, **sampling: Any) -> str:
        """The model's continuation of ``prompt`` (greedy unless ``temperature`` is given),
        as text."""
        return self.session.generate(prompt, max_new_tokens=max_new_tokens, **sampling)["text"]
