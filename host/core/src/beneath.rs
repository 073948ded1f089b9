//! File-system access relative to an open directory handle, never above it.
//!
//! Every open goes through cap-primitives, which uses `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` and, where the kernel lacks
//! `openat2`, its own component-by-component resolution with the same rules.
//! So the kernel (not a comparison of path strings) decides whether `..`, a
//! symlink or a /proc magic link leaves the directory: symlinks that stay
//! beneath it are followed, anything else is refused.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::Path;

use cap_primitives::fs::{OpenOptions, OpenOptionsExt};

/// What an access beneath a directory handle ran into.
#[derive(Debug)]
pub enum Failure {
    /// `..`, an absolute symlink, a symlink out of the directory, a /proc
    /// magic link, or a symlink loop: resolution would leave the directory.
    Escape,
    /// A FIFO, socket or device where a regular file is expected.
    NotRegular(Kind),
    /// Larger than the cap, in bytes.
    TooLarge(u64),
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        // cap-primitives reports an escape as PermissionDenied without an OS
        // error (it maps openat2's EXDEV); ELOOP is a magic link refused by
        // RESOLVE_NO_MAGICLINKS, a final symlink under O_NOFOLLOW, or a loop.
        let escape = match e.raw_os_error() {
            None => e.kind() == io::ErrorKind::PermissionDenied,
            Some(code) => code == libc::EXDEV || code == libc::ELOOP,
        };
        if escape {
            Failure::Escape
        } else {
            Failure::Io(e)
        }
    }
}

impl Failure {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Failure::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// The type of a file system object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

impl Kind {
    pub fn of_mode(mode: u32) -> Kind {
        match mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            libc::S_IFIFO => Kind::Fifo,
            libc::S_IFSOCK => Kind::Socket,
            libc::S_IFCHR => Kind::CharDevice,
            _ => Kind::BlockDevice,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "regular file",
            Kind::Dir => "directory",
            Kind::Symlink => "symlink",
            Kind::Fifo => "FIFO",
            Kind::Socket => "socket",
            Kind::CharDevice => "character device",
            Kind::BlockDevice => "block device",
        }
    }
}

/// `rest` as cap-primitives wants it: the directory itself is `.`.
fn relative(rest: &Path) -> &Path {
    if rest.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rest
    }
}

/// Opens `rest` beneath `dir` with `flags` added to `O_CLOEXEC`.
fn open(dir: &File, rest: &Path, read: bool, flags: i32) -> Result<File, Failure> {
    let mut options = OpenOptions::new();
    options.read(read).custom_flags(flags);
    Ok(cap_primitives::fs::open(dir, relative(rest), &options)?)
}

/// A handle on `rest` beneath `dir` that can be inspected (fstat, fstatvfs)
/// but not read: `O_PATH` never opens a FIFO or device for I/O, so it cannot
/// block or trigger a device's side effects. With `follow == false` a final
/// symlink is opened as itself.
pub fn open_path(dir: &File, rest: &Path, follow: bool) -> Result<File, Failure> {
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    open(dir, rest, true, libc::O_PATH | nofollow)
}

/// The type of what `file` (any handle, `O_PATH` included) refers to.
pub fn kind(file: &File) -> io::Result<Kind> {
    use std::os::unix::fs::MetadataExt;
    Ok(Kind::of_mode(file.metadata()?.mode()))
}

/// Reads the regular file `rest` beneath `dir`, at most `cap` bytes.
pub fn read(dir: &File, rest: &Path, cap: u64) -> Result<Vec<u8>, Failure> {
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; the
    // file is refused right after by `read_regular`.
    read_regular(open(dir, rest, true, libc::O_NONBLOCK)?, cap)
}

/// Reads the file an `O_PATH` handle refers to, reopened through
/// /proc/self/fd: the kernel reopens that very inode, not a path text.
pub fn read_handle(handle: &File, cap: u64) -> Result<Vec<u8>, Failure> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let k = kind(handle)?;
    if k != Kind::File {
        return Err(Failure::NotRegular(k));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(format!("/proc/self/fd/{}", handle.as_raw_fd()))?;
    read_regular(file, cap)
}

