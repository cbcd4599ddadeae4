//! Phone credentials: server-side HTTP Digest (RFC 7616) and Basic (RFC 7617) checks.
//!
//! Phones authenticate their config fetches with a username and the tenant's phone password.
//! Digest is always offered (SHA-256 first, MD5 for firmware that knows nothing newer); Basic
//! only where the tenant allows it. Nonces come from this server alone and live in a bounded
//! table with their issue time and the highest `nc` accepted, so a captured request cannot be
//! played again and a nonce made up by a client is worthless.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use md5::Md5;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::miss::Miss;

/// Longest Authorization value looked at: real ones are a few hundred bytes, and a cap keeps
/// parsing and hashing cheap for whatever a client sends.
const MAX_HEADER_LEN: usize = 4096;

/// Random bytes per nonce: 144 bits, more than RFC 7616 needs to be unguessable, and a
/// multiple of 3 so the base64url form has no padding.
const NONCE_BYTES: usize = 18;

/// Basic credentials as phones send them: standard alphabet, with or without the `=` padding
/// (some firmware drops it, and padding carries no meaning).
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The username a phone must present and the passwords accepted with it.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The expected username.
    pub username: &'a str,
    /// Accepted passwords: the current one and, while a rotation is under way, the previous one.
    pub passwords: &'a [String],
}

// Hand-written so that passwords never reach a log line.
impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field(
                "passwords",
                &format_args!("[{} redacted]", self.passwords.len()),
            )
            .finish()
    }
}

/// The outcome of checking an Authorization header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The credentials are right and, for Digest, the nonce count had not been used.
    Accepted,
    /// No Authorization header: answer 401 with [`PhoneAuthenticator::challenge`].
    Missing,
    /// Refused; the reason is for logs only and never goes back to the phone.
    Rejected(Miss),
}

/// Digest hash algorithms accepted. The `-sess` variants are not: they are never offered in
/// [`PhoneAuthenticator::challenge`], so a client answering with one did not follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// Lowercase hex of the hash of `parts` joined by `:`, the building block of RFC 7616 §3.4.1.
    fn hash(self, parts: &[&str]) -> String {
        match self {
            Algorithm::Md5 => hash_hex::<Md5>(parts),
            Algorithm::Sha256 => hash_hex::<Sha256>(parts),
        }
    }

    /// `H(username:realm:password)`.
    fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.hash(&[username, realm, password])
    }

    /// `H(method:uri)` for `qop=auth`.
    fn ha2(self, method: &str, uri: &str) -> String {
        self.hash(&[method, uri])
    }

    /// The expected `response` for `qop=auth`: `H(HA1:nonce:nc:cnonce:auth:HA2)`.
    fn response(self, ha1: &str, nonce: &str, nc: &str, cnonce: &str, ha2: &str) -> String {
        self.hash(&[ha1, nonce, nc, cnonce, "auth", ha2])
    }
}

fn hash_hex<D: Digest>(parts: &[&str]) -> String {
    let mut hasher = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Constant-time equality whatever the lengths: `subtle` answers a length mismatch at once,
/// so both sides are hashed to the same length first.
fn secret_eq(a: &[u8], b: &[u8]) -> Choice {
    Sha256::digest(a)
        .as_slice()
        .ct_eq(Sha256::digest(b).as_slice())
}

/// What is remembered of one issued nonce.
struct NonceState {
    issued: Instant,
    /// Highest `nc` accepted so far; 0 before the first, and `nc=0` is never valid.
    last_nc: u32,
}

/// Issued nonces, and the order they were issued in so the oldest can be evicted in O(1).
/// Entries leave only by eviction: an expired nonce stays to be told apart from a made-up one.
#[derive(Default)]
struct NonceTable {
    by_nonce: HashMap<String, NonceState>,
    order: VecDeque<String>,
}

impl NonceTable {
    fn insert(&mut self, nonce: String, now: Instant, capacity: usize) {
        while self.order.len() >= capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.by_nonce.remove(&oldest);
                }
                None => break,
            }
        }
        self.by_nonce.insert(
            nonce.clone(),
            NonceState {
                issued: now,
                last_nc: 0,
            },
        );
        self.order.push_back(nonce);
    }
}

/// Issues Digest challenges and checks phones' Authorization headers against them.
pub struct PhoneAuthenticator {
    realm: String,
    /// Sent because some firmware wants one; it carries no state (the nonce does), so the
    /// value a client echoes is not checked.
    opaque: String,
    nonce_ttl: Duration,
    max_nonces: usize,
    nonces: Mutex<NonceTable>,
}

// Hand-written so that nonces, which are live credentials until they expire, stay out of logs.
impl fmt::Debug for PhoneAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneAuthenticator")
            .field("realm", &self.realm)
            .field("nonce_ttl", &self.nonce_ttl)
            .field("max_nonces", &self.max_nonces)
            .field("outstanding_nonces", &self.table().by_nonce.len())
            .finish_non_exhaustive()
    }
}

impl PhoneAuthenticator {
    /// An authenticator for `realm` whose nonces last `nonce_ttl`, remembering at most `max_nonces`.
    pub fn new(realm: &str, nonce_ttl: Duration, max_nonces: usize) -> Self {
        // Control characters cannot go into a header value; replacing them here keeps
        // `challenge` infallible and the realm compared in `verify` the same as the one sent.
        let realm = realm
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        PhoneAuthenticator {
            realm,
            opaque: random_token(),
            nonce_ttl,
            // A table of zero could never hold the nonce it just issued.
            max_nonces: max_nonces.max(1),
            nonces: Mutex::new(NonceTable::default()),
        }
    }

