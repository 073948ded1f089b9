//! Loading a policy: read the file and everything it `extends`, decode each file,
//! add its exemption files, merge, validate. Every error from every file is
//! collected before anything is reported.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::document::PolicyDoc;
use super::errors::Errors;
use super::source::{SourceFile, resolve};
use super::{InputFile, Origin, Policy, PolicyError, PolicyErrors, exemption, merge, validate};

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// "Today" in UTC, for expiry and `max_exemption_days`.
    pub today: NaiveDate,
    /// "Now", for the validity of the keys that signed exemptions.
    pub now: DateTime<Utc>,
}

impl LoadOptions {
    /// Options for loading as of the current time.
    pub fn now() -> Self {
        LoadOptions::at(Utc::now())
    }

    /// Options for loading as of `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        LoadOptions {
            today: now.date_naive(),
            now,
        }
    }
}

/// Loads, merges and validates the policy at `path`.
///
/// Relative paths inside a policy (`extends`, `exemptions`, plugin `path`) are
/// resolved against the directory of the file that contains them.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Policy, PolicyErrors> {
    let mut loader = Loader::default();
    loader.visit(path, None);
    let Loader {
        mut errors,
        docs,
        inputs,
        ..
    } = loader;

    // Files are pushed after their bases, so the last one is `path` itself; there
    // is none only if `path` could not be read, and then there is nothing more to say.
    let Some(top) = docs.last() else {
        return Err(errors
            .into_result(())
            .expect_err("an unreadable policy file is reported"));
    };
    let name = top.name.clone();
    let top_complete = top.complete;
    let merged = merge::merge(docs);
    let policy = validate::finish(
        merged,
        path.to_path_buf(),
        name,
        top_complete,
        options,
        &mut errors,
    );
    errors.into_result(Policy { inputs, ..policy })
}

#[derive(Default)]
struct Loader {
    errors: Errors,
    /// Files in merge order: each file after everything it extends.
    docs: Vec<PolicyDoc>,
    /// Canonical paths of policy files already loaded; a file reached twice (a
    /// diamond) is merged once, at its first position.
    loaded: HashSet<PathBuf>,
    /// The `extends` chain being followed, to detect cycles.
    stack: Vec<(PathBuf, PathBuf)>,
    exemption_files: HashSet<PathBuf>,
    /// Every policy and exemption file read, with its digest, in reading order.
    inputs: Vec<InputFile>,
}

impl Loader {
    /// Loads `path` after the files it extends. `via` is the `extends` entry that
    /// named it.
    fn visit(&mut self, path: &Path, via: Option<&Origin>) {
        let identity = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(start) = self.stack.iter().position(|(id, _)| *id == identity) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|(_, shown)| shown.display().to_string())
                .chain([path.display().to_string()])
                .collect();
            let origin = via.expect("only an `extends` entry can close a cycle");
            self.errors.push(
                PolicyError::at(origin, format!("`extends` cycle: {}", chain.join(" -> ")))
                    .with_help("remove one of these `extends` entries"),
            );
            return;
        }
        if !self.loaded.insert(identity.clone()) {
            return;
        }
        self.errors.note_file(path);
        let Some(src) = SourceFile::read(path, via, &mut self.errors) else {
            // Keep merging what can be read; the missing base makes the result incomplete.
            let mut missing = PolicyDoc::empty(path.to_path_buf());
            missing.complete = false;
            if via.is_some() {
                self.docs.push(missing);
            }
            return;
        };
        self.inputs.push(InputFile::of(&src));
        let mut doc = PolicyDoc::parse(&src, &mut self.errors);
        validate::check_document(&doc, &mut self.errors);

        self.stack.push((identity, path.to_path_buf()));
        for base in &doc.extends {
            if base.value.trim().is_empty() {
                continue;
            }
            let base_path = resolve(src.dir(), &base.value);
            self.visit(&base_path, Some(&base.origin));
        }
        self.stack.pop();

        // Loaded after `check_document` ran on `doc`, so checked here.
        let exemptions = exemption::load_files(
            &doc,
            &mut self.exemption_files,
            &mut self.inputs,
            &mut self.errors,
        );
        validate::check_exemptions(&exemptions, &mut self.errors);
        doc.exemptions.extend(exemptions);
        self.docs.push(doc);
    }
}