/// Refuses anything but a regular file, then reads at most `cap + 1` bytes,
/// so a file that grows while it is read is still caught.
fn read_regular(file: File, cap: u64) -> Result<Vec<u8>, Failure> {
    use std::os::unix::fs::MetadataExt;
    // One fstat for both the type and the length: this runs once per file read.
    let md = file.metadata()?;
    let k = Kind::of_mode(md.mode());
    if k != Kind::File {
        return Err(Failure::NotRegular(k));
    }
    let len = md.len();
    if len > cap {
        return Err(Failure::TooLarge(cap));
    }
    let mut buf = Vec::with_capacity(len as usize);
    file.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(Failure::TooLarge(cap));
    }
    Ok(buf)
}

/// Reads the regular file `rest` beneath `dir` when that can wait on nothing
/// but `dir`'s own file system, so the caller may do it on its own thread:
/// the path must resolve without leaving `dir` and without crossing into
/// another mount (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
/// RESOLVE_NO_XDEV`), and it is opened for reading only once an `O_PATH`
/// handle shows a regular file (reopening that inode, as [`read_handle`]
/// does), so a FIFO or a device is never opened. Callers check beforehand
/// that `dir` is on a local file system ([`on_local_disk`]).
///
/// `None` when it cannot be done that way: a mount point on the way (an NFS
/// or FUSE mount inside a local tree), a kernel without `openat2`, or any
/// failure to resolve the path. The caller then reads through [`read`] off
/// its thread, under its deadline, which also tells the failure properly.
pub fn read_in_place(dir: &File, rest: &Path, cap: u64) -> Option<Result<Vec<u8>, Failure>> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV;
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    let handle = rustix::fs::openat2(dir, relative(rest), flags, Mode::empty(), resolve).ok()?;
    Some(read_handle(&File::from(handle), cap))
}

/// Whether `file` lies on a file system whose operations wait only on a
/// local disk or on memory (ext2/3/4, XFS, Btrfs, F2FS, ZFS, overlayfs,
/// tmpfs, ramfs, SquashFS, EROFS). Network and FUSE file systems, and any
/// this list does not name, can hang indefinitely and are not.
pub fn on_local_disk(file: &File) -> bool {
    const LOCAL: [u64; 10] = [
        0xEF53,      // ext2, ext3, ext4
        0x5846_5342, // XFS
        0x9123_683E, // Btrfs
        0xF2F5_2010, // F2FS
        0x2FC1_2FC1, // ZFS
        0x794C_7630, // overlayfs
        0x0102_1994, // tmpfs
        0x8584_58F6, // ramfs
        0x7371_7368, // SquashFS
        0xE0F5_E1E2, // EROFS
    ];
    rustix::fs::fstatfs(file).is_ok_and(|s| LOCAL.contains(&(s.f_type as u64)))
}

/// The entries of the directory `rest` beneath `dir`, sorted by name.
pub fn list(dir: &File, rest: &Path) -> Result<Vec<OsString>, Failure> {
    let mut names = Vec::new();
    for entry in cap_primitives::fs::read_dir(dir, relative(rest))? {
        names.push(entry?.file_name());
    }
    names.sort();
    Ok(names)
}

