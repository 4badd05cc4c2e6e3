//! docs/clinical-safety.md cannot drift from the code: every test it names as
//! `` `path/file.rs::function` `` exists there, and every hazard names at least one.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The `` `file.rs::name` `` references in `text`.
fn references(text: &str) -> Vec<(String, String)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let (file, name) = span.split_once(".rs::")?;
            let ok =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            ok.then(|| (format!("{file}.rs"), name.to_owned()))
        })
        .collect()
}

#[test]
fn every_test_the_hazard_log_names_exists() {
    let doc = std::fs::read_to_string(root().join("docs/clinical-safety.md")).unwrap();
    let sections: Vec<&str> = doc.split("\n## ").skip(1).collect();
    assert_eq!(sections.len(), 7, "seven hazards, one section each");
    let mut missing = Vec::new();
    for section in &sections {
        let title = section.lines().next().unwrap_or_default();
        let refs = references(section);
        assert!(!refs.is_empty(), "hazard {title:?} names no test");
        for (file, name) in refs {
            let source = std::fs::read_to_string(root().join(&file)).unwrap_or_default();
            if !source.contains(&format!("fn {name}(")) {
                missing.push(format!("{file}::{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/clinical-safety.md names tests that do not exist: {missing:?}"
    );
}
