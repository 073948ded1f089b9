//! gate's shared vocabulary and safe file access, below every other layer.
//!
//! - [`model`]: statuses, severities, enforcement, locations;
//! - [`finding`]: one finding as every report renders it;
//! - [`origin`]: where a policy or spec item was written;
//! - [`clock`]: the wall clock, fixed in tests;
//! - [`beneath`], [`atomic_file`], [`private_dir`]: opening beneath a
//!   directory handle and writing without following symlinks;
//! - [`secret_file`]: a per-user 32-byte secret (cache and audit keys).

pub mod atomic_file;
pub mod beneath;
pub mod clock;
pub mod failpoint;
pub mod file_error;
pub mod finding;
pub mod model;
pub mod origin;
pub mod private_dir;
pub mod secret_file;
