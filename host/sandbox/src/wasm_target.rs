//! The plugins' compilation target, `wasm32-wasip2`, and adding it through
//! rustup when it is missing. One mechanism for both builds that compile
//! plugins: `host/sandbox/build.rs` (the built-in plugins; it includes this
//! file) and `gate plugin build` (a plugin author's project).
//!
//! rustup installs a target from `rust-toolchain.toml` only when it installs
//! the toolchain itself, and not at all under `RUSTUP_AUTO_INSTALL=0`, so a
//! fresh machine may lack it. A missing target never reaches the compiler
//! (whose error, `can't find crate for core`, names neither the target nor
//! the fix): it is added, or the build stops with one line naming the command
//! to run. Plain `std` only, since a build script compiles it too.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The target every plugin component is compiled for.
pub const TARGET: &str = "wasm32-wasip2";

/// Set to `1` to refuse adding the target (the build stops and says what to run).
pub const NO_INSTALL_ENV: &str = "GATE_NO_TARGET_INSTALL";

/// The command that adds the target.
pub fn fix() -> String {
    format!("rustup target add {TARGET}")
}

/// How [`ensure`] found the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ensured {
    /// It was installed already.
    Present,
    /// It was missing and rustup added it: say so (see [`Ensured::added_message`]).
    Added,
}

impl Ensured {
    /// The one line to show when the target was added.
    pub fn added_message() -> String {
        format!("installed the {TARGET} target with `{}`", fix())
    }
}

/// Why the target is missing and was not added; the text names the command to run.
#[derive(Debug)]
pub enum Missing {
    /// [`NO_INSTALL_ENV`] is `1`.
    Refused,
    /// rustup said it added the target, but `rustc` still has no standard library for it.
    NoStdAfterAdd { rustc: String },
    /// `rustup target add` failed.
    AddFailed(ExitStatus),
    /// rustup could not be run at all.
    NoRustup(std::io::Error),
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix = fix();
        match self {
            Missing::Refused => write!(
                f,
                "the {TARGET} target is not installed for this toolchain ({NO_INSTALL_ENV}=1); run: {fix}"
            ),
            Missing::NoStdAfterAdd { rustc } => write!(
                f,
                "`{fix}` succeeded but {rustc} still has no {TARGET} standard library; run: {fix}"
            ),
            Missing::AddFailed(status) => write!(
                f,
                "the {TARGET} target is not installed and `{fix}` failed ({status}); run: {fix}"
            ),
            Missing::NoRustup(e) => write!(
                f,
                "the {TARGET} target is not installed and rustup could not be run ({e}); install it with: {fix}"
            ),
        }
    }
}

impl std::error::Error for Missing {}

/// Makes sure `rustc` (run in `dir`, so a `rust-toolchain.toml` there picks
/// the toolchain) has a standard library for [`TARGET`]: adds it through
/// rustup when it is missing, unless [`NO_INSTALL_ENV`] is `1`.
pub fn ensure(rustc: &str, dir: &Path) -> Result<Ensured, Missing> {
    if installed(rustc, dir) {
        return Ok(Ensured::Present);
    }
    if std::env::var_os(NO_INSTALL_ENV).is_some_and(|v| v == "1") {
        return Err(Missing::Refused);
    }
    // `rustup` may be off PATH (a CI image with only ~/.cargo/bin/cargo on it).
    let rustup = std::env::var_os("CARGO_HOME")
        .map(|h| PathBuf::from(h).join("bin").join("rustup"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("rustup"));
    let added = Command::new(&rustup)
        .current_dir(dir)
        .args(["target", "add", TARGET])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match added {
        Ok(s) if s.success() && installed(rustc, dir) => Ok(Ensured::Added),
        Ok(s) if s.success() => Err(Missing::NoStdAfterAdd {
            rustc: rustc.to_string(),
        }),
        Ok(s) => Err(Missing::AddFailed(s)),
        Err(e) => Err(Missing::NoRustup(e)),
    }
}

/// `true` when `rustc` (run in `dir`) has a standard library for [`TARGET`].
pub fn installed(rustc: &str, dir: &Path) -> bool {
    let out = Command::new(rustc)
        .current_dir(dir)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        return false;
    };
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::read_dir(libdir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}