/// `fstatvfs` of any handle, `O_PATH` included.
pub fn statvfs(file: &File) -> io::Result<libc::statvfs> {
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid open descriptor and a valid out-pointer.
    if unsafe { libc::fstatvfs(file.as_raw_fd(), &mut s) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, File) {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("g/sub")).unwrap();
        std::fs::write(t.path().join("g/sub/ok.txt"), "ok").unwrap();
        std::fs::write(t.path().join("secret.txt"), "secret").unwrap();
        let dir = File::open(t.path().join("g")).unwrap();
        (t, dir)
    }

    #[test]
    fn reads_beneath_and_follows_inner_symlinks() {
        let (t, dir) = root();
        symlink("sub/ok.txt", t.path().join("g/inner")).unwrap();
        assert_eq!(read(&dir, Path::new("sub/ok.txt"), 10).unwrap(), b"ok");
        assert_eq!(read(&dir, Path::new("inner"), 10).unwrap(), b"ok");
        assert_eq!(
            read(&dir, Path::new("sub/../sub/ok.txt"), 10).unwrap(),
            b"ok"
        );
    }

    #[test]
    fn every_way_out_is_an_escape() {
        let (t, dir) = root();
        symlink("../secret.txt", t.path().join("g/rel")).unwrap();
        symlink(t.path().join("secret.txt"), t.path().join("g/abs")).unwrap();
        symlink("/proc/self/root/etc/passwd", t.path().join("g/magic")).unwrap();
        for rest in [
            "../secret.txt",
            "rel",
            "abs",
            "magic",
            "sub/../../secret.txt",
        ] {
            let got = read(&dir, Path::new(rest), 100);
            assert!(matches!(got, Err(Failure::Escape)), "{rest}: {got:?}");
        }
        // Magic links themselves, beneath a directory that holds them.
        let secret = File::open(t.path().join("secret.txt")).unwrap();
        let proc_self = File::open("/proc/self").unwrap();
        let fd = format!("fd/{}", secret.as_raw_fd());
        for rest in ["root/etc/passwd", "cwd", fd.as_str()] {
            let got = read(&proc_self, Path::new(rest), 100);
            assert!(matches!(got, Err(Failure::Escape)), "{rest}: {got:?}");
        }
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let (t, dir) = root();
        let fifo = t.path().join("g/fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let got = read(&dir, Path::new("fifo"), 100);
        assert!(
            matches!(got, Err(Failure::NotRegular(Kind::Fifo))),
            "{got:?}"
        );
        let dev = File::open("/dev").unwrap();
        let got = read(&dev, Path::new("zero"), 100);
        assert!(
            matches!(got, Err(Failure::NotRegular(Kind::CharDevice))),
            "{got:?}"
        );
    }

    #[test]
    fn in_place_reads_stay_beneath_and_on_one_mount() {
        let (t, dir) = root();
        symlink("sub/ok.txt", t.path().join("g/inner")).unwrap();
        symlink("../secret.txt", t.path().join("g/rel")).unwrap();
        let got = |d: &File, rest: &str| read_in_place(d, Path::new(rest), 100);
        assert_eq!(got(&dir, "sub/ok.txt").unwrap().unwrap(), b"ok");
        assert_eq!(got(&dir, "inner").unwrap().unwrap(), b"ok");
        // A way out, or a name that is not there: left to the full read,
        // which tells the failure.
        for rest in ["rel", "../secret.txt", "missing"] {
            assert!(got(&dir, rest).is_none(), "{rest}");
        }
        // /proc is a mount of its own beneath `/`: never crossed in place.
        let slash = File::open("/").unwrap();
        assert!(got(&slash, "proc/self/status").is_none());
        assert!(read(&slash, Path::new("proc/self/status"), 1 << 20).is_ok());
        // A FIFO is looked at, never opened: refused without blocking.
        let fifo = t.path().join("g/fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let fifo = got(&dir, "fifo").unwrap();
        assert!(
            matches!(fifo, Err(Failure::NotRegular(Kind::Fifo))),
            "{fifo:?}"
        );
        std::fs::write(t.path().join("g/big"), vec![b'x'; 101]).unwrap();
        assert!(matches!(
            got(&dir, "big"),
            Some(Err(Failure::TooLarge(100)))
        ));
    }

    #[test]
    fn local_disks_are_told_from_other_file_systems() {
        let (_t, dir) = root();
        // The test's temp dir is on the build machine's disk or tmpfs.
        assert!(on_local_disk(&dir));
        assert!(!on_local_disk(&File::open("/proc").unwrap()));
        assert!(!on_local_disk(&File::open("/sys").unwrap()));
    }

    #[test]
    fn sizes_are_capped() {
        let (t, dir) = root();
        std::fs::write(t.path().join("g/big"), vec![b'x'; 101]).unwrap();
        assert!(matches!(
            read(&dir, Path::new("big"), 100),
            Err(Failure::TooLarge(100))
        ));
        assert_eq!(read(&dir, Path::new("big"), 101).unwrap().len(), 101);
    }
}
