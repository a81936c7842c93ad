//! Syslog delivery of events: each event one RFC 5424 message, to a collector over UDP, TCP
//! or a local unix socket ([`SyslogTarget`]), sent by [`Syslog::send`] with counters of what
//! was sent, dropped (and why) and how often the connection was made again ([`Counters`]).
//!
//! A message is `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`: the event's own time
//! in UTC with microseconds, this host's name, `lantern`, the process id, the caller's MSGID
//! (`flow`, `dns`, `notice`), no structured data, and the event's JSON as it is, with no byte
//! order mark. Over TCP each message is framed by its octet count (RFC 6587), so a message is
//! never split at a newline; over UDP and unix sockets it is one datagram.
//!
//! **What the collector must accept.** No message longer than `max_message` bytes (header
//! included; 8,192 by default, rsyslog's default `maxMessageSize`) is sent: it is dropped and
//! counted (`syslog_too_long`), never cut, since a cut event is no longer JSON and a collector
//! would cut it anyway. lantern's events are mostly under 2 KiB; to be sure of the rare large
//! one, raise both the collector's limit and `max_message` (rsyslog: `global(maxMessageSize=
//! "64k")`; UDP carries at most 65,507 bytes). A collector that has stopped reading is given
//! `timeout` per write before the message is dropped; while a TCP or unix collector is away,
//! messages are dropped and counted, never queued.
//!
//! **Not the `syslog` crate.** Its RFC 5424 formatter stamps the time of sending rather than
//! the event's, takes a number as MSGID, and its TCP transport writes messages with no framing
//! at all, with neither a write timeout nor reconnection; so the format and the transports are
//! written here (some 700 lines with their docs).

mod format;
mod link;
mod target;

pub use format::{Facility, Severity};
pub use target::SyslogTarget;

use format::{Buffer, Header};
use link::{Link, Unsent};
use std::io;
use std::time::Duration;

/// A target that cannot be parsed, reached or named, or a facility that is none.
#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    /// Not `udp://HOST:PORT`, `tcp://HOST:PORT` or `unix:/PATH`.
    #[error(
        "{target:?} is not a syslog target ({why}): expected udp://HOST:PORT, tcp://HOST:PORT or unix:/PATH"
    )]
    BadTarget {
        /// The text given.
        target: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The host name did not resolve.
    #[error("syslog target {target}: {source}")]
    Resolve {
        /// The text given.
        target: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The host name resolved to no address.
    #[error("syslog target {0}: the name has no address")]
    NoAddress(String),
    /// Not a facility number (0 to 23) or name.
    #[error(
        "{0:?} is not a syslog facility: expected 0 to 23 or a name (user, daemon, local0 to local7...)"
    )]
    BadFacility(String),
    /// The first connection failed.
    #[error("syslog {target}: {source}")]
    Connect {
        /// The target, resolved.
        target: String,
        /// Why.
        source: io::Error,
    },
}

/// How messages are written and sent.
#[derive(Clone, Debug)]
pub struct SyslogConfig {
    /// APP-NAME (48 bytes of printable ASCII at most; the rest is cut).
    pub app_name: String,
    /// HOSTNAME (255 bytes of printable ASCII at most).
    pub hostname: String,
    /// Every message's facility.
    pub facility: Facility,
    /// The longest message sent, header included; longer ones are dropped and counted.
    pub max_message: usize,
    /// The longest wait to connect, and for each write.
    pub timeout: Duration,
}

impl Default for SyslogConfig {
    /// `lantern` on this host's name, `local0`, 8,192 bytes, 2 s.
    fn default() -> SyslogConfig {
        let hostname = nix::unistd::gethostname()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        SyslogConfig {
            app_name: "lantern".into(),
            hostname,
            facility: Facility::LOCAL0,
            max_message: 8192,
            timeout: Duration::from_secs(2),
        }
    }
}

/// One event to send.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// Its severity.
    pub severity: Severity,
    /// The event's time: seconds since the Unix epoch...
    pub secs: i64,
    /// ...and microseconds into that second.
    pub micros: u32,
    /// MSGID: what kind of event (`flow`, `dns`, `notice`; 32 bytes of printable ASCII).
    pub msgid: &'a str,
    /// The event's JSON, one line with no newline at its end.
    pub msg: &'a [u8],
}

crate::counters! {
    /// What syslog delivery counts; a message is sent or dropped for one of three reasons.
    pub struct Counters {
        syslog_sent: "events sent to the syslog collector",
        syslog_too_long: "events not sent to syslog because the message was longer than its maximum",
        syslog_disconnected: "events not sent to syslog because there was no connection to the collector",
        syslog_failed: "events not sent to syslog because the send failed or timed out",
        syslog_reconnects: "connections to the syslog collector made again after it failed or went away",
    }
}

impl Counters {
    /// Messages dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.syslog_too_long + self.syslog_disconnected + self.syslog_failed
    }
}

/// A sender of syslog messages to one collector.
#[derive(Debug)]
pub struct Syslog {
    header: Header,
    max_message: usize,
    link: Link,
    buffer: Buffer,
    counters: Counters,
}

impl Syslog {
    /// Opens the connection to `target` (a UDP socket is only bound): a collector that cannot
    /// be reached at the start is an error, told at once; later it is reconnected.
    pub fn connect(target: SyslogTarget, config: SyslogConfig) -> Result<Syslog, SyslogError> {
        let max_message = match target {
            SyslogTarget::Udp(address) if address.is_ipv4() => config.max_message.min(65_507),
            SyslogTarget::Udp(_) => config.max_message.min(65_527),
            _ => config.max_message,
        };
        let shown = target.to_string();
        let link = Link::open(target, config.timeout).map_err(|source| SyslogError::Connect {
            target: shown,
            source,
        })?;
        let procid = std::process::id();
        Ok(Syslog {
            header: Header::new(config.facility, &config.hostname, &config.app_name, procid),
            max_message,
            link,
            buffer: Buffer::new(),
            counters: Counters::default(),
        })
    }

    /// Sends one message. An error says why it was dropped (it is counted as well); the sender
    /// stays usable, and a later message is sent once the collector is back.
    pub fn send(&mut self, message: Message<'_>) -> io::Result<()> {
        self.header.write(&mut self.buffer, &message);
        if self.buffer.len() > self.max_message {
            self.counters.syslog_too_long += 1;
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a syslog message of {} bytes is over the maximum of {}",
                    self.buffer.len(),
                    self.max_message
                ),
            ));
        }
        let sent = self.link.send(&mut self.buffer);
        self.counters.syslog_reconnects = self.link.reconnects;
        match sent {
            Ok(()) => {
                self.counters.syslog_sent += 1;
                Ok(())
            }
            Err(Unsent::Disconnected(e)) => {
                self.counters.syslog_disconnected += 1;
                Err(e)
            }
            Err(Unsent::Failed(e)) => {
                self.counters.syslog_failed += 1;
                Err(e)
            }
        }
    }

    /// What was sent and dropped so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
}

#[cfg(test)]
mod tests;
