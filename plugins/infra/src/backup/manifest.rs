//! PostgreSQL's `backup_manifest` (written by `pg_basebackup` since 13) and
//! its verification, the way `pg_verifybackup` does it for a plain-format
//! backup: the manifest's own `Manifest-Checksum`, then every listed file's
//! size and checksum relative to the manifest's directory, then files on disk
//! the manifest does not list.
//!
//! Checksums: CRC32C (`pg_basebackup`'s default), SHA224/256/384/512, or NONE
//! (sizes only). WAL is not checked: `WAL-Ranges` needs the server's WAL
//! archive, which `pg_verifybackup` reads with `pg_waldump`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use sha2::Digest;

use super::crc32c::Crc32c;
use super::hex;

/// Files and directories `pg_verifybackup` ignores by default: written or
/// changed after the manifest (by `pg_basebackup -R`, or at restore).
const IGNORED: &[&str] = &[
    "backup_manifest",
    "pg_wal",
    "postgresql.auto.conf",
    "recovery.signal",
    "standby.signal",
];

#[derive(Deserialize)]
struct RawManifest {
    #[serde(rename = "PostgreSQL-Backup-Manifest-Version")]
    version: u32,
    #[serde(rename = "System-Identifier", default)]
    system_identifier: Option<u64>,
    #[serde(rename = "Files")]
    files: Vec<RawFile>,
    #[serde(rename = "WAL-Ranges", default)]
    wal_ranges: Vec<serde_json::Value>,
    #[serde(rename = "Manifest-Checksum")]
    manifest_checksum: String,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "Path", default)]
    path: Option<String>,
    #[serde(rename = "Encoded-Path", default)]
    encoded_path: Option<String>,
    #[serde(rename = "Size")]
    size: u64,
    #[serde(rename = "Checksum-Algorithm", default)]
    algorithm: Option<String>,
    #[serde(rename = "Checksum", default)]
    checksum: Option<String>,
}

/// A checksum algorithm a manifest may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    None,
    Crc32c,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn parse(name: Option<&str>) -> Result<Algorithm, String> {
        Ok(match name.map(str::to_ascii_uppercase).as_deref() {
            None | Some("NONE") => Algorithm::None,
            Some("CRC32C") => Algorithm::Crc32c,
            Some("SHA224") => Algorithm::Sha224,
            Some("SHA256") => Algorithm::Sha256,
            Some("SHA384") => Algorithm::Sha384,
            Some("SHA512") => Algorithm::Sha512,
            Some(other) => return Err(format!("unknown Checksum-Algorithm `{other}`")),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::None => "NONE",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Sha224 => "SHA224",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha384 => "SHA384",
            Algorithm::Sha512 => "SHA512",
        }
    }
}

enum Hasher {
    None,
    Crc32c(Crc32c),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(a: Algorithm) -> Hasher {
        match a {
            Algorithm::None => Hasher::None,
            Algorithm::Crc32c => Hasher::Crc32c(Crc32c::default()),
            Algorithm::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::None => {}
            Hasher::Crc32c(h) => h.update(b),
            Hasher::Sha224(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::None => String::new(),
            Hasher::Crc32c(h) => h.manifest_hex(),
            Hasher::Sha224(h) => hex(&h.finalize()),
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha384(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        }
    }
}

/// One file the manifest lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the backup's directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub algorithm: Algorithm,
    /// Lower-case hex; empty for NONE.
    pub checksum: String,
}

/// A parsed manifest and whether its own checksum holds.
#[derive(Clone, Debug)]
pub struct BackupManifest {
    pub version: u32,
    pub system_identifier: Option<u64>,
    pub files: Vec<Entry>,
    pub wal_ranges: usize,
    /// `Manifest-Checksum` as written.
    pub manifest_checksum: String,
    /// SHA-256 of the manifest up to the line holding `Manifest-Checksum`.
    pub computed_checksum: String,
}

impl BackupManifest {
    pub fn checksum_ok(&self) -> bool {
        self.manifest_checksum
            .eq_ignore_ascii_case(&self.computed_checksum)
    }

