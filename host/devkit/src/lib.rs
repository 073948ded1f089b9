//! The plugin author's workflow: `gate plugin new`, `build`, `test` and
//! `inspect`.
//!
//! A plugin project is a directory with a `gate-plugin.toml` manifest
//! ([`manifest::Manifest`]) that names the plugin, its language and the WIT
//! version it implements. Each language has one [`lang::Toolchain`]: it
//! writes a new project and builds its component. Everything after the build
//! (digest, world and version checks, the `[[plugin]]` pin, case files,
//! inspection) is the same for every language and lives once, here:
//! [`project`] checks the name and the directory before a scaffold,
//! [`component`] holds a built component to its project, [`pin`] writes the
//! block that pins it in a policy.

pub mod cases;
pub mod component;
pub mod error;
pub mod files;
pub mod lang;
pub mod manifest;
pub mod pin;
pub mod project;
pub mod sdk;
pub mod tool;
pub mod wit;

pub mod js;
pub mod python;
mod rust;

pub use error::DevkitError;
pub use lang::{Language, Toolchain};
pub use manifest::Manifest;
