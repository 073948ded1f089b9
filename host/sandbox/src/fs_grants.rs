//! The `fs` grants of one plugin (or one `gate migrate` run), opened once as
//! handles, and every host-side access to granted files.
//!
//! A path is joined to the working directory and matched, lexically, to the
//! grant whose directory contains it: that only picks the starting handle.
//! The rest of the path is resolved by the kernel beneath that handle (see
//! [`gate_core::beneath`]), so `..`, symlinks and /proc magic links that lead out
//! of the grant are refused however long or convoluted the chain. No path
//! text is canonicalised to decide anything.

use std::fmt;
use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::grants::FsGrant;
use gate_core::beneath::{self, Failure, Kind};

/// One grant, opened at the start of an evaluation.
#[derive(Clone, Debug)]
pub struct OpenedGrant {
    /// As written in the policy (for messages).
    pub written: PathBuf,
    /// The absolute path the policy names: the working directory joined with
    /// `written`, `.` and `..` applied to the text. It names the grant to
    /// plugins (their WASI preopen) and picks the grant for a path; it never
    /// decides access.
    pub path: PathBuf,
    pub writable: bool,
    /// The opened directory or file, or why it could not be opened.
    handle: Result<Handle, String>,
    /// A directory on a local disk or in memory ([`beneath::on_local_disk`]):
    /// reads beneath it that stay on its mount may run on the caller's thread.
    local: bool,
}

#[derive(Clone, Debug)]
enum Handle {
    /// `O_PATH` directory handle: everything granted is resolved beneath it.
    Dir(Arc<File>),
    /// A single granted file (`O_PATH`): only it, never its siblings.
    File(Arc<File>),
}

/// The opened grants and the working directory paths are joined to.
#[derive(Debug, Default)]
pub struct FsGrants {
    pub cwd: PathBuf,
    pub grants: Vec<OpenedGrant>,
    /// The working directory, for probes that are not reads (go.mod detection).
    cwd_handle: Option<Arc<File>>,
}

/// Why a host-side access to a path was refused or failed.
#[derive(Debug)]
pub enum FsError {
    /// No grant contains the path (or none allows writing to it).
    Ungranted {
        path: String,
        write: bool,
        /// The directory to grant.
        suggestion: PathBuf,
    },
    /// Resolution beneath the grant would leave it.
    Escape {
        path: String,
        grant: PathBuf,
    },
    /// The granted directory itself could not be opened at evaluation start.
    Unopened {
        path: String,
        grant: PathBuf,
        reason: String,
        /// Nothing exists at the grant's path (only for the message: a
        /// missing command-line path reads "no such file or directory").
        missing: bool,
    },
    NotRegular {
        path: String,
        kind: Kind,
    },
    TooLarge {
        path: String,
        limit: u64,
    },
    Io {
        path: String,
        error: std::io::Error,
    },
}

impl FsError {
    fn at(path: &str, grant: &OpenedGrant, failure: Failure) -> FsError {
        let path = path.to_string();
        match failure {
            Failure::Escape => FsError::Escape {
                path,
                grant: grant.written.clone(),
            },
            Failure::NotRegular(kind) => FsError::NotRegular { path, kind },
            Failure::TooLarge(limit) => FsError::TooLarge { path, limit },
            Failure::Io(error) => FsError::Io { path, error },
        }
    }

    pub fn is_not_found(&self) -> bool {
        match self {
            FsError::Io { error, .. } => error.kind() == std::io::ErrorKind::NotFound,
            FsError::Unopened { missing, .. } => *missing,
            _ => false,
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::Ungranted {
                path, suggestion, ..
            } => write!(
                f,
                "`{path}` is outside the granted paths (grant `{}`)",
                suggestion.display()
            ),
            FsError::Escape { path, grant } => write!(
                f,
                "`{path}` leads outside `{}` through `..`, a symlink or a /proc magic link; \
                 the kernel refused it",
                grant.display()
            ),
            FsError::Unopened {
                path,
                grant,
                reason,
                ..
            } => write!(
                f,
                "{path}: the granted path `{}` could not be opened: {reason}",
                grant.display()
            ),
            FsError::NotRegular { path, kind } => {
                write!(
                    f,
                    "{path}: a {} where a regular file is expected",
                    kind.name()
                )
            }
            FsError::TooLarge { path, limit } => {
                write!(f, "{path}: larger than the {limit}-byte limit")
            }
            FsError::Io { path, error } => write!(f, "{path}: {error}"),
        }
    }
}

