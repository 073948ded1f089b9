//! Scratch directories on a filesystem with room to spare.
//!
//! Some tests run policies whose `infra.disk-space` check looks at the test's
//! own directories (a PostgreSQL data directory, a checkout of the example
//! policy) and expect it to pass. How full the machine's disk is belongs to
//! the machine, not to the test: a CI machine's was once at 0.4% free, the
//! check rightly failed, and so did every test that ran it on that disk.
//! Those tests take their directories from here instead: on the
//! memory-backed `/dev/shm` when it has room, else under the temporary
//! directory when that has room; when neither has, the test fails, naming
//! both and what each had.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Room to spare: more than any test policy asks its directories to have
/// (the catalogue's asks for 1 GiB and 2%).
const MIN_FREE_BYTES: u64 = 4 << 30;
const MIN_FREE_PERCENT: f64 = 10.0;

/// A fresh temporary directory `<prefix>XXXX` on a filesystem with room to
/// spare.
pub fn roomy_tempdir(prefix: &str) -> tempfile::TempDir {
    let candidates = [PathBuf::from("/dev/shm"), std::env::temp_dir()];
    let mut seen = Vec::new();
    for dir in &candidates {
        match room(dir) {
            Ok(room) if room.free_bytes >= MIN_FREE_BYTES && room.percent >= MIN_FREE_PERCENT => {
                return tempfile::Builder::new()
                    .prefix(prefix)
                    .tempdir_in(dir)
                    .unwrap_or_else(|e| {
                        panic!("create a scratch directory in {}: {e}", dir.display())
                    });
            }
            Ok(room) => seen.push(format!(
                "{}: {} MiB free ({:.1}%)",
                dir.display(),
                room.free_bytes >> 20,
                room.percent
            )),
            Err(e) => seen.push(format!("{}: {e}", dir.display())),
        }
    }
    panic!(
        "no filesystem with {} GiB and {MIN_FREE_PERCENT}% free for a scratch directory: {}",
        MIN_FREE_BYTES >> 30,
        seen.join("; ")
    )
}

struct Room {
    free_bytes: u64,
    percent: f64,
}

/// Space free to unprivileged users on the filesystem holding `dir`.
fn room(dir: &Path) -> std::io::Result<Room> {
    let path = CString::new(dir.as_os_str().as_bytes())?;
    // SAFETY: `path` is a NUL-terminated string and `stat` a plain C struct
    // that statvfs fills in.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let block = stat.f_frsize as u64;
    let free_bytes = stat.f_bavail as u64 * block;
    let total = (stat.f_blocks as u64 * block).max(1);
    Ok(Room {
        free_bytes,
        percent: 100.0 * free_bytes as f64 / total as f64,
    })
}
