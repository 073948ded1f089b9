//! What `describe()` reports: one entry per strategy, with the fields of its
//! spec table. Plain data here; the wasm glue converts it to the WIT records.

pub const ID: &str = "strategies";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const DESCRIPTION: &str =
    "gate's built-in deployment strategies: blue-green, canary and rolling";

pub struct Param {
    pub name: &'static str,
    pub kind: &'static str,
    pub required: bool,
    pub description: &'static str,
    /// TOML text.
    pub default: Option<&'static str>,
}

pub struct StrategyInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub params: Vec<Param>,
}

const fn param(
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    default: Option<&'static str>,
) -> Param {
    Param {
        name,
        kind,
        required: false,
        description,
        default,
    }
}

const ANALYSIS: Param = param(
    "analysis",
    "list<{ name, interval_ms, failure_limit, inconclusive_limit, consecutive_error_limit, min_samples }>",
    "The spec's analyses. In a step: failures > failure_limit or errors in a row > \
     consecutive_error_limit roll back; inconclusive > inconclusive_limit waits for a human; \
     pending (below min_samples) never counts; each needs at least one success.",
    Some("[]"),
);

/// One entry per strategy, in the order `describe()` lists them.
pub fn strategies() -> Vec<StrategyInfo> {
    vec![blue_green(), canary(), rolling()]
}

fn blue_green() -> StrategyInfo {
    StrategyInfo {
        id: "blue-green",
        title: "Blue-green: one switch from stable to candidate",
        description: "Runs the pre-promotion analyses with the candidate at 0 % for at least \
                      pause_ms (and waits for an approval with until_approved), switches all \
                      traffic to the candidate, runs the post-promotion analyses for at least \
                      post_promotion_ms, then promotes. A failed analysis or an unhealthy \
                      candidate rolls back.",
        params: vec![
            param(
                "blue_green.pause_ms",
                "integer (ms)",
                "Minimum time before the switch.",
                Some("0"),
            ),
            param(
                "blue_green.until_approved",
                "bool",
                "Wait for `gate approve` / `gate promote` before the switch.",
                Some("false"),
            ),
            param(
                "blue_green.pre_promotion_analysis",
                "list<string>",
                "Analyses (by name) run before the switch, candidate at 0 %.",
                Some("[]"),
            ),
            param(
                "blue_green.post_promotion_analysis",
                "list<string>",
                "Analyses (by name) run after the switch, candidate at 100 %.",
                Some("[]"),
            ),
            param(
                "blue_green.post_promotion_ms",
                "integer (ms)",
                "Minimum time after the switch before promotion.",
                Some("0"),
            ),
            ANALYSIS,
        ],
    }
}

fn canary() -> StrategyInfo {
    StrategyInfo {
        id: "canary",
        title: "Canary: stepwise traffic shift driven by analysis",
        description: "Sends each of steps' percentages to the candidate in turn. A step lasts \
                      at least pause_ms and until every analysis has a success (and an approval \
                      with until_approved); analyses run every interval_ms throughout the step. \
                      After the last step the candidate is promoted. A failed analysis, too many \
                      errors in a row or an unhealthy candidate rolls back.",
        params: vec![
            Param {
                required: true,
                ..param(
                    "canary.steps",
                    "list<integer>",
                    "Candidate traffic percentages, ascending, 1-100.",
                    Some("[1, 10, 50, 100]"),
                )
            },
            param(
                "canary.pause_ms",
                "integer (ms)",
                "Minimum time each step lasts.",
                Some("0"),
            ),
            param(
                "canary.until_approved",
                "bool",
                "Each step also waits for `gate approve` / `gate promote`.",
                Some("false"),
            ),
            ANALYSIS,
        ],
    }
}

fn rolling() -> StrategyInfo {
    StrategyInfo {
        id: "rolling",
        title: "Rolling: replace servers one by one",
        description: "Replaces each server in turn (drain, stop, start, health-check, back in \
                      service); after each one checks health and runs the analyses for at least \
                      pause_ms (and waits for an approval with until_approved). After the last \
                      server the candidate is promoted. A failing health check or analysis rolls \
                      back.",
        params: vec![
            Param {
                required: true,
                ..param(
                    "rolling.servers",
                    "list<string>",
                    "The servers to replace, in order.",
                    None,
                )
            },
            param(
                "rolling.pause_ms",
                "integer (ms)",
                "Minimum time after each replacement.",
                Some("0"),
            ),
            param(
                "rolling.until_approved",
                "bool",
                "Each replacement also waits for `gate approve` / `gate promote`.",
                Some("false"),
            ),
            ANALYSIS,
        ],
    }
}