/// `.` and `..` applied to the text of a trusted path (a policy's grant).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Whether `path` as written ends in `/` or `/.`: it names a directory.
fn ends_as_directory(path: &str) -> bool {
    path == "." || path.ends_with('/') || path.ends_with("/.")
}

/// Opens one grant. A grant inside the working directory (the repository) is
/// opened beneath it, so repository content cannot redirect it with a
/// symlink; a grant elsewhere is a host path the policy names, opened as
/// written.
fn open_grant(path: &Path, cwd: &Path, cwd_handle: Option<&File>) -> Result<Handle, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = match (cwd_handle, path.strip_prefix(cwd)) {
        (Some(cwd_dir), Ok(rest)) => beneath::open_path(cwd_dir, rest, true).map_err(|f| match f {
            Failure::Escape => format!(
                "it leads outside the working directory {} (through a symlink or `..`)",
                cwd.display()
            ),
            other => describe(other),
        }),
        _ => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| e.to_string()),
    }?;
    let handle = Arc::new(opened);
    match beneath::kind(&handle).map_err(|e| e.to_string())? {
        Kind::Dir => Ok(Handle::Dir(handle)),
        _ => Ok(Handle::File(handle)),
    }
}

fn describe(f: Failure) -> String {
    match f {
        Failure::Escape => "it leads outside its directory".to_string(),
        Failure::NotRegular(k) => format!("a {}", k.name()),
        Failure::TooLarge(limit) => format!("larger than {limit} bytes"),
        Failure::Io(e) => e.to_string(),
    }
}

/// A path matched to its grant: the handle to start from and the rest of the path.
struct Located<'a> {
    grant: &'a OpenedGrant,
    rest: PathBuf,
}

impl FsGrants {
    /// Opens every grant once; a grant that cannot be opened denies every
    /// path under it with the reason.
    pub fn open(grants: &[FsGrant], cwd: &Path) -> FsGrants {
        let cwd_handle = File::open(cwd).ok().map(Arc::new);
        let grants = grants
            .iter()
            .map(|g| {
                let path = lexical(&cwd.join(&g.path));
                let handle = open_grant(&path, cwd, cwd_handle.as_deref());
                let local = matches!(&handle, Ok(Handle::Dir(d)) if beneath::on_local_disk(d));
                OpenedGrant {
                    handle,
                    written: g.path.clone(),
                    path,
                    writable: g.writable,
                    local,
                }
            })
            .collect();
        FsGrants {
            cwd: cwd.to_path_buf(),
            grants,
            cwd_handle,
        }
    }

    /// Read-only grants of exactly `paths`: what `gate migrate` may read is
    /// what its command line (or the policy's `[migrations] paths`) names.
    pub fn of_paths(paths: &[PathBuf], cwd: &Path) -> FsGrants {
        let grants: Vec<FsGrant> = paths
            .iter()
            .map(|p| FsGrant {
                path: p.clone(),
                writable: false,
            })
            .collect();
        FsGrants::open(&grants, cwd)
    }

    /// The absolute path a plugin or a report names `path` by: joined to the
    /// working directory, with `.` components and repeated slashes dropped
    /// (which never changes what a path resolves to); `..` is left for the
    /// kernel.
    pub fn absolute(&self, path: &Path) -> PathBuf {
        self.cwd.join(path).components().collect()
    }

