//! A run in parts (WIT world `migration-validator-in-parts`): the host
//! asks [`parts`] how many instances a run can use, runs [`validate_part`]
//! for each part at once, each in an instance of its own, and hands their
//! findings to [`merge`].
//!
//! Each part validates a contiguous range of the files, the ranges
//! following each other from the first file to the last. The analysis
//! carries state from file to file ([`RunState`]: the objects earlier
//! files created, NOT VALID `IS NOT NULL` checks, validated ones), so a
//! part first replays the files before its range ([`Mode::Replay`]) and
//! then validates its own. The replay is sound because it is the walk a
//! validation does, statement by statement: the same transaction control
//! (a ROLLBACK drops what its transaction created), the same grammar
//! walkers that record objects and constraints, the same reset of the new
//! objects between migrations in scope `migration`. It leaves out only
//! what feeds the output: the sqlparser parse (its AST only reaches the
//! rules), the rules' hooks (they judge facts; the only state they keep is
//! the file's own reporting flags, which end with the file), the ignores,
//! line positions, findings and the file's notes. A test holds a replay's
//! state to a validation's after every file of every rule case and of
//! dependent, fixture and generated runs.
//!
//! Each part ends with its own parse-coverage note; [`merge`] puts the
//! parts' findings one after the other (part order is file order, so this
//! is the order of a whole run), reads the notes back ([`Coverage::read`],
//! the inverse of the note's writer) and writes one note of their sums:
//! the findings [`validate`] gives, byte for byte, in any number of parts.
//!
//! Measured natively on 1,000 files (1.0 MB, medians of 20 runs): a
//! validation takes 35.6 ms, a replay of the same files 7.1 ms (5.3 of it
//! gate's lexer, which a replay cannot skip), and split in two the dearer
//! part takes 20.3 ms (1.75x; part 0 validates 55% of the bytes, part 1
//! replays them and validates the rest).

use super::*;

/// What replaying a file costs, in percent of validating it: 7.1 against
/// 35.6 ms natively for the same 1,000 files (0.20). A part's cost is
/// estimated as `REPLAY_PERCENT` × the bytes it replays + 100 × the bytes
/// it validates.
const REPLAY_PERCENT: u64 = 20;

/// The bytes of migrations a validation gets through natively in the time
/// one more instance costs the host. An instance costs it 1–2 ms
/// (instantiation, copying the files in); the sandbox runs the validator
/// about twice as slowly as native code, so 2 ms there is 1 ms natively,
/// about 27 KB at the measured 27–28 KB/ms. A part is added only when it
/// makes the dearest part cheaper by at least that much, so a run splits
/// in two from about 61 KB (2.2 ms natively, 4–5 ms in the sandbox): the
/// first 100 of the 1,000 files above (95 KB, 3.3 ms) split, the first 50
/// (50 KB, 1.6 ms) do not.
const INSTANCE_BYTES: u64 = 27_000;

/// How many parts a run over `files` can use with `available` instances:
/// 1 (run it whole with [`validate`]) for a bad config, which `validate`
/// reports, or when no further part saves more than an instance costs.
pub fn parts(files: &[MigrationFile], config: &str, available: u32) -> u32 {
    if parse_config(config).is_err() {
        return 1;
    }
    let prefix = prefix_bytes(files);
    let most = usize::try_from(available)
        .unwrap_or(usize::MAX)
        .min(files.len());
    let mut count = 1;
    let mut cost = Split::new(&prefix, 1).cost;
    while count < most {
        let next = Split::new(&prefix, count + 1).cost;
        if cost.saturating_sub(next) < 100 * INSTANCE_BYTES {
            break;
        }
        count += 1;
        cost = next;
    }
    count as u32
}

