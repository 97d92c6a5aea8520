"""Results: what a verb returns, as the same dict or list its ``--json`` prints, plus
``.to_pandas()`` for its tables and, where the CLI writes a page for it, ``_repr_html_`` so
Jupyter shows the page inline.

A result *is* its JSON value (``Report`` subclasses ``dict``, ``Rows`` subclasses ``list``),
so ``==`` with the CLI's output, ``json.dumps`` and indexing work unchanged. What each verb's
tables are is one entry of ``_TABLES``; what its page is, one entry of ``_PAGES``: a new verb
needs no new class.
"""

import html
from typing import Any, Callable, Dict, List, Optional

__all__ = ["Report", "Rows", "wrap"]


def _pandas():
    try:
        import pandas
    except ImportError as e:
        raise ImportError("to_pandas() needs pandas, which is not installed: pip install pandas") from e
    return pandas


def csr_matrix(data, indices, indptr, shape):
    """``scipy.sparse.csr_matrix((data, indices, indptr), shape)``, or an ImportError that
    says what to install (``encode(..., sparse=True)`` without scipy)."""
    try:
        from scipy.sparse import csr_matrix as csr
    except ImportError as e:
        raise ImportError("encode(sparse=True) needs scipy, which is not installed: pip install scipy") from e
    return csr((data, indices, indptr), shape=shape)


def _by_group(r):
    return [{"group": g["group"], **f} for g in r["groups"] for f in g["features"]]


def _examples(r):
    return [{"sae_id": f["sae_id"], "feature_id": f["feature_id"], **e} for f in r for e in f["examples"]]


def _labels(r):
    return [{"feature_id": int(f), **e} for f, e in r["labels"].items()]


# verb → {table name: the table's rows (a list of flat or nested dicts)}; the first is the
# default of to_pandas().
_TABLES: Dict[str, Dict[str, Callable[[Any], List[dict]]]] = {
    "tokenize": {"tokens": lambda r: r["tokens"]},
    "top_features": {"features": lambda r: r["features"]},
    "discover": {"features": lambda r: r["features"]},
    "logit_stats": {"features": lambda r: r["features"], "types": lambda r: r["types"]},
    "neighbors": {"neighbors": lambda r: r},
    "top_texts": {"examples": _examples},
    "index_top_texts": {"texts": lambda r: r},
    "summaries": {"features": lambda r: r},
    "groups": {"features": _by_group, "groups": lambda r: [{k: v for k, v in g.items() if k != "features"} for g in r["groups"]]},
    "explore": {
        "details": lambda r: r["exploration"]["details"],
        "frequent": lambda r: r["exploration"]["frequent"],
        "strongest": lambda r: r["exploration"]["strongest"],
        "selective": lambda r: r["exploration"]["selective"],
        "categories": lambda r: r["exploration"]["categories"],
        "texts": lambda r: r["texts"],
    },
    "concept": {"by_consistency": lambda r: r["concept"]["by_consistency"], "by_strength": lambda r: r["concept"]["by_strength"]},
    "map": {"points": lambda r: r["points"]},
    "drift": {"prompts": lambda r: r["prompts"], "most_gained": lambda r: r["most_gained"], "most_lost": lambda r: r["most_lost"]},
    "feature": {
        "top": lambda r: r["top"],
        "histogram": lambda r: r["histogram"],
        "categories": lambda r: r["categories"],
    },
    "labels": {"labels": _labels},
}


def _frame(rows: List[dict]):
    pd = _pandas()
    # Nested objects become dotted columns (discover's scores.mean, …); lists stay cells.
    return pd.json_normalize(rows) if rows else pd.DataFrame()


def _highlight_frame(r):
    """A highlight as a table: one row per token, a column per feature."""
    pd = _pandas()
    cols = {"token": r["tokens"]}
    cols.update({f["feature_id"]: f["acts"] for f in r["features"]})
    return pd.DataFrame(cols)


def _texts_page(highlights: List[dict], title: str, subtitle: str) -> str:
    from ._saex import page

    return page("texts", highlights, title, subtitle)


def _sae_page(kind: str, title: str):
    def render(r, session):
        from ._saex import page

        sub = " · ".join(str(x) for x in (r.get("model_id"), r.get("sae_id") and f"SAE {r['sae_id']}") if x)
        return page(kind, r, title, sub)

    return render


def _top_page(r, session):
    ids = [f["feature_id"] for f in r["features"]]
    if session is None or not ids:
        return None
    h = session.highlight(r["text"], ids, sae_id=r["sae_id"])
    return _texts_page([h], "Top features", f"{r['model_id']} · SAE {r['sae_id']} at {r['hook']} · ranked by {r['reduce']}")


