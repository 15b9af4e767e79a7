//! The gateway's layout rules, checked on the source: resolvers (`<area>/graphql.rs`) are thin and
//! never reach the persistence layer; they call their area's service, which owns access checks,
//! validation, transactions and events.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

fn resolver_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            resolver_files(&path, out);
        } else if path.file_name().is_some_and(|n| n == "graphql.rs") {
            out.push(path);
        }
    }
}

#[test]
fn resolvers_do_not_import_persistence() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    resolver_files(&src, &mut files);
    assert!(
        files.len() >= 4,
        "expected one graphql.rs per area, found {files:?}"
    );
    let offenders: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).expect("read resolver file");
            let lines: Vec<String> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with("//") && l.contains("persistence"))
                .map(|(n, l)| format!("{}:{}: {}", f.display(), n + 1, l.trim()))
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "resolver modules must call their area's service, not the persistence layer:\n{}",
        offenders.join("\n")
    );
}
