//! Every HTML page saex writes, opened in real headless chromium on the real demo model:
//! it loads with no console error and no network request, its interactions work (select a
//! feature, hover a token), and a screenshot is saved.

mod common;

use common::{check_page, demo_sae, gemma, saex};

fn ok(o: std::process::Output) -> std::process::Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn discover_page_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("discover.html");
    ok(saex(&[
        "discover",
        "--model",
        &gemma(),
        "--sae",
        &demo_sae(),
        "--prompt",
        "\\begin{theorem} Let $f$ be continuous. Then",
        "--gen-tokens",
        "12",
        "--return-top-x",
        "8",
        "--no-cache",
        "--html",
        page.to_str().unwrap(),
    ]));
    let report = check_page(&page, "texts", &dir.path().join("discover.png"));
    assert!(report.contains("\"shading_changed\":true"), "{report}");
}

#[test]
fn top_features_page_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("top.html");
    ok(saex(&[
        "top-features",
        "--model",
        &gemma(),
        "--sae",
        &demo_sae(),
        "--k",
        "5",
        "--text",
        "The Eiffel Tower is in Paris.",
        "--text",
        "<script>alert('x')</script> & friends",
        "--html",
        page.to_str().unwrap(),
    ]));
    let report = check_page(&page, "texts", &dir.path().join("top.png"));
    assert!(report.contains("\"views\":2"), "{report}");
}
