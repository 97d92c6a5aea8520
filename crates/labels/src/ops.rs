//! Changes to one SAE's registry, with the precedence of sources: an entry is only replaced
//! by one of the same or a higher [`Source`] (hand > neuronpedia > auto).

use serde::{Deserialize, Serialize};

use crate::entry::{Entry, Registry, Source};

/// What happened to an offered entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Offered {
    /// The feature had no entry.
    Added,
    /// It replaced an entry of the same or a lower source.
    Replaced,
    /// The same entry was there already.
    Same,
    /// A higher source's entry was kept.
    Kept,
}

/// Put `new` for `feature` unless a higher source's entry is there.
pub fn offer(reg: &mut Registry, feature: u32, new: Entry) -> Offered {
    match reg.get(&feature) {
        None => {
            reg.insert(feature, new);
            Offered::Added
        }
        Some(old) if *old == new => Offered::Same,
        Some(old) if old.source > new.source => Offered::Kept,
        Some(_) => {
            reg.insert(feature, new);
            Offered::Replaced
        }
    }
}

/// The fields `label set` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    /// A short name.
    #[serde(default)]
    pub name: Option<String>,
    /// What the feature does.
    #[serde(default)]
    pub description: Option<String>,
    /// Texts it fires on (replaces the list).
    #[serde(default)]
    pub examples: Option<Vec<String>>,
    /// `high`, `medium`, `low`.
    #[serde(default)]
    pub confidence: Option<String>,
    /// Anything else.
    #[serde(default)]
    pub notes: Option<String>,
}

impl Patch {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Patch::default()
    }

    /// Apply it to `feature`'s entry (made if missing); the entry becomes a hand entry.
    /// Returns whether anything changed.
    pub fn apply(&self, reg: &mut Registry, feature: u32) -> bool {
        let e = reg.entry(feature).or_default();
        let before = e.clone();
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *dst = v.trim().to_string();
            }
        };
        set(&mut e.name, &self.name);
        set(&mut e.description, &self.description);
        set(&mut e.confidence, &self.confidence);
        set(&mut e.notes, &self.notes);
        if let Some(x) = &self.examples {
            e.examples = x.clone();
        }
        e.source = Source::Hand;
        *e != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_of_sources() {
        let mut r = Registry::new();
        let e = |d: &str, s: Source| Entry { description: d.into(), source: s, ..Default::default() };
        assert_eq!(offer(&mut r, 1, e("auto", Source::Auto)), Offered::Added);
        assert_eq!(offer(&mut r, 1, e("np", Source::Neuronpedia)), Offered::Replaced);
        assert_eq!(offer(&mut r, 1, e("np", Source::Neuronpedia)), Offered::Same);
        assert_eq!(offer(&mut r, 1, e("auto2", Source::Auto)), Offered::Kept);
        assert!(Patch { name: Some(" geo ".into()), ..Default::default() }.apply(&mut r, 1));
        assert_eq!((r[&1].name.as_str(), r[&1].description.as_str(), r[&1].source), ("geo", "np", Source::Hand));
        assert_eq!(offer(&mut r, 1, e("np again", Source::Neuronpedia)), Offered::Kept);
        assert!(!Patch { name: Some("geo".into()), ..Default::default() }.apply(&mut r, 1));
    }
}
