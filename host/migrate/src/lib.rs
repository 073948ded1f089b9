//! Migrations: discovery of migration files as the tools lay them out,
//! static validation through the validator component, expand/contract plans
//! and traces against a scratch PostgreSQL, and expand/contract migrations
//! that gate runs (`expand`).

pub mod check;
pub mod expand;
pub mod in_progress;
pub mod layout;
pub mod lint;
pub mod pending;
pub mod plan;
pub mod to_operations;
pub mod trace;
pub mod version_flag;
