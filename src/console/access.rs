//! Who may see what in the console: the [`Role`] vocabulary, the users of `--auth FILE` with
//! their argon2 password hashes, the sessions a login opens, and the throttle that slows
//! wrong passwords.
//!
//! The auth file is TOML, one `[[user]]` table per person: `name`, `role` and, unless a reverse
//! proxy authenticates them (`--auth-header`), `password`, a PHC string made by
//! `lantern serve --hash-password`. A session is 32 random bytes (hex) in a cookie; the server
//! keeps at most [`MAX_SESSIONS`], each for [`SESSION_HOURS`]. The throttle keeps failures per
//! client address and per user name for [`FAILURE_WINDOW`]: every failure answers after
//! [`FAILURE_DELAY`], and past [`MAX_FAILURES`] in the window the next attempts are refused
//! without checking the password. Its table is bounded too ([`MAX_TRACKED`]); when full of
//! live entries it refuses, so a flood of addresses cannot make room for guessing.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

crate::vocabulary! {
    /// What a console user may see. Each role sees what the one before it sees, and more.
    pub enum Role {
        /// The inventory, categories, counts and trends; no person, device or client address.
        Viewer = "viewer",
        /// Users, devices and clients as the store holds them (tokens on a pseudonymized
        /// store).
        Analyst = "analyst",
        /// An analyst who may also reveal whom a token stands for, with a reason, logged.
        Auditor = "auditor",
    }
}

impl Role {
    /// Whether the role sees users, devices and client addresses.
    pub fn sees_people(self) -> bool {
        self >= Role::Analyst
    }

    /// Whether the role may reveal a token.
    pub fn may_reveal(self) -> bool {
        self == Role::Auditor
    }
}

/// Most sessions open at once; a login past it is refused until one expires.
pub const MAX_SESSIONS: usize = 10_000;
/// How long a session lasts.
pub const SESSION_HOURS: u64 = 12;
/// How long a wrong password is remembered.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Wrong passwords an address or a user name may give in the window before the next attempts
/// are refused unchecked.
pub const MAX_FAILURES: u32 = 5;
/// How long the answer to a wrong password waits.
pub const FAILURE_DELAY: Duration = Duration::from_secs(1);
/// Most addresses and names the throttle remembers.
pub const MAX_TRACKED: usize = 65_536;
/// Longest user name or password a login takes.
pub const MAX_CREDENTIAL: usize = 256;

/// Why an auth file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// It could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not the TOML of an auth file.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// A user entry is wrong.
    #[error("{path}: user {name:?}: {message}")]
    User {
        /// The file.
        path: PathBuf,
        /// The user.
        name: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthToml {
    #[serde(default)]
    user: Vec<UserToml>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserToml {
    name: String,
    role: String,
    password: Option<String>,
}

/// One user of the console.
#[derive(Clone, Debug)]
pub struct User {
    /// The name they log in with, and the log shows.
    pub name: String,
    /// What they may see.
    pub role: Role,
    /// Their password's argon2 hash (PHC string); none for a user only a proxy authenticates.
    hash: Option<String>,
}

/// The users of `--auth FILE`.
#[derive(Clone, Debug, Default)]
pub struct Users {
    users: HashMap<String, User>,
}

impl Users {
    /// Reads and checks an auth file: every role known, every hash a valid argon2 PHC string,
    /// no name twice.
    pub fn load(path: &Path) -> Result<Users, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file: AuthToml = toml::from_str(&text).map_err(|e| AuthError::Syntax {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        let mut users = HashMap::new();
        for u in file.user {
            let wrong = |message: String| AuthError::User {
                path: path.to_path_buf(),
                name: u.name.clone(),
                message,
            };
            let role = Role::from_name(&u.role)
                .ok_or_else(|| wrong(format!("role must be one of {}", Role::NAMES.join(", "))))?;
            if let Some(hash) = &u.password {
                PasswordHash::new(hash).map_err(|e| {
                    wrong(format!("password is not an argon2 hash ({e}); make one with `lantern serve --hash-password`"))
                })?;
            }
            if u.name.is_empty() || u.name.len() > MAX_CREDENTIAL {
                return Err(wrong("a name must be 1 to 256 bytes".into()));
            }
            let user = User {
                name: u.name.clone(),
                role,
                hash: u.password.clone(),
            };
            if users.insert(u.name.clone(), user).is_some() {
                return Err(wrong("listed twice".into()));
            }
        }
        Ok(Users { users })
    }

    /// The user of this name, as a proxy named them.
    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// Whether the password is this user's. An unknown user, or one without a password, is
    /// checked against a dummy hash all the same, so the answer takes as long.
    pub fn check(&self, name: &str, password: &str) -> Option<User> {
        let user = self.users.get(name);
        let hash = user.and_then(|u| u.hash.as_deref()).unwrap_or(DUMMY_HASH);
        let parsed = PasswordHash::new(hash).ok()?;
        let right = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        user.filter(|u| right && u.hash.is_some()).cloned()
    }
}

/// The hash of a password nobody has, checked for unknown users.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtdXNlci1zYWx0$Hc0b+2ykPuLtYOsHx+Fjs3ZNGSeAJUyHcNgxBBGtsa0";

/// The argon2id hash of `password` (argon2's default parameters, a random salt), as a PHC
/// string for the auth file.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| "no randomness for the salt".to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// An open session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who.
    pub user: String,
    /// Their role at login.
    pub role: Role,
    until: Instant,
}

/// The open sessions, by their secret.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for `user`: its secret, or none when [`MAX_SESSIONS`] are open.
    pub fn open(&self, user: &User) -> Option<String> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).ok()?;
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if open.len() >= MAX_SESSIONS {
            open.retain(|_, s| s.until > now);
        }
        if open.len() >= MAX_SESSIONS {
            return None;
        }
        let session = Session {
            user: user.name.clone(),
            role: user.role,
            until: now + Duration::from_secs(SESSION_HOURS * 3600),
        };
        open.insert(secret.clone(), session);
        Some(secret)
    }

    /// The live session of this secret.
    pub fn get(&self, secret: &str) -> Option<Session> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(secret)
            .filter(|s| s.until > Instant::now())
            .cloned()
    }

    /// Ends a session.
    pub fn close(&self, secret: &str) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(secret);
    }
}

