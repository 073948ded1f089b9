//! Sealing an entry: the pure step of an append, shared by every backend.
//! Given the tree as it stands (its frontier and the time of the last
//! entry) and a [`Draft`], it numbers and times the entry, masks it into its
//! canonical line, pushes its leaf and signs the checkpoint of the new tree.
//! Writing the result durably is the backend's job ([`crate::log`] for
//! files, [`crate::pg`] for PostgreSQL).

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::Entry;
use crate::log::Draft;
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::note::{Checkpoint, KEY_NAME, Signer};

/// The tree after the last complete append, as a backend keeps it: enough
/// to seal the next entry in O(log n) hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub size: u64,
    pub last_time: Option<DateTime<Utc>>,
    /// `(height, hex root)` of each perfect subtree.
    pub frontier: Vec<(u32, String)>,
}

impl Head {
    /// The frontier, or `None` when the saved nodes do not make a tree of `size`.
    pub fn frontier(&self) -> Option<Frontier> {
        let nodes = self
            .frontier
            .iter()
            .map(|(h, root)| Some((*h, hex::decode(root).ok()?.try_into().ok()?)))
            .collect::<Option<Vec<(u32, Hash)>>>()?;
        Frontier::from_nodes(self.size, nodes)
    }

    pub fn set_frontier(&mut self, frontier: &Frontier) {
        self.size = frontier.size();
        self.frontier = frontier
            .nodes()
            .iter()
            .map(|(h, root)| (*h, hex::encode(root)))
            .collect();
    }
}

/// An entry ready to be written: its line, its checkpoint and the head after it.
#[derive(Clone, Debug)]
pub struct Sealed {
    /// The entry as written (masked), read back from its line.
    pub entry: Entry,
    /// The canonical JSON line, without its newline.
    pub line: Vec<u8>,
    /// The signed checkpoint note of the tree with this entry.
    pub note: String,
    /// The head once the entry and its checkpoint are written.
    pub head: Head,
}

/// Why an entry could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the saved tree is inconsistent (its frontier does not make a tree of its size)")]
    Inconsistent,
    #[error("the masked entry does not read back: {0}")]
    Unreadable(#[from] serde_json::Error),
}

/// Seals `draft` as the entry after `head`, its time never before the last
/// entry's (a clock that steps back does not reorder the log).
pub fn seal(signer: &Signer, head: &Head, draft: Draft) -> Result<Sealed, SealError> {
    let mut frontier = head.frontier().ok_or(SealError::Inconsistent)?;
    let now = Utc::now()
        .duration_trunc(TimeDelta::milliseconds(1))
        .unwrap_or_else(|_| Utc::now());
    let entry = Entry {
        seq: head.size,
        time: head.last_time.map_or(now, |last| now.max(last)),
        actor: draft.actor,
        run_id: draft.run_id,
        record: draft.record,
    };
    let line = entry.encode();
    frontier.push(leaf_hash(&line));
    let note = signer.sign(&Checkpoint {
        origin: KEY_NAME.to_string(),
        size: frontier.size(),
        root: frontier.root(),
    });
    let mut next = Head {
        size: 0,
        last_time: Some(entry.time),
        frontier: Vec::new(),
    };
    next.set_frontier(&frontier);
    Ok(Sealed {
        entry: Entry::decode(&line)?,
        line,
        note,
        head: next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Record;

    #[test]
    fn sealing_numbers_entries_and_signs_the_growing_tree() {
        let signer = Signer::from_seed(&[7u8; 32]);
        let draft = || {
            Draft::new(Record::Recovery(crate::entry::Recovery {
                discarded_bytes: 0,
                discarded_entries: 0,
                discarded_sha256: String::new(),
                discarded_checkpoint_bytes: 0,
            }))
        };
        let first = seal(&signer, &Head::default(), draft()).unwrap();
        let second = seal(&signer, &first.head, draft()).unwrap();
        assert_eq!((first.entry.seq, second.entry.seq), (0, 1));
        assert_eq!(second.head.size, 2);
        assert!(second.entry.time >= first.entry.time);
        let opened = signer.verifier().open(&second.note).unwrap();
        assert_eq!(opened.size, 2);
        let leaves = [leaf_hash(&first.line), leaf_hash(&second.line)];
        assert_eq!(opened.root, crate::merkle::root(&leaves));

        let broken = Head {
            size: 3,
            ..Head::default()
        };
        assert!(matches!(
            seal(&signer, &broken, draft()),
            Err(SealError::Inconsistent)
        ));
    }
}
