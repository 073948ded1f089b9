//! The file system calls of one discovery, each made once.
//!
//! Detecting a layout and building its migrations look at the same entries
//! several times: whether each is a diesel directory, whether it is a
//! `*.sql` file, whether a `*.sql` file holds dbmate's markers, then the
//! file itself. Asked of the kernel each time, a directory of 1,000 plain
//! files cost five passes (three stats and two reads per file, about 20
//! system calls each: 17 ms of a 113 ms `gate migrate lint`). [`Reads`]
//! keeps the answers: each directory is listed once, each path's kind asked
//! once, each file read once, and the text read while detecting the layout
//! is the text the migration gets (so the two never disagree about a file
//! changed in between).
//!
//! Everything still goes through [`FsGrants`], beneath the grants'
//! directory handles; an error is not kept, so it is met again and reported
//! where it matters.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gate_core::beneath::Kind;
use gate_sandbox::fs_grants::FsGrants;

use super::{LayoutError, MAX_SCRIPT_BYTES};

pub(super) struct Reads<'g> {
    files: &'g FsGrants,
    kinds: RefCell<HashMap<PathBuf, Option<Kind>>>,
    lists: RefCell<HashMap<PathBuf, Vec<PathBuf>>>,
    /// Files read and not yet taken by the migration built from them.
    texts: RefCell<HashMap<PathBuf, String>>,
    /// File system calls made through these grants: listings, kinds, reads.
    calls: Cell<usize>,
}

impl<'g> Reads<'g> {
    pub(super) fn new(files: &'g FsGrants) -> Self {
        Reads {
            files,
            kinds: RefCell::default(),
            lists: RefCell::default(),
            texts: RefCell::default(),
            calls: Cell::new(0),
        }
    }

    pub(super) fn files(&self) -> &'g FsGrants {
        self.files
    }

    #[cfg(test)]
    pub(super) fn calls(&self) -> usize {
        self.calls.get()
    }

    fn count(&self) {
        self.calls.set(self.calls.get() + 1);
    }

    /// What `path` leads to, beneath its grant; `None` when nothing is there.
    pub(super) fn kind(&self, path: &Path) -> Result<Option<Kind>, LayoutError> {
        if let Some(kind) = self.kinds.borrow().get(path) {
            return Ok(*kind);
        }
        self.count();
        let kind = self
            .files
            .kind(&path.to_string_lossy())
            .map_err(LayoutError::Fs)?;
        self.kinds.borrow_mut().insert(path.to_path_buf(), kind);
        Ok(kind)
    }

    /// The entries of directory `dir`, sorted.
    pub(super) fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, LayoutError> {
        if let Some(entries) = self.lists.borrow().get(dir) {
            return Ok(entries.clone());
        }
        self.count();
        let names = self
            .files
            .list(&dir.to_string_lossy())
            .map_err(LayoutError::Fs)?;
        let entries: Vec<PathBuf> = names.into_iter().map(|n| dir.join(n)).collect();
        self.lists
            .borrow_mut()
            .insert(dir.to_path_buf(), entries.clone());
        Ok(entries)
    }

    /// Whether `file` reads as UTF-8 text for which `test` holds; a file
    /// that cannot be read is `false` here (its error comes with
    /// [`Reads::take`]). The text is kept for `take`.
    pub(super) fn peek(&self, file: &Path, test: impl FnOnce(&str) -> bool) -> bool {
        if let Some(text) = self.texts.borrow().get(file) {
            return test(text);
        }
        match self.read(file) {
            Ok(text) => {
                let holds = test(&text);
                self.texts.borrow_mut().insert(file.to_path_buf(), text);
                holds
            }
            Err(_) => false,
        }
    }

    /// The whole UTF-8 text of `file`, at most [`MAX_SCRIPT_BYTES`]: the
    /// one [`Reads::peek`] read, or read now.
    pub(super) fn take(&self, file: &Path) -> Result<String, LayoutError> {
        if let Some(text) = self.texts.borrow_mut().remove(file) {
            return Ok(text);
        }
        self.read(file)
    }

    fn read(&self, file: &Path) -> Result<String, LayoutError> {
        self.count();
        let bytes = self
            .files
            .read(&file.to_string_lossy(), MAX_SCRIPT_BYTES)
            .map_err(LayoutError::Fs)?;
        String::from_utf8(bytes).map_err(|_| LayoutError::Invalid {
            path: file.display().to_string(),
            message: "not valid UTF-8".to_string(),
        })
    }
}
