//! One SAE's registry: seed 003's `sae_features.json` layout, `{"<feature id>": {"name",
//! "description", "examples", "confidence", "notes"}}`, plus `source` and whatever else an
//! entry carries (Neuronpedia's explanation fields and scores, a user's own keys), kept as is.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Where an entry came from. Higher ranks are never replaced by lower ones when the registry
/// is written (a Neuronpedia import or `label auto` does not overwrite a hand entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Made by `label auto` from a feature's top tokens.
    Auto,
    /// A Neuronpedia explanation (`explain import`, `explain fetch`).
    Neuronpedia,
    /// Written by a person (`label set`, a seed-made file: entries without `source`).
    #[default]
    Hand,
}

impl Source {
    /// Its name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Source::Auto => "auto",
            Source::Neuronpedia => "neuronpedia",
            Source::Hand => "hand",
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Source, String> {
        match s {
            "auto" => Ok(Source::Auto),
            "neuronpedia" => Ok(Source::Neuronpedia),
            "hand" => Ok(Source::Hand),
            _ => Err(format!("{s:?} is not a label source (hand, neuronpedia, auto)")),
        }
    }
}

/// `null` reads as the default (Python code writes `None` for a missing note).
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One feature's entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// A short name (`geographic_locations`); may be empty (Neuronpedia explanations have none).
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// What the feature does, in a sentence.
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// Texts it fires on.
    #[serde(default, deserialize_with = "nullable")]
    pub examples: Vec<String>,
    /// `high`, `medium`, `low` (free text; seed 003 uses those three).
    #[serde(default, deserialize_with = "nullable")]
    pub confidence: String,
    /// Anything else.
    #[serde(default, deserialize_with = "nullable")]
    pub notes: String,
    /// Where it came from (absent in a seed-made file: `hand`).
    #[serde(default)]
    pub source: Source,
    /// Other keys, kept: a Neuronpedia explanation's `explanationModelName`, `typeName`,
    /// `scoreV1`, `scores`…, or a user's own.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: BTreeMap<String, Value>,
}

impl Entry {
    /// What verbs show as the feature's label: the name, else the description.
    pub fn label(&self) -> Option<String> {
        [&self.name, &self.description].into_iter().map(|s| s.trim()).find(|s| !s.is_empty()).map(str::to_string)
    }
}

/// One SAE's entries by feature id (a JSON object keyed by the id as a string).
pub type Registry = BTreeMap<u32, Entry>;

/// Parse a registry (seed 003's layout); the message says which key is wrong, or where the
/// JSON breaks.
pub fn parse(bytes: &[u8]) -> std::result::Result<Registry, String> {
    let raw: BTreeMap<String, Value> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Registry::new();
    for (k, v) in raw {
        let id: u32 = k.trim().parse().map_err(|_| format!("key {k:?} is not a feature id"))?;
        let e: Entry = serde_json::from_value(v).map_err(|e| format!("feature {k}: {e}"))?;
        out.insert(id, e);
    }
    Ok(out)
}

/// The file's bytes: `json.dump(registry, f, indent=2)`'s layout (keys in numeric order).
pub fn to_bytes(r: &Registry) -> Vec<u8> {
    // A map of u32 keys and plain values always serializes.
    let mut out = serde_json::to_vec_pretty(r).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_003_file_reads_and_round_trips() {
        // Seed 003's own example, as json.dump(feature_registry, f, indent=2) writes it.
        let seed = br#"{
  "1234": {
    "name": "geographic_locations",
    "description": "Activates on city and country names",
    "examples": ["Paris, France", "Tokyo, Japan", "New York City"],
    "confidence": "high",
    "notes": "Especially strong for European locations"
  },
  "5678": {
    "name": "mathematical_notation",
    "description": "Activates on equations and formulas",
    "examples": ["E=mc\u00b2", "ax\u00b2+bx+c=0"],
    "confidence": "medium",
    "my_key": 3
  }
}"#;
        let r = parse(seed).unwrap();
        assert_eq!(r[&1234].source, Source::Hand);
        assert_eq!(r[&5678].examples[0], "E=mc²");
        assert_eq!(r[&5678].notes, "");
        assert_eq!(r[&5678].extra["my_key"], 3);
        assert_eq!(r[&1234].label().as_deref(), Some("geographic_locations"));
        assert_eq!(parse(&to_bytes(&r)).unwrap(), r);
        // Keys sort numerically, not as strings.
        let mut two = Registry::new();
        two.insert(10, Entry { description: "d".into(), ..Default::default() });
        two.insert(9, Entry::default());
        let text = String::from_utf8(to_bytes(&two)).unwrap();
        assert!(text.find("\"9\"").unwrap() < text.find("\"10\"").unwrap(), "{text}");
        assert!(text.contains("\n  \"9\": {\n    \"name\": \"\""), "indent=2: {text}");
    }

    #[test]
    fn bad_files_say_where() {
        assert!(parse(b"{\"x\": {}}").unwrap_err().contains("\"x\" is not a feature id"));
        assert!(parse(b"{\"3\": {\"examples\": 5}}").unwrap_err().contains("feature 3"));
        let e = parse(b"{\"3\": {\n\"name\": ").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse(b"[]").is_err());
        assert!(parse(b"").is_err());
    }
}
