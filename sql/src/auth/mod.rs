//! Passwords as PostgreSQL stores them, and the checks behind password authentication.
//!
//! A role's password is never kept in clear. As in PostgreSQL (`rolpassword`), it is one
//! of two *verifiers*, and its text form is what the catalog stores ([`crate::roles`]):
//!
//! ```text
//!   SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>
//!       salt: 16 random bytes when we make it; StoredKey and ServerKey: 32 bytes each
//!       SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations)
//!       ClientKey = HMAC(SaltedPassword, "Client Key")   StoredKey = SHA-256(ClientKey)
//!       ServerKey = HMAC(SaltedPassword, "Server Key")                (RFC 5802)
//!   md5<32 lowercase hex digits>  = "md5" || hex(MD5(password || user name))
//! ```
//!
//! A password given to CREATE/ALTER ROLE that already has one of these forms is stored
//! as given (PostgreSQL's rule: that is how dumps restore roles); anything else is
//! hashed, by default into a SCRAM verifier with a fresh random salt
//! ([`PasswordEncryption`]). SASLprep is applied as PostgreSQL does: when the password
//! is not valid for it, the raw bytes are used, which is also what clients do.
//!
//! The SCRAM exchange itself is [`scram`]; MD5 authentication is [`md5_response`].
//! Comparisons of secrets run in constant time.

pub mod scram;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

/// The iteration count of the SCRAM verifiers we make (PostgreSQL's default).
pub const SCRAM_ITERATIONS: u32 = 4096;
/// Random salt bytes of a new SCRAM verifier (PostgreSQL's `SCRAM_DEFAULT_SALT_LEN`).
pub const SCRAM_SALT_LEN: usize = 16;

/// How a plaintext password is turned into a verifier (PostgreSQL's
/// `password_encryption`): SCRAM-SHA-256 unless configured otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PasswordEncryption {
    #[default]
    ScramSha256,
    Md5,
}

/// A stored password verifier; see the module doc for the text forms.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredPassword {
    Scram {
        iterations: u32,
        salt: Vec<u8>,
        stored_key: [u8; 32],
        server_key: [u8; 32],
    },
    /// The whole `md5...` string (35 characters).
    Md5(String),
}

impl std::fmt::Debug for StoredPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Verifiers are password equivalents for offline guessing: keep them out of logs.
        match self {
            StoredPassword::Scram { iterations, .. } => {
                write!(
                    f,
                    "StoredPassword::Scram {{ iterations: {iterations}, .. }}"
                )
            }
            StoredPassword::Md5(_) => f.write_str("StoredPassword::Md5(..)"),
        }
    }
}

impl StoredPassword {
    /// The verifier `text` denotes, if it has one of the two stored forms.
    pub fn parse(text: &str) -> Option<StoredPassword> {
        if is_md5_verifier(text) {
            return Some(StoredPassword::Md5(text.to_string()));
        }
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let iterations: u32 = iterations.parse().ok().filter(|&i| i > 0)?;
        let salt = B64.decode(salt).ok()?;
        Some(StoredPassword::Scram {
            iterations,
            salt,
            stored_key: B64.decode(stored).ok()?.try_into().ok()?,
            server_key: B64.decode(server).ok()?.try_into().ok()?,
        })
    }

    /// The text form stored in the catalog (and shown as `rolpassword`).
    pub fn to_text(&self) -> String {
        match self {
            StoredPassword::Scram {
                iterations,
                salt,
                stored_key,
                server_key,
            } => format!(
                "SCRAM-SHA-256${iterations}:{}${}:{}",
                B64.encode(salt),
                B64.encode(stored_key),
                B64.encode(server_key)
            ),
            StoredPassword::Md5(s) => s.clone(),
        }
    }

    /// What CREATE/ALTER ROLE ... PASSWORD `input` stores for role `user`: `input` itself
    /// when it is already a verifier, else its hash made as `encryption` says.
    pub fn from_input(input: &str, user: &str, encryption: PasswordEncryption) -> StoredPassword {
        if let Some(p) = StoredPassword::parse(input) {
            return p;
        }
        match encryption {
            PasswordEncryption::Md5 => StoredPassword::Md5(md5_verifier(input, user)),
            PasswordEncryption::ScramSha256 => {
                scram_verifier(input, &random_bytes::<SCRAM_SALT_LEN>(), SCRAM_ITERATIONS)
            }
        }
    }
}

fn is_md5_verifier(text: &str) -> bool {
    text.len() == 35
        && text.starts_with("md5")
        && text[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The SCRAM-SHA-256 verifier of `password` with the given salt and iteration count.
pub fn scram_verifier(password: &str, salt: &[u8], iterations: u32) -> StoredPassword {
    let salted = salted_password(password, salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    StoredPassword::Scram {
        iterations,
        salt: salt.to_vec(),
        stored_key: Sha256::digest(client_key).into(),
        server_key: hmac(&salted, b"Server Key"),
    }
}

/// `"md5" || hex(MD5(password || user))`, PostgreSQL's MD5 verifier.
pub fn md5_verifier(password: &str, user: &str) -> String {
    let mut h = Md5::new();
    h.update(password.as_bytes());
    h.update(user.as_bytes());
    format!("md5{}", hex(&h.finalize()))
}

/// The PasswordMessage a client must send in MD5 authentication against the stored
/// `md5...` verifier and the 4-byte `salt` we sent: `"md5" || hex(MD5(hex part || salt))`.
pub fn md5_response(stored: &str, salt: [u8; 4]) -> String {
    let mut h = Md5::new();
    h.update(stored.get(3..).unwrap_or("").as_bytes());
    h.update(salt);
    format!("md5{}", hex(&h.finalize()))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `N` bytes from the operating system's random source. Should it fail (no entropy
/// device), a hash of the time and a process-wide counter stands in; salts and nonces
/// then stay unique, if guessable, and the failure is logged.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if let Err(e) = getrandom::fill(&mut out) {
        tracing::error!(error = %e, "no random source; using a time-based fallback");
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, chunk) in out.chunks_mut(32).enumerate() {
            let d = Sha256::new()
                .chain_update(t.to_le_bytes())
                .chain_update(n.to_le_bytes())
                .chain_update((i as u64).to_le_bytes())
                .finalize();
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
    }
    out
}

/// SASLprep of `password`, or its raw bytes when it is not valid for SASLprep
/// (PostgreSQL's `pg_saslprep` fallback).
fn prepared(password: &str) -> Vec<u8> {
    match stringprep::saslprep(password) {
        Ok(p) => p.as_bytes().to_vec(),
        Err(_) => password.as_bytes().to_vec(),
    }
}

/// PBKDF2-HMAC-SHA-256 with one output block: RFC 5802's `Hi()`.
fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let key = prepared(password);
    let mut mac = new_mac(&key);
    mac.update(salt);
    mac.update(&[0, 0, 0, 1]);
    let mut prev: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = prev;
    for _ in 1..iterations {
        prev = hmac(&key, &prev);
        out.iter_mut().zip(prev).for_each(|(o, p)| *o ^= p);
    }
    out
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = new_mac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
