//! Masking for every value a check prints: the `gate-redact` crate
//! (`plugins/redact`), which the host's audit log runs too, so a plugin's
//! findings and the host's records mask secrets the same way.

pub use gate_redact::*;