    /// All WWW-Authenticate header values of a 401: Digest SHA-256, Digest MD5 (same fresh nonce, qop="auth", opaque), and Basic — in that order.
    pub fn challenge(&self) -> Vec<HeaderValue> {
        self.challenge_at(Instant::now(), false)
    }

    /// [`Self::challenge`] for a request whose digest was right but whose nonce had expired:
    /// the Digest challenges say `stale=true`, so the phone retries with the new nonce without
    /// asking anyone for credentials (RFC 7616 §3.3).
    pub fn stale_challenge(&self) -> Vec<HeaderValue> {
        self.challenge_at(Instant::now(), true)
    }

    /// Checks an Authorization header value for `method` and request `uri` (path as sent).
    /// `allow_basic`: whether Basic is acceptable (tenant mode basic); Digest is always acceptable.
    pub(super) fn verify(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
        creds: &Credentials<'_>,
        allow_basic: bool,
    ) -> Verdict {
        self.verify_at(
            authorization,
            method,
            uri,
            creds,
            allow_basic,
            Instant::now(),
        )
    }

    /// [`Self::challenge`] with the clock passed in, so tests can age nonces without sleeping.
    fn challenge_at(&self, now: Instant, stale: bool) -> Vec<HeaderValue> {
        let nonce = random_token();
        self.table().insert(nonce.clone(), now, self.max_nonces);
        let realm = quote(&self.realm);
        let stale = if stale { ", stale=true" } else { "" };
        let digest = |algorithm: &str| {
            format!(
                "Digest realm={realm}, qop=\"auth\", algorithm={algorithm}, nonce=\"{nonce}\", opaque=\"{}\"{stale}",
                self.opaque
            )
        };
        [
            digest("SHA-256"),
            digest("MD5"),
            format!("Basic realm={realm}"),
        ]
        .into_iter()
        .map(|value| {
            HeaderValue::from_bytes(value.as_bytes())
                .expect("the realm has no control characters and the rest is ASCII")
        })
        .collect()
    }

    /// [`Self::verify`] with the clock passed in.
    fn verify_at(
        &self,
        authorization: Option<&str>,
        method: &str,
        uri: &str,
        creds: &Credentials<'_>,
        allow_basic: bool,
        now: Instant,
    ) -> Verdict {
        let Some(header) = authorization else {
            return Verdict::Missing;
        };
        let checked = match parse_authorization(header) {
            None => Err(Miss::CredentialsBadHeader),
            Some(Authorization::Digest(params)) => {
                self.check_digest(&params, method, uri, creds, now)
            }
            Some(Authorization::Basic(token)) => {
                if allow_basic {
                    check_basic(token, creds)
                } else {
                    Err(Miss::CredentialsUnsupported)
                }
            }
            Some(Authorization::Other(_)) => Err(Miss::CredentialsUnsupported),
        };
        match checked {
            Ok(()) => Verdict::Accepted,
            Err(reason) => Verdict::Rejected(reason),
        }
    }

    fn check_digest(
        &self,
        params: &[(String, String)],
        method: &str,
        uri: &str,
        creds: &Credentials<'_>,
        now: Instant,
    ) -> Result<(), Miss> {
        let DigestResponse {
            algorithm,
            username,
            realm,
            nonce,
            uri: header_uri,
            response,
            nc,
            nc_value,
            cnonce,
        } = DigestResponse::read(params)?;

        if realm != self.realm {
            return Err(Miss::CredentialsWrongRealm);
        }
        // The uri is part of HA2, but a response for another path must not be able to fetch
        // this one, so the header's uri must be the one actually requested.
        if header_uri != uri {
            return Err(Miss::CredentialsWrongUri);
        }
        if !bool::from(secret_eq(username.as_bytes(), creds.username.as_bytes())) {
            return Err(Miss::CredentialsWrongUsername);
        }

        // The hashing needs nothing from the table, so it is done before taking the lock.
        // Every password is tried, without stopping at a match, so timing says nothing of which.
        let ha2 = algorithm.ha2(method, uri);
        let presented = response.to_ascii_lowercase();
        let mut matched = Choice::from(0);
        for password in creds.passwords {
            let ha1 = algorithm.ha1(creds.username, &self.realm, password);
            let expected = algorithm.response(&ha1, nonce, nc, cnonce, &ha2);
            matched |= expected.as_bytes().ct_eq(presented.as_bytes());
        }

        // Checking and advancing nc under one lock is what makes each nc usable exactly once,
        // even for requests racing each other.
        let mut table = self.table();
        let state = table
            .by_nonce
            .get_mut(nonce)
            .ok_or(Miss::CredentialsUnknownNonce)?;
        if now.saturating_duration_since(state.issued) > self.nonce_ttl {
            // Stale only for a digest that was right: a wrong password is told nothing more.
            return Err(if bool::from(matched) {
                Miss::CredentialsStaleNonce
            } else {
                Miss::CredentialsWrongPassword
            });
        }
        // Strictly increasing, so a phone's requests racing on one connection may see a 401 and
        // retry; that is the price of not keeping a window of used values.
        if nc_value <= state.last_nc {
            return Err(Miss::CredentialsReplayed);
        }
        if !bool::from(matched) {
            // nc is not advanced: a wrong guess must not burn the phone's next count.
            return Err(Miss::CredentialsWrongPassword);
        }
        state.last_nc = nc_value;
        Ok(())
    }

    fn table(&self) -> MutexGuard<'_, NonceTable> {
        // Nothing panics while holding the lock, and the table is consistent between any two
        // statements, so a poisoned lock is still safe to use.
        self.nonces.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fields of a Digest Authorization header, in a mode this server offers.
struct DigestResponse<'a> {
    algorithm: Algorithm,
    username: &'a str,
    realm: &'a str,
    nonce: &'a str,
    uri: &'a str,
    response: &'a str,
    nc: &'a str,
    nc_value: u32,
    cnonce: &'a str,
}

