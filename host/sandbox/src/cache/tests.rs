use std::os::unix::fs::PermissionsExt;

use super::entry::{self, Binding, MAGIC};
use super::*;
use gate_core::file_error::FileError;

fn key(path: &Path) -> CacheKey {
    CacheKey::load_or_create(&path.join("gate").join("cache.key")).unwrap()
}

fn sealed(key: &CacheKey, binding: Binding<'_>, payload: &[u8]) -> Vec<u8> {
    let mut bytes = entry::seal(key, binding, payload);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn an_entry_opens_only_under_its_key_plugin_and_engine() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (mine, theirs) = (key(dirs[0].path()), key(dirs[1].path()));
    let payload = b"precompiled bytes".to_vec();
    let binding = Binding {
        digest: &[1; 32],
        engine: "cranelift-0123456789abcdef",
    };
    let entry = sealed(&mine, binding, &payload);
    assert!(entry.starts_with(MAGIC));
    assert_eq!(entry::open(&mine, binding, &entry), Ok(&payload[..]));

    // Another user's key (a cache restored from shared storage).
    assert_eq!(
        entry::open(&theirs, binding, &entry),
        Err(Rejection::BadSeal)
    );
    // Another plugin's entry renamed to this one's file name.
    let other = Binding {
        digest: &[2; 32],
        ..binding
    };
    assert_eq!(
        entry::open(&mine, other, &entry),
        Err(Rejection::OtherPlugin)
    );
    // Code compiled for another engine.
    let winch = Binding {
        engine: "winch-0123456789abcdef",
        ..binding
    };
    assert_eq!(
        entry::open(&mine, winch, &entry),
        Err(Rejection::OtherEngine)
    );
    // Every single flipped byte, header, tag or payload, is caught.
    for i in 0..entry.len() {
        let mut bad = entry.clone();
        bad[i] ^= 0x40;
        assert!(entry::open(&mine, binding, &bad).is_err(), "byte {i}");
    }
    // Truncated, extended, garbage.
    assert_eq!(
        entry::open(&mine, binding, &entry[..entry.len() - 1]),
        Err(Rejection::Malformed)
    );
    let mut longer = entry.clone();
    longer.push(0);
    assert_eq!(
        entry::open(&mine, binding, &longer),
        Err(Rejection::Malformed)
    );
    assert_eq!(
        entry::open(&mine, binding, b"GATECW03short"),
        Err(Rejection::Malformed)
    );
}

#[test]
fn a_rewritten_header_cannot_rebind_an_entry() {
    // An attacker without the key edits the header's digest to claim another
    // plugin: the tag covers the header, so the seal fails.
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path());
    let a = Binding {
        digest: &[0xaa; 32],
        engine: "cranelift-1",
    };
    let mut entry = sealed(&k, a, b"infra's code");
    entry[MAGIC.len()..MAGIC.len() + 32].copy_from_slice(&[0xbb; 32]);
    let b = Binding {
        digest: &[0xbb; 32],
        ..a
    };
    assert_eq!(entry::open(&k, b, &entry), Err(Rejection::BadSeal));
}

#[test]
fn a_shared_or_foreign_cache_dir_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cache");
    std::fs::create_dir(&dir).unwrap();
    owner::private_dir(&dir).unwrap();

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
    let err = owner::private_dir(&dir).unwrap_err();
    assert!(matches!(err, FileError::Writable { .. }), "{err}");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o757)).unwrap();
    assert!(owner::private_dir(&dir).is_err());

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let err = owner::private_dir(&link).unwrap_err();
    assert!(matches!(err, FileError::NotRealDirectory(_)), "{err}");

    // A directory owned by another user: `/` (root's) for an ordinary
    // user; as root (CI), a 0700 directory given to `nobody`.
    let foreign = if unsafe { libc::geteuid() } != 0 {
        Path::new("/").to_path_buf()
    } else {
        let d = root.path().join("nobody");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), Some(65534)).unwrap();
        d
    };
    let err = owner::private_dir(&foreign).unwrap_err();
    assert!(matches!(err, FileError::NotOwned { .. }), "{err}");
}

#[test]
fn a_key_inside_the_cache_dir_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cache");
    let err = open(&dir, Some(&dir.join("gate").join("cache.key")))
        .err()
        .unwrap();
    assert!(matches!(err, CacheError::KeyInsideCache { .. }), "{err}");
    assert!(open(&dir, Some(&root.path().join("config/gate/cache.key"))).is_ok());
}