def _discover_page(r, session):
    if session is None or not r["features"]:
        return None
    text = r["analyzed"]["text"]
    by_sae: Dict[str, List[int]] = {}
    for f in r["features"]:
        by_sae.setdefault(f["sae_id"], []).append(f["feature_id"])
    views = [session.highlight(text, ids, sae_id=sae) for sae, ids in by_sae.items()]
    a = r["analyzed"]
    return _texts_page(views, "Discovered features", f"{r['model_id']} · {a['mode']}: {a['tokens']} tokens, {a['kept_tokens']} kept")


def _highlight_page(r, session):
    return _texts_page([r], "Feature activations", f"SAE {r['sae_id']}")


def _feature_page(r, session):
    from ._saex import page

    label = f" — {r['label']}" if r.get("label") else ""
    return page("dashboard", [r], f"Feature {r['feature_id']}{label}", r["sae_id"])


def _drift_page(r, session):
    from ._saex import page

    return page("drift", r, "Feature drift", f"A: {r['model_a']} · B: {r['model_b']}")


# verb → its page (a function of the result and the session; None: no page for this one).
_PAGES: Dict[str, Callable[[Any, Any], Optional[str]]] = {
    "top_features": _top_page,
    "discover": _discover_page,
    "highlight": _highlight_page,
    "explore": _sae_page("explore", "Feature exploration"),
    "logit_stats": _sae_page("logit_stats", "Logit-weight distributions"),
    "map": _sae_page("map", "Feature decoder map"),
    "drift": _drift_page,
    "feature": _feature_page,
}


def _iframe(page: str, height: int) -> str:
    # The page is a whole document with its own style and script: inside an iframe (srcdoc,
    # sandboxed) neither leaks into the notebook, and several pages in one notebook do not
    # share element ids.
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts allow-popups" '
        f'style="width:100%;height:{height}px;border:1px solid #ddd"></iframe>'
    )


class _Result:
    """What ``Report`` and ``Rows`` share: the verb, tables and page."""

    verb: str
    _session: Any

    def tables(self) -> List[str]:
        """The names ``to_pandas(table)`` takes, the default first."""
        return ["tokens"] if self.verb == "highlight" else list(_TABLES.get(self.verb, {}))

    def to_pandas(self, table: Optional[str] = None):
        """This result's table as a pandas DataFrame (one row per feature, example, point…;
        nested fields become dotted columns). ``table`` picks another of ``tables()``.
        Needs pandas."""
        if self.verb == "highlight" and table in (None, "tokens"):
            return _highlight_frame(self)
        tables = _TABLES.get(self.verb)
        if not tables:
            raise TypeError(f"a {self.verb} result has no table")
        name = table or next(iter(tables))
        if name not in tables:
            raise KeyError(f"a {self.verb} result has no table {name!r}; it has {', '.join(tables)}")
        return _frame(tables[name](self))

    def html(self) -> str:
        """The self-contained HTML page of this result (the one the CLI writes), e.g. to save
        with ``open(path, "w").write(r.html())``."""
        make = _PAGES.get(self.verb)
        page = make(self, self._session) if make else None
        if page is None:
            raise TypeError(f"a {self.verb} result has no page")
        return page

    def _repr_html_(self) -> Optional[str]:
        make = _PAGES.get(self.verb)
        page = make(self, self._session) if make else None
        return None if page is None else _iframe(page, 640 if self.verb in ("explore", "map", "feature", "drift") else 460)

    def __reduce__(self):
        # Pickled (and copied) as the plain value: the session does not travel.
        return (wrap, (self.verb, self._plain(), None))


class Report(dict, _Result):
    """A verb's report: the dict ``saex <verb> --json`` prints."""

    def __init__(self, value: dict, verb: str, session: Any = None):
        super().__init__(value)
        self.verb = verb
        self._session = session

    def _plain(self) -> dict:
        return dict(self)


class Rows(list, _Result):
    """A verb's list result: the list ``saex <verb> --json`` prints."""

    def __init__(self, value: list, verb: str, session: Any = None):
        super().__init__(value)
        self.verb = verb
        self._session = session

    def _plain(self) -> list:
        return list(self)


def wrap(verb: str, value: Any, session: Any = None):
    """``value`` (a verb's JSON as Python) as its result type."""
    if isinstance(value, dict):
        return Report(value, verb, session)
    if isinstance(value, list):
        return Rows(value, verb, session)
    return value
