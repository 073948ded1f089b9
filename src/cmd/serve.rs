//! `gate serve`: the deployment dashboard (docs/serve.md). Parses the
//! options and hands them to `gate-serve`, which owns everything served.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::exit;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; a non-loopback address needs --allow-remote
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A policy whose evaluations, checklist, exemptions and migrations are shown (repeatable)
    #[arg(long, value_name = "FILE")]
    pub policy: Vec<PathBuf>,
    /// A rollout spec whose rollout is shown and may be approved from the page (repeatable)
    #[arg(long, value_name = "FILE")]
    pub spec: Vec<PathBuf>,
    /// Serve on a non-loopback address (the dashboard has no login: put it
    /// behind a proxy that authenticates)
    #[arg(long)]
    pub allow_remote: bool,
    /// Another name the server answers to in the Host header, e.g. the
    /// proxy's (repeatable; requests naming any other host are refused)
    #[arg(long = "host", value_name = "NAME[:PORT]")]
    pub hosts: Vec<String>,
    /// The audit logs' published verifier key (NAME+KEYID+KEY); default:
    /// the local signing key's
    #[arg(long, value_name = "KEY")]
    pub vkey: Option<String>,
}

pub async fn run(args: ServeArgs) -> u8 {
    if args.policy.is_empty() && args.spec.is_empty() {
        return exit::report(
            "nothing to serve\nhelp: pass --spec FILE for each rollout and --policy FILE for each policy",
        );
    }
    if !args.listen.ip().is_loopback() && args.allow_remote {
        eprintln!(
            "warning: serving on {}, reachable from other machines; the dashboard has no login: put it behind a proxy that authenticates",
            args.listen
        );
    }
    let config = gate_serve::Config {
        listen: args.listen,
        policies: args.policy,
        specs: args.spec,
        allow_remote: args.allow_remote,
        hosts: args.hosts,
        vkey: args.vkey,
    };
    match gate_serve::serve(config).await {
        Ok(()) => exit::PASS,
        Err(e) => exit::report_lines(format_args!("error: {e}")),
    }
}