impl<'a> DigestResponse<'a> {
    /// Reads the parsed auth-params of a Digest header: modes never offered are unsupported,
    /// missing or malformed fields a bad header.
    fn read(params: &'a [(String, String)]) -> Result<Self, Miss> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };

        // Hashed and non-ASCII usernames are only for clients the challenge invited to use them.
        if get("username*").is_some()
            || get("userhash").is_some_and(|v| !v.eq_ignore_ascii_case("false"))
        {
            return Err(Miss::CredentialsUnsupported);
        }
        // RFC 7616 §3.3: no algorithm means MD5.
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(_) => return Err(Miss::CredentialsUnsupported),
        };
        // No qop is RFC 2069 mode, which has no nc and so no replay protection; auth-int is
        // never offered.
        if !get("qop").is_some_and(|q| q.eq_ignore_ascii_case("auth")) {
            return Err(Miss::CredentialsUnsupported);
        }
        let (
            Some(username),
            Some(realm),
            Some(nonce),
            Some(uri),
            Some(response),
            Some(nc),
            Some(cnonce),
        ) = (
            get("username"),
            get("realm"),
            get("nonce"),
            get("uri"),
            get("response"),
            get("nc"),
            get("cnonce"),
        )
        else {
            return Err(Miss::CredentialsBadHeader);
        };
        let nc_value = parse_nc(nc).ok_or(Miss::CredentialsBadHeader)?;
        if nonce.is_empty() || cnonce.is_empty() {
            return Err(Miss::CredentialsBadHeader);
        }
        Ok(Self {
            algorithm,
            username,
            realm,
            nonce,
            uri,
            response,
            nc,
            nc_value,
            cnonce,
        })
    }
}

fn check_basic(token: &str, creds: &Credentials<'_>) -> Result<(), Miss> {
    if token.is_empty() || token.contains([' ', '\t']) {
        return Err(Miss::CredentialsBadHeader);
    }
    let decoded = BASIC_BASE64
        .decode(token)
        .map_err(|_| Miss::CredentialsBadHeader)?;
    // RFC 7617: the user-id cannot contain a colon, so the first one separates.
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or(Miss::CredentialsBadHeader)?;
    let (username, password) = (&decoded[..colon], &decoded[colon + 1..]);
    if !bool::from(secret_eq(username, creds.username.as_bytes())) {
        return Err(Miss::CredentialsWrongUsername);
    }
    let mut matched = Choice::from(0);
    for expected in creds.passwords {
        matched |= secret_eq(password, expected.as_bytes());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(Miss::CredentialsWrongPassword)
    }
}

/// A fresh unguessable value, base64url so it needs no escaping in a quoted string.
fn random_token() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `value` as an HTTP quoted-string.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The nonce count: hex, at most 8 digits (RFC 7616 sends exactly 8; shorter is tolerated, as
/// the response is hashed over the digits as sent and the count compared as a number).
fn parse_nc(nc: &str) -> Option<u32> {
    if nc.is_empty() || nc.len() > 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(nc, 16).ok()
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// An Authorization header value as read, before any credential in it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization<'a> {
    /// `Digest` (any case) and its auth-params: names lowercased, values unquoted, each name
    /// once, at least one.
    Digest(Vec<(String, String)>),
    /// `Basic` (any case) and what follows it, not yet decoded.
    Basic(&'a str),
    /// Any other scheme, which is never accepted; the scheme as sent.
    Other(&'a str),
}

/// Reads an Authorization header value the way [`PhoneAuthenticator`] does before checking it:
/// `None` for a value over 4 KiB, one with no scheme, or Digest parameters that do not parse.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    if header.len() > MAX_HEADER_LEN {
        return None;
    }
    let (scheme, rest) = split_scheme(header)?;
    Some(if scheme.eq_ignore_ascii_case("digest") {
        Authorization::Digest(parse_params(rest)?)
    } else if scheme.eq_ignore_ascii_case("basic") {
        Authorization::Basic(rest)
    } else {
        Authorization::Other(scheme)
    })
}

/// Splits `scheme SP rest`, trimming whitespace around both.
fn split_scheme(header: &str) -> Option<(&str, &str)> {
    let header = header.trim_matches([' ', '\t']);
    let end = header
        .bytes()
        .position(|b| !is_tchar(b))
        .unwrap_or(header.len());
    if end == 0 {
        return None;
    }
    let (scheme, rest) = header.split_at(end);
    // The scheme must end at whitespace or at the end ("Digest," is not a scheme).
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    Some((scheme, rest.trim_start_matches([' ', '\t'])))
}

/// Parses an auth-param list (RFC 9110 §11.2): `name = token / quoted-string`, separated by
/// commas with optional whitespace, empty elements allowed. Names are lowercased. `None` for
/// anything malformed, an empty list, or a name given twice (which value would count?).
fn parse_params(input: &str) -> Option<Vec<(String, String)>> {
    let b = input.as_bytes();
    let mut i = 0;
    let mut params: Vec<(String, String)> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && is_ws(b[*i]) {
            *i += 1;
        }
    };
    loop {
        while i < b.len() && (is_ws(b[i]) || b[i] == b',') {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let name = input[start..i].to_ascii_lowercase();
        skip_ws(&mut i);
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        skip_ws(&mut i);
        let value = if b.get(i) == Some(&b'"') {
            i += 1;
            let mut value = Vec::new();
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\\' => {
                        let escaped = *b.get(i + 1)?;
                        if !is_text(escaped) {
                            return None;
                        }
                        value.push(escaped);
                        i += 2;
                    }
                    c if is_text(c) => {
                        value.push(c);
                        i += 1;
                    }
                    _ => return None,
                }
            }
            // Only ASCII backslashes were dropped from valid UTF-8, so this cannot fail; the
            // check stays rather than an unwrap.
            String::from_utf8(value).ok()?
        } else {
            let start = i;
            while i < b.len() && is_tchar(b[i]) {
                i += 1;
            }
            if i == start {
                return None;
            }
            input[start..i].to_owned()
        };
        skip_ws(&mut i);
        if i < b.len() && b[i] != b',' {
            return None;
        }
        if params.iter().any(|(n, _)| *n == name) {
            return None;
        }
        params.push((name, value));
    }
    (!params.is_empty()).then_some(params)
}

