//! Text from the wire: bytes a sensor shows as names and values, in one printable form.
//! Printable ASCII as it is (names lower-cased), a backslash doubled, any other byte as `\DDD`
//! (DNS presentation format), at most [`MAX_WIRE_NAME`] bytes of a name; and bytes as
//! lower-case hex. A leaf: it imports nothing of the crate, and every stage that shows wire
//! bytes (capture's hashes, the dissectors' names, identity's tokens) takes them from here.

/// Appends one label (or a dot-separated name when `escape_dot` is false) in lower-case
/// presentation format: printable ASCII as is, anything else as `\DDD`.
pub fn escape_label(out: &mut String, bytes: &[u8], escape_dot: bool) {
    escape_bytes(out, bytes, escape_dot, true);
}

/// Appends bytes from the wire as text: printable ASCII as is (lower-cased when `lower`), a
/// backslash doubled, a dot escaped when `escape_dot`, anything else as `\DDD`.
pub fn escape_bytes(out: &mut String, bytes: &[u8], escape_dot: bool, lower: bool) {
    for &b in bytes {
        match b {
            b'.' if escape_dot => out.push_str("\\."),
            b'\\' => out.push_str("\\\\"),
            0x21..=0x7e if lower => out.push(b.to_ascii_lowercase() as char),
            0x21..=0x7e => out.push(b as char),
            _ => {
                out.push('\\');
                out.push((b'0' + b / 100) as char);
                out.push((b'0' + b / 10 % 10) as char);
                out.push((b'0' + b % 10) as char);
            }
        }
    }
}

/// Appends `bytes` as lower-case hex.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// Longest name kept from the wire, in bytes before escaping: the longest DNS name. A longer
/// SNI or Host is cut there (it can name nothing), so a flow never holds more than 4 times this.
pub const MAX_WIRE_NAME: usize = 255;

/// A host name from the wire (SNI, Host header) in lower-case presentation format, without a
/// trailing dot, cut to [`MAX_WIRE_NAME`] bytes.
pub fn name_from_bytes(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b".").unwrap_or(bytes);
    let bytes = &bytes[..bytes.len().min(MAX_WIRE_NAME)];
    let mut out = String::with_capacity(bytes.len());
    escape_label(&mut out, bytes, false);
    out
}

/// A value from the wire (a JSON string, a header) as kept: printable ASCII and spaces as
/// they are, a backslash doubled, any other byte as `\DDD`, cut before `max` bytes would be
/// passed.
pub fn value(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for &b in s.as_bytes() {
        if out.len() + 4 > max {
            break;
        }
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                out.push('\\');
                out.push((b'0' + b / 100) as char);
                out.push((b'0' + b / 10 % 10) as char);
                out.push((b'0' + b % 10) as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_cased_and_escaped() {
        assert_eq!(name_from_bytes(b"Api.OpenAI.com."), "api.openai.com");
        assert_eq!(name_from_bytes(b"a b\x00\xff"), "a\\032b\\000\\255");
        let mut label = String::new();
        escape_label(&mut label, b"a.b\\c", true);
        assert_eq!(label, "a\\.b\\\\c");
    }
}
