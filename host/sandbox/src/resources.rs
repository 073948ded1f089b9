//! Named resources a policy defines (`[connections.*]`, `[metrics.*]`),
//! which `sql` and `metrics` grants refer to by name.

use gate_core::origin::Origin;

#[derive(Clone, Debug)]
pub struct Connection {
    /// `postgres`.
    pub kind: String,
    /// Name of the environment variable holding the URL; the URL never sits in the file.
    pub url_env: String,
    /// Connections that `gate migrate trace` may write to.
    pub scratch: bool,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct MetricsProvider {
    /// `prometheus`.
    pub kind: String,
    pub url: String,
    pub origin: Origin,
}
