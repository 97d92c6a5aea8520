//! # Brief overview
//!
//! `saex-engine` is the one engine under every face (CLI, HTTP API, Python): a [`Session`]
//! owns what is loaded — a model, its SAEs each bound to its hook with its reference
//! statistics ([`FeatureStats`]), labels and Neuronpedia id, and the activation cache — and
//! each capability is one function of a session and a request type that every face shares:
//!
//! | verb | function | request → result |
//! |---|---|---|
//! | `tokenize` | [`tokenize()`] (tokenizer only) | text → [`Tokenized`] |
//! | `capture`, `generate` | [`capture()`], [`generate()`] | hooks / [`GenerateRequest`] |
//! | `encode` | [`encode()`] | text → [`Encoded`] |
//! | `top-features` | [`top()`] | [`TopRequest`] → [`TopReport`] |
//! | `discover` | [`discover()`] | [`DiscoverRequest`] → [`DiscoverResponse`] |
//! | `steer` | [`steer()`] | [`SteerRequest`] → [`Steered`] |
//! | `top-texts` | [`top_texts()`] | features → [`FeatureExamples`] |
//! | `sae-stats` | [`feature_stats()`] | texts → [`FeatureStats`] |
//! | `eval` | [`eval()`] | texts → [`EvalReport`] |
//! | `sae-info` | [`sae_info()`] | SAE → [`SaeInfo`] |
//! | `index build` / `merge` | [`index_build()`], [`index_merge()`] | corpus → an index folder |
//! | `feature`, `top-texts --index` | [`feature()`], [`top_texts_indexed()`] | index → `FeatureRecord` |
//! | `label get`/`set`/`list`/`import` | [`label_get()`], [`label_set()`], [`label_list()`], [`label_import()`] | registry → [`LabelRecord`], [`LabelList`] |
//! | `explain import`/`fetch` | [`explain_import()`], [`explain_fetch()`] | Neuronpedia → [`ImportReport`], [`FetchReport`] |
//! | `label auto` | [`label_auto()`] | index (+ model) → [`AutoReport`] |
//! | `map` | [`map()`], [`map_sae()`] (no model) | [`MapRequest`] → [`MapReport`] (decoder rows in 2-D) |
//!
//! The walk of a request goes face → engine → model, never back up: every verb reaches the
//! model through [`Session::encode_tokens`] / [`Session::encode_batch`] (the encode
//! pipeline) or the model-only verbs here. Pure arithmetic lives in `saex-analysis`.
//!
//! ```no_run
//! use saex_engine::{top, Session, SessionOptions, TopRequest};
//!
//! let session = Session::open("gemma-3-270m-q4_k_m.gguf", &["demo/sae".to_string()], SessionOptions::default())?;
//! let report = top(&session, &TopRequest::new("The Eiffel Tower is in Paris"))?;
//! for f in &report.features {
//!     println!("{} {:.2} at {:?} {:?}", f.feature_id, f.value, f.peak_token, f.label);
//! }
//! # Ok::<(), saex_engine::Error>(())
//! ```
#![deny(missing_docs)]

pub mod atomic;
mod chat;
mod discover;
mod drift;
mod encode;
mod error;
mod eval;
mod explain;
mod explore;
mod features;
mod generate;
mod groups;
mod groups_generate;
pub mod groups_store;
mod highlight;
mod index;
mod info;
mod label_auto;
mod label_verbs;
pub mod labels;
mod logit_lens;
mod logit_stats;
mod map;
mod neighbors;
pub mod neuronpedia;
mod pair;
mod session;
mod stats;
mod steer;
mod tokenize;
mod top;
mod top_texts;

pub use chat::{chat_prompt, chat_template, ChatMessage};
pub use discover::{capture as discover_capture, discover, discover_with_capture, Captured, CapturedSae};
pub use drift::{drift, drift_sessions, DriftRequest};
pub use encode::{encode, BatchCodes, Encoded, Encoding, RunOptions, SaeCodes};
pub use error::{Error, Result};
pub use eval::{eval, EvalOptions, EvalReport};
pub use explain::{explain_fetch, explain_import, neuronpedia_cache_dir, ExportRows, FetchMethod, FetchReport, FetchRequest};
pub use explore::{concept, explore, CategorizedText, ConceptReport, ConceptRequest, ExploreReport, ExploreRequest};
pub use features::{feature, summaries, top_texts_indexed, FeatureSummary, IndexLabels, TopText};
pub use generate::{capture, generate, GenerateRequest, Generated};
pub use groups::{
    group_vectors, groups, groups_build, read_groups, read_items, select_groups, write_groups, GroupFeature, GroupItem, GroupReport,
    GroupVectors, GroupsBuildRequest, GroupsManifest, GroupsReport, GroupsRequest, SelectOptions, Skipped,
};
pub use groups_generate::{GenerateSpec, Response as GeneratedResponse};
pub use highlight::{highlight, HighlightRequest, Highlighted, HighlightedFeature};
pub use index::{
    check_index_matches, from_index, index_build, index_merge, IndexBuildReport, IndexBuildRequest, Progress as IndexProgress,
};
pub use info::{sae_info, Density, SaeInfo};
pub use label_auto::{label_auto, AutoLabel, AutoReport, AutoRequest};
pub use label_verbs::{label_get, label_import, label_list, label_set, ImportReport, LabelList, LabelRecord, SourceCounts};
pub use labels::{label_target, sae_key, LabelTarget};
pub use logit_lens::{logit_lens, FeatureLogits, LensOptions};
pub use logit_stats::{logit_stats, FeatureLogitStats, LogitStatsReport, LogitStatsRequest, TypeCount};
pub use map::{map, map_sae, MapMethod, MapPoint, MapReport, MapRequest, RankBy};
pub use neighbors::{neighbors, sae_neighbors, By as NeighborsBy, Neighbor, NeighborsRequest};
pub use pair::{Adapter, Pair};
pub use saex_analysis::discover::{DiscoverRequest, DiscoverResponse};
pub use saex_analysis::top::Reduce;
pub use saex_index as index_store;
pub use saex_labels;
pub use session::{loaded, release_saes, Loaded, LoadedModel, LoadedSae, Session, SessionOptions, SessionSae, LABELS_FILE};
pub use stats::{feature_stats, FeatureStats, DENSE_RATE, STATS_FILE};
pub use steer::{steer, steer_pair, steering_edit, steering_vector, SteerFeature, SteerOptions, SteerRequest, Steered, MAX_STEER_TOKENS};
pub use tokenize::{tokenize, Token, TokenizeRequest, Tokenized};
pub use top::{top, top_with_encoding, TopFeature, TopReport, TopRequest};
pub use top_texts::{top_texts, Example, FeatureExamples};