/// What the throttle says of a login attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Check the password.
    Check,
    /// Refuse it unchecked: too many failures from this address or for this name.
    Refuse,
}

/// Who a failure is counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Party {
    Address(IpAddr),
    Name(String),
}

struct Failures {
    count: u32,
    since: Instant,
}

/// Wrong passwords by client address and by user name, in the last [`FAILURE_WINDOW`].
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Party, Failures>>,
}

impl Throttle {
    /// Whether an attempt from `address` for `name` may be checked.
    pub fn attempt(&self, address: IpAddr, name: &str) -> Attempt {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let over = |party: &Party| {
            failures
                .get(party)
                .is_some_and(|f| now - f.since < FAILURE_WINDOW && f.count >= MAX_FAILURES)
        };
        if over(&Party::Address(address)) || over(&Party::Name(name.to_string())) {
            return Attempt::Refuse;
        }
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| now - f.since < FAILURE_WINDOW);
            if failures.len() >= MAX_TRACKED {
                return Attempt::Refuse;
            }
        }
        Attempt::Check
    }

    /// Counts a wrong password from `address` for `name`.
    pub fn failed(&self, address: IpAddr, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for party in [Party::Address(address), Party::Name(name.to_string())] {
            if failures.len() >= MAX_TRACKED && !failures.contains_key(&party) {
                continue;
            }
            let f = failures.entry(party).or_insert(Failures {
                count: 0,
                since: now,
            });
            if now - f.since >= FAILURE_WINDOW {
                *f = Failures {
                    count: 0,
                    since: now,
                };
            }
            f.count += 1;
        }
    }

    /// Forgets the failures for `name` after it logged in.
    pub fn succeeded(&self, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Party::Name(name.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(text: &str) -> Result<Users, AuthError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.toml");
        std::fs::write(&path, text).unwrap();
        Users::load(&path)
    }

    #[test]
    fn a_hash_made_here_checks_its_password_and_no_other() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let u = users(&format!(
            "[[user]]\nname = \"dana\"\nrole = \"analyst\"\npassword = \"{hash}\"\n\
             [[user]]\nname = \"proxy-only\"\nrole = \"viewer\"\n"
        ))
        .unwrap();
        assert_eq!(
            u.check("dana", "correct horse").unwrap().role,
            Role::Analyst
        );
        assert!(u.check("dana", "correct horse ").is_none());
        assert!(u.check("nobody", "correct horse").is_none());
        assert!(u.check("proxy-only", "").is_none());
        assert_eq!(u.get("proxy-only").unwrap().role, Role::Viewer);
    }

    #[test]
    fn a_wrong_auth_file_says_what_is_wrong() {
        let e = users("[[user]]\nname = \"a\"\nrole = \"admin\"\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("role must be one of viewer, analyst, auditor"),
            "{e}"
        );
        let e = users("[[user]]\nname = \"a\"\nrole = \"viewer\"\npassword = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("not an argon2 hash"), "{e}");
        let e = users("[[user]]\nname = \"a\"\nrole = \"viewer\"\n[[user]]\nname = \"a\"\nrole = \"viewer\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        assert!(users("[[user]]\nnme = \"a\"\n").is_err());
    }

    #[test]
    fn the_throttle_refuses_after_too_many_failures_by_address_or_name() {
        let t = Throttle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert_eq!(t.attempt(a, "dana"), Attempt::Check);
            t.failed(a, "dana");
        }
        assert_eq!(t.attempt(a, "other"), Attempt::Refuse);
        assert_eq!(t.attempt(b, "dana"), Attempt::Refuse);
        assert_eq!(t.attempt(b, "other"), Attempt::Check);
    }

    #[test]
    fn sessions_open_and_close() {
        let s = Sessions::default();
        let user = User {
            name: "dana".into(),
            role: Role::Auditor,
            hash: None,
        };
        let secret = s.open(&user).unwrap();
        assert_eq!(secret.len(), 64);
        assert_eq!(s.get(&secret).unwrap().role, Role::Auditor);
        s.close(&secret);
        assert!(s.get(&secret).is_none());
        assert!(s.get("guess").is_none());
    }
}
