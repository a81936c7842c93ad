//! QUIC Initial packets: the client's ClientHello, decrypted and reassembled.
//!
//! For QUIC v1 (RFC 9000/9001), v2 (RFC 9369) and the drafts browsers shipped, the Initial keys
//! are derived from the client's Destination Connection ID with HKDF; header protection is
//! removed and the payload decrypted with AES-128-GCM, all by `ring` (no cipher here). CRYPTO
//! frames are placed by offset into a bounded stream of the worker's [`Streams`] pool, across
//! Initial packets and
//! coalesced packets, in any order: Chrome scatters its ClientHello over many small CRYPTO
//! frames in two packets ("chaos protection"). The complete ClientHello goes to the same TLS
//! code as over TCP. Google QUIC (Q043-Q049) sends its CHLO in the clear; its SNI tag is read.

use super::Parsed;
use super::stream::{Insert, StreamId, Streams};
use super::tls::{self, ClientHello};
use ring::aead::quic::{AES_128, HeaderProtectionKey};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

/// Client datagrams looked at before giving up on a flow.
pub const MAX_DATAGRAMS: u8 = 8;

/// Where the Initial keys of a version come from.
struct Version {
    /// The Initial salts to try, in order.
    salts: &'static [[u8; 20]],
    /// `quic` for v1 and the drafts, `quicv2` for v2 (RFC 9369 §3.3.2).
    label: &'static str,
    /// The long-header packet type of Initial packets (0 for v1, 1 for v2).
    initial_type: u8,
}

const SALT_V1: [u8; 20] = hex20("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
const SALT_V2: [u8; 20] = hex20("0dede3def700a6db819381be6e269dcbf9bd2ed9");
const SALT_DRAFT_29: [u8; 20] = hex20("afbfec289993d24c9e9786f19c6111e04390a899");
const SALT_DRAFT_23: [u8; 20] = hex20("c3eef712c72ebb5a11a7d2432bb46365bef9f502");
const SALT_DRAFT_22: [u8; 20] = hex20("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a");

const fn hex20(s: &str) -> [u8; 20] {
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

fn version(v: u32) -> Option<Version> {
    let (salt, label, initial_type) = match v {
        0x0000_0001 | 0xff00_0021 | 0xff00_0022 => (&[SALT_V1][..], "quic", 0),
        // Reserved versions (RFC 9000 §15) force version negotiation; clients that send them
        // (quic-interop-runner's "V" test) protect the Initial as the version they speak.
        v if v & 0x0f0f_0f0f == 0x0a0a_0a0a => (&[SALT_V1, SALT_DRAFT_29][..], "quic", 0),
        0x6b33_43cf => (&[SALT_V2][..], "quicv2", 1),
        0xff00_001d..=0xff00_0020 => (&[SALT_DRAFT_29][..], "quic", 0),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => (&[SALT_DRAFT_23][..], "quic", 0),
        0xff00_0016 | 0xface_b001 => (&[SALT_DRAFT_22][..], "quic", 0),
        _ => return None,
    };
    Some(Version {
        salts: salt,
        label,
        initial_type,
    })
}

/// Whether a version is Google QUIC with a plaintext CHLO (Q043-Q049).
fn is_gquic(v: u32) -> bool {
    (0x5130_3433..=0x5130_3439).contains(&v)
}

/// The Initial keys of one Destination Connection ID and salt.
struct Keys {
    aead: LessSafeKey,
    iv: [u8; 12],
    hp: HeaderProtectionKey,
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(prk: &hkdf::Prk, label: &str, out: &mut [u8]) {
    let full = [b"tls13 ", label.as_bytes()].concat();
    let length = (out.len() as u16).to_be_bytes();
    let info: [&[u8]; 4] = [&length, &[full.len() as u8], &full, &[0]];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .expect("lengths are within HKDF-SHA256's limits");
}

impl Keys {
    fn derive(dcid: &[u8], salt: [u8; 20], v: &Version) -> Keys {
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(dcid);
        let mut client = [0u8; 32];
        expand_label(&initial, "client in", &mut client);
        let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &client);
        let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
        expand_label(&client, &format!("{} key", v.label), &mut key);
        expand_label(&client, &format!("{} iv", v.label), &mut iv);
        expand_label(&client, &format!("{} hp", v.label), &mut hp);
        Keys {
            aead: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).expect("16-byte key")),
            iv,
            hp: HeaderProtectionKey::new(&AES_128, &hp).expect("16-byte key"),
        }
    }
}

/// A variable-length integer (RFC 9000 §16) at the start of `b`: value and length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut value = u64::from(first & 0x3f);
    for &byte in &bytes[1..] {
        value = (value << 8) | u64::from(byte);
    }
    Some((value, len))
}

