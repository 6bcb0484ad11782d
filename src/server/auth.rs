//! Password authentication: the users and secrets of `--password-file`, and the two exchanges
//! PostgreSQL's clients know, SCRAM-SHA-256 (RFC 5802/7677, the password never crosses the
//! wire) and cleartext (`password` in pg_hba.conf terms, for clients that know nothing else;
//! use it with TLS).

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage as B, PgWireFrontendMessage as F};
use sha2::{Digest, Sha256};

use super::wire::Wire;
use crate::error::SqlError;

/// How a client proves it knows its password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMethod {
    /// SCRAM-SHA-256: a challenge and response; every current driver speaks it.
    #[value(name = "scram-sha-256")]
    Scram,
    /// The password itself, as sent by the client (encrypted only if the connection uses TLS).
    #[value(name = "password")]
    Cleartext,
}

/// PostgreSQL's default for new verifiers.
const ITERATIONS: u32 = 4096;

/// What the server keeps of a password: PostgreSQL's `SCRAM-SHA-256$iterations:salt$StoredKey:
/// ServerKey` (the form of `pg_authid.rolpassword`), from which neither the password nor a
/// client proof can be recovered.
#[derive(Clone)]
pub struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl Verifier {
    /// A verifier for `password` with a fresh random salt.
    pub fn new(password: &str) -> Verifier {
        Verifier::with_salt(password, random_bytes::<16>().to_vec(), ITERATIONS)
    }

    fn with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> Verifier {
        let salted = salted_password(password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        Verifier {
            iterations,
            salt,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Parses PostgreSQL's text form.
    pub fn parse(s: &str) -> Option<Verifier> {
        let rest = s.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        Some(Verifier {
            iterations: iterations.parse().ok().filter(|&i| i > 0)?,
            salt: BASE64.decode(salt).ok()?,
            stored_key: BASE64.decode(stored).ok()?.try_into().ok()?,
            server_key: BASE64.decode(server).ok()?.try_into().ok()?,
        })
    }

    /// Checks a client's proof over the exchange's AuthMessage; if it holds, the server's
    /// signature, which proves to the client that the server knows the verifier.
    fn check_proof(&self, auth_message: &str, proof: &[u8; 32]) -> Option<[u8; 32]> {
        let client_signature = hmac(&self.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let stored_key: [u8; 32] = Sha256::digest(&client_key).into();
        constant_time_eq(&stored_key, &self.stored_key)
            .then(|| hmac(&self.server_key, auth_message.as_bytes()))
    }

    /// Whether `password` is the one this verifier was made from.
    fn accepts(&self, password: &str) -> bool {
        let other = Verifier::with_salt(password, self.salt.clone(), self.iterations);
        constant_time_eq(&other.stored_key, &self.stored_key)
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }
}

/// The users allowed to connect, each with its verifier.
#[derive(Default)]
pub struct Passwords {
    users: HashMap<String, Verifier>,
}

impl Passwords {
    /// Reads a password file: one `user:secret` per line, where the secret is a SCRAM verifier
    /// (`runnel hash-password` makes one; PostgreSQL's `pg_authid.rolpassword` is one) or else
    /// the password itself. Blank lines and lines starting with `#` are skipped.
    pub fn load(path: &Path) -> Result<Passwords, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((user, secret)) = line.split_once(':').filter(|(u, _)| !u.is_empty()) else {
                return Err(format!(
                    "{}:{}: expected `user:password` or `user:SCRAM-SHA-256$...`",
                    path.display(),
                    n + 1
                ));
            };
            let verifier = if secret.starts_with("SCRAM-SHA-256$") {
                Verifier::parse(secret).ok_or_else(|| {
                    format!(
                        "{}:{}: malformed SCRAM-SHA-256 verifier",
                        path.display(),
                        n + 1
                    )
                })?
            } else {
                Verifier::new(secret)
            };
            users.insert(user.to_string(), verifier);
        }
        if users.is_empty() {
            return Err(format!("{}: no users", path.display()));
        }
        Ok(Passwords { users })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Runs the authentication exchange for `user`; `Ok` once the client has proven its password
/// (the caller then sends AuthenticationOk). Unknown users go through the same exchange with a
/// verifier nobody knows, so a client cannot tell them from a wrong password, as in PostgreSQL.
pub(super) async fn authenticate(
    wire: &mut Wire,
    passwords: &Passwords,
    method: AuthMethod,
    user: &str,
) -> Result<(), SqlError> {
    let verifier = passwords
        .users
        .get(user)
        .cloned()
        .unwrap_or_else(|| Verifier::new(&BASE64.encode(random_bytes::<18>())));
    let accepted = match method {
        AuthMethod::Cleartext => {
            wire.send(B::Authentication(Authentication::CleartextPassword))?;
            wire.flush().await?;
            let password = password_message(wire)
                .await?
                .into_password()
                .map_err(protocol)?;
            verifier.accepts(&password.password)
        }
        AuthMethod::Scram => scram(wire, &verifier).await?,
    };
    if accepted && passwords.users.contains_key(user) {
        Ok(())
    } else {
        Err(SqlError::new(
            "28P01",
            format!("password authentication failed for user \"{user}\""),
        ))
    }
}

/// The SCRAM-SHA-256 exchange. Channel binding (SCRAM-SHA-256-PLUS) is not offered, so clients
/// send the `n` or `y` GS2 header.
async fn scram(wire: &mut Wire, verifier: &Verifier) -> Result<bool, SqlError> {
    wire.send(B::Authentication(Authentication::SASL(vec![
        "SCRAM-SHA-256".into(),
    ])))?;
    wire.flush().await?;
    let initial = password_message(wire)
        .await?
        .into_sasl_initial_response()
        .map_err(protocol)?;
    if initial.auth_method != "SCRAM-SHA-256" {
        return Err(bad_scram(format!(
            "unsupported SASL mechanism {}",
            initial.auth_method
        )));
    }
    let client_first = utf8(initial.data.as_deref().unwrap_or_default())?;
    // gs2-header = cbind-flag "," [authzid] "," ; the user name inside is ignored (libpq sends
    // none): the startup packet's user is the one authenticated.
    let (gs2_header, client_first_bare) = match client_first.splitn(3, ',').collect::<Vec<_>>()[..]
    {
        [flag @ ("n" | "y"), "", bare] => (format!("{flag},,"), bare.to_string()),
        [flag, ..] if flag.starts_with('p') => {
            return Err(bad_scram("channel binding was not offered".into()))
        }
        _ => return Err(bad_scram("malformed client-first-message".into())),
    };
    let client_nonce = attribute(&client_first_bare, 'r')
        .ok_or_else(|| bad_scram("client-first-message has no nonce".into()))?;
    let nonce = format!("{client_nonce}{}", BASE64.encode(random_bytes::<18>()));
    let server_first = format!(
        "r={nonce},s={},i={}",
        BASE64.encode(&verifier.salt),
        verifier.iterations
    );
    wire.send(B::Authentication(Authentication::SASLContinue(
        server_first.clone().into_bytes().into(),
    )))?;
    wire.flush().await?;

    let response = password_message(wire)
        .await?
        .into_sasl_response()
        .map_err(protocol)?;
    let client_final = utf8(&response.data)?;
    let (without_proof, proof) = client_final
        .rsplit_once(",p=")
        .ok_or_else(|| bad_scram("client-final-message has no proof".into()))?;
    if attribute(without_proof, 'c') != Some(BASE64.encode(gs2_header.as_bytes()).as_str())
        || attribute(without_proof, 'r') != Some(nonce.as_str())
    {
        return Err(bad_scram("client-final-message does not match".into()));
    }
    let proof: [u8; 32] = BASE64
        .decode(proof)
        .ok()
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| bad_scram("malformed proof".into()))?;
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let Some(server_signature) = verifier.check_proof(&auth_message, &proof) else {
        return Ok(false);
    };
    wire.send(B::Authentication(Authentication::SASLFinal(
        format!("v={}", BASE64.encode(server_signature))
            .into_bytes()
            .into(),
    )))?;
    Ok(true)
}

/// The client's next message, which must be a password message ('p').
async fn password_message(
    wire: &mut Wire,
) -> Result<pgwire::messages::startup::PasswordMessageFamily, SqlError> {
    match wire.read().await? {
        Some(F::PasswordMessageFamily(m)) => Ok(m),
        None => Err(SqlError::new(
            "08006",
            "the client closed the connection during authentication",
        )),
        Some(other) => Err(SqlError::new(
            "08P01",
            format!("expected a password message, got {other:?}"),
        )),
    }
}

/// The value of `name=` in a comma-separated SCRAM message.
fn attribute(message: &str, name: char) -> Option<&str> {
    message
        .split(',')
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
}

/// RFC 5802's SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2-HMAC-SHA-256
/// with one output block. Passwords are SASLprep-normalized when they can be, as PostgreSQL
/// does, and used as they are otherwise.
fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let normalized = stringprep::saslprep(password).unwrap_or_else(|_| password.into());
    let key = normalized.as_bytes();
    let mut u = {
        let mut mac = new_mac(key);
        mac.update(salt);
        mac.update(&1u32.to_be_bytes());
        <[u8; 32]>::from(mac.finalize().into_bytes())
    };
    let mut hi = u;
    for _ in 1..iterations {
        u = hmac(key, &u);
        hi.iter_mut().zip(u).for_each(|(h, u)| *h ^= u);
    }
    hi
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length")
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = new_mac(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // Without a random source there is no safe salt or nonce: better to stop than to guess.
    getrandom::fill(&mut b).expect("the operating system's random source is available");
    b
}

fn utf8(b: &[u8]) -> Result<&str, SqlError> {
    std::str::from_utf8(b).map_err(|_| bad_scram("message is not UTF-8".into()))
}

fn bad_scram(why: String) -> SqlError {
    SqlError::new("08P01", format!("malformed SCRAM message: {why}"))
}

fn protocol(e: pgwire::error::PgWireError) -> SqlError {
    SqlError::new("08P01", format!("invalid password message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_round_trip_and_check_passwords() {
        let v = Verifier::new("secret");
        let parsed = Verifier::parse(&v.to_string()).unwrap();
        assert!(parsed.accepts("secret"));
        assert!(!parsed.accepts("Secret"));
        assert!(Verifier::parse("SCRAM-SHA-256$0:AA==$AA==:AA==").is_none());
    }

    #[test]
    fn rfc7677_example_exchange() {
        // RFC 7677 section 3: user "user", password "pencil".
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = Verifier::with_salt("pencil", salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let proof: [u8; 32] = BASE64
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap()
            .try_into()
            .unwrap();
        let server = v
            .check_proof(auth_message, &proof)
            .expect("the proof holds");
        assert_eq!(
            BASE64.encode(server),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let mut wrong = proof;
        wrong[0] ^= 1;
        assert!(v.check_proof(auth_message, &wrong).is_none());
    }
}
