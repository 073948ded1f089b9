//! The file store's incidents: `<state_dir>/incidents/<id>.json`, one file
//! each, in a private directory (0700, the user's own), every file opened
//! `O_NOFOLLOW` beneath its handle and replaced atomically.

use std::path::{Path, PathBuf};

use gate_core::private_dir::PrivateDir;

use super::Incident;

/// The largest incident file read back.
const MAX_INCIDENT_BYTES: u64 = 16 << 20;

/// The incidents directory of a state directory.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("incidents")
}

fn file_name(id: &str) -> Result<String, String> {
    // An id is a rollout name (letters, digits, `-`, `_`, `.`) and a date:
    // never a path.
    if id.is_empty() || id.starts_with('.') || id.contains('/') || id.contains('\0') {
        return Err(format!("`{id}` is not an incident id"));
    }
    Ok(format!("{id}.json"))
}

/// Every incident in `state_dir` (of `rollout` only, if given), oldest
/// first. A file that does not parse is an error naming it.
pub fn list(state_dir: &Path, rollout: Option<&str>) -> Result<Vec<Incident>, String> {
    let Some(dir) = PrivateDir::open(&dir(state_dir), false).map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    let mut all = Vec::new();
    for name in dir.list() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let Some(bytes) = dir
            .read(name, MAX_INCIDENT_BYTES)
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        let incident: Incident = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not an incident: {e}", dir.path().join(name).display()))?;
        if rollout.is_none_or(|r| r == incident.rollout) {
            all.push(incident);
        }
    }
    Incident::sort(&mut all);
    Ok(all)
}

/// Opens `incident`: the one of the same rollout, run and trigger kind if
/// it was opened already (`false`), else a new one with the next id of its
/// day, written atomically (`true`).
pub fn open(state_dir: &Path, mut incident: Incident) -> Result<(Incident, bool), String> {
    let existing = list(state_dir, Some(&incident.rollout))?;
    if let Some(same) = existing
        .iter()
        .find(|i| i.run_id == incident.run_id && i.trigger.kind() == incident.trigger.kind())
    {
        return Ok((same.clone(), false));
    }
    let day = super::day(incident.opened_unix_ms);
    let n = existing
        .iter()
        .filter(|i| super::day(i.opened_unix_ms) == day)
        .filter_map(Incident::number_in_day)
        .max()
        .unwrap_or(0)
        + 1;
    incident.id = Incident::make_id(&incident.rollout, incident.opened_unix_ms, n);
    write(state_dir, &incident)?;
    Ok((incident, true))
}

/// Replaces the incident's file (atomically).
pub fn write(state_dir: &Path, incident: &Incident) -> Result<(), String> {
    let dir = PrivateDir::open(&dir(state_dir), true)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: not created", dir(state_dir).display()))?;
    let bytes = serde_json::to_vec_pretty(incident).map_err(|e| e.to_string())?;
    dir.write_atomic(&file_name(&incident.id)?, &bytes)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::*;
    use super::*;

    pub(crate) fn sample(run_id: &str, trigger: Trigger, opened_unix_ms: u64) -> Incident {
        Incident {
            format: FORMAT,
            id: String::new(),
            rollout: "web".into(),
            run_id: run_id.into(),
            spec: "web.toml".into(),
            spec_sha256: "00".into(),
            strategy: "canary".into(),
            stable: "v1".into(),
            candidate: "v2".into(),
            opened_unix_ms,
            rollout_started_unix_ms: opened_unix_ms - 1000,
            outcome: Incident::outcome_of(&trigger, &[]),
            trigger,
            impact: Impact::default(),
            rollback: None,
            health_after: None,
            problems: vec![],
            actors: Actors::default(),
            timeline: vec![],
            audit_seq: None,
        }
    }

    #[test]
    fn one_incident_per_run_and_trigger_with_ids_numbered_per_day() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let day_ms = 1_796_256_000_000; // 2026-12-03T00:00:00Z
        let error = || Trigger::Error { reason: "x".into() };
        let (a, new) = open(&state, sample("r1", error(), day_ms + 5)).unwrap();
        assert!(new);
        assert_eq!(a.id, "web-20261203-1");
        // The same run and trigger again (a resumed rollback): the same incident.
        let (again, new) = open(&state, sample("r1", error(), day_ms + 9)).unwrap();
        assert!(!new);
        assert_eq!(again, a);
        let (b, _) = open(&state, sample("r2", error(), day_ms + 10)).unwrap();
        assert_eq!(b.id, "web-20261203-2");
        let (c, _) = open(&state, sample("r3", error(), day_ms + 86_400_000)).unwrap();
        assert_eq!(c.id, "web-20261204-1");
        let ids: Vec<String> = list(&state, Some("web"))
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, [a.id, b.id, c.id]);
        assert!(list(&state, Some("api")).unwrap().is_empty());
    }

    #[test]
    fn a_symlinked_incident_file_is_replaced_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::fs::create_dir_all(state.join("incidents")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for d in [&state, &state.join("incidents")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::os::unix::fs::symlink(&victim, state.join("incidents/web-20261203-1.json")).unwrap();
        // Reading it is refused rather than followed.
        assert!(list(&state, None).is_err());
        let mut i = sample(
            "r1",
            Trigger::Error { reason: "x".into() },
            1_796_256_000_000,
        );
        i.id = "web-20261203-1".into();
        write(&state, &i).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(list(&state, None).unwrap(), vec![i]);
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::super::*;

    #[test]
    fn a_credential_in_a_message_never_reaches_the_record() {
        let mut i = super::tests::sample(
            "r1",
            Trigger::Error {
                reason: "GET http://ops:hunter2hunter2@prometheus:9090/api failed".into(),
            },
            1_796_256_000_000,
        );
        i.problems = vec!["hook: postgres://app:s3cretpassw0rd@db/app refused".into()];
        let clean = i.scrubbed().unwrap();
        let text = serde_json::to_string(&clean).unwrap();
        assert!(!text.contains("hunter2hunter2"), "{text}");
        assert!(!text.contains("s3cretpassw0rd"), "{text}");
        assert!(text.contains("prometheus:9090"), "{text}");
    }
}
