//! The built-in checks' documentation pages (docs/checks/*.md), embedded at
//! build time and looked up by check id, so a request never names a file.

include!(concat!(env!("OUT_DIR"), "/check_docs.rs"));

/// The page of check `id`, if it has one.
pub fn page(id: &str) -> Option<&'static str> {
    CHECK_DOCS
        .binary_search_by(|(k, _)| (*k).cmp(id))
        .ok()
        .map(|i| CHECK_DOCS[i].1)
}