/// Part `index` of `count`: replays the files before its own for their
/// state and validates its own, ending with its parse-coverage note (for
/// [`merge`]) unless the rule is excluded. A bad config gives the one
/// `error` finding [`validate`] gives.
pub fn validate_part(
    files: &[MigrationFile],
    config: &str,
    index: u32,
    count: u32,
) -> Vec<Finding> {
    let cfg = match parse_config(config) {
        Ok(c) => c,
        Err(e) => return vec![config_error(e)],
    };
    let own = share(files, index, count);
    let mut pass = Pass::new(&cfg);
    pass.files(files, own);
    pass.finish()
}

/// The run's findings from its parts' findings, in part order: what
/// [`validate`] gives for the same files. The parts' parse-coverage notes
/// become one, of their summed counts.
pub fn merge(config: &str, parts: Vec<Vec<Finding>>) -> Vec<Finding> {
    let cfg = match parse_config(config) {
        Ok(c) => c,
        Err(e) => return vec![config_error(e)],
    };
    if !cfg.enabled(RuleId::ParseCoverage) {
        return parts.into_iter().flatten().collect();
    }
    let mut out = Vec::new();
    let mut coverage = Coverage::default();
    for (index, mut part) in parts.into_iter().enumerate() {
        let Some(own) = part.last().and_then(Coverage::read) else {
            return vec![not_a_part(index)];
        };
        part.pop();
        coverage.sum(&own);
        out.append(&mut part);
    }
    out.extend(coverage.finding(&cfg));
    out
}

/// The error of a merge given findings that no part of this validator
/// returned: every part ends with its parse-coverage note.
fn not_a_part(index: usize) -> Finding {
    run_error(
        format!(
            "part {} of the run does not end with its parse-coverage note, so the parts cannot be merged",
            index + 1
        ),
        None,
    )
}

/// `prefix[i]`: the bytes of the files before file `i`, for `i` up to
/// the number of files.
fn prefix_bytes(files: &[MigrationFile]) -> Vec<u64> {
    let mut prefix = Vec::with_capacity(files.len() + 1);
    let mut total = 0u64;
    prefix.push(0);
    for f in files {
        total += f.contents.len() as u64;
        prefix.push(total);
    }
    prefix
}

/// The files part `index` of `count` validates. The parts' ranges follow
/// each other from the first file to the last, so together they validate
/// every file once; `count` beyond the number of files leaves the parts
/// after it empty.
fn share(files: &[MigrationFile], index: u32, count: u32) -> Range<usize> {
    let n = files.len();
    let count = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .clamp(1, n.max(1));
    let index = usize::try_from(index).unwrap_or(usize::MAX);
    if index >= count {
        return n..n;
    }
    let split = Split::new(&prefix_bytes(files), count);
    split.bounds[index]..split.bounds[index + 1]
}

/// Where a run splits into parts: `bounds[i]..bounds[i + 1]` are the
/// files part `i` validates, and `cost` the estimate of the dearest part,
/// the least any split into as many parts can reach.
struct Split {
    bounds: Vec<usize>,
    cost: u64,
}

