//! The RFC 5424 message itself: PRI from the facility and the severity, the header's fields
//! cut to what the RFC allows, the timestamp in UTC with microseconds, and the MSG as given.
//! Each message is written into one reused buffer, with room kept in front for RFC 6587's
//! octet count, so nothing is allocated per message.

use super::{Message, SyslogError};
use std::io::Write;
use std::str::FromStr;

/// RFC 5424's NILVALUE, for an empty or unknown field.
const NIL: &[u8] = b"-";

/// RFC 5424's length limits (section 6): HOSTNAME, APP-NAME, MSGID.
const HOSTNAME_MAX: usize = 255;
const APP_NAME_MAX: usize = 48;
const MSGID_MAX: usize = 32;

/// How urgent a message is: RFC 5424's severities, 0 (most urgent) to 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Severity {
    /// 0: the system is unusable.
    Emergency = 0,
    /// 1: action must be taken at once.
    Alert = 1,
    /// 2: critical conditions.
    Critical = 2,
    /// 3: error conditions.
    Error = 3,
    /// 4: warning conditions.
    Warning = 4,
    /// 5: normal but significant: a policy notice.
    Notice = 5,
    /// 6: informational: a flow, a lookup.
    Informational = 6,
    /// 7: debug-level messages.
    Debug = 7,
}

/// The facility of every message (RFC 5424 section 6.2.1), 0 to 23. lantern's default is
/// `local0`: the local facilities are the ones RFC 5424 leaves to each site, so a collector can
/// route the sensor's events by facility without catching the system's own logs (`user` or
/// `daemon`) or being taken for authentication records (`auth`, `authpriv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(u8);

/// The facilities' names, by number (rsyslog's and syslog(3)'s; 13 to 15 as RFC 5424 says).
const FACILITY_NAMES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

impl Facility {
    /// `local0` (16), lantern's default.
    pub const LOCAL0: Facility = Facility(16);

    /// The facility numbered `code`, if it is one (0 to 23).
    pub fn new(code: u8) -> Option<Facility> {
        (usize::from(code) < FACILITY_NAMES.len()).then_some(Facility(code))
    }

    /// Its number.
    pub fn code(self) -> u8 {
        self.0
    }
}

impl Default for Facility {
    fn default() -> Facility {
        Facility::LOCAL0
    }
}

impl FromStr for Facility {
    type Err = SyslogError;

    /// A number (0 to 23) or a name (`local0`, `daemon`...; `security` is `auth`).
    fn from_str(s: &str) -> Result<Facility, SyslogError> {
        let name = s.trim().to_ascii_lowercase();
        let code = match name.parse::<u8>() {
            Ok(code) => Facility::new(code).map(Facility::code),
            Err(_) if name == "security" => Some(4),
            Err(_) => (FACILITY_NAMES.iter().position(|n| *n == name)).map(|i| i as u8),
        };
        code.map(Facility)
            .ok_or_else(|| SyslogError::BadFacility(s.to_string()))
    }
}

impl std::fmt::Display for Facility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(FACILITY_NAMES[usize::from(self.0)])
    }
}

/// Room kept in front of each message for its octet count and the space after it: a `u32`
/// length has at most 10 digits.
const ROOM: usize = 11;

/// The fields that are the same in every message, made valid once: HOSTNAME and APP-NAME
/// cut to printable US-ASCII (33 to 126; anything else becomes `_`) and to their limits.
#[derive(Debug)]
pub(super) struct Header {
    facility: Facility,
    hostname: Vec<u8>,
    app_name: Vec<u8>,
    procid: u32,
}

impl Header {
    /// The header of messages from process `procid`.
    pub fn new(facility: Facility, hostname: &str, app_name: &str, procid: u32) -> Header {
        let field = |text: &str, limit| {
            let mut out = Vec::new();
            put_field(&mut out, text.as_bytes(), limit);
            out
        };
        Header {
            facility,
            hostname: field(hostname, HOSTNAME_MAX),
            app_name: field(app_name, APP_NAME_MAX),
            procid,
        }
    }

