//! Pseudonyms (`--pseudonymize KEYFILE`): users, devices and client addresses replaced by keyed
//! hashes, so that the events, the store and the reports name no one, and an authorised
//! investigation can still map a token back.
//!
//! From the key file, HKDF-SHA-256 (ring) derives three keys. A token is `anon-` and the first
//! 64 bits of HMAC-SHA-256(token key, name) in hex: the same key gives the same token on every
//! sensor and every week, and without the key a token cannot be computed or reversed. To map a
//! token back, each name is also sealed with AES-256-GCM (seal key; the nonce is an HMAC of the
//! name under the third key, so one name always seals to the same bytes and two names never
//! share a nonce, with the token as associated data) and the store keeps `(token, sealed)`;
//! `lantern pseudonym reveal` opens it with the same key file. The store alone reveals nothing.

use ring::{aead, hkdf, hmac};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Shortest key file accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// Prefix of every token.
pub const TOKEN_PREFIX: &str = "anon-";

/// Most names remembered with their tokens in this run (a few MiB); past it, a new name's token
/// is computed and sealed each time and the store's insert ignores the duplicates.
const MAX_REMEMBERED: usize = 65_536;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// It could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is too short to be a secret.
    #[error(
        "{path}: the key must be at least {MIN_KEY_BYTES} bytes (make one with `head -c 32 /dev/urandom > {path}`)"
    )]
    Short {
        /// The file.
        path: PathBuf,
    },
}

/// Keys derived from one key file.
pub struct Pseudonymizer {
    token: hmac::Key,
    nonce: hmac::Key,
    seal: aead::LessSafeKey,
    sealed: Vec<(String, Vec<u8>)>,
    /// Names already seen in this run and their tokens (at most [`MAX_REMEMBERED`]): a hit
    /// costs a hash lookup instead of two HMACs and a seal.
    known: HashMap<String, String>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer { .. }")
    }
}

