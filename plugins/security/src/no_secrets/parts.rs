//! `security.no-secrets` in parts (WIT world `check-in-parts`): each part
//! walks every root but reads only the files whose path hashes to it, so
//! the parts together read each file once, whatever order their walks see
//! the tree in. The first part also reports what the walk itself meets.
//! Each part ends every root's findings with a tally finding; [`merge`]
//! puts the roots' findings back in walk order, sums the tallies into the
//! roots' `pass` findings and applies the cap: the same findings, in the
//! same order, as a run in one piece.

use std::cell::RefCell;
use std::collections::BTreeMap;

use gate_plugin_sdk::{Context, Finding, Part, Status};

use super::providers::crc32;
use super::{LIST_SKIPPED, RootWalk, Tally, clean};
use crate::{Dropped, MAX_FINDINGS};

thread_local! {
    /// The walks `parts` made to count a tree's files, kept for the same
    /// instance's own part (or whole run) of the same request: the request's
    /// params, and each root's walk.
    static WALKS: RefCell<Option<(serde_json::Value, Vec<RootWalk>)>> = const { RefCell::new(None) };
}

/// Keeps `walks` for the next run of this instance with the same `params`.
pub fn keep_walks(params: &serde_json::Value, walks: Vec<RootWalk>) {
    WALKS.with(|w| *w.borrow_mut() = Some((params.clone(), walks)));
}

/// The walks kept for `params`, if `parts` made them; taken, so a walk is
/// used once.
pub fn take_walks(params: &serde_json::Value) -> Option<Vec<RootWalk>> {
    let kept = WALKS.with(|w| w.borrow_mut().take())?;
    (kept.0 == *params).then_some(kept.1)
}

/// Which of a walk's files a run reads.
#[derive(Clone, Copy, Debug)]
pub struct Share {
    index: u32,
    count: u32,
}

impl Share {
    /// A run in one piece.
    pub const WHOLE: Share = Share { index: 0, count: 1 };

    pub fn of(part: Part) -> Share {
        Share {
            index: part.index,
            count: part.count.max(1),
        }
    }

    /// Whether this share reads the file at `rel` (relative to its root).
    pub fn owns(self, rel: &str) -> bool {
        self.count == 1 || crc32(rel.as_bytes()) % self.count == self.index
    }

    /// Whether this share reports what the walk meets besides files: a root
    /// that cannot be read, unreadable directories, links, pruned directories.
    pub fn reports_walk(self) -> bool {
        self.index == 0
    }
}

/// The rule of the finding that carries one root's tally from a part to
/// [`merge`]. It never reaches a report: `merge` consumes every one.
const TALLY: &str = "part-tally";

/// One part's findings as they are built: at most [`MAX_FINDINGS`] kept, so
/// a part's answer stays within the output cap as a whole run's does.
#[derive(Default)]
pub struct PartOutput {
    findings: Vec<Finding>,
    kept: usize,
}

impl PartOutput {
    /// Root number `root` (`path` as given): its findings, then its tally.
    pub fn push_root(
        &mut self,
        ctx: &Context,
        root: usize,
        path: &str,
        findings: Vec<Finding>,
        tally: Tally,
    ) {
        let mut dropped = Dropped::default();
        for f in findings {
            if self.kept < MAX_FINDINGS {
                self.kept += 1;
                self.findings.push(f);
            } else {
                dropped.add(1, Some(f.status));
            }
        }
        self.findings
            .push(tally_finding(ctx, root, path, tally, dropped));
    }

    pub fn finish(self) -> Vec<Finding> {
        self.findings
    }
}

fn tally_finding(
    ctx: &Context,
    root: usize,
    path: &str,
    mut t: Tally,
    dropped: Dropped,
) -> Finding {
    let mut f = ctx
        .finding(path, Status::Pass)
        .rule(TALLY)
        .message("one part's tally of a root, for merge")
        .evidence("root", root)
        .evidence("large_names", t.large_names.join("\n"))
        .evidence("dropped", dropped.count)
        .evidence("dropped_worst", dropped.worst.map_or(0, crate::status_rank));
    for (key, count) in t.counts_mut() {
        f = f.evidence(key, *count);
    }
    f.build()
}

/// A tally finding read back: its root, tally and dropped findings.
fn read_tally(f: &Finding) -> (usize, Tally, Dropped) {
    let get = |key: &str| {
        f.evidence
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let n = |key: &str| get(key).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let mut tally = Tally {
        large_names: get("large_names")
            .filter(|names| !names.is_empty())
            .map(|names| names.split('\n').map(str::to_string).collect())
            .unwrap_or_default(),
        ..Tally::default()
    };
    for (key, count) in tally.counts_mut() {
        *count = n(key);
    }
    let dropped = Dropped {
        count: n("dropped"),
        worst: (n("dropped") > 0).then(|| {
            [
                Status::Pass,
                Status::Skip,
                Status::Warn,
                Status::Fail,
                Status::Error,
            ]
            .into_iter()
            .find(|s| usize::from(crate::status_rank(*s)) == n("dropped_worst"))
            .unwrap_or(Status::Error)
        }),
    };
    (n("root"), tally, dropped)
}

/// One root's findings gathered from every part.
struct Root {
    path: String,
    findings: Vec<Finding>,
    tally: Tally,
}

/// The whole run's findings from its parts' (`Check::merge`).
pub fn merge(ctx: &Context, parts: Vec<Vec<Finding>>) -> Vec<Finding> {
    let mut roots: BTreeMap<usize, Root> = BTreeMap::new();
    // A part's findings before any tally: its parameters were refused.
    let mut refused = Vec::new();
    let mut dropped = Dropped::default();
    for part in parts {
        let mut pending = Vec::new();
        for f in part {
            if f.rule.as_deref() != Some(TALLY) {
                pending.push(f);
                continue;
            }
            let (index, tally, part_dropped) = read_tally(&f);
            let root = roots.entry(index).or_insert_with(|| Root {
                path: f.subject.clone(),
                findings: Vec::new(),
                tally: Tally::default(),
            });
            root.findings.append(&mut pending);
            root.tally.add(tally);
            dropped.add(part_dropped.count, part_dropped.worst);
        }
        refused.extend(pending);
    }
    let mut out = refused;
    for root in roots.into_values() {
        let Root {
            path,
            mut findings,
            mut tally,
        } = root;
        // A stable sort: one file's findings come from one part, in order.
        findings.sort_by(|a, b| walk_order(&a.subject, &b.subject));
        out.extend(findings);
        tally.large_names.sort_by(|a, b| walk_order(a, b));
        tally.large_names.truncate(LIST_SKIPPED);
        if tally.is_clean() {
            out.push(clean(ctx, &path, &tally));
        }
    }
    crate::cap_with(ctx, out, dropped)
}

/// The order a walk lists paths in: depth first, children by name, which
/// is comparing the paths component by component.
fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}
