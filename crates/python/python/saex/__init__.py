"""saex: SAE interpretability on local models, from Python.

``Session`` loads a model (a .gguf file, a Hugging Face directory or hub id) and its SAEs
once; each method is one saex verb and returns what ``saex <verb> --json`` prints, as
dicts and lists, or numpy arrays for activations. Errors raise ``SaexError`` with the
CLI's message.

    >>> import saex
    >>> s = saex.Session("gemma-3-270m-q4_k_m.gguf", saes=["demo/sae"])
    >>> s.top_features("The Eiffel Tower is in Paris", k=5)["features"][0]["feature_id"]
"""

from ._saex import SaexError, Session, __version__

__all__ = ["SaexError", "Session", "__version__"]
