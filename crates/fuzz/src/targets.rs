//! The fuzz targets: one per parser that reads a user's file. Each copies a real fixture
//! directory into a scratch directory once, then per input overwrites one file of it with
//! the mutated bytes and calls the loader saex's verbs call. Loaders take paths (they map
//! or stream files), so the input goes through the file system; the scratch directory is on
//! `/dev/shm` when there is one, which keeps a write at a few microseconds.

use std::path::{Path, PathBuf};

use saex_engine::saex_labels::{neuronpedia, store};
use saex_engine::{index_store::Index, ExportRows};

/// What a target does with one input.
pub type Load = fn(dir: &Path, file: &Path) -> Result<(), String>;

/// Where a format's integer fields are in an input (see [`crate::structure`]).
pub type Fields = fn(&[u8]) -> Vec<(usize, usize)>;

/// A parser under test.
pub struct FileTarget {
    /// The name the driver and `docs/fuzzing.md` use.
    pub name: &'static str,
    /// What it reads.
    pub about: &'static str,
    /// A fixture directory copied into the scratch directory (repo-relative), if the loader
    /// reads a directory.
    pub template: Option<&'static str>,
    /// The file (relative to the scratch directory) that receives the mutated bytes.
    pub file: &'static str,
    /// Real files the inputs are mutated from (repo-relative).
    pub seeds: &'static [&'static str],
    /// Whether the format is text (JSON, JSONL): adds text-token mutations.
    pub text: bool,
    /// The loader.
    pub load: Load,
    /// The format's integer fields, for structure-aware edits.
    pub fields: Option<Fields>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn load_sae(dir: &Path, _: &Path) -> Result<(), String> {
    let sae = saex_sae::Sae::load_path(dir).map_err(err)?;
    // A loaded SAE must encode: a zero activation and a ramp.
    let d_in = sae.d_in();
    let x: Vec<f32> = (0..d_in * 2).map(|i| if i < d_in { 0.0 } else { i as f32 / d_in as f32 }).collect();
    let x = candle_core::Tensor::from_vec(x, (2, d_in), &candle_core::Device::Cpu).map_err(err)?;
    sae.encode_sparse(&x).map_err(err)?;
    Ok(())
}

fn load_model(_: &Path, file: &Path) -> Result<(), String> {
    let model = saex_model::Model::load(&file.display().to_string()).map_err(err)?;
    let ids = model.tokenizer.encode("Hello, world: 1 + 2 = 3.", model.add_bos()).map_err(err)?;
    let ids: Vec<u32> = ids.into_iter().take(8).collect();
    if !ids.is_empty() {
        model.run(&[ids], &[], true).map_err(err)?;
    }
    Ok(())
}

fn load_model_dir(dir: &Path, _: &Path) -> Result<(), String> {
    load_model(dir, dir)
}

fn load_tokenizer(_: &Path, file: &Path) -> Result<(), String> {
    let tok = saex_model::tokenizer::Tokenizer::from_hf_file(file, Some(0), Some(0), true).map_err(err)?;
    let ids = tok.encode("Hello, world: naïve café ☕ 1 + 2 = 3.", true).map_err(err)?;
    tok.decode(&ids).map_err(err)?;
    for id in ids {
        tok.id_to_piece(id);
    }
    Ok(())
}

fn load_corpus(_: &Path, file: &Path) -> Result<(), String> {
    saex_corpus::read_docs(file, saex_corpus::Split::Heldout(3)).map_err(err)?;
    saex_corpus::read_docs(file, saex_corpus::Split::All).map(drop).map_err(err)
}

fn load_group_items(_: &Path, file: &Path) -> Result<(), String> {
    saex_engine::read_items(file, "role").map(drop).map_err(err)
}

fn load_groups(dir: &Path, _: &Path) -> Result<(), String> {
    saex_engine::read_groups(dir).map(drop).map_err(err)
}

fn load_index(dir: &Path, _: &Path) -> Result<(), String> {
    let index = Index::open(dir).map_err(err)?;
    index.all_stats(None).map_err(err)?;
    for f in [0, 1, 5, 127, 128, u32::MAX] {
        let _ = index.record(None, f);
        let _ = index.top_texts(None, f, 5);
    }
    Ok(())
}

fn load_registry(_: &Path, file: &Path) -> Result<(), String> {
    store::read_file(file).map(drop).map_err(err)
}