    /// The grant whose directory contains `path` as written; the longest
    /// such grant wins, so `./src/out:rw` inside `./src` grants writing.
    fn locate(&self, path: &str, write: bool) -> Result<Located<'_>, FsError> {
        let full = self.absolute(Path::new(path));
        let mut best: Option<Located> = None;
        for g in &self.grants {
            let Ok(rest) = full.strip_prefix(&g.path) else {
                continue;
            };
            if matches!(g.handle, Ok(Handle::File(_))) && !rest.as_os_str().is_empty() {
                continue;
            }
            if write && !g.writable {
                continue;
            }
            let depth = g.path.components().count();
            if best
                .as_ref()
                .is_none_or(|b| b.grant.path.components().count() < depth)
            {
                best = Some(Located {
                    grant: g,
                    rest: rest.to_path_buf(),
                });
            }
        }
        best.ok_or_else(|| {
            let shown = lexical(&full);
            FsError::Ungranted {
                path: path.to_string(),
                write,
                suggestion: shown.parent().map(Path::to_path_buf).unwrap_or(shown),
            }
        })
    }

    fn handle<'a>(&self, path: &str, at: &'a Located) -> Result<&'a Handle, FsError> {
        at.grant
            .handle
            .as_ref()
            .map_err(|reason| FsError::Unopened {
                path: path.to_string(),
                grant: at.grant.written.clone(),
                reason: reason.clone(),
                missing: std::fs::symlink_metadata(&at.grant.path)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound),
            })
    }

    /// Reads the regular file `path`, at most `cap` bytes.
    pub fn read(&self, path: &str, cap: u64) -> Result<Vec<u8>, FsError> {
        let at = self.locate(path, false)?;
        let got = match self.handle(path, &at)? {
            Handle::Dir(dir) => beneath::read(dir, &at.rest, cap),
            Handle::File(file) => beneath::read_handle(file, cap),
        };
        got.map_err(|f| FsError::at(path, at.grant, f))
    }

    /// [`FsGrants::read`] on the caller's thread, for a file on its grant's
    /// own local file system ([`beneath::read_in_place`]): such a read waits
    /// on nothing but that disk. `None` when it must go the other way: a
    /// grant on a network or FUSE file system, a mount point on the way, or a
    /// path that does not resolve (whose error [`FsGrants::read`] tells).
    pub fn read_in_place(&self, path: &str, cap: u64) -> Option<Result<Vec<u8>, FsError>> {
        let at = self.locate(path, false).ok()?;
        let Ok(Handle::Dir(dir)) = &at.grant.handle else {
            return None;
        };
        if !at.grant.local {
            return None;
        }
        let got = beneath::read_in_place(dir, &at.rest, cap)?;
        Some(got.map_err(|f| FsError::at(path, at.grant, f)))
    }

    /// A handle on `path` for inspection (`O_PATH`); `follow` decides whether
    /// a final symlink is followed (beneath the grant) or opened as itself.
    pub fn open_path(&self, path: &str, follow: bool) -> Result<File, FsError> {
        let at = self.locate(path, false)?;
        // `Path::components` drops a trailing `/` or `/.`, which the kernel
        // reads as "this must be a directory" (following a final symlink).
        let directory_only = ends_as_directory(path);
        let opened = match self.handle(path, &at)? {
            Handle::Dir(dir) => beneath::open_path(dir, &at.rest, follow || directory_only),
            Handle::File(file) => file.try_clone().map_err(Failure::Io),
        }
        .map_err(|f| FsError::at(path, at.grant, f))?;
        if directory_only && !matches!(beneath::kind(&opened), Ok(Kind::Dir)) {
            let not_dir = std::io::Error::from_raw_os_error(libc::ENOTDIR);
            return Err(FsError::at(path, at.grant, Failure::Io(not_dir)));
        }
        Ok(opened)
    }

    /// Metadata of `path` itself (a final symlink as a symlink). A symlink
    /// must still resolve beneath its grant: its metadata is granted, what it
    /// points to outside is not.
    pub fn lstat(&self, path: &str) -> Result<std::fs::Metadata, FsError> {
        let link = self.open_path(path, false)?;
        let md = link.metadata().map_err(|error| FsError::Io {
            path: path.to_string(),
            error,
        })?;
        if md.file_type().is_symlink() {
            match self.open_path(path, true) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(md)
    }

    /// The type of what `path` leads to (symlinks followed beneath the
    /// grant); `None` when nothing is there.
    pub fn kind(&self, path: &str) -> Result<Option<Kind>, FsError> {
        match self.open_path(path, true) {
            Ok(h) => beneath::kind(&h).map(Some).map_err(|error| FsError::Io {
                path: path.to_string(),
                error,
            }),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The names in directory `path`, sorted.
    pub fn list(&self, path: &str) -> Result<Vec<std::ffi::OsString>, FsError> {
        let at = self.locate(path, false)?;
        match self.handle(path, &at)? {
            Handle::Dir(dir) => beneath::list(dir, &at.rest),
            Handle::File(_) => Err(Failure::Io(std::io::Error::from_raw_os_error(
                libc::ENOTDIR,
            ))),
        }
        .map_err(|f| FsError::at(path, at.grant, f))
    }

    /// Checks that `path` may be opened by the plugin (for writing, when
    /// `write`), and returns the absolute path it opens through WASI. The
    /// kernel checks what exists: the path itself, or for a file not created
    /// yet its directory.
    pub fn check(&self, path: &str, write: bool) -> Result<PathBuf, FsError> {
        let at = self.locate(path, write)?;
        let full = self.absolute(Path::new(path));
        let probe = match self.handle(path, &at)? {
            Handle::File(_) => return Ok(full),
            Handle::Dir(dir) => match beneath::open_path(dir, &at.rest, true) {
                Err(f) if f.is_not_found() => {
                    let parent = at.rest.parent().unwrap_or(Path::new(""));
                    beneath::open_path(dir, parent, true).map(|_| ())
                }
                other => other.map(|_| ()),
            },
        };
        match probe {
            Ok(()) => Ok(full),
            Err(f) if f.is_not_found() => Ok(full),
            Err(f) => Err(FsError::at(path, at.grant, f)),
        }
    }

    /// Whether a file named `name` exists in `dir` or a directory above it,
    /// up to the working directory. It reads nothing: migration-layout
    /// detection looks for `go.mod` this way, beneath the working directory.
    pub fn exists_above(&self, dir: &Path, name: &str) -> bool {
        let Some(cwd) = &self.cwd_handle else {
            return false;
        };
        let Ok(rest) = self
            .absolute(dir)
            .strip_prefix(&self.cwd)
            .map(Path::to_path_buf)
        else {
            return false;
        };
        rest.ancestors()
            .any(|d| beneath::open_path(cwd, &d.join(name), false).is_ok())
    }

    /// The granted directories as WASI preopens: the name the plugin sees
    /// (the grant's absolute path), the handle to reopen (through
    /// /proc/self/fd, so WASI gets the very directory checked here, not a
    /// path looked up again) and whether it is writable.
    pub fn preopens(&self) -> impl Iterator<Item = (String, PathBuf, bool)> + '_ {
        use std::os::fd::AsRawFd;
        self.grants.iter().filter_map(|g| match &g.handle {
            Ok(Handle::Dir(dir)) => Some((
                g.path.to_string_lossy().into_owned(),
                PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())),
                g.writable,
            )),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn grants(root: &Path, list: &[(&str, bool)]) -> FsGrants {
        let list: Vec<FsGrant> = list
            .iter()
            .map(|(p, w)| FsGrant {
                path: PathBuf::from(p),
                writable: *w,
            })
            .collect();
        FsGrants::open(&list, root)
    }

    #[test]
    fn a_grant_is_the_directory_it_names_and_nothing_else() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("db/sub")).unwrap();
        std::fs::write(root.join("db/sub/a.sql"), "a").unwrap();
        std::fs::write(root.join("secret"), "s").unwrap();
        symlink("sub/a.sql", root.join("db/inner")).unwrap();
        symlink("../secret", root.join("db/out")).unwrap();
        let g = grants(root, &[("./db", false)]);
        assert_eq!(g.read("db/sub/a.sql", 10).unwrap(), b"a");
        assert_eq!(g.read("db/inner", 10).unwrap(), b"a");
        assert_eq!(
            g.read(&root.join("db/sub/a.sql").to_string_lossy(), 10)
                .unwrap(),
            b"a"
        );
        assert!(matches!(g.read("db/out", 10), Err(FsError::Escape { .. })));
        assert!(matches!(
            g.read("db/../secret", 10),
            Err(FsError::Escape { .. })
        ));
        assert!(matches!(
            g.read("secret", 10),
            Err(FsError::Ungranted { .. })
        ));
        assert!(matches!(
            g.check("db/new.sql", true),
            Err(FsError::Ungranted { write: true, .. })
        ));
        assert!(g.check("db/new.sql", false).is_ok());
        assert!(matches!(g.lstat("db/out"), Err(FsError::Escape { .. })));
        assert!(g.lstat("db/inner").unwrap().file_type().is_symlink());
    }

    #[test]
    fn reads_in_place_only_on_the_grants_own_local_mount() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("db")).unwrap();
        std::fs::write(root.join("db/a.sql"), "a").unwrap();
        std::fs::write(root.join("secret"), "s").unwrap();
        symlink("../secret", root.join("db/out")).unwrap();
        let g = grants(root, &[("./db", false)]);
        // On the test machine's disk (or tmpfs): read here, same bytes.
        assert_eq!(g.read_in_place("db/a.sql", 10).unwrap().unwrap(), b"a");
        // A way out, or an ungranted path: left to `read`, which says why.
        assert!(g.read_in_place("db/out", 10).is_none());
        assert!(matches!(g.read("db/out", 10), Err(FsError::Escape { .. })));
        assert!(g.read_in_place("secret", 10).is_none());
        // procfs is not a local disk, and beneath `/` it is another mount.
        for grant in ["/proc", "/"] {
            let g = grants(root, &[(grant, false)]);
            assert!(
                g.read_in_place("/proc/self/status", 1 << 20).is_none(),
                "{grant}"
            );
            assert!(g.read("/proc/self/status", 1 << 20).is_ok(), "{grant}");
        }
    }

    #[test]
    fn a_repository_symlink_cannot_redirect_a_grant() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(t.path().join("secret"), "s").unwrap();
        symlink(t.path(), root.join("db")).unwrap();
        let g = grants(&root, &[("./db", false)]);
        let e = g.read("db/secret", 10).unwrap_err();
        assert!(matches!(e, FsError::Unopened { .. }), "{e}");
        assert!(g.preopens().next().is_none());
    }

    #[test]
    fn a_file_grant_reaches_only_that_file() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::write(root.join("Cargo.lock"), "lock").unwrap();
        std::fs::write(root.join("sibling"), "s").unwrap();
        let g = grants(root, &[("./Cargo.lock", false)]);
        assert_eq!(g.read("Cargo.lock", 10).unwrap(), b"lock");
        assert!(matches!(
            g.read("sibling", 10),
            Err(FsError::Ungranted { .. })
        ));
        assert!(matches!(
            g.read("Cargo.lock/../sibling", 10),
            Err(FsError::Ungranted { .. })
        ));
    }

    /// A symlink chain through more than PATH_MAX bytes of directories under
    /// `grant` that comes back up with `..` to `target` (relative to the
    /// grant): `realpath` gives up on it, the kernel does not.
    fn long_chain(grant: &Path, link: &str, target: &str) {
        let half = vec!["d".repeat(250); 10].join("/");
        std::fs::create_dir_all(grant.join(&half)).unwrap();
        if !grant.join("s").exists() {
            symlink(&half, grant.join("s")).unwrap();
            std::fs::create_dir_all(grant.join("s").join(&half)).unwrap();
        }
        let back = format!("back-{link}");
        symlink(
            format!("{}{target}", "../".repeat(20)),
            grant.join("s").join(&half).join(&back),
        )
        .unwrap();
        symlink(format!("s/{half}/{back}"), grant.join(link)).unwrap();
    }

    #[test]
    fn path_max_chains_are_resolved_by_the_kernel_not_realpath() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("db")).unwrap();
        std::fs::write(root.join("db/in.sql"), "inside").unwrap();
        std::fs::write(root.join("secret"), "secret").unwrap();
        long_chain(&root.join("db"), "out.sql", "../secret");
        long_chain(&root.join("db"), "ok.sql", "in.sql");
        assert!(std::fs::canonicalize(root.join("db/out.sql")).is_err());
        assert_eq!(std::fs::read(root.join("db/out.sql")).unwrap(), b"secret");
        let g = grants(root, &[("./db", false)]);
        assert!(matches!(
            g.read("db/out.sql", 100),
            Err(FsError::Escape { .. })
        ));
        assert!(matches!(g.lstat("db/out.sql"), Err(FsError::Escape { .. })));
        assert!(matches!(
            g.check("db/out.sql", false),
            Err(FsError::Escape { .. })
        ));
        assert_eq!(g.read("db/ok.sql", 100).unwrap(), b"inside");
    }

    mod property {
        use super::*;
        use proptest::prelude::*;
        use std::os::unix::fs::MetadataExt;

        const DIRS: [&str; 6] = [
            "grant",
            "grant/a",
            "grant/a/b",
            "grant/c",
            "outside",
            "outside/x",
        ];
        const WORDS: [&str; 11] = ["..", ".", "a", "b", "c", "f", "x", "l0", "l1", "l2", "long"];

        #[derive(Clone, Debug)]
        struct Tree {
            /// (directory index, target) of symlink `l<i>`.
            links: Vec<(usize, String)>,
            /// Where the long chain leads, if planted.
            long: Option<&'static str>,
            request: String,
        }

        fn words(max: usize) -> impl Strategy<Value = String> {
            prop::collection::vec(prop::sample::select(WORDS.to_vec()), 1..max)
                .prop_map(|w| w.join("/"))
        }

        fn target() -> impl Strategy<Value = String> {
            prop_oneof![
                4 => words(6),
                1 => prop::sample::select(vec![
                    "/ROOT/outside/x/f", "/ROOT/grant/a/f", "/proc/self/cwd", "/etc/hostname",
                    "/proc/self/root/ROOT/grant/a/f",
                ]).prop_map(|s| s.to_string()),
            ]
        }

        fn tree() -> impl Strategy<Value = Tree> {
            (
                prop::collection::vec((0..DIRS.len(), target()), 0..3),
                prop::option::of(prop::sample::select(vec![
                    "../outside/x/f",
                    "a/f",
                    "a/../../grant/a/f",
                ])),
                prop_oneof![
                    4 => words(7).prop_map(|w| format!("grant/{w}")),
                    1 => words(4).prop_map(|w| format!("/ROOT/grant/{w}")),
                    1 => words(4),
                ],
            )
                .prop_map(|(links, long, request)| Tree {
                    links,
                    long,
                    request,
                })
        }

        /// Every inode physically beneath `dir`, without following symlinks.
        /// Walked through directory handles: the long chain's directories
        /// are deeper than any path the kernel accepts.
        fn beneath(dir: &File, out: &mut Vec<(u64, u64)>) {
            let md = dir.metadata().unwrap();
            out.push((md.dev(), md.ino()));
            for e in cap_primitives::fs::read_dir(dir, Path::new("."))
                .unwrap()
                .flatten()
            {
                if e.file_type().unwrap().is_dir() {
                    beneath(&e.open_dir().unwrap(), out);
                } else {
                    let md = e.metadata().unwrap();
                    out.push((
                        cap_primitives::fs::MetadataExt::dev(&md),
                        cap_primitives::fs::MetadataExt::ino(&md),
                    ));
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(96))]

            /// What the grant lets the host open is exactly what the kernel
            /// opens for the same path, and it lies beneath the grant.
            #[test]
            fn the_grant_decision_matches_what_the_kernel_reaches(t in tree()) {
                let tmp = tempfile::tempdir().unwrap();
                let root = tmp.path();
                let fix = |s: &str| s.replace("/ROOT", &root.to_string_lossy());
                for d in DIRS {
                    std::fs::create_dir_all(root.join(d)).unwrap();
                    std::fs::write(root.join(d).join("f"), d).unwrap();
                }
                for (i, (dir, target)) in t.links.iter().enumerate() {
                    symlink(fix(target), root.join(DIRS[*dir]).join(format!("l{i}"))).unwrap();
                }
                if let Some(to) = t.long {
                    long_chain(&root.join("grant"), "long", to);
                }
                let request = fix(&t.request);
                let g = grants(root, &[("./grant", false)]);
                let mut inside = Vec::new();
                beneath(&File::open(root.join("grant")).unwrap(), &mut inside);

                let host = g.open_path(&request, true);
                let kernel = std::fs::metadata(root.join(&request));
                if let Ok(h) = &host {
                    let md = h.metadata().unwrap();
                    let id = (md.dev(), md.ino());
                    prop_assert!(inside.contains(&id), "{request} opened {id:?} outside the grant");
                    let k = kernel.as_ref().expect("the kernel reaches it too");
                    prop_assert_eq!(id, (k.dev(), k.ino()), "{} is another object", request);
                }
                // A plain path inside the grant (no `..`, no symlink) that
                // exists must be granted.
                let plain = request.starts_with("grant/")
                    && !request.split('/').any(|w| w == ".." || w.starts_with('l'));
                if plain && kernel.is_ok() {
                    prop_assert!(host.is_ok(), "{request}: {:?}", host.err());
                }
            }
        }
    }
}
