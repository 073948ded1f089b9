//! The drill record store: one [`Drill`] per line of `drills.jsonl` in a
//! private directory (`.gate/drills` beside the policy or spec unless
//! `--records` says otherwise). gate appends to it after each drill;
//! `gate drill list` and the `infra.drills` check read it. The directory is
//! opened without following symlinks and refused unless it is the user's
//! and private, and the file is opened `O_NOFOLLOW` beneath it
//! (`gate_core::private_dir`).

use std::io::Write;
use std::path::Path;

use gate_core::private_dir::PrivateDir;

use crate::{Drill, DrillComparison, DrillError, DrillKind, DrillResult};

/// The file in the records directory.
pub const FILE: &str = "drills.jsonl";

/// A record file larger than this is refused rather than read whole.
const MAX_BYTES: u64 = 64 << 20;

/// How many earlier drills the comparison's median covers.
const MEDIAN_OF: usize = 10;

/// An opened records directory.
pub struct RecordStore {
    dir: PrivateDir,
}

impl RecordStore {
    /// Opens `dir`, creating it (0700) when `create`; `None` when it is
    /// absent and not created.
    pub fn open(dir: &Path, create: bool) -> Result<Option<RecordStore>, DrillError> {
        let dir = PrivateDir::open(dir, create).map_err(|e| DrillError::Io(e.to_string()))?;
        Ok(dir.map(|dir| RecordStore { dir }))
    }

    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join(FILE)
    }

    /// Every record, oldest first. A line that does not parse is an error
    /// naming it: a store that cannot be read must not look empty.
    pub fn read(&self) -> Result<Vec<Drill>, DrillError> {
        let Some(bytes) = self
            .dir
            .read(FILE, MAX_BYTES)
            .map_err(|e| DrillError::Io(e.to_string()))?
        else {
            return Ok(Vec::new());
        };
        parse(&bytes).map_err(|(line, e)| {
            DrillError::Io(format!(
                "{}:{line}: not a drill record: {e}",
                self.path().display()
            ))
        })
    }

    /// Appends `drill` as one line and flushes it to disk.
    pub fn append(&self, drill: &Drill) -> Result<(), DrillError> {
        let mut line = drill.encode();
        line.push(b'\n');
        let io = |e: std::io::Error| DrillError::Io(format!("{}: {e}", self.path().display()));
        let mut file = self
            .dir
            .append(FILE)
            .map_err(|e| DrillError::Io(e.to_string()))?;
        // One write of the whole line: O_APPEND keeps concurrent lines whole.
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        self.dir.sync().map_err(DrillError::Io)
    }
}

/// The records in a file's bytes; on error the 1-based line and why.
pub fn parse(bytes: &[u8]) -> Result<Vec<Drill>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(serde_json::from_slice(line).map_err(|e| (i + 1, e.to_string()))?);
    }
    Ok(out)
}

/// How `kind` drills of `subject` went before: their count, the last one,
/// and the median headline duration of the last passed ones.
pub fn compare(earlier: &[Drill], kind: DrillKind, subject: &str) -> Option<DrillComparison> {
    let same: Vec<&Drill> = earlier
        .iter()
        .filter(|d| d.kind == kind && d.subject == subject)
        .collect();
    let last = same.iter().max_by_key(|d| d.finished)?;
    let mut passed: Vec<&&Drill> = same
        .iter()
        .filter(|d| d.result == DrillResult::Pass)
        .collect();
    passed.sort_by_key(|d| std::cmp::Reverse(d.finished));
    let mut figures: Vec<u64> = passed
        .iter()
        .take(MEDIAN_OF)
        .filter_map(|d| d.headline_ms())
        .collect();
    figures.sort_unstable();
    Some(DrillComparison {
        drills: same.len() as u64,
        last: last.finished,
        last_result: last.result,
        last_ms: last.headline_ms(),
        median_ms: (!figures.is_empty()).then(|| figures[figures.len() / 2]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DrillMeasures, ROLLBACK_TARGET_MS, RollbackMeasures};
    use chrono::{DateTime, Utc};

    fn drill(subject: &str, finished: &str, result: DrillResult, ms: u64) -> Drill {
        let t: DateTime<Utc> = finished.parse().unwrap();
        Drill {
            kind: DrillKind::Rollback,
            subject: subject.into(),
            started: t,
            finished: t,
            result,
            measures: DrillMeasures::Rollback(RollbackMeasures {
                percent: 10,
                candidate_responses: Some(5),
                to_stable_ms: Some(1),
                to_healthy_ms: Some(ms),
                target_ms: ROLLBACK_TARGET_MS,
            }),
            problems: Vec::new(),
            previous: None,
        }
    }

    #[test]
    fn records_round_trip_through_the_store_and_a_bad_line_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("drills");
        assert!(RecordStore::open(&dir, false).unwrap().is_none());
        let store = RecordStore::open(&dir, true).unwrap().unwrap();
        assert!(store.read().unwrap().is_empty());
        let a = drill("web", "2026-12-01T10:00:00Z", DrillResult::Pass, 40);
        store.append(&a).unwrap();
        store.append(&a).unwrap();
        assert_eq!(store.read().unwrap(), vec![a.clone(), a]);
        std::fs::OpenOptions::new()
            .append(true)
            .open(store.path())
            .unwrap()
            .write_all(b"{\"kind\":\n")
            .unwrap();
        let e = store.read().unwrap_err().to_string();
        assert!(e.contains("drills.jsonl:3: not a drill record"), "{e}");
    }

    #[test]
    fn a_symlinked_record_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("drills");
        let store = RecordStore::open(&dir, true).unwrap().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(FILE)).unwrap();
        let a = drill("web", "2026-12-01T10:00:00Z", DrillResult::Pass, 40);
        assert!(store.append(&a).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    }

    #[test]
    fn the_comparison_takes_the_same_kind_and_subject_only() {
        let earlier = vec![
            drill("web", "2026-12-01T10:00:00Z", DrillResult::Pass, 40),
            drill("web", "2026-12-02T10:00:00Z", DrillResult::Pass, 60),
            drill("web", "2026-12-03T10:00:00Z", DrillResult::Fail, 900),
            drill("api", "2026-12-04T10:00:00Z", DrillResult::Pass, 5),
        ];
        let c = compare(&earlier, DrillKind::Rollback, "web").unwrap();
        assert_eq!(c.drills, 3);
        assert_eq!(c.last_result, DrillResult::Fail);
        assert_eq!(c.last_ms, Some(900));
        assert_eq!(c.median_ms, Some(60));
        assert!(compare(&earlier, DrillKind::Restore, "web").is_none());
    }
}