impl Split {
    /// The split into `count` parts (at least 1) whose dearest part is
    /// the cheapest: the least budget every part keeps within, found by
    /// bisection, since whether a budget fits only grows with it.
    fn new(prefix: &[u64], count: usize) -> Split {
        let (mut low, mut high) = (0, cost(prefix, 0..prefix.len() - 1));
        while low < high {
            let mid = low + (high - low) / 2;
            if fill(prefix, count, mid).is_some() {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        // The whole run's cost fits: its first part takes every file.
        let bounds = fill(prefix, count, high).expect("the dearest split fits");
        Split { bounds, cost: high }
    }
}

/// The estimated cost of a part validating `files[own]`, in hundredths
/// of a validated byte: the bytes it replays at [`REPLAY_PERCENT`], the
/// bytes it validates in full. An empty part replays nothing.
fn cost(prefix: &[u64], own: Range<usize>) -> u64 {
    if own.is_empty() {
        return 0;
    }
    cost_between(prefix[own.start], prefix[own.end])
}

/// [`cost`] of a part whose files start at byte `start` of the run and
/// end at byte `end`.
fn cost_between(start: u64, end: u64) -> u64 {
    REPLAY_PERCENT * start + 100 * (end - start)
}

/// The bounds of `count` parts, each taking as many files as keep its
/// cost within `budget`, parts left over empty; `None` if the files do not
/// fit.
fn fill(prefix: &[u64], count: usize, budget: u64) -> Option<Vec<usize>> {
    let n = prefix.len() - 1;
    let mut bounds = Vec::with_capacity(count + 1);
    bounds.push(0);
    let mut start = 0;
    while start < n && bounds.len() <= count {
        let fits =
            prefix[start + 1..].partition_point(|&end| cost_between(prefix[start], end) <= budget);
        if fits == 0 {
            return None;
        }
        start += fits;
        bounds.push(start);
    }
    if start < n {
        return None;
    }
    bounds.resize(count + 1, n);
    Some(bounds)
}

#[cfg(test)]
mod tests {
    use super::super::corpora::{self, BAD_CONFIGS};
    use super::*;

    /// The findings of `count` parts, merged.
    fn in_parts(files: &[MigrationFile], config: &str, count: u32) -> Vec<Finding> {
        let parts = (0..count)
            .map(|index| validate_part(files, config, index, count))
            .collect();
        merge(config, parts)
    }

    /// In any number of parts, every run gives what it gives whole.
    #[test]
    fn parts_merge_into_the_whole_run() {
        for run in corpora::runs() {
            let whole = validate(&run.files, &run.config);
            for count in 1..=6 {
                let merged = in_parts(&run.files, &run.config, count);
                assert!(merged == whole, "{} in {count} parts", run.name);
            }
        }
    }

    /// A bad config: every part and the merge give the one error finding
    /// `validate` gives.
    #[test]
    fn a_bad_config_is_one_error() {
        let files = corpora::runs().swap_remove(0).files;
        for config in BAD_CONFIGS {
            let whole = validate(&files, config);
            assert_eq!(whole.len(), 1);
            assert_eq!(whole[0].status, Status::Error);
            for count in 1..=3 {
                assert_eq!(validate_part(&files, config, 0, count), whole);
                assert_eq!(in_parts(&files, config, count), whole, "{config}");
            }
            assert_eq!(parts(&files, config, 4), 1);
        }
    }

    /// A coverage note reads back as the coverage that wrote it.
    #[test]
    fn coverage_reads_back() {
        let cfg = parse_config("{\"pg_version\": 13}").unwrap();
        for (statements, parsed, files) in [(0, 0, 0), (7, 5, 2), (1234, 1234, 99)] {
            let coverage = Coverage {
                counts: Counts {
                    statements,
                    parsed,
                    by_class: [statements / 2, 1, 2, statements / 3],
                },
                files,
            };
            let note = coverage.finding(&cfg).unwrap();
            assert_eq!(Coverage::read(&note), Some(coverage));
        }
        let other = finding(RuleId::FileSummary.rule(), "x", Status::Pass, String::new());
        assert_eq!(Coverage::read(&other), None);
    }

    /// Findings that do not end with a part's coverage note merge into an
    /// error, not into a wrong count.
    #[test]
    fn foreign_findings_do_not_merge() {
        let files = corpora::runs().swap_remove(0).files;
        let mut first = validate_part(&files, "", 0, 2);
        first.pop();
        let second = validate_part(&files, "", 1, 2);
        let merged = merge("", vec![first, second]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].status, Status::Error);
    }

    /// Files of these sizes.
    fn sized(sizes: &[usize]) -> Vec<MigrationFile> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| MigrationFile {
                path: format!("{i:04}.sql"),
                contents: format!("SELECT 1;{}", " ".repeat(n.saturating_sub(9))),
                first_line: 1,
                in_transaction: true,
            })
            .collect()
    }

    /// The parts' files follow each other from the first file to the last,
    /// whatever the count and index, and parts past the files are empty.
    #[test]
    fn shares_cover_every_file_once() {
        for sizes in [vec![], vec![10], vec![10, 2000, 10, 10], vec![500; 37]] {
            let files = sized(&sizes);
            for count in 1..=8u32 {
                let mut next = 0;
                for index in 0..count {
                    let own = share(&files, index, count);
                    assert_eq!(own.start, next, "{sizes:?} {index}/{count}");
                    next = own.end;
                }
                assert_eq!(next, files.len(), "{sizes:?} in {count}");
                assert!(share(&files, count, count).is_empty());
            }
        }
    }

    /// The split's dearest part is as cheap as in the best of every
    /// possible split (tried one by one on small runs), and `cost` is its
    /// cost.
    #[test]
    fn splits_are_the_most_even() {
        let runs: [&[u64]; 4] = [
            &[5, 1, 1, 1, 9, 2],
            &[1, 1, 1, 1, 1],
            &[100, 1, 1],
            &[3, 0, 7, 7, 0, 2, 9],
        ];
        for sizes in runs {
            let mut prefix = vec![0];
            for s in sizes {
                prefix.push(prefix.last().unwrap() + s);
            }
            for count in 1..=4 {
                let split = Split::new(&prefix, count);
                let dearest = |bounds: &[usize]| {
                    bounds
                        .windows(2)
                        .map(|w| cost(&prefix, w[0]..w[1]))
                        .max()
                        .unwrap()
                };
                assert_eq!(dearest(&split.bounds), split.cost, "{sizes:?} in {count}");
                assert_eq!(split.cost, best(&prefix, count), "{sizes:?} in {count}");
            }
        }
    }

    /// The cost of the dearest part of the best split, by trying every one.
    fn best(prefix: &[u64], count: usize) -> u64 {
        let n = prefix.len() - 1;
        if count == 1 {
            return cost(prefix, 0..n);
        }
        (0..=n)
            .map(|end| {
                let rest = best_from(prefix, end, count - 1);
                cost(prefix, 0..end).max(rest)
            })
            .min()
            .unwrap()
    }

    /// [`best`] for the files from `start` on, in `count` parts.
    fn best_from(prefix: &[u64], start: usize, count: usize) -> u64 {
        let n = prefix.len() - 1;
        if count == 1 {
            return cost(prefix, start..n);
        }
        (start..=n)
            .map(|end| cost(prefix, start..end).max(best_from(prefix, end, count - 1)))
            .min()
            .unwrap()
    }

    /// One instance for a bad config, one instance available, or a run
    /// too small to pay another; more for a big one, never more than
    /// available or than files.
    #[test]
    fn how_many_parts() {
        let small = corpora::runs().swap_remove(0).files;
        assert_eq!(parts(&small, "", 8), 1);
        assert_eq!(parts(&[], "", 8), 1);
        let big = sized(&[2_000; 1_000]);
        assert_eq!(parts(&big, "", 0), 1);
        assert_eq!(parts(&big, "", 1), 1);
        assert_eq!(parts(&big, "not json", 8), 1);
        assert_eq!(parts(&big, "", 2), 2);
        let many = parts(&big, "", 64);
        assert!((2..64).contains(&many), "{many}");
        assert_eq!(parts(&sized(&[200_000; 3]), "", 64), 3);
        // A second part saves (1 - r) / (2 - r) of the run, under half:
        // not enough below twice an instance's bytes, enough from three.
        let files = |bytes: u64| &big[..(bytes / 2_000) as usize];
        assert_eq!(parts(files(2 * INSTANCE_BYTES), "", 2), 1);
        assert_eq!(parts(files(3 * INSTANCE_BYTES), "", 2), 2);
    }
}