/// Bytes allowed inside a quoted-string: tab, visible ASCII and space, and non-ASCII (obs-text).
fn is_text(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REALM: &str = "deskprov";
    const USER: &str = "phone-0004f2aabbcc";
    const URI: &str = "/cfg/0004f2aabbcc.xml";
    const TTL: Duration = Duration::from_secs(300);

    fn passwords() -> Vec<String> {
        vec!["new-secret".to_owned(), "old-secret".to_owned()]
    }

    fn auth() -> PhoneAuthenticator {
        PhoneAuthenticator::new(REALM, TTL, 64)
    }

    /// Hashes as a phone would, independently of the module's own code.
    fn client_hash(algorithm: &str, input: &str) -> String {
        match algorithm {
            "MD5" => hex::encode(Md5::digest(input.as_bytes())),
            "SHA-256" => hex::encode(Sha256::digest(input.as_bytes())),
            other => panic!("test client has no {other}"),
        }
    }

    /// A quoted-string parameter of a challenge, as a simple phone would read it (no escapes).
    fn challenge_param(challenge: &str, name: &str) -> String {
        let start = challenge
            .find(&format!("{name}=\""))
            .unwrap_or_else(|| panic!("no {name} in {challenge}"))
            + name.len()
            + 2;
        let len = challenge[start..].find('"').expect("closing quote");
        challenge[start..start + len].to_owned()
    }

    /// A test phone: answers a 401 the way RFC 7616 §3.4 says a client does.
    struct Phone<'a> {
        algorithm: &'a str,
        username: &'a str,
        password: &'a str,
        method: &'a str,
        uri: &'a str,
        cnonce: &'a str,
    }

    impl Phone<'_> {
        fn new(algorithm: &str) -> Phone<'_> {
            Phone {
                algorithm,
                username: USER,
                password: "new-secret",
                method: "GET",
                uri: URI,
                cnonce: "0a4f113b",
            }
        }

        /// Picks the Digest challenge of its algorithm and answers it with count `nc`.
        fn answer(&self, challenges: &[HeaderValue], nc: u32) -> String {
            let challenge = challenges
                .iter()
                .map(|v| v.to_str().expect("ASCII challenge"))
                .find(|c| {
                    c.starts_with("Digest ")
                        && c.contains(&format!("algorithm={},", self.algorithm))
                })
                .expect("a challenge for the phone's algorithm");
            let realm = challenge_param(challenge, "realm");
            let nonce = challenge_param(challenge, "nonce");
            self.answer_nonce(&realm, &nonce, nc)
        }

        /// The Authorization value for `nonce` in `realm`.
        fn answer_nonce(&self, realm: &str, nonce: &str, nc: u32) -> String {
            let nc = format!("{nc:08x}");
            let ha1 = client_hash(
                self.algorithm,
                &format!("{}:{realm}:{}", self.username, self.password),
            );
            let ha2 = client_hash(self.algorithm, &format!("{}:{}", self.method, self.uri));
            let response = client_hash(
                self.algorithm,
                &format!("{ha1}:{nonce}:{nc}:{}:auth:{ha2}", self.cnonce),
            );
            format!(
                "Digest username={}, realm={}, nonce={}, uri={}, algorithm={}, qop=auth, nc={nc}, cnonce={}, response=\"{response}\", opaque=\"x\"",
                quote(self.username),
                quote(realm),
                quote(nonce),
                quote(self.uri),
                self.algorithm,
                quote(self.cnonce),
            )
        }
    }

    fn check(auth: &PhoneAuthenticator, header: &str) -> Verdict {
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        auth.verify(Some(header), "GET", URI, &creds, false)
    }

    fn nonce_of(challenges: &[HeaderValue]) -> String {
        challenge_param(challenges[0].to_str().unwrap(), "nonce")
    }

    // RFC 7616 §3.9.1, computed by the module's own hashing.
    const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc_response(algorithm: Algorithm) -> String {
        let ha1 = algorithm.ha1("Mufasa", "http-auth@example.org", "Circle of Life");
        let ha2 = algorithm.ha2("GET", "/dir/index.html");
        algorithm.response(&ha1, RFC_NONCE, "00000001", RFC_CNONCE, &ha2)
    }

    #[test]
    fn rfc7616_md5_vector() {
        assert_eq!(
            rfc_response(Algorithm::Md5),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc7616_sha256_vector() {
        assert_eq!(
            rfc_response(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn test_phone_matches_rfc7616_vector() {
        // The test client must be right too, or the tests below would prove nothing.
        for (algorithm, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let phone = Phone {
                algorithm,
                username: "Mufasa",
                password: "Circle of Life",
                method: "GET",
                uri: "/dir/index.html",
                cnonce: RFC_CNONCE,
            };
            let header = phone.answer_nonce("http-auth@example.org", RFC_NONCE, 1);
            assert!(
                header.contains(&format!("response=\"{expected}\"")),
                "{header}"
            );
        }
    }

    #[test]
    fn challenge_offers_sha256_md5_basic_with_one_fresh_nonce() {
        let auth = auth();
        let challenges = auth.challenge();
        assert_eq!(challenges.len(), 3);
        let [sha, md5, basic] = [0, 1, 2].map(|i| challenges[i].to_str().unwrap().to_owned());
        assert!(sha.starts_with("Digest ") && sha.contains("algorithm=SHA-256,"));
        assert!(md5.starts_with("Digest ") && md5.contains("algorithm=MD5,"));
        assert_eq!(basic, "Basic realm=\"deskprov\"");
        for digest in [&sha, &md5] {
            assert!(digest.contains("realm=\"deskprov\""));
            assert!(digest.contains("qop=\"auth\""));
            assert!(!challenge_param(digest, "opaque").is_empty());
        }
        let nonce = challenge_param(&sha, "nonce");
        assert_eq!(nonce, challenge_param(&md5, "nonce"));
        assert!(nonce.len() >= 22, "16+ random bytes: {nonce}");
        assert!(
            nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(
            nonce,
            nonce_of(&auth.challenge()),
            "each 401 gets a new nonce"
        );
    }

    #[test]
    fn sha256_accepted() {
        let auth = auth();
        let header = Phone::new("SHA-256").answer(&auth.challenge(), 1);
        assert_eq!(check(&auth, &header), Verdict::Accepted);
    }

    #[test]
    fn md5_accepted() {
        let auth = auth();
        let header = Phone::new("MD5").answer(&auth.challenge(), 1);
        assert_eq!(check(&auth, &header), Verdict::Accepted);
    }

    #[test]
    fn no_algorithm_means_md5() {
        let auth = auth();
        let header = Phone::new("MD5")
            .answer(&auth.challenge(), 1)
            .replace(" algorithm=MD5,", "");
        assert!(!header.contains("algorithm"));
        assert_eq!(check(&auth, &header), Verdict::Accepted);
    }

    #[test]
    fn same_nc_replayed_is_refused() {
        let auth = auth();
        let header = Phone::new("SHA-256").answer(&auth.challenge(), 1);
        assert_eq!(check(&auth, &header), Verdict::Accepted);
        assert_eq!(
            check(&auth, &header),
            Verdict::Rejected(Miss::CredentialsReplayed)
        );
    }

    #[test]
    fn nc_must_keep_rising() {
        let auth = auth();
        let challenges = auth.challenge();
        let phone = Phone::new("SHA-256");
        assert_eq!(
            check(&auth, &phone.answer(&challenges, 1)),
            Verdict::Accepted
        );
        assert_eq!(
            check(&auth, &phone.answer(&challenges, 5)),
            Verdict::Accepted
        );
        assert_eq!(
            check(&auth, &phone.answer(&challenges, 3)),
            Verdict::Rejected(Miss::CredentialsReplayed),
            "lower than the last accepted"
        );
        assert_eq!(
            check(&auth, &phone.answer(&challenges, 6)),
            Verdict::Accepted
        );
        // The other algorithm shares the nonce, and so its count.
        assert_eq!(
            check(&auth, &Phone::new("MD5").answer(&challenges, 6)),
            Verdict::Rejected(Miss::CredentialsReplayed)
        );
        assert_eq!(
            check(&auth, &Phone::new("MD5").answer(&challenges, 7)),
            Verdict::Accepted
        );
    }

    #[test]
    fn nc_zero_is_refused() {
        let auth = auth();
        let header = Phone::new("SHA-256").answer(&auth.challenge(), 0);
        assert_eq!(
            check(&auth, &header),
            Verdict::Rejected(Miss::CredentialsReplayed)
        );
    }

    #[test]
    fn wrong_password_does_not_use_up_the_count() {
        let auth = auth();
        let challenges = auth.challenge();
        let mut attacker = Phone::new("SHA-256");
        attacker.password = "guess";
        assert_eq!(
            check(&auth, &attacker.answer(&challenges, 1)),
            Verdict::Rejected(Miss::CredentialsWrongPassword)
        );
        let phone = Phone::new("SHA-256");
        assert_eq!(
            check(&auth, &phone.answer(&challenges, 1)),
            Verdict::Accepted
        );
    }

    #[test]
    fn racing_requests_with_one_nc_are_accepted_once() {
        let auth = auth();
        let header = Phone::new("SHA-256").answer(&auth.challenge(), 1);
        let accepted = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| check(&auth, &header))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|v| *v == Verdict::Accepted)
                .count()
        });
        assert_eq!(accepted, 1);
    }

    #[test]
    fn expired_nonce_is_stale() {
        let auth = auth();
        let issued = Instant::now();
        let challenges = auth.challenge_at(issued, false);
        let phone = Phone::new("SHA-256");
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        let at = |header: &str, now| auth.verify_at(Some(header), "GET", URI, &creds, false, now);
        assert_eq!(
            at(&phone.answer(&challenges, 1), issued + TTL),
            Verdict::Accepted
        );
        assert_eq!(
            at(
                &phone.answer(&challenges, 2),
                issued + TTL + Duration::from_millis(1)
            ),
            Verdict::Rejected(Miss::CredentialsStaleNonce)
        );
        let wrong = Phone {
            password: "not-the-password",
            ..Phone::new("SHA-256")
        };
        assert_eq!(
            at(
                &wrong.answer(&challenges, 3),
                issued + TTL + Duration::from_millis(1)
            ),
            Verdict::Rejected(Miss::CredentialsWrongPassword),
            "an expired nonce with a wrong password is not stale"
        );
    }

    #[test]
    fn only_a_stale_challenge_says_stale() {
        let auth = auth();
        let digests = |values: Vec<HeaderValue>| -> Vec<String> {
            values
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .filter(|v| v.starts_with("Digest"))
                .collect()
        };
        assert!(
            digests(auth.challenge())
                .iter()
                .all(|v| !v.contains("stale"))
        );
        let stale = digests(auth.stale_challenge());
        assert_eq!(stale.len(), 2);
        assert!(
            stale.iter().all(|v| v.ends_with(", stale=true")),
            "{stale:?}"
        );
    }

    #[test]
    fn expired_nonce_is_stale_on_the_real_clock() {
        let auth = PhoneAuthenticator::new(REALM, Duration::from_millis(20), 8);
        let header = Phone::new("MD5").answer(&auth.challenge(), 1);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            check(&auth, &header),
            Verdict::Rejected(Miss::CredentialsStaleNonce)
        );
    }

    #[test]
    fn made_up_nonce_is_unknown() {
        let auth = auth();
        auth.challenge();
        let header = Phone::new("SHA-256").answer_nonce(REALM, "AAAAAAAAAAAAAAAAAAAAAAAA", 1);
        assert_eq!(
            check(&auth, &header),
            Verdict::Rejected(Miss::CredentialsUnknownNonce)
        );
        // Another server's (or an earlier process's) nonce is just as unknown.
        let other = PhoneAuthenticator::new(REALM, TTL, 8);
        let header = Phone::new("SHA-256").answer(&other.challenge(), 1);
        assert_eq!(
            check(&auth, &header),
            Verdict::Rejected(Miss::CredentialsUnknownNonce)
        );
    }

    #[test]
    fn full_table_evicts_the_oldest() {
        let auth = PhoneAuthenticator::new(REALM, TTL, 2);
        let phone = Phone::new("SHA-256");
        let first = auth.challenge();
        let second = auth.challenge();
        let third = auth.challenge();
        assert_eq!(
            check(&auth, &phone.answer(&first, 1)),
            Verdict::Rejected(Miss::CredentialsUnknownNonce)
        );
        assert_eq!(check(&auth, &phone.answer(&second, 1)), Verdict::Accepted);
        assert_eq!(check(&auth, &phone.answer(&third, 1)), Verdict::Accepted);
        assert_eq!(auth.table().by_nonce.len(), 2);
        assert_eq!(auth.table().order.len(), 2);
    }

    #[test]
    fn zero_capacity_still_keeps_the_latest_nonce() {
        let auth = PhoneAuthenticator::new(REALM, TTL, 0);
        let header = Phone::new("SHA-256").answer(&auth.challenge(), 1);
        assert_eq!(check(&auth, &header), Verdict::Accepted);
    }

    #[test]
    fn wrong_username_with_right_password_is_refused() {
        let auth = auth();
        let mut phone = Phone::new("SHA-256");
        phone.username = "phone-0004f2aabbcd";
        assert_eq!(
            check(&auth, &phone.answer(&auth.challenge(), 1)),
            Verdict::Rejected(Miss::CredentialsWrongUsername)
        );
    }

    #[test]
    fn wrong_password_is_refused() {
        let auth = auth();
        let mut phone = Phone::new("MD5");
        phone.password = "new-secreT";
        assert_eq!(
            check(&auth, &phone.answer(&auth.challenge(), 1)),
            Verdict::Rejected(Miss::CredentialsWrongPassword)
        );
    }

    #[test]
    fn response_for_another_uri_is_refused() {
        let auth = auth();
        let mut phone = Phone::new("SHA-256");
        phone.uri = "/cfg/0004f2aabbcd.xml";
        assert_eq!(
            check(&auth, &phone.answer(&auth.challenge(), 1)),
            Verdict::Rejected(Miss::CredentialsWrongUri)
        );
    }

    #[test]
    fn response_for_another_method_is_refused() {
        // The method is only in HA2, so a GET's response cannot authorize a PUT.
        let auth = auth();
        let header = Phone::new("SHA-256").answer(&auth.challenge(), 1);
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        assert_eq!(
            auth.verify(Some(&header), "PUT", URI, &creds, false),
            Verdict::Rejected(Miss::CredentialsWrongPassword)
        );
    }

    #[test]
    fn wrong_realm_is_refused() {
        let auth = auth();
        let nonce = nonce_of(&auth.challenge());
        let header = Phone::new("SHA-256").answer_nonce("elsewhere", &nonce, 1);
        assert_eq!(
            check(&auth, &header),
            Verdict::Rejected(Miss::CredentialsWrongRealm)
        );
    }

    #[test]
    fn rotation_password_is_accepted() {
        let auth = auth();
        let challenges = auth.challenge();
        let mut phone = Phone::new("SHA-256");
        phone.password = "old-secret";
        assert_eq!(
            check(&auth, &phone.answer(&challenges, 1)),
            Verdict::Accepted
        );
        phone.password = "new-secret";
        assert_eq!(
            check(&auth, &phone.answer(&challenges, 2)),
            Verdict::Accepted
        );
    }

    #[test]
    fn no_passwords_accepts_nothing() {
        let auth = auth();
        let header = Phone::new("SHA-256").answer(&auth.challenge(), 1);
        let creds = Credentials {
            username: USER,
            passwords: &[],
        };
        assert_eq!(
            auth.verify(Some(&header), "GET", URI, &creds, true),
            Verdict::Rejected(Miss::CredentialsWrongPassword)
        );
    }

    #[test]
    fn unsupported_digest_variants_are_refused() {
        let auth = auth();
        let header = Phone::new("MD5").answer(&auth.challenge(), 1);
        for (from, to) in [
            ("algorithm=MD5,", "algorithm=MD5-sess,"),
            ("algorithm=MD5,", "algorithm=SHA-256-sess,"),
            ("algorithm=MD5,", "algorithm=SHA-512-256,"),
            ("qop=auth,", "qop=auth-int,"),
            ("qop=auth,", ""),
            ("opaque=", "userhash=true, opaque="),
            ("username=", "username*=UTF-8''x, username="),
        ] {
            let changed = header.replace(from, to);
            assert_ne!(changed, header);
            assert_eq!(
                check(&auth, &changed),
                Verdict::Rejected(Miss::CredentialsUnsupported),
                "{changed}"
            );
        }
        // None of these used the count up.
        assert_eq!(check(&auth, &header), Verdict::Accepted);
    }

    #[test]
    fn other_schemes_are_unsupported() {
        let auth = auth();
        assert_eq!(
            check(&auth, "Bearer abc.def"),
            Verdict::Rejected(Miss::CredentialsUnsupported)
        );
        assert_eq!(
            check(&auth, "Negotiate"),
            Verdict::Rejected(Miss::CredentialsUnsupported)
        );
    }

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn basic_accepted_only_when_allowed() {
        let auth = auth();
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        let verify = |header: &str, allow| auth.verify(Some(header), "GET", URI, &creds, allow);
        let right = basic(USER, "new-secret");
        assert_eq!(verify(&right, true), Verdict::Accepted);
        assert_eq!(
            verify(&right, false),
            Verdict::Rejected(Miss::CredentialsUnsupported)
        );
        assert_eq!(verify(&basic(USER, "old-secret"), true), Verdict::Accepted);
        assert_eq!(
            verify(&right.replacen("Basic", "bAsIc", 1), true),
            Verdict::Accepted
        );
        assert_eq!(
            verify(right.trim_end_matches('='), true),
            Verdict::Accepted,
            "padding is optional"
        );
        // A password containing a colon: only the first colon separates.
        let colon = ["pass:word".to_owned()];
        let colon_creds = Credentials {
            username: USER,
            passwords: &colon,
        };
        assert_eq!(
            auth.verify(
                Some(&basic(USER, "pass:word")),
                "GET",
                URI,
                &colon_creds,
                true
            ),
            Verdict::Accepted
        );
    }

    #[test]
    fn basic_refusals() {
        let auth = auth();
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        let verify = |header: &str| auth.verify(Some(header), "GET", URI, &creds, true);
        assert_eq!(
            verify(&basic(USER, "wrong")),
            Verdict::Rejected(Miss::CredentialsWrongPassword)
        );
        assert_eq!(
            verify(&basic("someone", "new-secret")),
            Verdict::Rejected(Miss::CredentialsWrongUsername)
        );
        assert_eq!(
            verify(&basic(USER, "")),
            Verdict::Rejected(Miss::CredentialsWrongPassword)
        );
        for garbage in [
            "Basic",
            "Basic ",
            "Basic !!!!",
            "Basic bm9jb2xvbg==", // "nocolon"
            "Basic dXNl cjpw",
        ] {
            assert_eq!(
                verify(garbage),
                Verdict::Rejected(Miss::CredentialsBadHeader),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn missing_header_is_missing() {
        let auth = auth();
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        assert_eq!(
            auth.verify(None, "GET", URI, &creds, true),
            Verdict::Missing
        );
    }

    #[test]
    fn garbage_is_bad_header() {
        let auth = auth();
        for garbage in [
            "",
            "   ",
            "Digest",
            "Digest ",
            "Digest ,,",
            "Digest,username=\"x\"",
            "\"Digest\" username=x",
            "Digest username",
            "Digest username=",
            "Digest =x",
            "Digest username=\"unterminated",
            "Digest username=\"x\\",
            "Digest username=\"x\" realm=\"y\"",
            "Digest username=a b",
            "Digest username=\"a\u{1}b\"",
            "Digest username=\"a\", USERNAME=\"b\"",
            "Digest username=\"a\"junk",
            "Digest username=x;y",
            "Digest realm=\"deskprov\", qop=auth",
        ] {
            assert_eq!(
                check(&auth, garbage),
                Verdict::Rejected(Miss::CredentialsBadHeader),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn malformed_fields_are_bad_header() {
        let auth = auth();
        let header = Phone::new("MD5").answer(&auth.challenge(), 1);
        for (from, to) in [
            ("nc=00000001", "nc=+0000001"),
            ("nc=00000001", "nc=000000001"),
            ("nc=00000001", "nc=0000000g"),
            ("nc=00000001", "nc=\"\""),
            ("cnonce=\"0a4f113b\"", "cnonce=\"\""),
            ("cnonce=\"0a4f113b\", ", ""),
        ] {
            let changed = header.replace(from, to);
            assert_ne!(changed, header);
            assert_eq!(
                check(&auth, &changed),
                Verdict::Rejected(Miss::CredentialsBadHeader),
                "{changed}"
            );
        }
        assert_eq!(check(&auth, &header), Verdict::Accepted);
    }

    #[test]
    fn header_over_4_kib_is_bad_header() {
        let auth = auth();
        let challenges = auth.challenge();
        let base_len = Phone::new("SHA-256").answer(&challenges, 1).len();
        let cnonce = "c".repeat(MAX_HEADER_LEN - base_len + "0a4f113b".len());
        let mut phone = Phone::new("SHA-256");
        phone.cnonce = &cnonce;
        let at_limit = phone.answer(&challenges, 1);
        assert_eq!(at_limit.len(), MAX_HEADER_LEN);
        assert_eq!(check(&auth, &at_limit), Verdict::Accepted);
        let cnonce = format!("{cnonce}c");
        phone.cnonce = &cnonce;
        let over = phone.answer(&challenges, 2);
        assert_eq!(over.len(), MAX_HEADER_LEN + 1);
        assert_eq!(
            check(&auth, &over),
            Verdict::Rejected(Miss::CredentialsBadHeader)
        );
    }

    #[test]
    fn parsing_is_lenient_where_http_allows() {
        let auth = auth();
        let challenges = auth.challenge();
        let nonce = nonce_of(&challenges);
        // Commas, quotes and backslashes inside quoted values, escaped in the header.
        let mut phone = Phone::new("SHA-256");
        phone.uri = "/cfg/a,b.xml?x=\"1\"";
        phone.cnonce = "c\\n,o\"n=c e";
        let header = phone.answer_nonce(REALM, &nonce, 1);
        assert!(header.contains(r#"cnonce="c\\n,o\"n=c e""#), "{header}");
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        assert_eq!(
            auth.verify(Some(&header), "GET", phone.uri, &creds, false),
            Verdict::Accepted
        );

        // Odd case, spacing, tabs, empty list elements, quoted tokens, uppercase hex response.
        let plain = Phone::new("SHA-256").answer_nonce(REALM, &nonce, 2);
        let response = challenge_param(&plain, "response");
        let header = format!(
            "  dIgEsT\t , USERNAME = \"{USER}\" ,Realm=\"{REALM}\",,\tNonce=\"{nonce}\", URI=\"{URI}\", \
             Algorithm=\"sha-256\", QOP=\"AUTH\", NC=00000002, CNonce=\"0a4f113b\", \
             Response=\"{}\" ,  ",
            response.to_ascii_uppercase()
        );
        assert_eq!(check(&auth, &header), Verdict::Accepted, "{header}");
    }

    #[test]
    fn authorization_values_read_by_scheme() {
        assert_eq!(
            parse_authorization("  dIgEsT\tUserName = \"a\\\"b\" ,, nc=01 "),
            Some(Authorization::Digest(vec![
                ("username".to_owned(), "a\"b".to_owned()),
                ("nc".to_owned(), "01".to_owned()),
            ]))
        );
        assert_eq!(
            parse_authorization("Basic dXNlcjpwdw=="),
            Some(Authorization::Basic("dXNlcjpwdw=="))
        );
        assert_eq!(
            parse_authorization("Bearer abc.def"),
            Some(Authorization::Other("Bearer"))
        );
        for bad in ["", "Digest", "Digest,x=1", "Digest x", "\"Basic\" x"] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
        let long = format!("Basic {}", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(parse_authorization(&long), None);
    }

    #[test]
    fn realm_is_quoted_and_cleaned_in_the_challenge() {
        let auth = PhoneAuthenticator::new("Main \"Office\" \\ 1\u{7}é", TTL, 8);
        let challenges = auth.challenge();
        let sent = challenges[0].as_bytes();
        let params = parse_params(std::str::from_utf8(&sent[b"Digest ".len()..]).unwrap())
            .expect("our own challenge parses");
        let realm = &params.iter().find(|(n, _)| n == "realm").unwrap().1;
        assert_eq!(realm, "Main \"Office\" \\ 1_é");
        let nonce = &params.iter().find(|(n, _)| n == "nonce").unwrap().1;
        let header = Phone::new("SHA-256").answer_nonce(realm, nonce, 1);
        assert_eq!(check(&auth, &header), Verdict::Accepted);
        assert_eq!(
            challenges[2].as_bytes(),
            "Basic realm=\"Main \\\"Office\\\" \\\\ 1_é\"".as_bytes()
        );
    }

    #[test]
    fn debug_prints_no_nonce_or_password() {
        let auth = auth();
        let nonce = nonce_of(&auth.challenge());
        let shown = format!("{auth:?}");
        assert!(!shown.contains(&nonce), "{shown}");
        assert!(!shown.contains(&auth.opaque), "{shown}");
        assert!(shown.contains("outstanding_nonces: 1"), "{shown}");
        let passwords = passwords();
        let creds = Credentials {
            username: USER,
            passwords: &passwords,
        };
        let shown = format!("{creds:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    proptest! {
        #[test]
        fn any_string_never_panics_nor_passes(header in any::<String>(), allow_basic in any::<bool>()) {
            let auth = auth();
            auth.challenge();
            let passwords = passwords();
            let creds = Credentials { username: USER, passwords: &passwords };
            let verdict = auth.verify(Some(&header), "GET", URI, &creds, allow_basic);
            prop_assert_ne!(verdict, Verdict::Accepted);
        }

        #[test]
        fn header_like_strings_never_panic(
            scheme in prop::sample::select(vec!["Digest ", "digest\t", "Basic ", "DIGEST", ""]),
            body in r#"[a-zA-Z0-9=,"\\ \t\x00-\x1f\x7fé:/+-]{0,200}"#,
        ) {
            let auth = auth();
            auth.challenge();
            let passwords = passwords();
            let creds = Credentials { username: USER, passwords: &passwords };
            let header = format!("{scheme}{body}");
            let verdict = auth.verify(Some(&header), "GET", URI, &creds, true);
            prop_assert_ne!(verdict, Verdict::Accepted);
        }

        #[test]
        fn quoted_values_round_trip(value in r"[^\x00-\x08\x0a-\x1f\x7f]{0,64}") {
            let parsed = parse_params(&format!("a=b, name = {} ,c=d", quote(&value))).unwrap();
            prop_assert_eq!(&parsed[1], &("name".to_owned(), value));
        }
    }
}
