//! The static identity map (`--identity FILE`): addresses and prefixes an organisation already
//! knows, exported from an IPAM, a DHCP server's reservations or a spreadsheet.
//!
//! A CSV file (read with the `csv` crate); lines starting with `#` are comments. The columns
//! are `address,user,device,group,kind`: `address` is an IPv4 or IPv6 address or a CIDR prefix,
//! `user` is required, `device`, `group` and `kind` are optional, and `kind` is `user` (the
//! default) or `server` (an address with no interactive user: its AI API use is reported as a
//! service). An optional header row names the columns, in any order. The most specific prefix
//! wins; the same prefix twice is an error, as is a prefix with host bits set (`10.0.0.1/8`,
//! likely a typo). Errors name the file and line.

use crate::decode::Addr;
use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One row of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticEntry {
    /// The user.
    pub user: String,
    /// The device, if given.
    pub device: Option<String>,
    /// The group (department, team), if given.
    pub group: Option<String>,
    /// No interactive user: a server, a build machine, an agent host.
    pub server: bool,
}

/// Why the map could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StaticMapError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A row is wrong.
    #[error("{path}:{line}: {message}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// Prefixes of one address family, by length, longest first.
#[derive(Debug, Default)]
struct Family {
    /// (prefix length, masked address -> entry index), longest prefix first.
    lengths: Vec<(u8, HashMap<u128, usize>)>,
}

impl Family {
    fn insert(&mut self, len: u8, key: u128, index: usize) -> Option<usize> {
        let at = match self.lengths.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(at) => at,
            Err(at) => {
                self.lengths.insert(at, (len, HashMap::new()));
                at
            }
        };
        self.lengths[at].1.insert(key, index)
    }

    fn lookup(&self, bits: u128, width: u8) -> Option<usize> {
        self.lengths
            .iter()
            .find_map(|(len, map)| map.get(&mask(bits, *len, width)).copied())
    }
}

/// The map, with longest-prefix lookup.
#[derive(Debug, Default)]
pub struct StaticMap {
    entries: Vec<StaticEntry>,
    v4: Family,
    v6: Family,
}

/// `bits` (an address of `width` bits, right-aligned) with all but the first `len` bits zero.
fn mask(bits: u128, len: u8, width: u8) -> u128 {
    if len == 0 {
        0
    } else {
        let host = u32::from(width - len);
        bits >> host << host
    }
}

/// An address as (bits, width).
fn bits_of(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl StaticMap {
    /// Reads and validates the map at `path`.
    pub fn load(path: &Path) -> Result<StaticMap, StaticMapError> {
        let file = File::open(path).map_err(|source| StaticMapError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::read(file, path)
    }

    /// Reads a map from `input`; `path` names it in errors.
    pub fn read(input: impl std::io::Read, path: &Path) -> Result<StaticMap, StaticMapError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .comment(Some(b'#'))
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(input);
        let mut map = StaticMap::default();
        let mut columns = Columns::default();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| StaticMapError::Row {
                path: path.to_path_buf(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let row_error = |message: String| StaticMapError::Row {
                path: path.to_path_buf(),
                line,
                message,
            };
            if i == 0
                && let Some(header) = Columns::header(&record).map_err(row_error)?
            {
                columns = header;
                continue;
            }
            map.add(&columns, &record).map_err(row_error)?;
        }
        Ok(map)
    }

    fn add(&mut self, columns: &Columns, record: &csv::StringRecord) -> Result<(), String> {
        let field = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let address = field(Some(columns.address)).ok_or("the address is empty")?;
        let (ip, len) = parse_prefix(&address)?;
        let user =
            field(Some(columns.user)).ok_or_else(|| format!("{address}: the user is empty"))?;
        let server = match field(columns.kind).as_deref() {
            None | Some("user") => false,
            Some("server") => true,
            Some(other) => return Err(format!("kind '{other}' is neither 'user' nor 'server'")),
        };
        let entry = StaticEntry {
            user,
            device: field(columns.device),
            group: field(columns.group),
            server,
        };
        let (bits, width) = bits_of(ip);
        if mask(bits, len, width) != bits {
            return Err(format!(
                "{address} has host bits set (the prefix is {}/{len})",
                prefix_string(mask(bits, len, width), width)
            ));
        }
        let index = self.entries.len();
        self.entries.push(entry);
        let family = if width == 32 {
            &mut self.v4
        } else {
            &mut self.v6
        };
        if family.insert(len, bits, index).is_some() {
            return Err(format!("{address} is listed twice"));
        }
        Ok(())
    }

    /// The entry of the most specific prefix holding `addr`.
    pub fn lookup(&self, addr: Addr) -> Option<&StaticEntry> {
        let (bits, width) = bits_of(addr.ip());
        let family = if width == 32 { &self.v4 } else { &self.v6 };
        family.lookup(bits, width).map(|i| &self.entries[i])
    }

    /// Rows in the map.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn prefix_string(bits: u128, width: u8) -> String {
    if width == 32 {
        std::net::Ipv4Addr::from(bits as u32).to_string()
    } else {
        std::net::Ipv6Addr::from(bits).to_string()
    }
}

/// `10.0.0.0/8`, `fd00::/64`, or a single address.
fn parse_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("'{s}' is not an IP address or CIDR prefix"))?;
    // IPv4-mapped IPv6 addresses are IPv4 here, as on the wire.
    let ip = ip.to_canonical();
    let width = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => width,
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= width)
            .ok_or_else(|| format!("'{s}': the prefix length must be 0 to {width}"))?,
    };
    Ok((ip, len))
}

