//! What the stages decided about a record, owned, so that the record's event can be encoded on
//! the events thread after the sequencer has moved on: the owned half of a [`FlowView`] or a
//! [`DnsView`] (the record itself travels in its epoch's batch), and the names of a DHCP or
//! Kerberos message as events show them (tokens when pseudonymizing, which only the sequencer
//! can make).

use crate::catalog::{Catalog, Identified};
use crate::identity::{Identity, Pseudonymizer};
use crate::naming::{EncryptedDns, MAX_ALTERNATIVES};
use crate::output::{DnsView, FlowView};
use crate::policy::Status;
use crate::proto::dhcp;
use crate::proto::{DhcpRecord, DnsRecord, EchKind, FlowRecord, KerberosRecord, NameSource};
use crate::proto::{Origin, kerberos};
use crate::software::Software;

/// The app a record was identified as: its place in the batch's catalog and the pattern.
#[derive(Clone, Debug)]
struct AppHit {
    index: usize,
    pattern: Box<str>,
}

impl AppHit {
    fn of(catalog: &Catalog, hit: Option<Identified<'_>>) -> Option<AppHit> {
        let hit = hit?;
        Some(AppHit {
            index: catalog.index_of(&hit.app.id)?,
            pattern: hit.pattern.into(),
        })
    }

    fn get<'a>(this: &'a Option<AppHit>, catalog: &'a Catalog) -> Option<Identified<'a>> {
        this.as_ref().map(|hit| Identified {
            app: &catalog.apps()[hit.index],
            pattern: &hit.pattern,
        })
    }
}

/// A flow's server name: the one its first message gave (kept by the record), or another.
#[derive(Clone, Debug)]
enum Name {
    None,
    Message,
    Other(Box<str>),
}

/// A [`FlowView`] without its record.
#[derive(Clone, Debug)]
pub struct FlowFacts {
    server_name: Name,
    name_source: NameSource,
    name_alternatives: Vec<Box<str>>,
    ech: EchKind,
    identity: Identity,
    app: Option<AppHit>,
    status: Status,
    candidate: bool,
    software: Software,
    encrypted_dns: Option<EncryptedDns>,
}

impl FlowFacts {
    /// What `view` holds beyond its record, under `catalog`.
    pub fn of(view: &FlowView<'_>, catalog: &Catalog) -> FlowFacts {
        let from_message = view.record.message.as_ref().and_then(|m| m.server_name());
        FlowFacts {
            server_name: match view.server_name {
                None => Name::None,
                Some(name) if Some(name) == from_message => Name::Message,
                Some(name) => Name::Other(name.into()),
            },
            name_source: view.name_source,
            name_alternatives: view
                .name_alternatives
                .iter()
                .flatten()
                .map(|&n| n.into())
                .collect(),
            ech: view.ech,
            identity: view.identity.clone(),
            app: AppHit::of(catalog, view.app),
            status: view.status,
            candidate: view.candidate,
            software: view.software,
            encrypted_dns: view.encrypted_dns,
        }
    }

    /// The view again, of `record` under `catalog` (both as when the facts were taken).
    pub fn view<'a>(&'a self, record: &'a FlowRecord, catalog: &'a Catalog) -> FlowView<'a> {
        let mut name_alternatives = [None; MAX_ALTERNATIVES];
        for (slot, name) in name_alternatives.iter_mut().zip(&self.name_alternatives) {
            *slot = Some(&**name);
        }
        FlowView {
            record,
            server_name: match &self.server_name {
                Name::None => None,
                Name::Message => record.message.as_ref().and_then(|m| m.server_name()),
                Name::Other(name) => Some(name),
            },
            name_source: self.name_source,
            name_alternatives,
            ech: self.ech,
            identity: &self.identity,
            app: AppHit::get(&self.app, catalog),
            status: self.status,
            candidate: self.candidate,
            software: self.software,
            mcp: record.mcp(),
            encrypted_dns: self.encrypted_dns,
        }
    }
}

/// A [`DnsView`] without its record.
#[derive(Clone, Debug)]
pub struct DnsFacts {
    identity: Identity,
    app: Option<AppHit>,
    status: Status,
    candidate: bool,
}

impl DnsFacts {
    /// What `view` holds beyond its record, under `catalog`.
    pub fn of(view: &DnsView<'_>, catalog: &Catalog) -> DnsFacts {
        DnsFacts {
            identity: view.identity.clone(),
            app: AppHit::of(catalog, view.app),
            status: view.status,
            candidate: view.candidate,
        }
    }

    /// The view again, of `record` under `catalog`.
    pub fn view<'a>(&'a self, record: &'a DnsRecord, catalog: &'a Catalog) -> DnsView<'a> {
        DnsView {
            record,
            identity: &self.identity,
            app: AppHit::get(&self.app, catalog),
            status: self.status,
            candidate: self.candidate,
        }
    }
}

/// A DHCP message's names and addresses as events show them.
#[derive(Clone, Debug, Default)]
pub struct DhcpShown {
    /// The client address's token, when pseudonymizing.
    pub client: Option<String>,
    /// The client's MAC address.
    pub mac: Option<String>,
    /// The client's DHCPv6 DUID, in hex.
    pub duid: Option<String>,
    /// The host name it gave.
    pub hostname: Option<String>,
    /// The FQDN it gave.
    pub fqdn: Option<String>,
    /// The address leased or asked for.
    pub address: Option<String>,
}

impl DhcpShown {
    /// The names of `r`, tokens with `pseudonyms`.
    pub fn of(r: &DhcpRecord, mut pseudonyms: Option<&mut Pseudonymizer>) -> DhcpShown {
        let m = &r.message;
        let client = client_token(&mut pseudonyms, &r.origin);
        let mut hide = |s: String| shown(&mut pseudonyms, s);
        DhcpShown {
            client,
            mac: m.mac.map(|mac| hide(dhcp::mac_string(&mac))),
            duid: m.duid.as_deref().map(|d| hide(dhcp::hex(d))),
            hostname: m.hostname.clone().map(&mut hide),
            fqdn: m.fqdn.clone().map(&mut hide),
            address: m.address.map(|a| hide(a.to_string())),
        }
    }
}

/// A Kerberos exchange's names as events show them.
#[derive(Clone, Debug, Default)]
pub struct KerberosShown {
    /// The client address's token, when pseudonymizing.
    pub client: Option<String>,
    /// The client principal.
    pub principal: Option<String>,
    /// The principal is a machine account's.
    pub machine: bool,
}

impl KerberosShown {
    /// The names of `r`, tokens with `pseudonyms`.
    pub fn of(r: &KerberosRecord, mut pseudonyms: Option<&mut Pseudonymizer>) -> KerberosShown {
        KerberosShown {
            client: client_token(&mut pseudonyms, &r.origin),
            principal: r.principal.clone().map(|p| shown(&mut pseudonyms, p)),
            machine: (r.principal.as_deref()).is_some_and(|p| kerberos::machine_name(p).is_some()),
        }
    }
}

/// A name from the wire as events show it: itself, or its token when pseudonymizing.
fn shown(pseudonyms: &mut Option<&mut Pseudonymizer>, name: String) -> String {
    match pseudonyms {
        Some(p) => p.pseudonym(&name),
        None => name,
    }
}

/// The client address's token, when pseudonymizing.
fn client_token(pseudonyms: &mut Option<&mut Pseudonymizer>, origin: &Origin) -> Option<String> {
    pseudonyms
        .as_deref_mut()
        .map(|p| p.pseudonym(&origin.client.addr.to_string()))
}
