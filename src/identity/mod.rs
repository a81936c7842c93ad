//! Identity: who a client address is.
//!
//! This stage owns attribution of flows and lookups to a user. Today every client is known by
//! its address (`user_source: ip`); the static map, DHCP and Kerberos sources plug in here with
//! the precedence documented in DESIGN.md, using the identity valid at the record's time.

use crate::capture::Timestamp;
use crate::decode::Addr;

/// Where a user name came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserSource {
    /// The client's address itself.
    Ip,
}

impl UserSource {
    /// Name in events.
    pub fn name(self) -> &'static str {
        match self {
            UserSource::Ip => "ip",
        }
    }
}

/// A resolved identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The user (or the address, when nothing better is known).
    pub user: String,
    /// How it was known.
    pub source: UserSource,
}

/// Resolves client addresses to identities.
#[derive(Debug, Default)]
pub struct Resolver {}

impl Resolver {
    /// A resolver with no identity sources: users are addresses.
    pub fn new() -> Resolver {
        Resolver {}
    }

    /// The identity of `client` at time `at`.
    pub fn resolve(&self, client: Addr, at: Timestamp) -> Identity {
        let _ = at;
        Identity {
            user: client.to_string(),
            source: UserSource::Ip,
        }
    }
}
