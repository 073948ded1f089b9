//! A directory gate keeps its own files in (the rollout state, locks, event
//! logs and commands): opened without following a symlink, refused unless the
//! user owns it and nobody else can write to it, and every file in it opened
//! with `O_NOFOLLOW` beneath that handle. A symlink planted in the directory
//! (`web.lock` → a victim file) is refused, never written through.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use cap_primitives::fs::{OpenOptions, OpenOptionsExt};

use crate::file_error::{FileError, check_owned};

/// An opened, checked private directory.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
    dir: File,
}

/// What the opened files may be: readable and writable by the user only.
const FILE_MODE: u32 = 0o600;

impl PrivateDir {
    /// Opens `path`. With `create`, a missing directory is created 0700
    /// (parents as needed); without it, a missing directory is `None`, and
    /// nothing is created or written.
    pub fn open(path: &Path, create: bool) -> Result<Option<PrivateDir>, FileError> {
        let dir = match open_nofollow(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                use std::os::unix::fs::DirBuilderExt;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| FileError::io("creating", parent, e))?;
                }
                match std::fs::DirBuilder::new().mode(0o700).create(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(FileError::io("creating", path, e)),
                }
                open_nofollow(path).map_err(|e| opening(path, e))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(opening(path, e)),
        };
        check_owner(path, &dir)?;
        Ok(Some(PrivateDir {
            path: path.to_path_buf(),
            dir,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn shown(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens `name` (one path component) in the directory, never through a symlink.
    fn open_file(&self, name: &str, options: &mut OpenOptions) -> Result<File, std::io::Error> {
        debug_assert!(!name.contains('/'), "one component: {name}");
        options
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .mode(FILE_MODE);
        cap_primitives::fs::open(&self.dir, Path::new(name), options)
    }

    fn refused(&self, name: &str, e: std::io::Error) -> FileError {
        if e.raw_os_error() == Some(libc::ELOOP) {
            FileError::SymlinkFile(self.shown(name))
        } else {
            FileError::io("opening", self.shown(name), e)
        }
    }

    /// The regular file `name`, at most `cap` bytes; `None` when absent.
    pub fn read(&self, name: &str, cap: u64) -> Result<Option<Vec<u8>>, FileError> {
        let file = match self.open_file(name, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.refused(name, e)),
        };
        let md = file.metadata().map_err(|e| self.refused(name, e))?;
        if !md.is_file() {
            return Err(FileError::NotRegularFile(self.shown(name)));
        }
        let mut buf = Vec::new();
        file.take(cap + 1)
            .read_to_end(&mut buf)
            .map_err(|e| FileError::io("reading", self.shown(name), e))?;
        if buf.len() as u64 > cap {
            return Err(FileError::TooLarge {
                path: self.shown(name),
                cap,
            });
        }
        Ok(Some(buf))
    }

    /// The bytes of the regular file `name` from byte `from` to its end (at
    /// most `cap` of them), and the file's length; `None` when absent. A
    /// reader following a file that only grows reads just what was added.
    pub fn read_from(
        &self,
        name: &str,
        from: u64,
        cap: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, FileError> {
        use std::io::{Seek, SeekFrom};
        let mut file = match self.open_file(name, OpenOptions::new().read(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.refused(name, e)),
        };
        let md = file.metadata().map_err(|e| self.refused(name, e))?;
        if !md.is_file() {
            return Err(FileError::NotRegularFile(self.shown(name)));
        }
        let len = md.len();
        if from >= len {
            return Ok(Some((len, Vec::new())));
        }
        if len - from > cap {
            return Err(FileError::TooLarge {
                path: self.shown(name),
                cap,
            });
        }
        let mut buf = Vec::with_capacity((len - from) as usize);
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.take(len - from).read_to_end(&mut buf))
            .map_err(|e| FileError::io("reading", self.shown(name), e))?;
        Ok(Some((len, buf)))
    }

    /// The byte ranges `(offset, len)` of the regular file `name`, opened
    /// once; a range past the end of the file is an error.
    pub fn read_ranges(
        &self,
        name: &str,
        ranges: &[(u64, u64)],
    ) -> Result<Vec<Vec<u8>>, FileError> {
        use std::os::unix::fs::FileExt;
        let file = self
            .open_file(name, OpenOptions::new().read(true))
            .map_err(|e| self.refused(name, e))?;
        ranges
            .iter()
            .map(|&(offset, len)| {
                let mut buf = vec![0u8; len as usize];
                file.read_exact_at(&mut buf, offset)
                    .map(|()| buf)
                    .map_err(|e| FileError::io("reading", self.shown(name), e))
            })
            .collect()
    }

    /// Opens `name` for appending, creating it (0600).
    pub fn append(&self, name: &str) -> Result<File, FileError> {
        self.open_file(name, OpenOptions::new().append(true).create(true))
            .map_err(|e| self.refused(name, e))
    }

    /// Opens `name` for reading and writing, creating it (0600) when `create`;
    /// `None` when it is absent and not created.
    pub fn open_rw(&self, name: &str, create: bool) -> Result<Option<File>, FileError> {
        let mut options = OpenOptions::new();
        options.read(true);
        if create {
            options.write(true).create(true);
        }
        match self.open_file(name, &mut options) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => Ok(None),
            Err(e) => Err(self.refused(name, e)),
        }
    }

    /// Replaces `name` atomically and durably (see [`crate::atomic_file`]).
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), FileError> {
        crate::atomic_file::write_in(&self.dir, &self.path, name, &[bytes])
    }

    /// Replaces `name` with `bytes` atomically, without fsync: for a cache
    /// its reader verifies (see [`crate::atomic_file::write_cache_in`]).
    pub fn write_cache(&self, name: &str, bytes: &[u8]) -> Result<(), FileError> {
        crate::atomic_file::write_cache_in(&self.dir, &self.path, name, &[bytes])
    }

    /// Creates `name` with `bytes` unless it exists (false then), whole or
    /// not at all (see [`crate::atomic_file::create_new_in`]).
    pub fn create_new(&self, name: &str, bytes: &[u8]) -> Result<bool, FileError> {
        crate::atomic_file::create_new_in(&self.dir, &self.path, name, &[bytes])
    }

    /// Removes the file `name` (a symlink named so is removed, never followed);
    /// an absent file is not an error.
    pub fn remove(&self, name: &str) -> Result<(), FileError> {
        debug_assert!(!name.contains('/'), "one component: {name}");
        match cap_primitives::fs::remove_file(&self.dir, Path::new(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FileError::io("removing", self.shown(name), e)),
        }
    }

    /// Flushes the directory itself (a file created in it, or renamed into
    /// it, survives a crash once this returns).
    pub fn sync(&self) -> Result<(), String> {
        self.dir
            .sync_all()
            .map_err(|e| format!("fsync of {}: {e}", self.path.display()))
    }

    /// The names in the directory, sorted.
    pub fn list(&self) -> Vec<OsString> {
        let Ok(entries) = cap_primitives::fs::read_dir(&self.dir, Path::new(".")) else {
            return Vec::new();
        };
        let mut names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
        names.sort();
        names
    }
}

