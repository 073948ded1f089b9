//! gate's trust in people: who may sign what, and checking that they did.
//!
//! Signed rollout approvals and signed policy exemptions both rest on the
//! same two things, owned here and written once:
//!
//! - [`allowed_signers`]: OpenSSH `allowed_signers` files (the format of
//!   `ssh-keygen -Y verify`, see `man ssh-keygen`, ALLOWED SIGNERS), parsed
//!   with errors naming file:line:col;
//! - [`sshsig`]: SSHSIG signatures (`ssh-keygen -Y sign`), verified against
//!   such a file for one namespace, and made with an OpenSSH private key file.
//!
//! A verified signature is a [`SignedStatement`]: the exact message, the
//! armored signature, the principal the allowed_signers file gives its key,
//! and the key's fingerprint: what an audit record of it needs.

pub mod allowed_signers;
mod openssh_key;
mod pattern;
pub mod sshsig;

pub use allowed_signers::{AllowedSigners, SignersError};
pub use sshsig::{KeyError, SignedStatement, SigningKey, Verified, VerifyError};
