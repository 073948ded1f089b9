//! Dates in flag metadata: `2025-01-31` or RFC 3339 timestamps. The parser is
//! the SDK's, shared with the `security` plugin's key-rotation check.

pub use gate_plugin_sdk::date::parse_timestamp;
