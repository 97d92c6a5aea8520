//! Neuronpedia explanation exports as published: JSONL gzipped (the datasets'
//! `explanations/batch-N.jsonl.gz`) and a JSON array (the old export endpoint), with a
//! malformed line reported by number and the rest read.

use std::io::Write;

use saex_labels::neuronpedia::{read_maybe_gz, rows, At};

fn row(index: u32, description: &str, score: f64) -> String {
    format!(
        r#"{{"id":"cl{index}","modelId":"gemma-2-2b","layer":"6-gemmascope-res-16k","index":"{index}","description":"{description}","authorId":"a","typeName":"oai_token-act-pair","explanationModelName":"gpt-4o-mini","embedding":[0.1,0.2],"umap_x":1.0,"umap_y":2.0,"umap_cluster":3,"umap_log_feature_sparsity":-4.0,"scoreV1":{score},"scoreV2":null,"createdAt":"2024-07-01T00:00:00.000Z"}}"#
    )
}

#[test]
fn gzipped_jsonl_with_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        [row(1, "dates", 0.5), "{\"modelId\": \"gemma-2-2b\", truncated".into(), row(2, "city names", 0.7), String::new(), row(3, "", 0.1)]
            .join("\n");
    let gz = dir.path().join("batch-0.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let r = rows(&read_maybe_gz(&gz).unwrap());
    let ats: Vec<At> = r.iter().map(|(a, _)| *a).collect();
    assert_eq!(ats, [At::Line(1), At::Line(2), At::Line(3), At::Line(5)], "the blank line 4 is no row");
    assert!(r[1].1.as_ref().unwrap_err().contains("not JSON"));
    assert!(r[3].1.as_ref().unwrap_err().contains("empty `description`"));
    let ok: Vec<_> = r.iter().filter_map(|(_, x)| x.as_ref().ok()).collect();
    assert_eq!(ok.iter().map(|e| (e.index, e.description.as_str())).collect::<Vec<_>>(), [(1, "dates"), (2, "city names")]);
    let kept = &ok[0].entry().extra["neuronpedia"];
    assert_eq!(kept["scoreV1"], 0.5);
    assert!(kept.get("embedding").is_none() && kept.get("umap_x").is_none() && kept.get("authorId").is_none());
}

#[test]
fn a_json_array_plain() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("export.json");
    std::fs::write(&p, format!("[{},\n{}]", row(7, "code", 0.2), row(8, "maths", 0.3))).unwrap();
    let r = rows(&read_maybe_gz(&p).unwrap());
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].0, At::Item(2));
    assert_eq!(r[1].1.as_ref().unwrap().neuronpedia_id(), "gemma-2-2b/6-gemmascope-res-16k");
}
