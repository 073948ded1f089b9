//! Embeds the check documentation pages (docs/checks/*.md) so the dashboard
//! can link each check of the checklist to its page without reading files
//! named by a request.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not baked in when it is compiled: a target
    // directory reused from another checkout must not point at that one.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("../../docs/checks");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut pages: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("docs/checks is readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let id = path.file_name()?.to_str()?.strip_suffix(".md")?.to_string();
            Some((id, path.canonicalize().ok()?.display().to_string()))
        })
        .collect();
    pages.sort();
    let mut out = String::from(
        "/// Check id and its documentation page, sorted by id.\npub static CHECK_DOCS: &[(&str, &str)] = &[\n",
    );
    for (id, path) in pages {
        writeln!(out, "    ({id:?}, include_str!({path:?})),").unwrap();
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").unwrap()).join("check_docs.rs");
    std::fs::write(target, out).unwrap();
}
