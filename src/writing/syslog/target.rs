//! Where syslog messages go, as an operator writes it: `udp://HOST:PORT`, `tcp://HOST:PORT`
//! (HOST a name, an IPv4 address or `[IPv6]`, resolved once, when parsed) or `unix:/PATH`
//! (`unix:///PATH` too), and back to text the same way.

use super::SyslogError;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

/// A collector's address and the transport to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    /// One datagram per message (RFC 5426).
    Udp(SocketAddr),
    /// A TCP stream, each message framed by its octet count (RFC 6587).
    Tcp(SocketAddr),
    /// A local datagram socket, like `/dev/log`.
    Unix(PathBuf),
}

impl FromStr for SyslogTarget {
    type Err = SyslogError;

    fn from_str(s: &str) -> Result<SyslogTarget, SyslogError> {
        let bad = |why| SyslogError::BadTarget {
            target: s.to_string(),
            why,
        };
        if let Some(path) = s.strip_prefix("unix:") {
            let path = match path.strip_prefix("//") {
                Some(rest) if rest.starts_with('/') => rest,
                Some(_) => return Err(bad("a unix path is unix:/PATH or unix:///PATH")),
                None => path,
            };
            if path.is_empty() {
                return Err(bad("no path"));
            }
            return Ok(SyslogTarget::Unix(PathBuf::from(path)));
        }
        let Some((scheme, place)) = s.split_once("://") else {
            return Err(bad("no scheme"));
        };
        if !matches!(scheme, "udp" | "tcp") {
            return Err(bad("unknown scheme"));
        }
        let address = resolve(s, place)?;
        Ok(match scheme {
            "udp" => SyslogTarget::Udp(address),
            _ => SyslogTarget::Tcp(address),
        })
    }
}

/// `HOST:PORT`'s first address.
fn resolve(target: &str, place: &str) -> Result<SocketAddr, SyslogError> {
    let bad = |why| SyslogError::BadTarget {
        target: target.to_string(),
        why,
    };
    let Some((host, port)) = place.rsplit_once(':') else {
        return Err(bad("no port"));
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    if port.parse::<u16>().is_err() {
        return Err(bad("the port is not a number from 0 to 65535"));
    }
    let mut found = place
        .to_socket_addrs()
        .map_err(|source| SyslogError::Resolve {
            target: target.to_string(),
            source,
        })?;
    found
        .next()
        .ok_or_else(|| SyslogError::NoAddress(target.to_string()))
}

impl std::fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyslogTarget::Udp(address) => write!(f, "udp://{address}"),
            SyslogTarget::Tcp(address) => write!(f, "tcp://{address}"),
            SyslogTarget::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> SyslogTarget {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn targets_parse_and_display_back() {
        assert_eq!(
            parsed("udp://127.0.0.1:514"),
            SyslogTarget::Udp("127.0.0.1:514".parse().unwrap())
        );
        assert_eq!(
            parsed("tcp://[::1]:6514"),
            SyslogTarget::Tcp("[::1]:6514".parse().unwrap())
        );
        assert_eq!(
            parsed("unix:/dev/log"),
            SyslogTarget::Unix("/dev/log".into())
        );
        assert_eq!(
            parsed("unix:///dev/log"),
            SyslogTarget::Unix("/dev/log".into())
        );
        for text in [
            "udp://127.0.0.1:514",
            "tcp://[::1]:6514",
            "unix:/run/x.sock",
        ] {
            assert_eq!(parsed(text).to_string(), text);
        }
    }

    #[test]
    fn a_name_is_resolved_once() {
        match parsed("tcp://localhost:601") {
            SyslogTarget::Tcp(address) => {
                assert!(address.ip().is_loopback(), "{address}");
                assert_eq!(address.port(), 601);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        for (text, why) in [
            ("127.0.0.1:514", "no scheme"),
            ("http://127.0.0.1:514", "unknown scheme"),
            ("udp://127.0.0.1", "no port"),
            ("udp://:514", "no host"),
            ("tcp://127.0.0.1:99999", "the port"),
            ("tcp://127.0.0.1:514/", "the port"),
            ("unix:", "no path"),
            ("unix://dev/log", "unix:/PATH"),
        ] {
            let error = text.parse::<SyslogTarget>().unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains("udp://HOST:PORT"), "{text}: {error}");
        }
    }
}