/// A reader over a byte slice for header and frame fields.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    fn varint(&mut self) -> Option<u64> {
        let (v, len) = varint(self.b.get(self.at..)?)?;
        self.at += len;
        Some(v)
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let v = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(v)
    }
}

/// What a client datagram said.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not QUIC (or a version lantern cannot read): stop looking at this flow.
    NotQuic,
    /// QUIC, but the ClientHello is not complete yet.
    Wait,
    /// The ClientHello.
    Hello(Box<ClientHello>),
    /// QUIC whose ClientHello cannot be recovered (malformed, or past the buffer).
    GiveUp,
}

/// The QUIC state of one flow.
pub struct QuicState {
    /// The CRYPTO stream, in the worker's pool.
    crypto: StreamId,
    /// Keys of the client's first Destination Connection ID, and of the latest other one.
    /// The client's first Destination Connection ID (at most 20 bytes) and the salt its
    /// Initial decrypted with. Keys are derived again for each Initial rather than kept: they
    /// are a few kilobytes, and a flood of flows that each send one Initial must not hold them.
    first: Option<([u8; 20], u8, [u8; 20])>,
    /// Client datagrams seen.
    pub datagrams: u8,
    /// A QUIC long header of a known version was seen.
    pub seen_quic: bool,
}

impl std::fmt::Debug for QuicState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicState")
            .field("datagrams", &self.datagrams)
            .field("seen_quic", &self.seen_quic)
            .finish()
    }
}

impl QuicState {
    /// A flow whose CRYPTO stream, opened in `streams`, may hold up to `limit` bytes.
    pub fn new(streams: &mut Streams, limit: usize) -> QuicState {
        QuicState {
            crypto: streams.open(0, limit, false),
            first: None,
            datagrams: 0,
            seen_quic: false,
        }
    }

    /// Gives the CRYPTO stream's bytes back to `streams`.
    pub fn close(&self, streams: &mut Streams) {
        streams.close(self.crypto);
    }

    /// Reads one client datagram; `scratch` is reused for decryption.
    pub fn datagram(
        &mut self,
        datagram: &[u8],
        scratch: &mut Vec<u8>,
        streams: &mut Streams,
    ) -> Outcome {
        self.datagrams = self.datagrams.saturating_add(1);
        let mut rest = datagram;
        while let Some(&first) = rest.first() {
            if first & 0x80 == 0 {
                break; // a short header packet: nothing of the handshake
            }
            let Some(v) = rest
                .get(1..5)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            else {
                break;
            };
            if is_gquic(v) {
                self.seen_quic = true;
                return gquic_chlo(rest)
                    .map_or(Outcome::Wait, |hello| Outcome::Hello(Box::new(hello)));
            }
            let Some(version) = version(v) else {
                return if self.seen_quic {
                    Outcome::Wait
                } else {
                    Outcome::NotQuic
                };
            };
            self.seen_quic = true;
            let Some((packet, pn_offset, dcid)) = long_packet(rest, &version) else {
                break; // cut short by the snaplen, or malformed
            };
            let is_initial = (first >> 4) & 0x03 == version.initial_type;
            if is_initial
                && let Some(Insert::TooManyHoles | Insert::BeyondLimit | Insert::Evicted) =
                    self.initial(packet, pn_offset, dcid, &version, scratch, streams)
            {
                return Outcome::GiveUp;
            }
            rest = &rest[packet.len()..];
        }
        if !self.seen_quic {
            return Outcome::NotQuic;
        }
        self.hello(streams)
    }

    /// The ClientHello, once the CRYPTO stream holds all of it.
    fn hello(&self, streams: &Streams) -> Outcome {
        let Some(crypto) = streams.get(self.crypto) else {
            return Outcome::GiveUp;
        };
        let stream = crypto.contiguous();
        let Some(header) = stream.get(..4) else {
            return Outcome::Wait;
        };
        let len = 4
            + (usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]));
        let Some(message) = stream.get(..len) else {
            return if crypto.is_full() {
                Outcome::GiveUp
            } else {
                Outcome::Wait
            };
        };
        match tls::parse_handshake(message, true) {
            Parsed::Complete(hello) => Outcome::Hello(Box::new(hello)),
            Parsed::Incomplete | Parsed::Malformed(_) => Outcome::GiveUp,
        }
    }

    /// Decrypts one Initial packet and files its CRYPTO frames; the worst insert result.
    fn initial(
        &mut self,
        packet: &[u8],
        pn_offset: usize,
        dcid: &[u8],
        version: &Version,
        scratch: &mut Vec<u8>,
        streams: &mut Streams,
    ) -> Option<Insert> {
        // The client's first Initial fixes the keys; a later one may carry a new DCID (after a
        // Retry, or one chosen by the server). Try this packet's own first, then the first one.
        for &salt in version.salts {
            let keys = Keys::derive(dcid, salt, version);
            if let Some((start, end)) = decrypt(&keys, packet, pn_offset, scratch) {
                if self.first.is_none() {
                    let mut id = [0; 20];
                    id[..dcid.len()].copy_from_slice(dcid);
                    self.first = Some((id, dcid.len() as u8, salt));
                }
                let frames = &scratch[start..end];
                return Some(file_crypto_frames(streams, self.crypto, frames));
            }
        }
        let (id, len, salt) = self.first?;
        let keys = Keys::derive(&id[..usize::from(len)], salt, version);
        let (start, end) = decrypt(&keys, packet, pn_offset, scratch)?;
        Some(file_crypto_frames(
            streams,
            self.crypto,
            &scratch[start..end],
        ))
    }
}