/// An HKDF output length for ring.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Pseudonymizer {
    /// Reads the key file at `path`. A trailing newline is not part of the key, so `echo` and
    /// `printf` make the same key.
    pub fn load(path: &Path) -> Result<Pseudonymizer, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let key = bytes
            .strip_suffix(b"\r\n")
            .or_else(|| bytes.strip_suffix(b"\n"))
            .unwrap_or(&bytes);
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::Short {
                path: path.to_path_buf(),
            });
        }
        Ok(Self::from_key(key))
    }

    /// Keys derived from `key`.
    pub fn from_key(key: &[u8]) -> Pseudonymizer {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"lantern pseudonyms v1").extract(key);
        let derive = |info: &[u8], len: usize| {
            let mut out = vec![0; len];
            prk.expand(&[info], Len(len))
                .and_then(|okm| okm.fill(&mut out))
                .expect("HKDF-SHA-256 yields 32 bytes");
            out
        };
        let seal = aead::UnboundKey::new(&aead::AES_256_GCM, &derive(b"seal", 32))
            .expect("AES-256 takes a 32-byte key");
        Pseudonymizer {
            token: hmac::Key::new(hmac::HMAC_SHA256, &derive(b"token", 32)),
            nonce: hmac::Key::new(hmac::HMAC_SHA256, &derive(b"nonce", 32)),
            seal: aead::LessSafeKey::new(seal),
            sealed: Vec::new(),
            known: HashMap::new(),
        }
    }

    /// The token of `name`.
    pub fn token(&self, name: &str) -> String {
        let tag = hmac::sign(&self.token, name.as_bytes());
        let mut out = String::with_capacity(TOKEN_PREFIX.len() + 16);
        out.push_str(TOKEN_PREFIX);
        crate::text::push_hex(&mut out, &tag.as_ref()[..8]);
        out
    }

    /// The token of `name`, keeping the sealed name for the store the first time.
    pub fn pseudonym(&mut self, name: &str) -> String {
        if let Some(token) = self.known.get(name) {
            return token.clone();
        }
        let token = self.token(name);
        self.sealed.push((token.clone(), self.seal(&token, name)));
        if self.known.len() < MAX_REMEMBERED {
            self.known.insert(name.to_string(), token.clone());
        }
        token
    }

    /// Forgets which names were sealed, so that each is sealed again at its next use: after
    /// pruning, whose removed seals a remembered name would otherwise never write back.
    pub fn forget(&mut self) {
        self.known.clear();
    }

    /// Sealed names waiting for the store.
    pub fn pending(&self) -> usize {
        self.sealed.len()
    }

    /// Sealed names gathered since the last call, for the store.
    pub fn take_sealed(&mut self) -> Vec<(String, Vec<u8>)> {
        std::mem::take(&mut self.sealed)
    }

    /// `name` sealed under `token`: nonce then ciphertext and tag.
    pub fn seal(&self, token: &str, name: &str) -> Vec<u8> {
        let tag = hmac::sign(&self.nonce, name.as_bytes());
        let mut nonce = [0u8; aead::NONCE_LEN];
        nonce.copy_from_slice(&tag.as_ref()[..aead::NONCE_LEN]);
        let mut out = name.as_bytes().to_vec();
        self.seal
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(token.as_bytes()),
                &mut out,
            )
            .expect("a name is far below AES-GCM's length limit");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    /// The name sealed under `token`, if this key sealed it.
    pub fn open(&self, token: &str, sealed: &[u8]) -> Option<String> {
        if sealed.len() < aead::NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, aead::Aad::from(token.as_bytes()), &mut buf)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_keyed_and_short() {
        let a = Pseudonymizer::from_key(b"0123456789abcdef0123456789abcdef");
        let b = Pseudonymizer::from_key(b"0123456789abcdef0123456789abcdef");
        let other = Pseudonymizer::from_key(b"another key, another organisation");
        let t = a.token("alice@CORP.EXAMPLE");
        assert_eq!(t, b.token("alice@CORP.EXAMPLE"));
        assert_ne!(t, other.token("alice@CORP.EXAMPLE"));
        assert_ne!(t, a.token("bob@CORP.EXAMPLE"));
        assert_eq!(t.len(), TOKEN_PREFIX.len() + 16);
        assert!(t.starts_with(TOKEN_PREFIX));
        // A fixed vector, so that a change of derivation (which would break every sensor's
        // tokens) cannot pass unnoticed. Computed independently with Python's hmac module:
        // prk = HMAC(b"lantern pseudonyms v1", key); k = HMAC(prk, b"token\x01");
        // HMAC(k, name).hexdigest()[:16].
        assert_eq!(t, "anon-509febf6a7faf257");
    }

    #[test]
    fn sealed_names_open_only_with_the_key_and_the_token() {
        let mut a = Pseudonymizer::from_key(b"0123456789abcdef0123456789abcdef");
        let t = a.pseudonym("10.88.0.50");
        let again = a.pseudonym("10.88.0.50");
        assert_eq!(t, again);
        let sealed = a.take_sealed();
        assert_eq!(sealed.len(), 1, "one name is sealed once");
        let (token, blob) = &sealed[0];
        assert_eq!(a.open(token, blob).as_deref(), Some("10.88.0.50"));
        let other = Pseudonymizer::from_key(b"another key, another organisation");
        assert_eq!(other.open(token, blob), None);
        assert_eq!(a.open("anon-0000000000000000", blob), None);
        let mut tampered = blob.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(a.open(token, &tampered), None);
        assert_eq!(a.open(token, &blob[..5]), None);
    }

    #[test]
    fn key_files_need_sixteen_bytes_and_ignore_a_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "too short\n").unwrap();
        let err = Pseudonymizer::load(&short).unwrap_err().to_string();
        assert!(err.contains("at least 16 bytes"), "{err}");
        let (echo, printf) = (dir.path().join("echo"), dir.path().join("printf"));
        std::fs::write(&echo, "a sixteen byte secret\n").unwrap();
        std::fs::write(&printf, "a sixteen byte secret").unwrap();
        let (e, p) = (
            Pseudonymizer::load(&echo).unwrap(),
            Pseudonymizer::load(&printf).unwrap(),
        );
        assert_eq!(e.token("x"), p.token("x"));
        assert!(Pseudonymizer::load(&dir.path().join("missing")).is_err());
    }
}
