//! DHCP messages and Kerberos exchanges as OCSF: DHCP Activity (4004), and Authentication
//! (3002) for an exchange that names its client principal. Authentication requires a `user`,
//! so an exchange that names none (a TGS request without its reply, whose principal is
//! encrypted) is Network Activity (4001, Traffic) with its Kerberos fields under `unmapped`.

use super::{AUTHENTICATION, ConnectionInfo, DHCP_ACTIVITY, EndpointOut, Head, Member};
use super::{Metadata, NETWORK_ACTIVITY, Shown, Uid, Unmapped, Vlan, is_false, write};
use crate::capture::Rfc3339;
use crate::output::events::{DhcpShown, KerberosShown};
use crate::proto::dhcp::DhcpKind;
use crate::proto::kerberos::Exchange;
use crate::proto::{DhcpRecord, KerberosRecord, KrbOutcome, Origin};
use serde::Serialize;
use std::io;

/// A DHCP message as DHCP Activity.
#[derive(Serialize)]
struct DhcpEvent<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    src_endpoint: EndpointOut<'a>,
    dst_endpoint: EndpointOut<'a>,
    connection_info: ConnectionInfo,
    transaction_uid: Shown<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_dur: Option<u32>,
    unmapped: Unmapped<DhcpExtra<'a>>,
}

/// What a DHCP event keeps under `unmapped.lantern`.
#[derive(Serialize)]
struct DhcpExtra<'a> {
    dhcp: DhcpFields<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vlan>,
}

#[derive(Serialize)]
struct DhcpFields<'a> {
    version: u8,
    /// The MAC address's token, when pseudonymizing (`mac` takes only an address).
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duid: Option<&'a str>,
    /// The address leased, requested, released or declined.
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
    /// A lease too long for `lease_dur` (an integer): "infinite" is 0xffffffff seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_secs: Option<u32>,
}

/// DHCP Activity's activity for a message type (DHCPv6's mapped as lantern maps them).
fn dhcp_activity(kind: Option<DhcpKind>) -> Member {
    match kind {
        Some(DhcpKind::Discover) => Member(1, "Discover"),
        Some(DhcpKind::Offer) => Member(2, "Offer"),
        Some(DhcpKind::Request) => Member(3, "Request"),
        Some(DhcpKind::Decline) => Member(4, "Decline"),
        Some(DhcpKind::Ack) => Member(5, "Ack"),
        Some(DhcpKind::Nak) => Member(6, "Nak"),
        Some(DhcpKind::Release) => Member(7, "Release"),
        Some(DhcpKind::Inform) => Member(8, "Inform"),
        Some(DhcpKind::Other) => Member(99, "Other"),
        None => Member(0, "Unknown"),
    }
}

/// A DHCP event, with the client's names and addresses as `shown`: the host name (option 12)
/// is the client endpoint's `name`, the FQDN its `hostname`, the MAC its `mac` (a token, when
/// pseudonymizing, goes under `unmapped`).
pub(super) fn dhcp(r: &DhcpRecord, shown: &DhcpShown, buf: &mut Vec<u8>) -> io::Result<()> {
    let m = &r.message;
    let o = &r.origin;
    let pseudonymized = shown.client.is_some();
    let lease = m.lease_secs.filter(|&s| i32::try_from(s).is_ok());
    let event = DhcpEvent {
        head: Head::new(
            DHCP_ACTIVITY,
            dhcp_activity(m.kind),
            o.ts,
            metadata("dhcp", o),
        ),
        src_endpoint: EndpointOut {
            name: shown.hostname.as_deref(),
            mac: shown.mac.as_deref().filter(|_| !pseudonymized),
            ..EndpointOut::of(o.client, shown.client.as_deref(), o.vlan)
                .hostname(shown.fqdn.as_deref())
        },
        dst_endpoint: EndpointOut::of(o.server, None, o.vlan),
        connection_info: ConnectionInfo::of(o.flow_id, o.transport, o.client.addr),
        transaction_uid: Shown(m.xid),
        lease_dur: lease,
        unmapped: Unmapped {
            lantern: DhcpExtra {
                dhcp: DhcpFields {
                    version: m.version,
                    mac: shown.mac.as_deref().filter(|_| pseudonymized),
                    duid: shown.duid.as_deref(),
                    address: shown.address.as_deref(),
                    lease_secs: m.lease_secs.filter(|_| lease.is_none()),
                },
                vlan: Vlan::of(o.vlan),
            },
        },
    };
    write(buf, &event)
}