/// Splits off one long-header packet: the packet, the offset of its packet number, its DCID.
fn long_packet<'a>(b: &'a [u8], version: &Version) -> Option<(&'a [u8], usize, &'a [u8])> {
    let mut c = Cursor { b, at: 5 };
    let dcid_len = c.u8()?;
    if dcid_len > 20 {
        return None;
    }
    let dcid = c.take(u64::from(dcid_len))?;
    let scid_len = c.u8()?;
    c.take(u64::from(scid_len))?;
    let packet_type = (b[0] >> 4) & 0x03;
    let retry = if version.initial_type == 0 { 3 } else { 0 };
    if packet_type == retry {
        return Some((b, b.len(), dcid)); // a Retry takes the rest of the datagram
    }
    if packet_type == version.initial_type {
        let token = c.varint()?;
        c.take(token)?;
    }
    let length = c.varint()?;
    let pn_offset = c.at;
    let end = pn_offset.checked_add(usize::try_from(length).ok()?)?;
    Some((b.get(..end)?, pn_offset, dcid))
}

/// Removes header protection and decrypts `packet` into `scratch`; the plaintext's range there.
fn decrypt(
    keys: &Keys,
    packet: &[u8],
    pn_offset: usize,
    scratch: &mut Vec<u8>,
) -> Option<(usize, usize)> {
    let sample = packet.get(pn_offset + 4..pn_offset + 20)?;
    let mask = keys.hp.new_mask(sample).ok()?;
    let first = packet[0] ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    let header_len = pn_offset + pn_len;
    if packet.len() < header_len + 16 {
        return None;
    }
    scratch.clear();
    scratch.extend_from_slice(packet);
    scratch[0] = first;
    let mut pn = 0u64;
    for i in 0..pn_len {
        scratch[pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(scratch[pn_offset + i]);
    }
    let mut nonce = keys.iv;
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let (header, body) = scratch.split_at_mut(header_len);
    let plain = keys
        .aead
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&*header),
            body,
        )
        .ok()?
        .len();
    Some((header_len, header_len + plain))
}

/// Walks the frames of a decrypted Initial payload and places CRYPTO data by offset.
fn file_crypto_frames(streams: &mut Streams, crypto: StreamId, frames: &[u8]) -> Insert {
    let mut c = Cursor { b: frames, at: 0 };
    let mut worst = Insert::Stored;
    while let Some(kind) = c.u8() {
        let ok = match kind {
            0x00 | 0x01 => Some(()),
            0x02 | 0x03 => skip_ack(&mut c, kind == 0x03),
            0x06 => (|| {
                let offset = c.varint()?;
                let len = c.varint()?;
                let data = c.take(len)?;
                let offset = u32::try_from(offset).ok()?;
                match streams.insert(crypto, offset, data) {
                    Insert::Stored | Insert::Old => {}
                    bad => worst = bad,
                }
                Some(())
            })(),
            0x1c => (|| {
                c.varint()?;
                c.varint()?;
                let reason = c.varint()?;
                c.take(reason).map(|_| ())
            })(),
            _ => None, // not allowed in Initial packets
        };
        if ok.is_none() {
            break;
        }
    }
    worst
}

fn skip_ack(c: &mut Cursor<'_>, ecn: bool) -> Option<()> {
    c.varint()?;
    c.varint()?;
    let ranges = c.varint()?;
    c.varint()?;
    for _ in 0..ranges {
        c.varint()?;
        c.varint()?;
    }
    if ecn {
        for _ in 0..3 {
            c.varint()?;
        }
    }
    Some(())
}

