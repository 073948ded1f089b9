//! What every scaffold does to the tree: validate a kebab-case id, derive
//! the Rust names from it, write a new file (never over an existing one), and
//! insert a line above a marker comment or among sorted lines.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// Fails unless `id` is kebab-case: lower-case words joined by `-`.
pub fn ensure_kebab(what: &str, id: &str) -> Result<()> {
    ensure!(
        !id.is_empty()
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !id.ends_with('-')
            && !id.contains("--"),
        "{what} `{id}` must be kebab-case (lower-case words joined by `-`)"
    );
    Ok(())
}

/// `ban-alter-system` → `ban_alter_system`.
pub fn snake(id: &str) -> String {
    id.replace('-', "_")
}

/// `ban-alter-system` → `BanAlterSystem`.
pub fn camel(id: &str) -> String {
    id.split('-').map(capitalize).collect()
}

fn capitalize(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

pub fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Fails if `path` exists: a scaffold never overwrites work.
pub fn ensure_new(path: &Path) -> Result<()> {
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    Ok(())
}

/// `text` with `line` (which ends in `\n`) inserted at the start of the line
/// holding `marker`.
pub fn above_marker(text: &str, marker: &str, line: &str, file: &Path) -> Result<String> {
    let Some(at) = text.find(marker) else {
        bail!("{} has no `{}` line", file.display(), marker.trim());
    };
    let at = text[..at].rfind('\n').map_or(0, |n| n + 1);
    Ok(format!("{}{line}{}", &text[..at], &text[at..]))
}

/// `text` with `line` inserted among the contiguous lines just above the
/// line holding `marker` that `in_block` accepts, at the position that keeps
/// them sorted by `key` (the order rustfmt gives `mod` lines and the order of
/// sorted lists).
pub fn sorted_above_marker(
    text: &str,
    marker: &str,
    line: &str,
    in_block: impl Fn(&str) -> bool,
    key: impl Fn(&str) -> String,
    file: &Path,
) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(end) = lines.iter().position(|l| l.contains(marker)) else {
        bail!("{} has no `{}` line", file.display(), marker.trim());
    };
    let start = lines[..end]
        .iter()
        .rposition(|l| !in_block(l))
        .map_or(0, |i| i + 1);
    let new_key = key(line);
    let mut at = (start..end)
        .find(|&i| !lines[i].trim_start().starts_with("#[") && key(lines[i]) > new_key)
        .unwrap_or(end);
    // Never between an attribute and the item it belongs to.
    while at > start && lines[at - 1].trim_start().starts_with("#[") {
        at -= 1;
    }
    Ok(insert_at(&lines, at, line))
}

/// Like [`sorted_above_marker`], for the lines just below the line holding
/// `marker`.
pub fn sorted_below_marker(
    text: &str,
    marker: &str,
    line: &str,
    in_block: impl Fn(&str) -> bool,
    key: impl Fn(&str) -> String,
    file: &Path,
) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| l.contains(marker)) else {
        bail!("{} has no `{}` line", file.display(), marker.trim());
    };
    let start = start + 1;
    let end = (start..lines.len())
        .find(|&i| !in_block(lines[i]))
        .unwrap_or(lines.len());
    let new_key = key(line);
    let at = (start..end)
        .find(|&i| key(lines[i]) > new_key)
        .unwrap_or(end);
    Ok(insert_at(&lines, at, line))
}

/// `text` with `block` inserted after the paragraph (lines up to the next
/// blank line) holding the last line that `is_anchor` accepts.
pub fn after_last_paragraph(
    text: &str,
    is_anchor: impl Fn(&str) -> bool,
    block: &str,
    what: &str,
    file: &Path,
) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(anchor) = lines.iter().rposition(|l| is_anchor(l)) else {
        bail!("{} has no {what}", file.display());
    };
    let at = (anchor..lines.len())
        .find(|&i| lines[i].trim().is_empty())
        .unwrap_or(lines.len());
    Ok(insert_at(&lines, at, block))
}

/// `text` with `line` inserted after the last line that `is_anchor` accepts.
pub fn after_last_line(
    text: &str,
    is_anchor: impl Fn(&str) -> bool,
    line: &str,
    what: &str,
    file: &Path,
) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(anchor) = lines.iter().rposition(|l| is_anchor(l)) else {
        bail!("{} has no {what}", file.display());
    };
    Ok(insert_at(&lines, anchor + 1, line))
}

