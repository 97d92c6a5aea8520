"""The python section of BENCHMARKS.md from scripts/bench-python.sh's outputs: min / median /
max of every figure, the binding's overhead, and how far the two stacks' rankings agree."""
import json
import sys

out, versions, conditions, repeat = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
j = lambda name: json.load(open(f"{out}/{name}"))
py, server, stack = j("py_binding.json"), j("server_top.json"), j("py_stack.json")


def lat(d, digits=1):
    return f"{d['min_ms']:.{digits}f} / **{d['p50_ms']:.{digits}f}** / {d['max_ms']:.{digits}f} ms"


call, engine, over = py["call"], py["engine"], py["overhead"]
share = 100 * over["p50_ms"] / engine["p50_ms"]
same = len(set(py["features"]) & set(stack["features"]))
rows = [
    ("`session.top_features(text)` from Python (the binding)", lat(call), "1.0×"),
    ("the engine's own time, timed in Rust inside the same calls (`saex_engine::top`)", lat(engine), f"{call['p50_ms'] / engine['p50_ms']:.2f}×"),
    ("the binding's own time in each call (wall − engine)", lat(over, 2), ""),
    ("`session.get_top_features_for_text(text)` (no JSON: a list of tuples)", lat(py["mlxterp_call"]), f"{call['p50_ms'] / py['mlxterp_call']['p50_ms']:.2f}×"),
    ("`session.top_features(text)` on weights dequantized at load (`dtype=\"f32\"`, as transformers holds them)", lat(py["call_f32"]), f"{call['p50_ms'] / py['call_f32']['p50_ms']:.2f}×"),
    ("warm `saex serve`, POST /v1/sae/features/top over loopback (one client)", lat(server), f"{call['p50_ms'] / server['p50_ms']:.2f}×"),
    ("Python stack: transformers (GGUF, dequantized) + SAELens, function call", lat(stack["call"]), f"{call['p50_ms'] / stack['call']['p50_ms']:.2f}×"),
]
ratio = stack["call"]["p50_ms"] / call["p50_ms"]
ratio32 = stack["call"]["p50_ms"] / py["call_f32"]["p50_ms"]
if ratio < 1:
    verdict = (f"**Against the Python stack:** here transformers + SAELens answered faster: its median is "
               f"{1 / ratio:.2f}× shorter than saex's on the GGUF's own Q4_K_M blocks and {1 / ratio32:.2f}× shorter than "
               "saex's on f32 weights. The stack runs dense f32 matmuls through torch's BLAS on 2 threads; saex's "
               "engine (candle's CPU kernels) does not match that for a 128-token prompt on a quiet machine. The "
               "binding is not the cause (its row below). On a loaded machine the order has flipped (earlier runs "
               "in git history), so only same-run ratios mean anything.")
else:
    verdict = (f"**Against the Python stack:** saex's median is {ratio:.2f}× shorter than transformers + SAELens "
               f"({ratio32:.2f}× on f32 weights).")
table = "\n".join(["| what (min / **median** / max, warm) | latency | the binding's median ÷ this |", "|---|---|---|"]
                  + [f"| {a} | {b} | {c} |" for a, b, c in rows])
print(f"""## import saex: top_features on one {py['n_tokens'] - 1}-token text (`scripts/bench-python.sh`)

{conditions}
Gemma 3 270M (GGUF Q4_K_M) + the demo SAE (blocks.6.hook_resid_pre, 4096 features), top 10 by
each feature's max over the tokens (bos left out, dense features skipped): the model runs up
to block 6 only. {repeat} calls each, after 3 warm-up calls, interleaved. The engine's time
is measured inside the same calls (on the worker thread, around the engine function), so the
binding's cost is measured call by call, not as a difference of two noisy medians. The Python stack runs
the same ranking with {versions} (`bench/python_binding.py stack`: a forward pre-hook on
block 6 stops the model there, as TransformerLens's `stop_at_layer`), 2 torch threads. Same
machine, same run.

{table}

{verdict}

The rows run one after another, so on a loaded machine their medians drift apart by more than
the binding costs (the server does the same engine call plus HTTP); the binding's own row is
measured inside each call and is the one that gives its cost.

**The binding's overhead:** {over['p50_ms']:.2f} ms per call (median; {share:.2f}% of the
engine's median): turning the keywords into the engine's request and its report into a dict
(through JSON), releasing the GIL, running the work on a thread of its own so the caller can
watch for Ctrl-C, and building the result object. Same text, both stacks: {same} of saex's {len(py['features'])} top
features are among the Python stack's {len(stack['features'])} (Q4_K_M dequantization and
float order differ slightly between the stacks).
""")