/// The SNI of a Google QUIC CHLO (sent in the clear by Q043-Q049).
fn gquic_chlo(datagram: &[u8]) -> Option<ClientHello> {
    let at = datagram.windows(4).take(256).position(|w| w == b"CHLO")?;
    let message = &datagram[at..];
    let entries = usize::from(u16::from_le_bytes([*message.get(4)?, *message.get(5)?]));
    let table = message.get(8..8 + entries * 8)?;
    let values = &message[8 + entries * 8..];
    let mut start = 0usize;
    let mut sni = None;
    for entry in table.chunks_exact(8) {
        let end = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]) as usize;
        if end < start || end > values.len() {
            return None;
        }
        if &entry[..4] == b"SNI\0" {
            sni = Some(crate::text::name_from_bytes(&values[start..end]));
        }
        start = end;
    }
    let version = String::from_utf8_lossy(&datagram[1..5]).into_owned();
    Some(ClientHello {
        sni: Some(sni?),
        version: format!("gquic {version}"),
        ..ClientHello::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 Appendix A: the keys for DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_initial_keys() {
        let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &SALT_V1).extract(&dcid);
        let mut client = [0u8; 32];
        expand_label(&initial, "client in", &mut client);
        assert_eq!(
            client,
            hex::<32>("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        let keys = Keys::derive(&dcid, SALT_V1, &version(1).unwrap());
        assert_eq!(
            keys.iv,
            [
                0xfa, 0x04, 0x4b, 0x2f, 0x42, 0xa3, 0xfd, 0x3b, 0x46, 0xfb, 0x25, 0x5c
            ]
        );
        // RFC 9001 A.2: the header protection mask for the sample of the client Initial.
        let sample = hex::<16>("d1b1c98dd7689fb8ec11d242b123dc9b");
        assert_eq!(
            keys.hp.new_mask(&sample).unwrap(),
            [0x43, 0x7b, 0x9a, 0xec, 0x36]
        );
    }

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x25]), Some((37, 1)));
        assert_eq!(varint(&[0x7b, 0xbd]), Some((15293, 2)));
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e, 0x7d]), Some((494_878_333, 4)));
        assert_eq!(
            varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            Some((151_288_809_941_952_652, 8))
        );
        assert_eq!(varint(&[0x40]), None);
    }

    /// Chromium's real Initial packets from `captures/chromium-quic-gemini.pcap`: its
    /// ClientHello is scattered over many CRYPTO frames in two packets ("chaos protection"), so
    /// neither packet alone gives it; in either order, both do.
    #[test]
    fn chromiums_initial_pair_in_either_order() {
        let initials = crate::testdata::payloads("chromium-quic-gemini.pcap", |p| {
            p.dst_port == 443 && p.transport == crate::decode::Transport::Udp
        });
        let (first, second) = (&initials[0], &initials[1]);
        let (mut scratch, mut pool) = (Vec::new(), Streams::new(1 << 20));
        for (a, b) in [(first, second), (second, first)] {
            let mut state = QuicState::new(&mut pool, 16384);
            assert_eq!(state.datagram(a, &mut scratch, &mut pool), Outcome::Wait);
            let Outcome::Hello(hello) = state.datagram(b, &mut scratch, &mut pool) else {
                panic!("no ClientHello from the pair")
            };
            assert_eq!(hello.sni.as_deref(), Some("gemini.google.com"));
            assert_eq!(hello.alpn, ["h3"]);
        }
        // Past the CRYPTO buffer bound it gives up instead of growing.
        let mut small = QuicState::new(&mut pool, 512);
        let outcomes = [
            small.datagram(first, &mut scratch, &mut pool),
            small.datagram(second, &mut scratch, &mut pool),
        ];
        assert!(outcomes.contains(&Outcome::GiveUp), "{outcomes:?}");
        // A datagram cut short (snaplen) is waited on, not a panic.
        let mut cut = QuicState::new(&mut pool, 16384);
        assert_eq!(
            cut.datagram(&first[..600], &mut scratch, &mut pool),
            Outcome::Wait
        );
    }

    #[test]
    fn not_quic() {
        let (mut scratch, mut pool) = (Vec::new(), Streams::new(1 << 20));
        let mut state = QuicState::new(&mut pool, 16384);
        // An RTP packet: the top bit is set, but the "version" is no QUIC version.
        assert_eq!(
            state.datagram(
                &[0x80, 0x60, 0x12, 0x34, 0, 0, 0, 0],
                &mut scratch,
                &mut pool
            ),
            Outcome::NotQuic
        );
        let mut state = QuicState::new(&mut pool, 16384);
        assert_eq!(
            state.datagram(b"\x13BitTorrent protocol", &mut scratch, &mut pool),
            Outcome::NotQuic
        );
    }
}