    /// Writes `message` into `buffer`, in place of what it held:
    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`.
    pub fn write(&self, buffer: &mut Buffer, message: &Message<'_>) {
        let out = &mut buffer.bytes;
        out.truncate(ROOM);
        let pri = u16::from(self.facility.0) * 8 + message.severity as u16;
        // Writing to a Vec cannot fail.
        let _ = write!(out, "<{pri}>1 ");
        put_time(out, message.secs, message.micros);
        out.push(b' ');
        out.extend_from_slice(&self.hostname);
        out.push(b' ');
        out.extend_from_slice(&self.app_name);
        let _ = write!(out, " {} ", self.procid);
        put_field(out, message.msgid.as_bytes(), MSGID_MAX);
        // No structured data, and no byte order mark before the MSG: RFC 5424 allows a MSG
        // without one (MSG-ANY), and rsyslog keeps a BOM as the first character of the
        // message, where a JSON parser (serde_json, a SIEM's JSON extraction) refuses it.
        out.extend_from_slice(b" - ");
        out.extend_from_slice(message.msg);
    }
}

/// `field` cut to `limit` bytes of printable US-ASCII, each other byte made `_`; NILVALUE when
/// empty.
fn put_field(out: &mut Vec<u8>, field: &[u8], limit: usize) {
    if field.is_empty() {
        out.extend_from_slice(NIL);
        return;
    }
    let printable = |b: u8| if (33..=126).contains(&b) { b } else { b'_' };
    out.extend(field.iter().take(limit).map(|&b| printable(b)));
}

/// The time `secs` and `micros` after the Unix epoch as RFC 3339 in UTC with six digits of
/// fraction (`2026-11-23T04:54:51.641021Z`); NILVALUE for a time RFC 5424 cannot write (a
/// year outside 0 to 9999). Microseconds past 999,999 count as 999,999.
fn put_time(out: &mut Vec<u8>, secs: i64, micros: u32) {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) if (0..=9999).contains(&t.year()) => {
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                micros.min(999_999)
            );
        }
        _ => out.extend_from_slice(NIL),
    }
}

/// One message at a time, with room in front for its octet count.
#[derive(Debug)]
pub(super) struct Buffer {
    bytes: Vec<u8>,
}

impl Buffer {
    pub fn new() -> Buffer {
        Buffer {
            bytes: vec![0; ROOM],
        }
    }

    /// The message's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len() - ROOM
    }

    /// The message as it is: one datagram.
    pub fn bare(&self) -> &[u8] {
        &self.bytes[ROOM..]
    }

    /// The message framed by octet counting (RFC 6587 section 3.4.1): `LEN SP MSG`.
    pub fn counted(&mut self) -> &[u8] {
        let mut digits = [0u8; ROOM];
        let mut cursor = &mut digits[..];
        let _ = write!(cursor, "{} ", self.len());
        let used = ROOM - cursor.len();
        let start = ROOM - used;
        self.bytes[start..ROOM].copy_from_slice(&digits[..used]);
        &self.bytes[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<'a>(severity: Severity, msgid: &'a str, msg: &'a [u8]) -> Message<'a> {
        Message {
            severity,
            secs: 1_795_409_691,
            micros: 641_021,
            msgid,
            msg,
        }
    }

    fn written(header: &Header, message: &Message<'_>) -> String {
        let mut buffer = Buffer::new();
        header.write(&mut buffer, message);
        String::from_utf8(buffer.bare().to_vec()).unwrap()
    }

    #[test]
    fn a_message_is_rfc_5424_with_the_events_own_time() {
        let header = Header::new(Facility::LOCAL0, "sensor-1", "lantern", 4242);
        let msg = br#"{"event_type":"flow","x":"\"\u00e9"}"#;
        assert_eq!(
            written(&header, &message(Severity::Informational, "flow", msg)),
            format!(
                "<134>1 2026-11-23T04:54:51.641021Z sensor-1 lantern 4242 flow - {}",
                std::str::from_utf8(msg).unwrap()
            )
        );
    }

    #[test]
    fn pri_is_facility_times_eight_plus_severity() {
        let pri = |facility: u8, severity| {
            let header = Header::new(Facility::new(facility).unwrap(), "h", "a", 1);
            let line = written(&header, &message(severity, "m", b"{}"));
            line[1..line.find('>').unwrap()].to_string()
        };
        assert_eq!(pri(0, Severity::Emergency), "0");
        assert_eq!(pri(1, Severity::Notice), "13");
        assert_eq!(pri(16, Severity::Notice), "133");
        assert_eq!(pri(23, Severity::Debug), "191");
    }

    #[test]
    fn header_fields_are_printable_ascii_within_their_limits() {
        let long = "x".repeat(300);
        let header = Header::new(Facility::LOCAL0, &long, "my app\u{e9}", 7);
        let line = written(&header, &message(Severity::Notice, "a b\tc", b"{}"));
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[2].len(), 255, "HOSTNAME is cut to 255");
        assert_eq!(fields[3], "my_app__", "a space and each byte of an e-acute");
        assert_eq!(fields[5], "a_b_c");
        let header = Header::new(Facility::LOCAL0, "", &"a".repeat(60), 7);
        let line = written(&header, &message(Severity::Notice, &"m".repeat(40), b"{}"));
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[2], "-", "an empty field is NILVALUE");
        assert_eq!(fields[3].len(), 48);
        assert_eq!(fields[5].len(), 32);
        let line = written(&header, &message(Severity::Notice, "", b"{}"));
        assert_eq!(line.split(' ').nth(5), Some("-"));
    }

    #[test]
    fn timestamps_are_utc_with_microseconds_or_nil() {
        let time = |secs, micros| {
            let mut out = Vec::new();
            put_time(&mut out, secs, micros);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(time(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(time(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(time(-1, 999_999), "1969-12-31T23:59:59.999999Z");
        assert_eq!(time(1, 5_000_000), "1970-01-01T00:00:01.999999Z");
        assert_eq!(time(253_402_300_800, 0), "-", "the year 10000");
        assert_eq!(time(i64::MAX, 0), "-");
    }

    #[test]
    fn octet_counting_prefixes_the_length() {
        let header = Header::new(Facility::LOCAL0, "h", "lantern", 1);
        let mut buffer = Buffer::new();
        header.write(&mut buffer, &message(Severity::Notice, "n", b"{\"a\":\n1}"));
        let bare = buffer.bare().to_vec();
        let counted = buffer.counted().to_vec();
        assert_eq!(
            counted,
            [format!("{} ", bare.len()).as_bytes(), &bare].concat()
        );
        header.write(&mut buffer, &message(Severity::Notice, "n", b"{}"));
        assert_eq!(buffer.bare().len(), buffer.len(), "the buffer is reused");
        let prefix = format!("{} <", buffer.len());
        assert!(buffer.counted().starts_with(prefix.as_bytes()));
    }

    #[test]
    fn facilities_parse_from_numbers_and_names() {
        assert_eq!("local0".parse::<Facility>().unwrap(), Facility::LOCAL0);
        assert_eq!("LOCAL7".parse::<Facility>().unwrap().code(), 23);
        assert_eq!("3".parse::<Facility>().unwrap().to_string(), "daemon");
        assert_eq!("security".parse::<Facility>().unwrap().to_string(), "auth");
        for bad in ["24", "local8", "", "-1"] {
            assert!(bad.parse::<Facility>().is_err(), "{bad}");
        }
    }
}
