# %% [markdown]
# # Seed 003's feature-analysis workflow, with `import saex`
#
# mlxterp's Phase 2 guide: load a model and an SAE, find the features a text activates, find
# the texts that activate each feature, form a hypothesis, check it on more texts, and write
# the findings down as a feature registry. Here the same calls (`saex.Model` keeps mlxterp's
# `get_top_features_for_text` / `get_top_texts_for_feature` signatures) run on the demo
# model: Gemma 3 270M + the demo SAE, which reads the residual stream entering block 6
# (`layer=6, component="resid_pre"`; mlxterp's guide used an MLP SAE at layer 10).
# Run it top to bottom (`python examples/notebooks/seed003_workflow.py`) or cell by cell.

# %%
import json
import os
import random
import tempfile
from pathlib import Path

import saex

root = Path(__file__).resolve().parents[2]
models = Path(os.environ.get("SAEX_MODELS", Path.home() / ".cache/saex/models"))

# 1. Setup. The label registry goes to a scratch folder so the example leaves yours alone.
print("Loading model and SAE...")
scratch = Path(tempfile.mkdtemp(prefix="saex-seed003-"))
model = saex.Model(models / "gemma-3-270m-q4_k_m.gguf", registry=scratch)
sae = model.load_sae(root / "demo/sae")
LAYER, COMPONENT = 6, "resid_pre"
print(model, sae)

# %% [markdown]
# ## 2. Texts to search
#
# The guide takes wikitext's test split; offline, the repository's own texts stand in: the
# seed 001 notebook's 70 texts in 7 categories and the corpus sample (11 categories),
# keeping those longer than 50 characters as the guide does.

# %%
lines = (root / "examples/diverse_texts.jsonl").read_text().splitlines() + (root / "corpus/sample.jsonl").read_text().splitlines()
texts = [t for t in (json.loads(line)["text"] for line in lines if line.strip()) if len(t.strip()) > 50][:1000]
print(len(texts), "texts")

# %% [markdown]
# ## 3–5. Top features of a text, and what activates each

# %%
test_text = "The Eiffel Tower is a famous landmark in Paris, France"
print(f"\nAnalyzing: '{test_text}'")
top_features = model.get_top_features_for_text(text=test_text, sae=sae, layer=LAYER, component=COMPONENT, top_k=10)
print("Top features:")
for feature_id, activation in top_features:
    print(f"  Feature {feature_id}: {activation:.3f}")

for feature_id, activation in top_features[:3]:
    print(f"\n{'=' * 80}")
    print(f"Feature {feature_id} (activation: {activation:.3f})")
    print("=" * 80)
    examples = model.get_top_texts_for_feature(feature_id=feature_id, sae=sae, texts=texts, layer=LAYER, component=COMPONENT, top_k=10)
    print("\nTop activating texts:")
    for i, (text, act, pos) in enumerate(examples[:5], 1):
        clean_text = " ".join(text.split())
        print(f"  {i}. [{act:.3f}] (token {pos}) {clean_text[:100]}...")
    print("\nHypothesis: (examine examples above)")

# %% [markdown]
# ## Visualize feature activations (the guide's "coming soon")
#
# The text shaded by each feature. In Jupyter the result shows as the interactive page;
# as a script, the page is written to a file.

# %%
shaded = model.visualize_feature_activations(test_text, sae=sae, layer=LAYER, component=COMPONENT, feature_ids=[f for f, _ in top_features[:3]])
for f in shaded["features"]:
    peak = max(range(len(f["acts"])), key=f["acts"].__getitem__)
    print(f"feature {f['feature_id']}: peaks at {shaded['tokens'][peak]!r} ({f['acts'][peak]:.3f})")
page = scratch / "highlight.html"
page.write_text(shaded.html())
print("wrote", page)

# %% [markdown]
# ## Use case 1: why did the model generate this output?

# %%
output = model.generate("Paris is", max_new_tokens=12)
print("Paris is" + output)
features = model.get_top_features_for_text("Paris is", sae, layer=LAYER, component=COMPONENT)
for feat_id, act in features[:3]:
    examples = model.get_top_texts_for_feature(feat_id, sae, texts, layer=LAYER, component=COMPONENT)
    print(f"Feature {feat_id}:", [" ".join(ex[0].split())[:50] for ex in examples[:3]])

# %% [markdown]
# ## Use case 2: feature discovery
#
# The guide samples 50 features and searches the texts once per feature. With saex one
# pass over the texts serves every feature (`Session.top_texts`).

# %%
random.seed(0)
sample_features = random.sample(range(sae.d_sae), 50)
found = model.session.top_texts(sample_features, texts, k=5, context=40)
active = [f for f in found if f["examples"]]
print(f"{len(active)} of {len(sample_features)} sampled features fire on these texts")
for f in active[:5]:
    print(f"\nFeature {f['feature_id']}:")
    for ex in f["examples"]:
        print(f"  [{ex['act']:.3f}] {' '.join((ex['before'] + '[[' + ex['token'] + ']]' + ex['after']).split())[:80]}")

# %% [markdown]
# ## Use case 3: circuit discovery — do the features co-activate on similar texts?

# %%
behavior_text = "The capital of France is Paris"
features_for_behavior = model.get_top_features_for_text(behavior_text, sae, layer=LAYER, component=COMPONENT, top_k=20)
circuit_features = [f[0] for f in features_for_behavior]
for test in ["London is in England", "Tokyo is in Japan", "def f(x): return x + 1"]:
    active_ids = [f[0] for f in model.get_top_features_for_text(test, sae, layer=LAYER, component=COMPONENT, top_k=20)]
    overlap = set(circuit_features) & set(active_ids)
    print(f"{test}: {len(overlap)}/{len(circuit_features)} features overlap")

# %% [markdown]
# ## Document findings: the feature registry
#
# The guide writes `sae_features.json` by hand. saex keeps one registry per SAE in the same
# layout; every verb then shows the labels (`top_features`, `discover`, pages).

# %%
first, second = top_features[0][0], top_features[1][0]
feature_registry = {
    first: {
        "name": "paris_landmarks",
        "description": "Fires on the Eiffel Tower sentence (hypothesis from the examples above)",
        "examples": [test_text],
        "confidence": "low",
        "notes": "Check against counter-examples",
    },
    second: {"name": "france_geography", "description": "Second strongest on the same text", "examples": ["Paris, France"], "confidence": "low"},
}
print(sae.import_labels(feature_registry))
sae.set_label(first, confidence="medium", notes="Also strong on 'The capital of France is Paris'")
registry = sae.labels()
with open(scratch / "sae_features.json", "w") as f:
    json.dump(registry["labels"], f, indent=2)
print(f"{len(registry['labels'])} entries; wrote", scratch / "sae_features.json")
model.session.reload_labels()  # the registry changed under the open session
labelled = model.session.top_features(test_text, k=3)
print("Top features:", [(f["feature_id"], f["label"]) for f in labelled["features"]])
