# %% [markdown]
# # Seed 001's feature exploration, with `import saex`
#
# The notebook loads GPT-2 + an SAE in TransformerLens/SAELens, encodes a set of diverse
# texts, and asks: which features fire most often, what activates them, which fire
# together, which belong to a concept. Here the same steps run on the demo model (Gemma 3
# 270M + the demo SAE at blocks.6.hook_resid_pre), with saex doing the model work.
# Run it top to bottom (`python examples/notebooks/seed001_explore.py`) or cell by cell in
# any editor that reads `# %%` cells.

# %%
import json
import os
from pathlib import Path

import numpy as np
import saex

root = Path(__file__).resolve().parents[2]
models = Path(os.environ.get("SAEX_MODELS", Path.home() / ".cache/saex/models"))
session = saex.Session(str(models / "gemma-3-270m-q4_k_m.gguf"), saes=[str(root / "demo/sae")])
print(session)

# %% [markdown]
# ## Texts: 70 in the notebook's 7 categories

# %%
texts = [json.loads(line) for line in (root / "examples/diverse_texts.jsonl").read_text().splitlines() if line.strip()]
print(len(texts), "texts;", sorted({t["category"] for t in texts}))

# %% [markdown]
# ## Feature vectors: the last token's activations, as the notebook reads them

# %%
encoded = [session.encode(t["text"], sparse=False) for t in texts]  # dense numpy, as the notebook has it
last = np.stack([e["feature_acts"][-1] for e in encoded])  # [n_texts, d_sae]
print("vectors", last.shape, "mean active features per text", (last > 0).sum(1).mean())

# %% [markdown]
# ## Most frequently active features, and what activates them

# %%
freq = (last > 0).sum(0)
top = np.argsort(-freq)[:5]
print("Top features by how many texts they fire on:")
for f in top:
    print(f"  feature {f}: {freq[f]} texts, mean act {last[:, f][last[:, f] > 0].mean():.2f}")
examples = session.top_texts([int(f) for f in top[:3]], [t["text"] for t in texts], k=3)
for fe in examples:
    print(f"feature {fe['feature_id']}:")
    for ex in fe["examples"]:
        print(f"  {ex['act']:6.2f}  {ex['before']}[[{ex['token']}]]{ex['after']}".replace("\n", " "))

# %% [markdown]
# ## Activation heatmap: mean activation of the top features per category

# %%
cats = sorted({t["category"] for t in texts})
heat = np.array([[last[[i for i, t in enumerate(texts) if t["category"] == c], f].mean() for f in top] for c in cats])
print(f"{'':>12}" + "".join(f"{f:>8}" for f in top))
for c, row in zip(cats, heat):
    print(f"{c:>12}" + "".join(f"{v:8.2f}" for v in row))

# %% [markdown]
# ## Co-activation: which of the top features fire on the same texts (Jaccard)

# %%
on = last[:, top] > 0
inter = on.T.astype(int) @ on.astype(int)
union = on.sum(0)[:, None] + on.sum(0)[None, :] - inter
print(np.round(inter / np.maximum(union, 1), 2))

# %% [markdown]
# ## saex's own exploration (every analysis of the notebook) and the concept finder

# %%
report = session.explore(texts=texts, strong=1.5)
print("explore:", sorted(report["exploration"]))
code = ["def function(x): return x + 1", "import numpy as np", "for i in range(10): print(i)"]
concept = session.concept(texts=code, strong=1.0, k=5)
print("concept:", json.dumps(concept["concept"])[:300])

# %% [markdown]
# ## mlxterp-style calls

# %%
print("Top features:", session.get_top_features_for_text("The Eiffel Tower is in Paris", top_k=5))
print(session.get_top_texts_for_feature(int(top[0]), [t["text"] for t in texts], top_k=3))
