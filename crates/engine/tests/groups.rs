//! `groups select` against seed 000's own cells: `fixtures/groups/gen_seed000_fixture.py`
//! runs the seed's cells 1-4 verbatim (numpy) on a constructed case with every edge the
//! seed's arithmetic has (zero means, infinite ratios, argmax ties, values at each threshold
//! in float32) and stores what they printed; saex reads the same `.npz` files and must
//! select exactly those features, in that order, with the same statistics.

use std::path::PathBuf;

use saex_engine::{read_groups, select_groups, SelectOptions};
use serde_json::Value;

fn fixture() -> PathBuf {
    saex_testutil::root().join("fixtures/groups/seed000_fixture")
}

fn f(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        v => v.as_f64().unwrap(),
    }
}

#[test]
fn selection_equals_the_seeds_cells() {
    let expected: Value = serde_json::from_slice(&std::fs::read(fixture().join("expected.json")).unwrap()).unwrap();
    let (_, v) = read_groups(&fixture()).unwrap();
    assert_eq!(v.names, expected["role_names"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect::<Vec<_>>());
    let r = select_groups(&v, "fixture", &SelectOptions::default(), &|_| (None, None)).unwrap();
    let c = &expected["counts"];
    assert_eq!(
        (r.c1, r.c3, r.candidates, r.selected.len()),
        (
            c["C1"].as_u64().unwrap() as usize,
            c["C3"].as_u64().unwrap() as usize,
            c["candidates"].as_u64().unwrap() as usize,
            c["selected"].as_u64().unwrap() as usize
        )
    );
    let want_sel: Vec<u32> = expected["selected"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
    assert_eq!(r.selected, want_sel);
    // Per group, in the seed's dict order (first appearance), each list in its order.
    let want_groups: Vec<(String, Vec<u32>)> = expected["role_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g[0].as_str().unwrap().to_string(), g[1].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()))
        .collect();
    let got_groups: Vec<(String, Vec<u32>)> = r
        .groups
        .iter()
        .filter(|g| !g.features.is_empty())
        .map(|g| (g.group.clone(), g.features.iter().map(|x| x.selected.feature_id).collect()))
        .collect();
    assert_eq!(got_groups, want_groups);
    // The statistics of every selected feature, as the seed computed them: ratio, cv and
    // activation are float32 values (compared as f32: serde_json's default float parsing
    // may be one f64 ulp off), the firing rate a count over n.
    for g in &r.groups {
        for x in &g.features {
            let p = &expected["per_feature"][x.selected.feature_id.to_string()];
            let ratio = x.selected.ratio.unwrap_or(f64::INFINITY);
            assert_eq!(ratio as f32, f(&p["pref_ratio"]) as f32, "feature {}: ratio", x.selected.feature_id);
            assert_eq!(x.selected.cv as f32, f(&p["cv"]) as f32, "feature {}: cv", x.selected.feature_id);
            assert_eq!(x.selected.firing_rate, f(&p["firing_rate"]), "feature {}: firing rate", x.selected.feature_id);
            assert_eq!(x.selected.act, f(&p["top_val"]) as f32, "feature {}: activation", x.selected.feature_id);
        }
    }
    // The doctor group has no selected feature: listed, empty.
    assert!(r.groups.iter().any(|g| g.group == "doctor" && g.features.is_empty()));
}