fn opening(path: &Path, e: std::io::Error) -> FileError {
    if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) {
        FileError::NotRealDirectory(path.to_path_buf())
    } else {
        FileError::io("opening", path, e)
    }
}

/// The directory itself, not what a symlink at `path` points to.
fn open_nofollow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Another user's directory, or one others may write to, could hold files
/// planted to be followed or replaced: refuse it.
fn check_owner(path: &Path, dir: &File) -> Result<(), FileError> {
    use std::os::unix::fs::MetadataExt;
    let md = dir
        .metadata()
        .map_err(|e| FileError::io("inspecting", path, e))?;
    check_owned(path, &md)?;
    if md.mode() & 0o022 != 0 {
        return Err(FileError::Writable {
            path: path.to_path_buf(),
            mode: md.mode() & 0o7777,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn created_private_and_refuses_symlinked_files() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("state/inner");
        let d = PrivateDir::open(&path, true).unwrap().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        symlink(&victim, path.join("web.lock")).unwrap();
        let e = d.open_rw("web.lock", true).unwrap_err();
        assert!(matches!(e, FileError::SymlinkFile(_)), "{e}");
        assert!(d.append("web.lock").is_err());
        assert!(d.read("web.lock", 100).is_err());
        d.write_atomic("web.lock", b"replaced").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(d.read("web.lock", 100).unwrap().unwrap(), b"replaced");
    }

    #[test]
    fn a_symlinked_or_shared_directory_is_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        symlink(t.path().join("real"), t.path().join("link")).unwrap();
        let e = PrivateDir::open(&t.path().join("link"), true).unwrap_err();
        assert!(matches!(e, FileError::NotRealDirectory(_)), "{e}");
        std::fs::set_permissions(
            t.path().join("real"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        let e = PrivateDir::open(&t.path().join("real"), false).unwrap_err();
        assert!(matches!(e, FileError::Writable { mode: 0o777, .. }), "{e}");
        assert!(
            PrivateDir::open(&t.path().join("missing"), false)
                .unwrap()
                .is_none()
        );
        assert!(!t.path().join("missing").exists());
    }
}
