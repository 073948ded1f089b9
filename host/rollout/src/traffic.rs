//! How the candidate gets traffic, chosen once per rollout from its strategy:
//! canary and blue-green split the router's weights between the stable and the
//! candidate servers; rolling replaces the servers themselves and leaves the
//! weights alone.

use super::driver::{self, RouterError, ServerState, TrafficDriver};
use super::spec::Spec;

pub enum TrafficMode {
    /// Weights are split between two sets of servers.
    Split {
        stable: Vec<String>,
        candidate: Vec<String>,
    },
    /// The servers are replaced one by one, each running the candidate
    /// version once replaced.
    Replace { servers: Vec<String> },
}

impl TrafficMode {
    pub fn of(spec: &Spec) -> Self {
        match &spec.rolling {
            Some(r) if spec.strategy.kind() == "rolling" => TrafficMode::Replace {
                servers: r.servers.clone(),
            },
            _ => TrafficMode::Split {
                stable: spec.stable.servers.clone(),
                candidate: spec.candidate.servers.clone(),
            },
        }
    }

    /// The servers whose traffic counts as the candidate's for analysis.
    pub fn candidate_servers(&self, replaced: &[String]) -> Vec<String> {
        match self {
            TrafficMode::Split { candidate, .. } => candidate.clone(),
            TrafficMode::Replace { .. } => replaced.to_vec(),
        }
    }

    /// The servers that must be healthy once traffic is back on stable.
    pub fn stable_servers(&self) -> &[String] {
        match self {
            TrafficMode::Split { stable, .. } => stable,
            TrafficMode::Replace { servers } => servers,
        }
    }

    /// The candidate's share implied by the router's weights; `None` when
    /// this mode does not split traffic (there is nothing to reconcile).
    pub fn percent_of(&self, servers: &[ServerState]) -> Option<u8> {
        match self {
            TrafficMode::Split { stable, candidate } => {
                Some(driver::candidate_percent(servers, stable, candidate))
            }
            TrafficMode::Replace { .. } => None,
        }
    }

    /// Reads the router's split; `None` (without asking the router) when this
    /// mode does not split traffic.
    pub async fn router_percent(
        &self,
        driver: &dyn TrafficDriver,
    ) -> Result<Option<u8>, RouterError> {
        match self {
            TrafficMode::Split { .. } => Ok(self.percent_of(&driver.servers().await?)),
            TrafficMode::Replace { .. } => Ok(None),
        }
    }

    /// Moves the split to `percent` on the candidate, make-before-break.
    /// Returns the share now recorded, `None` when this mode has no split.
    pub async fn split(
        &self,
        driver: &dyn TrafficDriver,
        percent: u8,
    ) -> Result<Option<u8>, RouterError> {
        match self {
            TrafficMode::Split { stable, candidate } => {
                driver::apply_split(driver, stable, candidate, percent).await?;
                Ok(Some(percent))
            }
            TrafficMode::Replace { .. } => Ok(None),
        }
    }
}
