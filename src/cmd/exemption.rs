//! `gate exemption sign|verify`: sign every exemption of a policy or
//! exemption file with an SSH key, in place, and check their signatures
//! (docs/policy.md, "Signed exemptions").

use std::path::PathBuf;

use gate_eval::policy::ExemptionTrust;
use gate_eval::policy::signed::{self, FileError};
use gate_trust::SigningKey;

use super::shared;
use crate::exit;

#[derive(clap::Subcommand, Debug)]
pub enum ExemptionCommand {
    /// Sign every [[exemption]] of a policy or exemption file in place
    /// (comments and layout are kept)
    Sign {
        /// OpenSSH private key (Ed25519, ECDSA, RSA); an encrypted key's
        /// passphrase is read from GATE_KEY_PASSPHRASE
        #[arg(long, value_name = "PATH")]
        key: PathBuf,
        /// Policy or exemption file (TOML)
        file: PathBuf,
    },
    /// Check the signature of every [[exemption]] of a file: exit 0 when all
    /// verify, 1 when one does not
    Verify {
        /// The allowed_signers file (default: the file's own `exemption_signers`)
        #[arg(long, value_name = "PATH")]
        signers: Option<PathBuf>,
        /// Policy or exemption file (TOML)
        file: PathBuf,
    },
}

pub async fn run(cmd: ExemptionCommand) -> u8 {
    match cmd {
        ExemptionCommand::Sign { key, file } => sign(key, file),
        ExemptionCommand::Verify { signers, file } => verify(signers, file),
    }
}

fn failed(e: FileError) -> u8 {
    match e {
        FileError::Policy(errors) => exit::report_lines(errors),
        other => exit::report(other),
    }
}

fn sign(key: PathBuf, file: PathBuf) -> u8 {
    let passphrase = std::env::var("GATE_KEY_PASSPHRASE").ok();
    let key = match SigningKey::load(&key, passphrase.as_deref()) {
        Ok(k) => k,
        Err(e) => return exit::report(e),
    };
    match signed::sign_file(&file, &key) {
        Ok(n) => {
            eprintln!(
                "{}: signed {n} exemption{} with key {}",
                file.display(),
                if n == 1 { "" } else { "s" },
                key.fingerprint()
            );
            exit::PASS
        }
        Err(e) => failed(e),
    }
}

fn verify(signers: Option<PathBuf>, file: PathBuf) -> u8 {
    let now = match shared::clock() {
        Ok(c) => c.now(),
        Err(code) => return code,
    };
    let checked = match signed::verify_file(&file, signers.as_deref(), now) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut refused = 0;
    for e in &checked {
        match &e.trust {
            ExemptionTrust::Signed {
                principal,
                fingerprint,
            } => println!(
                "{}: ok: `{}` signed by {principal} ({fingerprint})",
                e.origin, e.check
            ),
            ExemptionTrust::Refused(why) => {
                refused += 1;
                println!(
                    "{}: not honoured: `{}` approved by {}: {why}",
                    e.origin, e.check, e.approved_by
                );
            }
            ExemptionTrust::NotRequired => {}
        }
    }
    println!(
        "{} exemption{}, {refused} not honoured",
        checked.len(),
        if checked.len() == 1 { "" } else { "s" }
    );
    if refused == 0 { exit::PASS } else { exit::FAIL }
}
