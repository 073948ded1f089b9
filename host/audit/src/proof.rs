//! Inclusion proofs a third party can check without the log: the entry's
//! line, its leaf hash, the audit path to the tree head, and the signed
//! checkpoint that commits to that head (`gate audit prove` writes one,
//! `gate audit check-proof` checks it with the published verifier key).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::entry::Entry;
use crate::error::AuditError;
use crate::merkle::{Hash, inclusion_proof, leaf_hash, verify_inclusion};
use crate::note::Verifier;
use crate::snapshot::Snapshot;

/// An entry with the proof that it is in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Hex SHA-256 leaf hash of `entry`.
    pub leaf_hash: String,
    /// The entry's line exactly as logged.
    pub entry: String,
    /// Hex hashes of the audit path, from the leaf up.
    pub proof: Vec<String>,
    /// The signed checkpoint note of size `tree_size`.
    pub checkpoint: String,
}

fn refused(path: &Path, problem: impl Into<String>) -> AuditError {
    AuditError::Proof {
        path: path.to_path_buf(),
        problem: problem.into(),
        help: "the proof does not show that this entry is in the log the verifier key \
               signs for; ask for a fresh proof (`gate audit prove SEQ`)"
            .into(),
    }
}

impl InclusionProof {
    /// The proof of entry `seq` against the log's last checkpoint.
    pub fn build(snap: &Snapshot, seq: u64) -> Result<InclusionProof, AuditError> {
        let lines = snap.lines();
        let notes = snap.notes();
        let Some(&(_, note)) = notes.complete.last() else {
            return Err(refused(
                &snap.checkpoints_path,
                "the log has no checkpoint yet",
            ));
        };
        let size = note
            .lines()
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s as usize <= lines.complete.len())
            .ok_or_else(|| {
                refused(
                    &snap.checkpoints_path,
                    "the last checkpoint does not match the entries; run `gate audit verify`",
                )
            })?;
        if seq >= size {
            return Err(refused(
                &snap.entries_path,
                format!("no entry {seq}: the last checkpoint covers entries 0..{size}"),
            ));
        }
        let leaves: Vec<Hash> = lines.complete[..size as usize]
            .iter()
            .map(|(_, l)| leaf_hash(l))
            .collect();
        let proof = inclusion_proof(seq as usize, &leaves).unwrap_or_default();
        let line = lines.complete[seq as usize].1;
        Ok(InclusionProof {
            leaf_index: seq,
            tree_size: size,
            leaf_hash: hex::encode(leaves[seq as usize]),
            entry: String::from_utf8_lossy(line).into_owned(),
            proof: proof.iter().map(hex::encode).collect(),
            checkpoint: note.to_string(),
        })
    }

    /// Checks the proof (read from `path`) with `verifier`; the entry it proves.
    pub fn check(&self, path: &Path, verifier: &Verifier) -> Result<Entry, AuditError> {
        let checkpoint = verifier
            .open(&self.checkpoint)
            .map_err(|e| AuditError::note(path, e))?;
        if checkpoint.size != self.tree_size {
            return Err(refused(
                path,
                format!(
                    "tree_size {} is not the checkpoint's size {}",
                    self.tree_size, checkpoint.size
                ),
            ));
        }
        let leaf = leaf_hash(self.entry.as_bytes());
        if hex::encode(leaf) != self.leaf_hash {
            return Err(refused(path, "the entry does not hash to leaf_hash"));
        }
        let proof = self
            .proof
            .iter()
            .map(|h| hex::decode(h).ok()?.try_into().ok())
            .collect::<Option<Vec<Hash>>>()
            .ok_or_else(|| refused(path, "a proof hash is not 32 bytes of hex"))?;
        if !verify_inclusion(
            self.leaf_index,
            self.tree_size,
            &leaf,
            &proof,
            &checkpoint.root,
        ) {
            return Err(refused(
                path,
                "the audit path does not lead to the checkpoint's head",
            ));
        }
        let entry = Entry::decode(self.entry.as_bytes())
            .map_err(|e| refused(path, format!("the entry does not parse: {e}")))?;
        if entry.seq != self.leaf_index {
            return Err(refused(path, "the entry's seq is not leaf_index"));
        }
        Ok(entry)
    }
}
