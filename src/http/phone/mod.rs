//! The phone-facing side: `GET /{file}` and `GET /{url_key}/{file}`.
//!
//! Every answer that is not a file is the same 404 whatever the reason (unknown MAC, wrong
//! tenant key, address not allowed, enrollment expired, UA mismatch), so a prober learns nothing.
//! Internal errors are a bare 500: never a default or partial file. Phones may also `PUT` the
//! files their profile lists as uploads (logs), for their own MAC only.

mod bans;
mod upload;

pub use bans::{BanList, BanPolicy};

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

use chrono::Utc;

use super::AppState;
use super::client_ip::client_ip;
use crate::domain::phone_auth::PhoneAuthMode;
use std::sync::Arc;

use crate::server::Scheme;
use crate::server::tls::PeerCert;
use crate::store::devices::{self, DeviceBundle};
use crate::store::fetches::FetchRecord;
use crate::store::tenants::{self, Tenant};
use crate::store::uploads;
use crate::vendor::provision::{render_common_file, render_device_file};
use crate::vendor::{FileMatch, FileSpec, Rendered, UaInfo};

/// The phone listener's router.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(fetch).with_state(state)
}

/// Why a request was not served a file; recorded and logged, never told to the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    BadPath,
    NoSuchFile,
    UnknownDevice,
    WrongKey,
    AddressNotAllowed,
    EnrollmentExpired,
    VendorMismatch,
    UaMacMismatch,
    AuthNotSupported,
    NoClientCert,
    CertMismatch,
    CertChanged,
}

impl Miss {
    /// Whether the miss says something about a device identity, and so counts toward a ban.
    /// Names no profile knows are not counted: phones ask for firmware and files we do not serve.
    fn counts(self) -> bool {
        !matches!(self, Miss::NoSuchFile)
    }

    fn as_str(self) -> &'static str {
        match self {
            Miss::BadPath => "bad_path",
            Miss::NoSuchFile => "no_such_file",
            Miss::UnknownDevice => "unknown_device",
            Miss::WrongKey => "wrong_key",
            Miss::AddressNotAllowed => "address_not_allowed",
            Miss::EnrollmentExpired => "enrollment_expired",
            Miss::VendorMismatch => "vendor_mismatch",
            Miss::UaMacMismatch => "ua_mac_mismatch",
            Miss::AuthNotSupported => "auth_mode_not_served",
            Miss::NoClientCert => "client_cert_required",
            Miss::CertMismatch => "cert_identity_mismatch",
            Miss::CertChanged => "cert_changed_since_binding",
        }
    }
}

/// What the handler learnt about a request, for the fetch record.
struct Fetch {
    ip: IpAddr,
    /// `scheme://host[:port]` the phone used (or the configured public URL), no key.
    base_url: Option<String>,
    /// `base_url` plus the URL key when the request carried one: what templates see.
    server_url: String,
    ua: Option<String>,
    ua_info: Option<UaInfo>,
    file: String,
    mac: Option<String>,
    vendor: Option<String>,
    device_id: Option<i64>,
    /// The client certificate of the connection, if any.
    cert: Option<Arc<PeerCert>>,
}

enum Outcome {
    Served(Rendered),
    Banned,
    Stored,
    TooLarge,
    Missed(Miss),
    Failed(String),
}

