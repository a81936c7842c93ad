//! The web console (`lantern serve`): a read-only, server-rendered view of a store, page by
//! page, for who uses which AI, from an app to its users and back.
//!
//! Every page is a report (`report::build`, the reads and numbers of `lantern report`) of the
//! period and filters in its query string ([`view`]), with the page's subject as one more
//! filter, and a few tables only the console has ([`pages`]); it downloads as the report's
//! JSON, Markdown, HTML or a table's CSV with the same filters. The HTML is `minijinja`
//! templates with autoescaping ([`html`]); a style sheet and a small sorting script are the
//! only other things a page loads, and the Content-Security-Policy allows nothing else.
//!
//! Who may see what ([`access`]): without `--auth` the console only listens on loopback and
//! everyone has the `--anonymous-role`; with it, users log in with argon2-hashed passwords
//! (or a reverse proxy names them in `--auth-header`) and get their role. A viewer's pages
//! name no person ([`redact`]); revealing a pseudonym takes an auditor, the key file on the
//! server and a reason, and goes to the audit log. Every request is logged with its user.
//!
//! The server ([`server`]) is hyper under axum on a small tokio runtime, TLS by rustls when
//! given a certificate, with bounded connections, header and handshake timeouts and a small
//! body limit. Store reads run on blocking threads, each with a store from a small pool; a
//! view read once is kept while the store is unchanged ([`cache`]).

mod access;
mod cache;
mod html;
mod pages;
mod redact;
mod routes;
mod server;
pub mod view;

pub use access::{AuthError, Role, Users, hash_password};
pub use pages::PageKind;

use crate::catalog::Catalog;
use crate::identity::Pseudonymizer;
use crate::policy::Policy;
use crate::store::Store;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Opens the store for one more reader.
pub type OpenStore = Box<dyn Fn() -> Result<Store, String> + Send + Sync>;

/// Everything `lantern serve` was given.
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// `--auth`: the users, with their roles.
    pub users: Option<Users>,
    /// `--auth-header`: the header in which a reverse proxy names the authenticated user.
    pub auth_header: Option<String>,
    /// Addresses whose `--auth-header` is believed (loopback always is).
    pub trusted_proxies: Vec<IpAddr>,
    /// The role of everyone, without `--auth`.
    pub anonymous_role: Role,
    /// `--tls-cert` and `--tls-key` (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `--key`: the pseudonym key, for reveals.
    pub key: Option<Pseudonymizer>,
    /// `--audit-log`: where reveals are written.
    pub audit_log: Option<PathBuf>,
    /// The catalog.
    pub catalog: Catalog,
    /// The policy, if given.
    pub policy: Option<Policy>,
    /// Opens the store.
    pub open_store: OpenStore,
    /// The store, as messages name it.
    pub store_name: String,
}

/// Why the console cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A setting that would show personal data to whoever asks, or cannot work.
    #[error("{0}")]
    Config(String),
    /// The address cannot be listened on.
    #[error("--listen {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key cannot be used.
    #[error("{0}")]
    Tls(String),
    /// The store cannot be read.
    #[error("{0}")]
    Store(String),
    /// Something the console needs could not be set up.
    #[error("{0}")]
    Setup(String),
}

impl Config {
    /// Refuses what would be unsafe or cannot work: a non-loopback address without `--auth`,
    /// `--auth-header` without `--auth` (the roles), `--key` without `--audit-log`.
    pub fn check(&self) -> Result<(), ConsoleError> {
        if !self.listen.ip().is_loopback() && self.users.is_none() {
            return Err(ConsoleError::Config(format!(
                "--listen {}: not a loopback address, and the console shows who uses which AI: \
                 give --auth FILE (users and roles) to serve it there",
                self.listen
            )));
        }
        if self.auth_header.is_some() && self.users.is_none() {
            return Err(ConsoleError::Config(
                "--auth-header needs --auth FILE: the roles of the users the proxy names".into(),
            ));
        }
        if self.key.is_some() && self.audit_log.is_none() {
            return Err(ConsoleError::Config(
                "--key needs --audit-log FILE: every reveal is written there".into(),
            ));
        }
        Ok(())
    }
}

/// Serves the console until the process is stopped. Prints one line when it listens.
pub fn serve(config: Config) -> Result<(), ConsoleError> {
    config.check()?;
    let store = (config.open_store)().map_err(ConsoleError::Store)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_io()
        .enable_time()
        .thread_name("console")
        .build()
        .map_err(|e| ConsoleError::Setup(format!("starting the console's threads: {e}")))?;
    runtime.block_on(server::run(config, store))
}