fn load_explanations(_: &Path, file: &Path) -> Result<(), String> {
    let rows = ExportRows::read(file).map_err(err)?;
    for (_, row) in neuronpedia::rows(&rows.bytes) {
        if let Ok(e) = row {
            e.entry();
            e.neuronpedia_id();
        }
    }
    Ok(())
}

fn load_label_catalog(_: &Path, file: &Path) -> Result<(), String> {
    saex_engine::labels::read(file).map(drop).map_err(err)
}

/// Every file target.
pub const FILE_TARGETS: &[FileTarget] = &[
    FileTarget {
        name: "saelens-weights",
        about: "SAELens `sae_weights.safetensors` (safetensors header, dtypes, shapes, values), then an encode",
        template: Some("fixtures/models/tiny-gpt2-l1"),
        file: "sae_weights.safetensors",
        seeds: &["fixtures/models/tiny-gpt2-l1/sae_weights.safetensors", "fixtures/sae/saelens/standard_bf16/sae_weights.safetensors"],
        text: false,
        load: load_sae,
        fields: None,
    },
    FileTarget {
        name: "saelens-cfg",
        about: "SAELens `cfg.json` variants (every architecture, normalisation, reshape, metadata)",
        template: Some("fixtures/models/tiny-gpt2-l1"),
        file: "cfg.json",
        seeds: &[
            "fixtures/models/tiny-gpt2-l1/cfg.json",
            "fixtures/sae/saelens/topk/cfg.json",
            "fixtures/sae/saelens/jumprelu/cfg.json",
            "fixtures/sae/saelens/gated_layer_norm/cfg.json",
            "fixtures/sae/saelens/standard_constant_norm_rescale/cfg.json",
            "fixtures/sae/pre6/hook_z/cfg.json",
            "demo/sae/cfg.json",
        ],
        text: true,
        load: load_sae,
        fields: None,
    },
    FileTarget {
        name: "npz",
        about: "Gemma Scope `params.npz` (zip, stored and deflated; .npy headers)",
        template: Some("fixtures/sae/gemma_scope/bare"),
        file: "params.npz",
        seeds: &["fixtures/sae/gemma_scope/bare/params.npz", "fixtures/sae/gemma_scope/bare_compressed/params.npz"],
        text: false,
        load: load_sae,
        fields: None,
    },
    FileTarget {
        name: "pt-pickle",
        about: "dictionary_learning `ae.pt` (torch zip, the pickle subset, malicious opcodes)",
        template: Some("fixtures/sae/dictionary_learning/standard"),
        file: "ae.pt",
        seeds: &[
            "fixtures/sae/dictionary_learning/standard/ae.pt",
            "fixtures/sae/dictionary_learning/topk/ae.pt",
            "fixtures/sae/dictionary_learning/malicious_eval/ae.pt",
        ],
        text: false,
        load: load_sae,
        fields: None,
    },
    FileTarget {
        name: "dl-config",
        about: "dictionary_learning `config.json`",
        template: Some("fixtures/sae/dictionary_learning/standard"),
        file: "config.json",
        seeds: &[
            "fixtures/sae/dictionary_learning/standard/config.json",
            "fixtures/sae/dictionary_learning/topk/config.json",
            "fixtures/sae/dictionary_learning/jumprelu/config.json",
        ],
        text: true,
        load: load_sae,
        fields: None,
    },
    FileTarget {
        name: "gguf",
        about: "GGUF models (header, metadata, tokenizer, tensor table, quant blocks), then a forward pass",
        template: None,
        file: "model.gguf",
        seeds: &["fuzz/seeds/tiny-llama.gguf", "fuzz/seeds/tiny-gemma3.gguf"],
        text: false,
        load: load_model,
        fields: Some(crate::structure::gguf_fields),
    },
    FileTarget {
        name: "hf-config",
        about: "a Hugging Face model's `config.json` (GPT-2, Llama, Qwen2, Gemma 2/3), then a forward pass",
        template: Some("fixtures/parity/tiny/gemma3"),
        file: "config.json",
        seeds: &[
            "fixtures/parity/tiny/gemma3/config.json",
            "fixtures/parity/tiny/gemma2/config.json",
            "fixtures/parity/tiny/llama/config.json",
            "fixtures/parity/tiny/qwen2/config.json",
            "fixtures/parity/tiny/gpt2/config.json",
        ],
        text: true,
        load: load_model_dir,
        fields: None,
    },
    FileTarget {
        name: "hf-safetensors",
        about: "a Hugging Face model's `model.safetensors` (saex's own mapped reader), then a forward pass",
        template: Some("fixtures/parity/tiny/gpt2"),
        file: "model.safetensors",
        seeds: &["fixtures/parity/tiny/gpt2/model.safetensors"],
        text: false,
        load: load_model_dir,
        fields: None,
    },
    FileTarget {
        name: "tokenizer-json",
        about: "Hugging Face `tokenizer.json`, then encode/decode",
        template: None,
        file: "tokenizer.json",
        seeds: &[
            "fixtures/parity/tiny/gpt2/tokenizer.json",
            "fixtures/parity/tiny/llama/tokenizer.json",
            "fixtures/parity/tiny/gemma3/tokenizer.json",
            "fixtures/parity/tiny/qwen2/tokenizer.json",
        ],
        text: true,
        load: load_tokenizer,
        fields: None,
    },
    FileTarget {
        name: "corpus-jsonl",
        about: "corpus JSONL (`{text, category, ...}` lines)",
        template: None,
        file: "corpus.jsonl",
        seeds: &["fuzz/seeds/corpus.jsonl"],
        text: true,
        load: load_corpus,
        fields: None,
    },
    FileTarget {
        name: "prompts-jsonl",
        about: "groups/batch prompts JSONL (`{role, prompt, system?}` or `{text, group}` lines)",
        template: None,
        file: "prompts.jsonl",
        seeds: &["fuzz/seeds/items.jsonl"],
        text: true,
        load: load_group_items,
        fields: None,
    },
    FileTarget {
        name: "groups-npz",
        about: "a groups directory's `per_role.npz` (numpy arrays written by saex or by seed 000)",
        template: Some("fuzz/seeds/groups"),
        file: "aggregated/mean/per_role.npz",
        seeds: &["fuzz/seeds/groups/aggregated/mean/per_role.npz", "fixtures/groups/seed000_fixture/features/lawyer.npz"],
        text: false,
        load: load_groups,
        fields: None,
    },
    FileTarget {
        name: "index-manifest",
        about: "a corpus index's `manifest.json`",
        template: Some("fuzz/seeds/index"),
        file: "manifest.json",
        seeds: &["fuzz/seeds/index/manifest.json"],
        text: true,
        load: load_index,
        fields: None,
    },
    FileTarget {
        name: "index-parquet",
        about: "a corpus index's Parquet tables (features, examples, histograms, categories, logits)",
        template: Some("fuzz/seeds/index"),
        file: PARQUET,
        seeds: &[],
        text: false,
        load: load_index,
        fields: None,
    },
    FileTarget {
        name: "label-registry",
        about: "a label registry file (one JSON per SAE)",
        template: None,
        file: "registry.json",
        seeds: &["fuzz/seeds/registry.json"],
        text: true,
        load: load_registry,
        fields: None,
    },
    FileTarget {
        name: "explanations",
        about: "Neuronpedia explanation exports (JSON array or JSONL, gzipped or not)",
        template: None,
        file: "export",
        seeds: &["fuzz/seeds/explanations.json", "fuzz/seeds/explanations.jsonl", "fuzz/seeds/explanations.jsonl.gz"],
        text: true,
        load: load_explanations,
        fields: None,
    },
    FileTarget {
        name: "label-catalog",
        about: "`saex label import` catalogs (saex JSONL or a Neuronpedia export)",
        template: None,
        file: "catalog.jsonl",
        seeds: &["fuzz/seeds/catalog.jsonl"],
        text: true,
        load: load_label_catalog,
        fields: None,
    },
];

/// The `file` of a target whose inputs go to one of the template's Parquet tables: the first
/// input byte picks the table (the seeds are each table, prefixed by its number).
pub const PARQUET: &str = "*.parquet";

/// The file (relative to the scratch copy) a single-file target replaces.
pub fn resolve_file(_root: &Path, t: &FileTarget) -> PathBuf {
    PathBuf::from(t.file)
}

/// The Parquet files under `dir`, relative to `base`.
pub fn parquet_files(dir: &Path, base: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(parquet_files(&p, base));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p.strip_prefix(base).unwrap_or(&p).to_path_buf());
        }
    }
    out
}