async fn fetch(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let method = request.method().clone();
    let headers = request.headers().clone();
    let scheme = request
        .extensions()
        .get::<Scheme>()
        .copied()
        .unwrap_or(Scheme::Http);
    let base_url = state
        .public_url
        .clone()
        .or_else(|| request_base_url(scheme, &headers));
    let path = request.uri().path().to_owned();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut fetch = Fetch {
        ip: client_ip(peer, &headers, &state.trusted_proxies),
        base_url,
        server_url: String::new(),
        ua_info: ua.as_deref().and_then(|ua| state.vendors.parse_ua(ua)),
        ua,
        file: path.trim_start_matches('/').chars().take(128).collect(),
        mac: None,
        vendor: None,
        device_id: None,
        cert: request.extensions().get::<Arc<PeerCert>>().cloned(),
    };
    let outcome = match method {
        _ if state.bans.is_banned(fetch.ip, Instant::now()) => Outcome::Banned,
        Method::GET | Method::HEAD => serve(&state, &path, &mut fetch).await,
        Method::PUT => upload::receive(&state, &path, &mut fetch, request.into_body()).await,
        _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    let response = respond(&outcome, &headers, method == Method::HEAD);
    record(&state, fetch, &outcome, response.status());
    response
}

async fn serve(state: &AppState, path: &str, fetch: &mut Fetch) -> Outcome {
    let Some((key, name)) = split_path(path) else {
        return Outcome::Missed(Miss::BadPath);
    };
    fetch.file = name.to_owned();
    let Some(base) = &fetch.base_url else {
        return Outcome::Missed(Miss::BadPath);
    };
    fetch.server_url = match key {
        Some(key) => format!("{base}/{key}"),
        None => base.clone(),
    };
    let matches = state.vendors.match_file(name);
    if matches.is_empty() {
        return Outcome::Missed(Miss::NoSuchFile);
    }
    let device_mac = matches.iter().find_map(|m| m.mac);
    match device_mac {
        Some(mac) => {
            fetch.mac = Some(mac.lower12());
            let bundle = match state.store.read(move |c| devices::bundle(c, &mac)).await {
                Ok(Some(b)) => b,
                Ok(None) => return Outcome::Missed(Miss::UnknownDevice),
                Err(e) => return Outcome::Failed(e.to_string()),
            };
            serve_device(state, key, &matches, bundle, fetch).await
        }
        None => serve_common(state, key, &matches, fetch).await,
    }
}

async fn serve_device(
    state: &AppState,
    key: Option<&str>,
    matches: &[FileMatch<'_>],
    mut bundle: DeviceBundle,
    fetch: &mut Fetch,
) -> Outcome {
    fetch.vendor = Some(bundle.device.vendor.clone());
    if let Err(miss) = device_gate(&bundle, key, fetch) {
        return Outcome::Missed(miss);
    }
    let Some(matched) = matches
        .iter()
        .find(|m| m.vendor.id() == bundle.device.vendor)
    else {
        return Outcome::Missed(Miss::VendorMismatch);
    };
    if let Some(model) = fetch.ua_info.as_ref().and_then(|ua| ua.model.clone()) {
        bundle.device.seen_model = Some(model);
    }
    fetch.device_id = Some(bundle.device.id);
    if matched.file.prefer_upload {
        match stored_upload(state, bundle.device.id, &fetch.file, matched.file).await {
            Ok(Some(rendered)) => return Outcome::Served(rendered),
            Ok(None) => {}
            Err(detail) => return Outcome::Failed(detail),
        }
    }
    match render_device_file(
        &bundle,
        matched.vendor,
        matched.file,
        &fetch.server_url,
        false,
    ) {
        Ok((rendered, plan)) => {
            if !plan.overflow.is_empty() {
                tracing::warn!(
                    mac = %bundle.device.mac,
                    capacity = plan.capacity,
                    overflow = plan.overflow.len(),
                    "aliases beyond the phone's line capacity are not on the phone"
                );
            }
            Outcome::Served(rendered)
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// The device's own latest upload of `name`, when it is text.
async fn stored_upload(
    state: &AppState,
    device_id: i64,
    name: &str,
    file: &FileSpec,
) -> Result<Option<Rendered>, String> {
    let owned = name.to_owned();
    let body = state
        .store
        .read(move |c| uploads::get(c, device_id, &owned))
        .await
        .map_err(|e| e.to_string())?;
    Ok(body.and_then(|bytes| match String::from_utf8(bytes) {
        Ok(text) => Some(Rendered::verbatim(file, text)),
        Err(_) => {
            tracing::warn!(
                device_id,
                file = name,
                "stored upload is not UTF-8; serving the template instead"
            );
            None
        }
    }))
}

/// Whether a request for this device may be answered at all: the tenant's own checks, the
/// enrollment window, and a User-Agent that does not contradict the device.
fn device_gate(bundle: &DeviceBundle, key: Option<&str>, fetch: &Fetch) -> Result<(), Miss> {
    if let Some(miss) = tenant_gate(&bundle.tenant, key, fetch.ip) {
        return Err(miss);
    }
    if !bundle.device.enrollment_open(Utc::now()) {
        return Err(Miss::EnrollmentExpired);
    }
    cert_gate(bundle, fetch.cert.as_deref())?;
    if let Some(ua) = &fetch.ua_info {
        if ua.bad_mac || ua.mac.is_some_and(|m| m != bundle.device.mac) {
            return Err(Miss::UaMacMismatch);
        }
        if ua.vendor != bundle.device.vendor {
            return Err(Miss::VendorMismatch);
        }
    }
    Ok(())
}

async fn serve_common(
    state: &AppState,
    key: Option<&str>,
    matches: &[FileMatch<'_>],
    fetch: &mut Fetch,
) -> Outcome {
    // Prefer the vendor the User-Agent names when two vendors share a common file name.
    let ua_vendor = fetch.ua_info.as_ref().map(|u| u.vendor.as_str());
    let matched = matches
        .iter()
        .find(|m| Some(m.vendor.id()) == ua_vendor)
        .unwrap_or(&matches[0]);
    fetch.vendor = Some(matched.vendor.id().to_owned());
    let tenant = match key {
        Some(key) => {
            let key = key.to_owned();
            match state
                .store
                .read(move |c| tenants::by_url_key(c, &key))
                .await
            {
                Ok(Some(t)) => Some(t),
                Ok(None) => return Outcome::Missed(Miss::WrongKey),
                Err(e) => return Outcome::Failed(e.to_string()),
            }
        }
        None => None,
    };
    if let Some(t) = &tenant
        && let Some(miss) = tenant_gate(t, key, fetch.ip)
    {
        return Outcome::Missed(miss);
    }
    let ua_model = fetch
        .ua_info
        .as_ref()
        .filter(|u| u.vendor == matched.vendor.id())
        .and_then(|u| u.model.as_deref());
    let model = matched
        .model_for(&fetch.file, ua_model)
        .or_else(|| ua_model.map(str::to_owned));
    let levels: Vec<_> = tenant.iter().map(|t| &t.settings).collect();
    match render_common_file(
        matched.vendor,
        matched.file,
        model.as_deref(),
        &levels,
        &fetch.server_url,
    ) {
        Ok(r) => Outcome::Served(r),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// A client certificate must name this device's MAC, come from its vendor's CA when that CA is
/// pinned, and be the one the device was bound with; tenants may require one.
fn cert_gate(bundle: &DeviceBundle, cert: Option<&PeerCert>) -> Result<(), Miss> {
    let device = &bundle.device;
    let Some(cert) = cert else {
        return if bundle.tenant.phone_auth.require_client_cert {
            Err(Miss::NoClientCert)
        } else {
            Ok(())
        };
    };
    if cert.mac != Some(device.mac) || cert.vendor.as_ref().is_some_and(|v| *v != device.vendor) {
        return Err(Miss::CertMismatch);
    }
    if device
        .bound_cert
        .as_ref()
        .is_some_and(|bound| *bound != cert.fingerprint)
    {
        return Err(Miss::CertChanged);
    }
    Ok(())
}

/// The tenant's own checks: URL key, source address, authentication mode.
fn tenant_gate(tenant: &Tenant, key: Option<&str>, ip: IpAddr) -> Option<Miss> {
    let auth = &tenant.phone_auth;
    let key_ok = match (&auth.url_key, key) {
        (None, None) => true,
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    };
    if !key_ok {
        return Some(Miss::WrongKey);
    }
    if !auth.allows_ip(ip) {
        return Some(Miss::AddressNotAllowed);
    }
    if auth.mode != PhoneAuthMode::None {
        // HTTP authentication of phones is not served yet: fail closed rather than open.
        return Some(Miss::AuthNotSupported);
    }
    None
}

/// `scheme://host` from the `Host` header, when it is a plain host name or address with an
/// optional port; anything else is refused rather than written into a file.
fn request_base_url(scheme: Scheme, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plain.then(|| format!("{}://{host}", scheme.as_str()))
}

/// Compares secrets without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Splits `/file` or `/key/file`; refuses anything but plain names (no `..`, `%`, `\`, …), so
/// request text never reaches a file system.
fn split_path(path: &str) -> Option<(Option<&str>, &str)> {
    let rest = path.strip_prefix('/')?;
    if rest.len() > 256 {
        return None;
    }
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match rest.split_once('/') {
        None if valid(rest) => Some((None, rest)),
        Some((key, file)) if valid(key) && valid(file) => Some((Some(key), file)),
        _ => None,
    }
}

fn respond(outcome: &Outcome, request_headers: &HeaderMap, head: bool) -> Response {
    match outcome {
        Outcome::Served(r) => {
            let not_modified = request_headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| etag_matches(v, &r.etag));
            let (status, body) = if not_modified {
                (StatusCode::NOT_MODIFIED, Body::empty())
            } else if head {
                (StatusCode::OK, Body::empty())
            } else {
                (StatusCode::OK, Body::from(r.body.clone()))
            };
            let mut response = Response::builder()
                .status(status)
                .header(header::ETAG, &r.etag)
                .header(
                    header::CACHE_CONTROL,
                    if r.has_secrets {
                        "no-store"
                    } else {
                        "no-cache"
                    },
                );
            if !not_modified {
                response = response
                    .header(header::CONTENT_TYPE, &r.content_type)
                    .header(header::CONTENT_LENGTH, r.body.len());
            }
            response
                .body(body)
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Outcome::Stored => StatusCode::NO_CONTENT.into_response(),
        Outcome::TooLarge => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        Outcome::Missed(_) | Outcome::Banned => not_found(),
        Outcome::Failed(detail) => {
            tracing::error!(%detail, "phone request failed; answering 500 with no body");
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

/// The one answer for every miss.
fn not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "Not Found\n").into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Whether an `If-None-Match` value names `etag` (strong comparison, `*` matches).
fn etag_matches(header_value: &str, etag: &str) -> bool {
    header_value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate == etag)
}

fn record(state: &AppState, fetch: Fetch, outcome: &Outcome, status: StatusCode) {
    let (result, body_hash) = match outcome {
        Outcome::Served(r) if status == StatusCode::NOT_MODIFIED => {
            ("not_modified", Some(r.etag.clone()))
        }
        Outcome::Served(r) => ("served", Some(r.etag.clone())),
        Outcome::Stored => ("uploaded", None),
        Outcome::TooLarge => ("upload_too_large", None),
        Outcome::Missed(miss) => (miss.as_str(), None),
        Outcome::Banned => ("banned", None),
        Outcome::Failed(_) => ("error", None),
    };
    if let Outcome::Missed(miss) = outcome {
        count_miss(state, &fetch, *miss);
    }
    let served = matches!(outcome, Outcome::Served(_));
    let ua = fetch.ua_info.as_ref();
    state.recorder.record(FetchRecord {
        at: Utc::now(),
        ip: fetch.ip.to_string(),
        ua: fetch.ua,
        mac: fetch.mac,
        vendor: fetch.vendor,
        model: ua.and_then(|u| u.model.clone()),
        firmware: ua.and_then(|u| u.firmware.clone()),
        file: fetch.file,
        status: status.as_u16(),
        result,
        device_id: fetch.device_id.filter(|_| served),
        body_hash: body_hash.filter(|_| served),
        server_url: fetch.server_url,
        cert_fingerprint: fetch.cert.as_ref().map(|c| c.fingerprint.clone()),
    });
}

/// Target of the log lines fail2ban reads (format documented in the README).
pub const FAIL2BAN_TARGET: &str = "deskprov::fail2ban";

/// Logs a miss in the fail2ban format and counts it; logs the ban it may start.
fn count_miss(state: &AppState, fetch: &Fetch, miss: Miss) {
    if !miss.counts() {
        tracing::debug!(ip = %fetch.ip, file = %fetch.file, reason = miss.as_str(), "phone asked for a file no profile serves");
        return;
    }
    // The file name is printed only when it is a plain name: request text stays out of logs.
    let file = if split_path(&format!("/{}", fetch.file)).is_some() {
        fetch.file.as_str()
    } else {
        "-"
    };
    tracing::warn!(target: FAIL2BAN_TARGET, "phone miss ip={} reason={} file={}", fetch.ip, miss.as_str(), file);
    if state.bans.miss(fetch.ip, Instant::now()) {
        let policy = state.bans.policy();
        tracing::warn!(
            target: FAIL2BAN_TARGET,
            "phone ban ip={} misses={} window={}s for={}s",
            fetch.ip,
            policy.misses,
            policy.window.as_secs(),
            policy.ban_for.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_pass() {
        assert_eq!(
            split_path("/001565aabbcc.cfg"),
            Some((None, "001565aabbcc.cfg"))
        );
        assert_eq!(
            split_path("/k3y-abcdefghijklmnop/y000000000108.cfg"),
            Some((Some("k3y-abcdefghijklmnop"), "y000000000108.cfg"))
        );
        for bad in [
            "/",
            "/../etc/passwd",
            "/%2e%2e/x",
            "/..%5c..%5cwin.ini",
            "/a/b/c",
            "/001565aabbcc.cfg%00.xml",
            "/.hidden",
            "/a\\b",
            "noslash",
        ] {
            assert_eq!(split_path(bad), None, "{bad}");
        }
        assert_eq!(split_path(&format!("/{}", "a".repeat(300))), None);
    }

    #[test]
    fn etags_compare_strongly() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", \"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("W/\"abc\"", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