/// Which column holds what.
#[derive(Clone, Copy, Debug)]
struct Columns {
    address: usize,
    user: usize,
    device: Option<usize>,
    group: Option<usize>,
    kind: Option<usize>,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            address: 0,
            user: 1,
            device: Some(2),
            group: Some(3),
            kind: Some(4),
        }
    }
}

impl Columns {
    /// The columns a header row names, or `None` when the first row is data.
    fn header(record: &csv::StringRecord) -> Result<Option<Columns>, String> {
        let first = record.get(0).unwrap_or_default();
        let find = |names: &[&str]| {
            record
                .iter()
                .position(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
        };
        let address = find(&["address", "ip", "cidr", "prefix", "network"]);
        let user = find(&["user", "username", "owner"]);
        let looks_like_data = parse_prefix(first).is_ok()
            || first.bytes().any(|b| b.is_ascii_digit())
                && (first.contains('.') || first.contains(':'));
        if looks_like_data {
            return Ok(None);
        }
        match (address, user) {
            (Some(address), Some(user)) => Ok(Some(Columns {
                address,
                user,
                device: find(&["device", "hostname", "host"]),
                group: find(&["group", "department", "team"]),
                kind: find(&["kind", "type"]),
            })),
            _ => Err(format!(
                "'{first}' is not an IP address or CIDR prefix (a header row must name an \
                 'address' and a 'user' column)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Result<StaticMap, StaticMapError> {
        StaticMap::read(text.as_bytes(), Path::new("ids.csv"))
    }

    fn user(m: &StaticMap, ip: &str) -> Option<String> {
        let ip: IpAddr = ip.parse().unwrap();
        let addr = match ip {
            IpAddr::V4(v4) => Addr::v4(v4.octets()),
            IpAddr::V6(v6) => Addr(v6.octets()),
        };
        m.lookup(addr).map(|e| e.user.clone())
    }

    #[test]
    fn most_specific_prefix_wins_whatever_the_order() {
        let rows = [
            "10.0.0.0/8,corp",
            "10.1.0.0/16,lab",
            "10.1.2.3,alice,alice-pc,finance",
            "0.0.0.0/0,everyone",
            "fd00::/8,v6corp",
            "fd00:1::/32,v6lab",
        ];
        // Every rotation of the rows gives the same answers.
        for shift in 0..rows.len() {
            let mut text = String::new();
            for i in 0..rows.len() {
                text += rows[(i + shift) % rows.len()];
                text += "\n";
            }
            let m = map(&text).unwrap();
            assert_eq!(user(&m, "10.1.2.3").as_deref(), Some("alice"));
            assert_eq!(user(&m, "10.1.2.4").as_deref(), Some("lab"));
            assert_eq!(user(&m, "10.2.0.1").as_deref(), Some("corp"));
            assert_eq!(user(&m, "192.0.2.1").as_deref(), Some("everyone"));
            assert_eq!(user(&m, "fd00:1::5").as_deref(), Some("v6lab"));
            assert_eq!(user(&m, "fd00:2::5").as_deref(), Some("v6corp"));
            assert_eq!(user(&m, "2001:db8::1"), None);
        }
    }

    #[test]
    fn header_names_columns_in_any_order_and_kind_flags_servers() {
        let m = map(
            "# exported from IPAM\nGroup,User,Address,Kind\nops,ci-runner,10.9.0.0/24,server\n",
        )
        .unwrap();
        let e = m.lookup(Addr::v4([10, 9, 0, 7])).unwrap();
        assert_eq!(e.user, "ci-runner");
        assert_eq!(e.group.as_deref(), Some("ops"));
        assert!(e.server);
        assert_eq!(e.device, None);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            (
                "10.0.0.0/8,a\n10.0.0.0/8,b\n",
                "ids.csv:2: 10.0.0.0/8 is listed twice",
            ),
            (
                "10.0.0.1/8,a\n",
                "ids.csv:1: 10.0.0.1/8 has host bits set (the prefix is 10.0.0.0/8)",
            ),
            (
                "10.0.0.0/8,a\nnot-an-ip,b\n",
                "ids.csv:2: 'not-an-ip' is not an IP address or CIDR prefix",
            ),
            (
                "10.0.0.0/33,a\n",
                "ids.csv:1: '10.0.0.0/33': the prefix length must be 0 to 32",
            ),
            ("10.0.0.1,\n", "ids.csv:1: 10.0.0.1: the user is empty"),
            (
                "10.0.0.1,a,,,admin\n",
                "ids.csv:1: kind 'admin' is neither 'user' nor 'server'",
            ),
            (
                "host,name\n",
                "ids.csv:1: 'host' is not an IP address or CIDR prefix (a header row must name an 'address' and a 'user' column)",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(map(text).unwrap_err().to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let m = map("::ffff:10.0.0.1,alice\n").unwrap();
        assert_eq!(user(&m, "10.0.0.1").as_deref(), Some("alice"));
    }
}
