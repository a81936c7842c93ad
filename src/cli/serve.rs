//! `lantern serve`: the web console over a store (read-only), and `--hash-password` for its
//! auth file.

use super::Failure;
use super::store::StoreArgs;
use clap::Args;
use lantern::catalog::Catalog;
use lantern::console::{self, Config, Role, Users};
use lantern::identity::Pseudonymizer;
use lantern::policy::Policy;
use std::io::BufRead;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Flags of `lantern serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address and port to listen on; anything but loopback needs --auth.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
    listen: SocketAddr,
    /// Policy file: which apps are sanctioned, tolerated or unsanctioned (else unreviewed).
    #[arg(long, value_name = "FILE", env = "LANTERN_POLICY")]
    policy: Option<PathBuf>,
    /// Extra catalog file or directory (repeatable), as given to the sensor.
    #[arg(long, value_name = "PATH")]
    catalog: Vec<PathBuf>,
    /// The console's users: TOML with one [[user]] per person (name, role: viewer, analyst or
    /// auditor, and password: a hash from --hash-password). Without it only loopback is served.
    #[arg(long, value_name = "FILE", env = "LANTERN_CONSOLE_AUTH")]
    auth: Option<PathBuf>,
    /// Behind a reverse proxy that authenticates: the header naming the user (looked up in
    /// --auth for the role), believed only from loopback and --trusted-proxy.
    #[arg(long, value_name = "NAME", requires = "auth")]
    auth_header: Option<String>,
    /// An address whose --auth-header is believed (repeatable).
    #[arg(long, value_name = "ADDR", requires = "auth_header")]
    trusted_proxy: Vec<IpAddr>,
    /// Everyone's role without --auth (loopback only).
    #[arg(long, value_name = "ROLE", default_value = "analyst",
          value_parser = ["viewer", "analyst"])]
    anonymous_role: String,
    /// TLS certificate chain (PEM); with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); with --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The pseudonym key file the sensor was given, so that an auditor can reveal a token.
    #[arg(long, value_name = "KEYFILE", requires = "audit_log")]
    key: Option<PathBuf>,
    /// Where each reveal is written (who, when, which token, why): JSON lines, appended.
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Read a password on standard input and print its argon2 hash for the --auth file.
    #[arg(long, exclusive = true)]
    hash_password: bool,
}

/// Runs `lantern serve`.
pub fn run(args: ServeArgs) -> Result<Vec<String>, Failure> {
    if args.hash_password {
        return hash_password();
    }
    let catalog = Catalog::load(&args.catalog)?;
    let policy = (args.policy.as_deref())
        .map(|p| Policy::load(p, &catalog))
        .transpose()?;
    let users = args.auth.as_deref().map(Users::load).transpose()?;
    let key = args.key.as_deref().map(Pseudonymizer::load).transpose()?;
    let store = args.store;
    let store_name = store.store.clone();
    let config = Config {
        listen: args.listen,
        users,
        auth_header: args.auth_header,
        trusted_proxies: args.trusted_proxy,
        anonymous_role: Role::from_name(&args.anonymous_role).unwrap_or(Role::Viewer),
        tls: args.tls_cert.zip(args.tls_key),
        key,
        audit_log: args.audit_log,
        catalog,
        policy,
        open_store: Box::new(move || store.open_for_reading().map_err(|Failure(m)| m)),
        store_name,
    };
    console::serve(config)?;
    Ok(Vec::new())
}

/// Reads one line (the password) from standard input and prints its hash.
fn hash_password() -> Result<Vec<String>, Failure> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(Failure("no password on standard input".into()));
    }
    println!("{}", console::hash_password(password).map_err(Failure)?);
    Ok(Vec::new())
}