fn metadata(kind: &'static str, o: &Origin) -> Metadata<'static> {
    Metadata::new(Uid::Message(kind, o.packet), kind)
}

/// A Kerberos exchange as Authentication.
#[derive(Serialize)]
struct AuthEvent<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    user: PrincipalOut<'a>,
    auth_protocol_id: u8,
    auth_protocol: &'static str,
    status_id: u8,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<Shown<i32>>,
    src_endpoint: EndpointOut<'a>,
    dst_endpoint: EndpointOut<'a>,
    unmapped: Unmapped<KerberosExtra>,
}

/// The client principal as a `user`: a machine account is a System user (3).
#[derive(Serialize)]
struct PrincipalOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    type_id: Option<u8>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

/// What a Kerberos event keeps under `unmapped.lantern`.
#[derive(Serialize)]
struct KerberosExtra {
    kerberos: KerberosFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<Vlan>,
}

#[derive(Serialize)]
struct KerberosFields {
    exchange: &'static str,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i32>,
    #[serde(skip_serializing_if = "is_false")]
    on_behalf: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    till: Option<Shown<Rfc3339>>,
}

impl KerberosFields {
    fn of(r: &KerberosRecord) -> KerberosFields {
        KerberosFields {
            exchange: r.exchange.name(),
            outcome: r.outcome.name(),
            error_code: match r.outcome {
                KrbOutcome::Refused(code) => Some(code),
                _ => None,
            },
            on_behalf: r.on_behalf,
            till: r.till.map(|t| Shown(Rfc3339(t))),
        }
    }
}

/// A Kerberos event: Authentication when the exchange names its principal.
pub(super) fn kerberos(
    r: &KerberosRecord,
    shown: &KerberosShown,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let Some(principal) = shown.principal.as_deref() else {
        return unnamed_kerberos(r, shown, buf);
    };
    let o = &r.origin;
    let activity = match r.exchange {
        Exchange::As => Member(3, "Authentication Ticket"),
        Exchange::Tgs => Member(4, "Service Ticket Request"),
    };
    let status = match r.outcome {
        KrbOutcome::Granted => Member(1, "Success"),
        KrbOutcome::Refused(_) => Member(2, "Failure"),
        KrbOutcome::Unanswered => Member(0, "Unknown"),
    };
    let fields = KerberosFields::of(r);
    let event = AuthEvent {
        head: Head::new(AUTHENTICATION, activity, o.ts, metadata("kerberos", o)),
        user: PrincipalOut {
            name: principal,
            type_id: shown.machine.then_some(3),
            kind: shown.machine.then_some("System"),
        },
        auth_protocol_id: 2,
        auth_protocol: "Kerberos",
        status_id: status.0,
        status: status.1,
        status_code: fields.error_code.map(Shown),
        src_endpoint: EndpointOut::of(o.client, shown.client.as_deref(), o.vlan),
        dst_endpoint: EndpointOut::of(o.server, None, o.vlan),
        unmapped: Unmapped {
            lantern: KerberosExtra {
                kerberos: fields,
                vlan: Vlan::of(o.vlan),
            },
        },
    };
    write(buf, &event)
}

/// A Kerberos exchange that names no principal, as Network Activity.
#[derive(Serialize)]
struct UnnamedEvent<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    src_endpoint: EndpointOut<'a>,
    dst_endpoint: EndpointOut<'a>,
    connection_info: ConnectionInfo,
    app_protocol_name: &'static str,
    unmapped: Unmapped<KerberosExtra>,
}

fn unnamed_kerberos(
    r: &KerberosRecord,
    shown: &KerberosShown,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    let o = &r.origin;
    let event = UnnamedEvent {
        head: Head::new(
            NETWORK_ACTIVITY,
            Member(6, "Traffic"),
            o.ts,
            metadata("kerberos", o),
        ),
        src_endpoint: EndpointOut::of(o.client, shown.client.as_deref(), o.vlan),
        dst_endpoint: EndpointOut::of(o.server, None, o.vlan),
        connection_info: ConnectionInfo::of(o.flow_id, o.transport, o.client.addr),
        app_protocol_name: "kerberos",
        unmapped: Unmapped {
            lantern: KerberosExtra {
                kerberos: KerberosFields::of(r),
                vlan: Vlan::of(o.vlan),
            },
        },
    };
    write(buf, &event)
}