    pub fn algorithms(&self) -> BTreeSet<Algorithm> {
        self.files.iter().map(|f| f.algorithm).collect()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses a manifest and computes its checksum like PostgreSQL: SHA-256 of
/// every byte up to and including the newline before the last line.
pub fn parse(bytes: &[u8]) -> Result<BackupManifest, String> {
    let newlines: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    if newlines.len() < 2 || bytes.last() != Some(&b'\n') {
        return Err(
            "not a backup_manifest: it must have at least two lines and end with a newline"
                .to_string(),
        );
    }
    let penultimate = newlines[newlines.len() - 2];
    let computed = hex(&sha2::Sha256::digest(&bytes[..=penultimate]));
    let raw: RawManifest = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a PostgreSQL backup_manifest: {e}"))?;
    if !(1..=2).contains(&raw.version) {
        return Err(format!(
            "PostgreSQL-Backup-Manifest-Version {} is not supported (1 and 2 are)",
            raw.version
        ));
    }
    let mut files = Vec::with_capacity(raw.files.len());
    for f in raw.files {
        let path = match (f.path, f.encoded_path) {
            (Some(p), _) => p,
            (None, Some(e)) => {
                let bytes = unhex(&e).ok_or_else(|| format!("bad Encoded-Path `{e}`"))?;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            (None, None) => {
                return Err("a file entry has neither Path nor Encoded-Path".to_string());
            }
        };
        let algorithm = Algorithm::parse(f.algorithm.as_deref())?;
        let checksum = f.checksum.unwrap_or_default().to_ascii_lowercase();
        if algorithm != Algorithm::None && checksum.is_empty() {
            return Err(format!("{path}: {} checksum missing", algorithm.name()));
        }
        files.push(Entry {
            path,
            size: f.size,
            algorithm,
            checksum,
        });
    }
    Ok(BackupManifest {
        version: raw.version,
        system_identifier: raw.system_identifier,
        files,
        wal_ranges: raw.wal_ranges.len(),
        manifest_checksum: raw.manifest_checksum,
        computed_checksum: computed,
    })
}

/// What is wrong with one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    Missing,
    Size {
        expected: u64,
        actual: u64,
    },
    Checksum {
        algorithm: Algorithm,
        expected: String,
        actual: String,
    },
    /// On disk but not in the manifest.
    Unexpected {
        size: u64,
    },
    Unreadable(String),
}

impl Mismatch {
    /// The finding's rule id.
    pub fn rule(&self) -> &'static str {
        match self {
            Mismatch::Missing => "missing-file",
            Mismatch::Size { .. } => "size-mismatch",
            Mismatch::Checksum { .. } => "checksum-mismatch",
            Mismatch::Unexpected { .. } => "unexpected-file",
            Mismatch::Unreadable(_) => "unreadable-file",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileIssue {
    pub path: String,
    pub mismatch: Mismatch,
}

/// The outcome of verifying a backup directory against its manifest.
#[derive(Clone, Debug)]
pub struct Verification {
    pub manifest: BackupManifest,
    pub files_checked: usize,
    pub bytes_checked: u64,
    pub issues: Vec<FileIssue>,
    /// Set when the directory holds a tar-format backup (`base.tar*`) instead
    /// of the files: their contents cannot be checked from here.
    pub tar_format: Option<String>,
}

/// Verifies the files under `dir` (the manifest's directory).
pub fn verify(dir: &Path, manifest: BackupManifest) -> Verification {
    let mut issues = Vec::new();
    let mut files_checked = 0;
    let mut bytes_checked = 0;
    let listed: BTreeMap<&str, &Entry> = manifest
        .files
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();

    let present = manifest
        .files
        .iter()
        .any(|e| dir.join(&e.path).symlink_metadata().is_ok());
    if !present && !manifest.files.is_empty() {
        for tar in ["base.tar", "base.tar.gz", "base.tar.lz4", "base.tar.zst"] {
            if dir.join(tar).is_file() {
                return Verification {
                    manifest,
                    files_checked: 0,
                    bytes_checked: 0,
                    issues: Vec::new(),
                    tar_format: Some(tar.to_string()),
                };
            }
        }
    }

    for entry in &manifest.files {
        let path = dir.join(&entry.path);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                issues.push(FileIssue {
                    path: entry.path.clone(),
                    mismatch: Mismatch::Missing,
                });
                continue;
            }
            Err(e) => {
                issues.push(FileIssue {
                    path: entry.path.clone(),
                    mismatch: Mismatch::Unreadable(e.to_string()),
                });
                continue;
            }
        };
        if meta.len() != entry.size {
            issues.push(FileIssue {
                path: entry.path.clone(),
                mismatch: Mismatch::Size {
                    expected: entry.size,
                    actual: meta.len(),
                },
            });
            continue;
        }
        files_checked += 1;
        bytes_checked += entry.size;
        if entry.algorithm == Algorithm::None {
            continue;
        }
        match checksum(&path, entry.algorithm) {
            Ok(actual) if actual == entry.checksum => {}
            Ok(actual) => issues.push(FileIssue {
                path: entry.path.clone(),
                mismatch: Mismatch::Checksum {
                    algorithm: entry.algorithm,
                    expected: entry.checksum.clone(),
                    actual,
                },
            }),
            Err(e) => issues.push(FileIssue {
                path: entry.path.clone(),
                mismatch: Mismatch::Unreadable(e),
            }),
        }
    }
    unexpected(dir, "", &listed, &mut issues);
    Verification {
        manifest,
        files_checked,
        bytes_checked,
        issues,
        tar_format: None,
    }
}

fn checksum(path: &Path, algorithm: Algorithm) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut hasher = Hasher::new(algorithm);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// Files on disk the manifest does not list (an added or renamed file).
fn unexpected(dir: &Path, rel: &str, listed: &BTreeMap<&str, &Entry>, issues: &mut Vec<FileIssue>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut children: Vec<_> = entries.filter_map(Result::ok).collect();
    children.sort_by_key(|e| e.file_name());
    for entry in children {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if rel.is_empty() && IGNORED.contains(&name.as_str()) {
            continue;
        }
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            unexpected(&entry.path(), &child, listed, issues);
        } else if !listed.contains_key(child.as_str()) {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            issues.push(FileIssue {
                path: child,
                mismatch: Mismatch::Unexpected { size },
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::file_glob::tests::Tree;

    /// Writes `files` and a manifest for them, with a correct Manifest-Checksum.
    pub fn write_backup(tree: &Tree, files: &[(&str, &[u8])], algorithm: &str) -> Vec<u8> {
        let mut text = String::from("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n");
        let entries: Vec<String> = files
            .iter()
            .map(|(path, data)| {
                tree.write(path, data);
                let a = Algorithm::parse(Some(algorithm)).unwrap();
                let mut h = Hasher::new(a);
                h.update(data);
                if a == Algorithm::None {
                    format!("{{ \"Path\": \"{path}\", \"Size\": {}, \"Last-Modified\": \"2026-11-26 22:00:22 GMT\" }}", data.len())
                } else {
                    format!(
                        "{{ \"Path\": \"{path}\", \"Size\": {}, \"Last-Modified\": \"2026-11-26 22:00:22 GMT\", \"Checksum-Algorithm\": \"{algorithm}\", \"Checksum\": \"{}\" }}",
                        data.len(),
                        h.finish()
                    )
                }
            })
            .collect();
        text.push_str(&entries.join(",\n"));
        text.push_str("\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n");
        let sum = hex(&sha2::Sha256::digest(text.as_bytes()));
        text.push_str(&format!("\"Manifest-Checksum\": \"{sum}\"}}\n"));
        tree.write("backup_manifest", text.as_bytes());
        text.into_bytes()
    }

    #[test]
    fn a_real_manifest_tail_checksums() {
        // The tail of a manifest pg_basebackup 15 wrote; the checksum covers
        // everything before the last line.
        let m = parse(include_bytes!("../../fixtures/backup/backup_manifest")).unwrap();
        assert!(
            m.checksum_ok(),
            "{} vs {}",
            m.manifest_checksum,
            m.computed_checksum
        );
        assert_eq!(m.version, 1);
        assert_eq!(m.wal_ranges, 1);
        assert_eq!(
            m.algorithms().into_iter().collect::<Vec<_>>(),
            [Algorithm::Crc32c]
        );
        assert_eq!(m.files[1].path, "PG_VERSION");
        assert_eq!(m.files[1].checksum, "8a744722");
    }

    #[test]
    fn verifies_sizes_and_checksums() {
        for algorithm in ["CRC32C", "SHA256", "SHA512", "SHA224", "SHA384", "NONE"] {
            let t = Tree::new(&format!("manifest-{algorithm}"));
            let bytes = write_backup(
                &t,
                &[
                    ("PG_VERSION", b"15\n"),
                    ("base/1/1259", &[7u8; 8192]),
                    ("global/pg_control", b"ctl"),
                ],
                algorithm,
            );
            let m = parse(&bytes).unwrap();
            assert!(m.checksum_ok());
            let v = verify(&t.dir, m);
            assert_eq!(v.issues, vec![], "{algorithm}");
            assert_eq!(v.files_checked, 3);
            assert_eq!(v.bytes_checked, 8198);
        }
    }

    #[test]
    fn finds_tampering() {
        let t = Tree::new("manifest-tamper");
        let bytes = write_backup(
            &t,
            &[
                ("PG_VERSION", b"15\n"),
                ("base/1/1259", &[7u8; 64]),
                ("base/1/1260", b"abc"),
                ("global/pg_control", b"ctl"),
            ],
            "CRC32C",
        );
        t.write("base/1/1259", &[8u8; 64]); // same size, other bytes
        t.write("base/1/1260", b"abcd");
        std::fs::remove_file(t.dir.join("global/pg_control")).unwrap();
        t.write("base/1/planted", b"x");
        t.write("standby.signal", b"");
        t.write("pg_wal/000000010000000000000002", b"wal");
        let v = verify(&t.dir, parse(&bytes).unwrap());
        let got: Vec<_> = v
            .issues
            .iter()
            .map(|i| (i.path.as_str(), i.mismatch.rule()))
            .collect();
        assert_eq!(
            got,
            [
                ("base/1/1259", "checksum-mismatch"),
                ("base/1/1260", "size-mismatch"),
                ("global/pg_control", "missing-file"),
                ("base/1/planted", "unexpected-file"),
            ]
        );
    }

    #[test]
    fn edited_manifest_fails_its_checksum() {
        let t = Tree::new("manifest-edit");
        let bytes = write_backup(&t, &[("PG_VERSION", b"15\n")], "SHA256");
        let edited = String::from_utf8(bytes)
            .unwrap()
            .replace("\"Size\": 3", "\"Size\": 4");
        let m = parse(edited.as_bytes()).unwrap();
        assert!(!m.checksum_ok());
    }

    #[test]
    fn rejects_what_is_not_a_manifest() {
        assert!(parse(b"{}").unwrap_err().contains("two lines"));
        assert!(
            parse(b"{\n\"a\": 1}\n")
                .unwrap_err()
                .contains("not a PostgreSQL backup_manifest")
        );
        let bad = b"{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [{\"Path\": \"x\", \"Size\": 1, \"Checksum-Algorithm\": \"MD5\", \"Checksum\": \"00\"}],\n\"Manifest-Checksum\": \"00\"}\n";
        assert!(parse(bad).unwrap_err().contains("MD5"));
        let enc = b"{ \"PostgreSQL-Backup-Manifest-Version\": 2, \"System-Identifier\": 7,\n\"Files\": [{\"Encoded-Path\": \"6162\", \"Size\": 1}],\n\"Manifest-Checksum\": \"00\"}\n";
        let m = parse(enc).unwrap();
        assert_eq!(m.files[0].path, "ab");
        assert_eq!(m.system_identifier, Some(7));
    }

    #[test]
    fn tar_backups_are_recognised() {
        let t = Tree::new("manifest-tar");
        let bytes = write_backup(&t, &[("PG_VERSION", b"15\n")], "CRC32C");
        std::fs::remove_file(t.dir.join("PG_VERSION")).unwrap();
        t.write("base.tar.gz", b"\x1f\x8b");
        let v = verify(&t.dir, parse(&bytes).unwrap());
        assert_eq!(v.tar_format.as_deref(), Some("base.tar.gz"));
    }
}
