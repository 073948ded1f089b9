//! Finding the base backup a restore starts from: the newest plain-format
//! `pg_basebackup` under the drill's `base_backups` directory (one backup per
//! subdirectory, each with its `backup_label`) that started before the
//! target time.
//!
//! "Newest" is the backup's start WAL location (`START WAL LOCATION` in
//! `backup_label`), which orders the backups of one timeline without
//! trusting file times; `START TIME` is read to skip backups taken after the
//! target, which cannot be recovered back to it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

/// One base backup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseBackup {
    pub dir: PathBuf,
    /// `START WAL LOCATION` as a 64-bit LSN.
    pub start_lsn: u64,
    /// `START TIME`, when its zone is one this reads (UTC, GMT or a numeric offset).
    pub start_time: Option<DateTime<Utc>>,
}

/// The fields of a `backup_label` this needs; `None` when it is not one.
pub fn parse_label(text: &str) -> Option<(u64, Option<DateTime<Utc>>)> {
    let mut lsn = None;
    let mut time = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("START WAL LOCATION: ") {
            lsn = rest.split_whitespace().next().and_then(parse_lsn);
        } else if let Some(rest) = line.strip_prefix("START TIME: ") {
            time = parse_time(rest.trim());
        }
    }
    Some((lsn?, time))
}

/// `0/2000028` → 0x0_02000028.
fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// `2026-12-03 13:20:00 UTC` (PostgreSQL writes the server's zone
/// abbreviation; only zones without ambiguity are read).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let (stamp, zone) = text.rsplit_once(' ')?;
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").ok()?;
    let offset_secs: i64 = match zone {
        "UTC" | "GMT" | "Z" => 0,
        z if z.starts_with(['+', '-']) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits = &z[1..];
            let (h, m) = match digits.split_once(':') {
                Some((h, m)) => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?),
                None if digits.len() <= 2 => (digits.parse::<i64>().ok()?, 0),
                None => return None,
            };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    Some(naive.and_utc() - chrono::Duration::seconds(offset_secs))
}

/// The newest backup under `dir` usable for `target` (any, without one).
pub fn latest(dir: &Path, target: Option<DateTime<Utc>>) -> Result<BaseBackup, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    let mut too_new = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        // A symlink to a backup is followed: `latest -> 2026-12-03` is common.
        if !path.is_dir() {
            continue;
        }
        if path.join("base.tar").exists() || path.join("base.tar.gz").exists() {
            return Err(format!(
                "{}: a tar-format backup; the restore drill needs plain-format backups (pg_basebackup -F plain)",
                path.display()
            ));
        }
        let Ok(label) = std::fs::read_to_string(path.join("backup_label")) else {
            continue;
        };
        let Some((start_lsn, start_time)) = parse_label(&label) else {
            continue;
        };
        if let (Some(t), Some(start)) = (target, start_time)
            && start > t
        {
            too_new += 1;
            continue;
        }
        found.push(BaseBackup {
            dir: path,
            start_lsn,
            start_time,
        });
    }
    found.sort_by(|a, b| a.start_lsn.cmp(&b.start_lsn).then(a.dir.cmp(&b.dir)));
    found.pop().ok_or_else(|| {
        if too_new > 0 {
            format!(
                "every base backup in {} started after the target time ({too_new} of them): none can be recovered back to it",
                dir.display()
            )
        } else {
            format!(
                "no base backup in {} (a subdirectory with a backup_label, as pg_basebackup -F plain writes)",
                dir.display()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: &str = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n\
        CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\n\
        START TIME: 2026-12-03 13:20:05 UTC\nLABEL: pg_basebackup base backup\nSTART TIMELINE: 1\n";

    #[test]
    fn a_label_gives_its_start_lsn_and_time() {
        let (lsn, time) = parse_label(LABEL).unwrap();
        assert_eq!(lsn, 0x0200_0028);
        assert_eq!(time.unwrap().to_rfc3339(), "2026-12-03T13:20:05+00:00");
        let t = parse_time("2026-12-03 14:20:05 +01").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-03T13:20:05+00:00");
        assert!(parse_time("2026-12-03 14:20:05 CET").is_none());
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert!(parse_label("LABEL: nothing\n").is_none());
    }

    #[test]
    fn the_newest_backup_before_the_target_is_chosen() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, lsn: &str, time: &str| {
            let d = tmp.path().join(name);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(
                d.join("backup_label"),
                format!("START WAL LOCATION: {lsn} (file x)\nSTART TIME: {time} UTC\n"),
            )
            .unwrap();
        };
        write("a", "0/2000028", "2026-12-01 00:00:00");
        write("b", "0/5000028", "2026-12-02 00:00:00");
        std::fs::create_dir(tmp.path().join("junk")).unwrap();
        assert!(latest(tmp.path(), None).unwrap().dir.ends_with("b"));
        let t = "2026-12-01T12:00:00Z".parse().unwrap();
        assert!(latest(tmp.path(), Some(t)).unwrap().dir.ends_with("a"));
        let early = "2026-11-01T00:00:00Z".parse().unwrap();
        let e = latest(tmp.path(), Some(early)).unwrap_err();
        assert!(e.contains("started after the target time"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(
            latest(empty.path(), None)
                .unwrap_err()
                .contains("no base backup")
        );
    }
}