/// `lines` joined again with `piece` inserted before line `at`.
fn insert_at(lines: &[&str], at: usize, piece: &str) -> String {
    let mut out: String = lines[..at].concat();
    out.push_str(piece);
    out.push_str(&lines[at..].concat());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("ban-alter-system"), "ban_alter_system");
        assert_eq!(camel("ban-alter-system"), "BanAlterSystem");
        assert!(ensure_kebab("id", "tls-1-3").is_ok());
        for bad in ["", "Tls", "tls_x", "-tls", "tls-", "tls--x", "1tls", "a.b"] {
            assert!(ensure_kebab("id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inserts_sorted_within_the_block_above_the_marker() {
        let text = "use x;\n\npub mod b;\nmod d;\n// mark\nrest\n";
        let key = |l: &str| l.trim_start_matches("pub ").to_string();
        let in_block = |l: &str| l.starts_with("pub mod ") || l.starts_with("mod ");
        let p = Path::new("f");
        let out = sorted_above_marker(text, "// mark", "pub mod c;\n", in_block, key, p);
        assert_eq!(
            out.unwrap(),
            "use x;\n\npub mod b;\npub mod c;\nmod d;\n// mark\nrest\n"
        );
        let out = sorted_above_marker(text, "// mark", "pub mod a;\n", in_block, key, p);
        assert_eq!(
            out.unwrap(),
            "use x;\n\npub mod a;\npub mod b;\nmod d;\n// mark\nrest\n"
        );
        let out = sorted_above_marker(text, "// mark", "pub mod e;\n", in_block, key, p);
        assert!(out.unwrap().contains("mod d;\npub mod e;\n// mark"));
        assert!(sorted_above_marker(text, "// none", "x\n", in_block, key, p).is_err());
        let attr = "pub mod a;\n#[doc(hidden)]\npub mod s;\n// mark\n";
        let in_block = |l: &str| in_block(l) || l.starts_with("#[");
        let out = sorted_above_marker(attr, "// mark", "pub mod p;\n", in_block, key, p);
        assert_eq!(
            out.unwrap(),
            "pub mod a;\npub mod p;\n#[doc(hidden)]\npub mod s;\n// mark\n"
        );
        let list = "const L = [\n    \"a\",\n    \"c\",\n];\n";
        let quoted = |l: &str| l.starts_with("    \"");
        let trim = |l: &str| l.trim().to_string();
        let out = sorted_below_marker(list, "const L", "    \"b\",\n", quoted, trim, p);
        assert_eq!(
            out.unwrap(),
            "const L = [\n    \"a\",\n    \"b\",\n    \"c\",\n];\n"
        );
        let out = sorted_below_marker(list, "const L", "    \"d\",\n", quoted, trim, p);
        assert_eq!(
            out.unwrap(),
            "const L = [\n    \"a\",\n    \"c\",\n    \"d\",\n];\n"
        );
    }

    #[test]
    fn inserts_above_a_marker_and_after_a_paragraph() {
        let p = Path::new("f");
        let out = above_marker("a\n    // mark\n", "// mark", "    b\n", p).unwrap();
        assert_eq!(out, "a\n    b\n    // mark\n");
        let text = "x\n\n[a]\nid = 1\n\n[a]\nid = 2\nk = 3\n\n[b]\n";
        let out = after_last_paragraph(text, |l| l.starts_with("id = "), "\nnew\n", "id", p);
        assert_eq!(
            out.unwrap(),
            "x\n\n[a]\nid = 1\n\n[a]\nid = 2\nk = 3\n\nnew\n\n[b]\n"
        );
        let out = after_last_paragraph("id = 1\n", |l| l.starts_with("id"), "\nnew\n", "id", p);
        assert_eq!(out.unwrap(), "id = 1\n\nnew\n");
        let out = after_last_line(
            "| a1\n| a2\n| b1\n",
            |l| l.starts_with("| a"),
            "| a3\n",
            "a",
            p,
        );
        assert_eq!(out.unwrap(), "| a1\n| a2\n| a3\n| b1\n");
    }
}
