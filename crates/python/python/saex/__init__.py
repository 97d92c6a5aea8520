"""saex: SAE interpretability on local models, from Python.

``Session`` loads a model (a .gguf file, a Hugging Face directory or hub id) and its SAEs
once; each method is one saex verb and returns what ``saex <verb> --json`` prints, as
dicts and lists (with ``.to_pandas()`` for tables and inline pages in Jupyter), or numpy
arrays for activations. Errors raise ``SaexError`` with the CLI's message; Ctrl-C stops a
long run with ``KeyboardInterrupt``.

``Sae`` is an SAE on its own (size, label registry), ``Index`` a corpus activation index,
``Model`` mlxterp's calls (``get_top_features_for_text``, ``get_top_texts_for_feature``),
``drift`` seed 002's comparison of two models.

    >>> import saex
    >>> s = saex.Session("gemma-3-270m-q4_k_m.gguf", saes=["demo/sae"])
    >>> s.top_features("The Eiffel Tower is in Paris", k=5)["features"][0]["feature_id"]
"""

from ._model import Model, hook_for
from ._results import Report, Rows
from ._saex import Index, Sae, SaexError, Session, __version__, drift, index_merge

__all__ = ["Index", "Model", "Report", "Rows", "Sae", "SaexError", "Session", "__version__", "drift", "hook_for", "index_merge"]
