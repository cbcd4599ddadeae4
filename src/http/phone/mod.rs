//! The phone-facing side: `GET /{file}` and `GET /{url_key}/{file}`, and `PUT` of the files a
//! profile lists as uploads.
//!
//! A request passes the gates in [`gate`] (tenant key and allow-list, enrollment window,
//! User-Agent, client certificate, credentials) before a file is rendered. Every refusal on a
//! per-device path gets the same answer whatever the reason, so a prober cannot tell an unknown
//! MAC from a known one; refusals count toward a ban of the source ([`bans`]). Internal errors
//! are a bare 500: never a default or partial file.

mod answer;
mod bans;
pub mod credentials;
mod gate;
mod miss;
pub mod path;
mod upload;

pub use bans::{BanList, BanPolicy};
pub use gate::constant_time_eq;

use crate::domain::device::{DeviceBundle, PhoneDevice};
use crate::domain::device_state::Answer;
use crate::service::phone::Seen;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{Method, Request, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tracing::Instrument;
use tracing::field::Empty;

use super::AppState;
use super::client_ip::client_ip;
use crate::access_log::{AccessEntry, AccessLog};
use crate::domain::Mac;
use crate::http::conn::PeerCert;
use crate::http::conn::Scheme;
use crate::profile::provision::{DeviceFile, device_file, render_common_file};
use crate::profile::{FileMatch, UaInfo};
use crate::service::phone::{FileKey, Subject};
use answer::{MissAnswer, Served, respond};
use gate::{device_gate, tenant_gate};
use miss::Miss;
use path::{logged_path, plain_name, request_base_url, split_path};

/// The phone listener's router.
pub fn router(state: AppState) -> Router {
    // Behind an `Arc`: the handler gets its state by a reference count, not a field-by-field
    // clone per request.
    Router::new().fallback(fetch).with_state(Arc::new(state))
}

/// What the handler learnt about a request, for the fetch record.
struct Fetch {
    ip: IpAddr,
    /// `scheme://host[:port]` the phone used (or the configured public URL), no key.
    base_url: Option<String>,
    /// `base_url` plus the URL key when the request carried one: what templates see.
    server_url: String,
    ua: Option<String>,
    /// What the User-Agent says, once read ([`Fetch::read_ua`]).
    ua_info: Option<UaInfo>,
    ua_read: bool,
    file: String,
    mac: Option<String>,
    vendor: Option<Arc<str>>,
    /// The known device the path names, once found (before its gate).
    device: Option<PhoneDevice>,
    /// The client certificate of the connection, if any.
    cert: Option<Arc<PeerCert>>,
    /// The Authorization header, for Digest/Basic.
    authorization: Option<String>,
    /// Method and request target as sent, which Digest responses cover.
    method: Method,
    uri: axum::http::Uri,
    /// Whether the request came over HTTPS.
    scheme: Scheme,
    /// The store's change generation when the request came in, the phone cache brought to it
    /// (see `service::phone::cache`).
    generation: u64,
}

impl Fetch {
    /// The request target as sent (path and query), which a Digest response covers.
    fn request_target(&self) -> &str {
        self.uri
            .path_and_query()
            .map_or_else(|| self.uri.path(), |pq| pq.as_str())
    }

    /// Reads the User-Agent, unless it was read already (a known device's is read through the
    /// phone cache, which remembers it).
    fn read_ua(&mut self, vendors: &crate::profile::Vendors) {
        if !self.ua_read {
            self.ua_info = self.ua.as_deref().and_then(|ua| vendors.parse_ua(ua));
            self.ua_read = true;
        }
    }
}

enum Outcome {
    Served(Served),
    Stored,
    Missed(Miss),
    Failed(String),
}

/// Target of the one-line summary of each phone request (DEBUG; see docs/operations.md, Logs).
pub const ACCESS_TARGET: &str = "deskprov::access";

/// Runs each request inside a `phone` span (ip, method, then file, mac, vendor, result, status,
/// latency as they become known), so every log line about it carries them. The span is at DEBUG
/// under [`ACCESS_TARGET`]: it costs nothing unless the access summary is on, and the lines
/// logged at the default level name the request themselves.
async fn fetch(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let ip = client_ip(peer, request.headers(), &state.trusted_proxies);
    let span = tracing::debug_span!(
        target: ACCESS_TARGET,
        "phone",
        %ip,
        method = %request.method(),
        file = Empty,
        mac = Empty,
        vendor = Empty,
        result = Empty,
        status = Empty,
        latency_us = Empty,
    );
    handle(state, ip, request).instrument(span).await
}

async fn handle(state: Arc<AppState>, ip: IpAddr, request: Request<Body>) -> Response {
    let started = Instant::now();
    // Read before anything else: whatever this request reads is at least this recent. The
    // cache is brought to it on the way.
    let generation = state.phone.cache().generation().await;
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let headers = &parts.headers;
    let scheme = parts
        .extensions
        .get::<Scheme>()
        .copied()
        .unwrap_or(Scheme::Http);
    let base_url = state
        .public_url
        .clone()
        .or_else(|| request_base_url(scheme, headers));
    let path = parts.uri.path();
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut fetch = Fetch {
        ip,
        base_url,
        server_url: String::new(),
        ua_info: None,
        ua_read: false,
        ua,
        file: path.trim_start_matches('/').chars().take(128).collect(),
        mac: None,
        vendor: None,
        device: None,
        cert: parts.extensions.get::<Arc<PeerCert>>().cloned(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        method: method.clone(),
        uri: parts.uri.clone(),
        scheme,
        generation,
    };
    let outcome = match method {
        _ if refuse_banned(&state, &fetch) => Outcome::Missed(Miss::Banned),
        Method::GET | Method::HEAD => serve(&state, path, &mut fetch).await,
        Method::PUT => {
            let declared = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            upload::receive(&state, path, &mut fetch, body, declared).await
        }
        _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    note_identity(&fetch);
    log_failure(&fetch, &outcome);
    let miss = miss_answer(&state, &fetch, &outcome).await;
    let response = respond(
        &outcome,
        headers,
        method == Method::HEAD,
        miss,
        &state.authenticator,
    );
    if let Some(log) = &state.access_log {
        log_access(log, &fetch, path, parts.version, &response, started);
    }
    record(&state, fetch, &outcome, response.status(), started).await;
    response
}

/// Writes the request's line to the access log.
fn log_access(
    log: &AccessLog,
    fetch: &Fetch,
    path: &str,
    version: Version,
    response: &Response,
    started: Instant,
) {
    let bytes = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    log.record(&AccessEntry {
        ip: fetch.ip,
        at: Utc::now(),
        method: fetch.method.as_str(),
        path: &logged_path(path),
        version: version_text(version),
        status: response.status().as_u16(),
        bytes,
        user_agent: fetch.ua.as_deref(),
        took: started.elapsed(),
    });
}

fn version_text(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Logs a request that failed (answered 500), naming it: the span is off at the default level.
fn log_failure(fetch: &Fetch, outcome: &Outcome) {
    if let Outcome::Failed(detail) = outcome {
        tracing::error!(
            ip = %fetch.ip,
            file = plain_name(&fetch.file).then_some(fetch.file.as_str()),
            mac = fetch.mac.as_deref(),
            %detail,
            "phone request failed; answering 500 with no body"
        );
    }
}

/// Puts what the request turned out to be about on its span, before the answer is logged.
fn note_identity(fetch: &Fetch) {
    let span = tracing::Span::current();
    // Only plain names: request text stays out of logs.
    if plain_name(&fetch.file) {
        span.record("file", fetch.file.as_str());
    }
    if let Some(mac) = &fetch.mac {
        span.record("mac", mac.as_str());
    }
    if let Some(vendor) = &fetch.vendor {
        span.record("vendor", &**vendor);
    }
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
    let hits = state.vendors.file_hits(name);
    match hits.mac() {
        Some(mac) => {
            let subject = match gated_device(state, key, mac, fetch).await {
                Ok(subject) => subject,
                Err(refused) => return refused,
            };
            match hits.of_vendor(&subject.device.vendor) {
                Some(matched) => serve_device(state, &matched, &subject.device, fetch).await,
                None => Outcome::Missed(Miss::VendorMismatch),
            }
        }
        None => match hits.all() {
            matches if matches.is_empty() => Outcome::Missed(Miss::NoSuchFile),
            matches => serve_common(state, key, &matches, fetch).await,
        },
    }
}

/// The registered device with `mac`, once the request for it passed [`device_gate`]; else how
/// the request ends.
async fn gated_device(
    state: &AppState,
    key: Option<&str>,
    mac: Mac,
    fetch: &mut Fetch,
) -> Result<Subject, Outcome> {
    fetch.mac = Some(mac.lower12());
    let subject = match state.phone.cache().device(fetch.generation, mac).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(Outcome::Missed(Miss::UnknownDevice)),
        Err(e) => return Err(Outcome::Failed(e.to_string())),
    };
    fetch.vendor = Some(subject.device.vendor.clone());
    fetch.device = Some(subject.device.clone());
    if !fetch.ua_read {
        fetch.ua_info = fetch.ua.as_deref().and_then(|ua| {
            let cache = state.phone.cache();
            cache.user_agent(fetch.generation, &subject.device, ua, &state.vendors)
        });
        fetch.ua_read = true;
    }
    device_gate(&subject, key, fetch, &state.authenticator).map_err(Outcome::Missed)?;
    Ok(subject)
}

/// Serves the device its file: kept from an earlier fetch when it can, else from
/// [`device_file`] (which is then kept: on disk, or in memory for the phone's own uploads).
async fn serve_device(
    state: &AppState,
    matched: &FileMatch<'_>,
    device: &PhoneDevice,
    fetch: &mut Fetch,
) -> Outcome {
    // The model the phone says it is wins over the stored one.
    let ua_model = fetch.ua_info.as_ref().and_then(|ua| ua.model.as_deref());
    let model = ua_model.or(device.model.as_deref());
    let key = FileKey {
        device_id: Some(device.id),
        tenant_id: None,
        file: std::ptr::from_ref(matched.file) as usize,
        model: model.map(str::to_owned),
        server_url: fetch.server_url.clone(),
    };
    let cache = state.phone.cache();
    let spec = matched.file;
    if spec.prefer_upload {
        if let Some(rendered) = cache.file(fetch.generation, &key) {
            return Outcome::Served(Served::shared(rendered));
        }
    } else if let Some(record) = cache.device_file(fetch.generation, device, &key) {
        return Outcome::Served(Served::record(record, spec));
    }
    let bundle = match cache.bundle(fetch.generation, device.mac).await {
        Ok(Some(bundle)) => bundle,
        // Deleted since it was looked up: answered like any unknown device.
        Ok(None) => return Outcome::Missed(Miss::UnknownDevice),
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    // An upload is journaled against its device, so what is served from one is cached like the
    // rest and dropped when the device uploads again.
    let upload = if matched.file.prefer_upload {
        match stored_upload(state, bundle.device.id, &fetch.file).await {
            Ok(upload) => upload,
            Err(detail) => return Outcome::Failed(detail),
        }
    } else {
        None
    };
    let bundle = match ua_model {
        Some(m) if bundle.device.seen_model.as_deref() != Some(m) => {
            let mut own = (*bundle).clone();
            own.device.seen_model = Some(m.to_owned());
            Arc::new(own)
        }
        _ => bundle,
    };
    let settings = cache.settings(fetch.generation, &bundle, matched.vendor);
    match device_file(
        &bundle,
        matched.vendor,
        matched.file,
        upload.as_deref(),
        &fetch.server_url,
        false,
        Some(settings),
    ) {
        Ok(answer) => {
            warn_about(state, fetch, &bundle, upload.is_some(), &answer);
            let rendered = answer.into_rendered();
            if spec.prefer_upload {
                let rendered = Arc::new(rendered);
                cache.keep_file(fetch.generation, key, Some(&bundle), rendered.clone());
                Outcome::Served(Served::shared(rendered))
            } else {
                cache.keep_device_file(fetch.generation, device, &key, &rendered);
                Outcome::Served(Served::owned(rendered))
            }
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Logs what an admin should hear about a file served: aliases that did not fit on the phone
/// (once per device until something changes), an upload that could not be served back.
fn warn_about(
    state: &AppState,
    fetch: &Fetch,
    bundle: &DeviceBundle,
    had_upload: bool,
    answer: &DeviceFile,
) {
    if !matches!(answer, DeviceFile::Rendered(..)) {
        return;
    }
    if had_upload {
        tracing::warn!(
            device_id = bundle.device.id,
            ip = %fetch.ip,
            file = fetch.file,
            "stored upload is not UTF-8; serving the template instead"
        );
    }
    state
        .phone
        .cache()
        .warn_about_overflow(fetch.generation, bundle, answer);
}

/// The device's own latest upload of `name`, if any.
async fn stored_upload(
    state: &AppState,
    device_id: i64,
    name: &str,
) -> Result<Option<Vec<u8>>, String> {
    state
        .phone
        .upload(device_id, name)
        .await
        .map_err(|e| e.to_string())
}

async fn serve_common(
    state: &AppState,
    key: Option<&str>,
    matches: &[FileMatch<'_>],
    fetch: &mut Fetch,
) -> Outcome {
    fetch.read_ua(&state.vendors);
    // Prefer the vendor the User-Agent names when two vendors share a common file name.
    let ua_vendor = fetch.ua_info.as_ref().map(|u| u.vendor.as_str());
    let matched = matches
        .iter()
        .find(|m| Some(m.vendor.id()) == ua_vendor)
        .unwrap_or(&matches[0]);
    fetch.vendor = Some(Arc::from(matched.vendor.id()));
    let tenant = match key {
        Some(key) => match state
            .phone
            .cache()
            .tenant_by_key(fetch.generation, key)
            .await
        {
            Ok(Some(t)) => Some(t),
            Ok(None) => return Outcome::Missed(Miss::WrongKey),
            Err(e) => return Outcome::Failed(e.to_string()),
        },
        None => None,
    };
    if let Some(t) = &tenant
        && let Err(miss) = tenant_gate(t, key, fetch.ip)
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
    let key = FileKey {
        device_id: None,
        tenant_id: tenant.as_ref().map(|t| t.id),
        file: std::ptr::from_ref(matched.file) as usize,
        model,
        server_url: fetch.server_url.clone(),
    };
    let cache = state.phone.cache();
    if let Some(rendered) = cache.file(fetch.generation, &key) {
        return Outcome::Served(Served::shared(rendered));
    }
    let levels: Vec<_> = tenant.iter().map(|t| &t.settings).collect();
    match render_common_file(
        matched.vendor,
        matched.file,
        key.model.as_deref(),
        &levels,
        &fetch.server_url,
    ) {
        Ok(r) => {
            let rendered = Arc::new(r);
            cache.keep_file(fetch.generation, key, None, rendered.clone());
            Outcome::Served(Served::shared(rendered))
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Counts, logs and keeps what the request did: its device's state, and the events it made
/// (waiting until those are written).
async fn record(
    state: &AppState,
    mut fetch: Fetch,
    outcome: &Outcome,
    status: StatusCode,
    started: Instant,
) {
    let (result, answer, body_hash) = match outcome {
        Outcome::Served(r) if status == StatusCode::NOT_MODIFIED => {
            ("not_modified", Answer::NotModified, Some(r.etag.as_str()))
        }
        Outcome::Served(r) => ("served", Answer::Served, Some(r.etag.as_str())),
        Outcome::Stored => ("uploaded", Answer::Uploaded, None),
        Outcome::Missed(miss) => (miss.as_str(), Answer::Refused, None),
        Outcome::Failed(_) => ("error", Answer::Failed, None),
    };
    let took = started.elapsed();
    state
        .metrics
        .phone_request(fetch.vendor.as_deref(), result, took);
    let span = tracing::Span::current();
    span.record("result", result);
    span.record("status", status.as_u16());
    span.record(
        "latency_us",
        u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    );
    tracing::debug!(target: ACCESS_TARGET, "phone request");
    fetch.read_ua(&state.vendors);
    let ua = fetch.ua_info.as_ref();
    let seen = Seen {
        at: Utc::now(),
        ip: fetch.ip,
        user_agent: fetch.ua.as_deref(),
        model: ua.and_then(|u| u.model.as_deref()),
        firmware: ua.and_then(|u| u.firmware.as_deref()),
        mac: fetch.mac.as_deref(),
        file: &fetch.file,
        status: status.as_u16(),
        result,
        answer,
        body_hash,
        server_url: &fetch.server_url,
        cert: fetch.cert.as_ref().map(|c| c.fingerprint.as_str()),
        // A known device's refusals are its history, but the first step of every Digest
        // exchange; a request naming no device is history when it counts toward a ban.
        noteworthy: match outcome {
            Outcome::Missed(miss) => {
                miss.counts() || (fetch.device.is_some() && *miss != Miss::NoCredentials)
            }
            Outcome::Failed(_) => true,
            Outcome::Served(_) | Outcome::Stored => false,
        },
    };
    let banned = match outcome {
        Outcome::Missed(miss) => count_miss(state, &fetch, *miss),
        _ => false,
    };
    let states = state.phone.states();
    states.observe(fetch.device.as_ref(), &seen).await;
    if banned {
        states.record_ban(&seen).await;
    }
}

/// Target of the log lines fail2ban reads (format documented in docs/security.md).
pub const FAIL2BAN_TARGET: &str = "deskprov::fail2ban";

/// Whether the request's source is banned; logs the refusal in the fail2ban format (at most
/// every few seconds per source), so a jail keeps counting a source that keeps trying.
fn refuse_banned(state: &AppState, fetch: &Fetch) -> bool {
    let Some(log) = state.bans.refuse_banned(fetch.ip, Instant::now()) else {
        return false;
    };
    if log {
        tracing::warn!(target: FAIL2BAN_TARGET, parent: None, "phone banned ip={} refused while banned", fetch.ip);
    }
    true
}

/// Logs a miss in the fail2ban format and counts it; logs the ban it may start, and says
/// whether it started one.
fn count_miss(state: &AppState, fetch: &Fetch, miss: Miss) -> bool {
    if !miss.counts() {
        tracing::debug!(ip = %fetch.ip, file = %fetch.file, reason = miss.as_str(), "phone request refused, not counted toward a ban");
        return false;
    }
    // The file name is printed only when it is a plain name: request text stays out of logs.
    let file = if plain_name(&fetch.file) {
        fetch.file.as_str()
    } else {
        "-"
    };
    // Root events (`parent: None`): the line fail2ban reads must not get the span's prefix.
    tracing::warn!(target: FAIL2BAN_TARGET, parent: None, "phone miss ip={} reason={} file={}", fetch.ip, miss.as_str(), file);
    state.metrics.miss();
    if state.bans.miss(fetch.ip, Instant::now()) {
        state.metrics.ban();
        let policy = state.bans.policy();
        tracing::warn!(
            target: FAIL2BAN_TARGET,
            parent: None,
            "phone ban ip={} misses={} window={}s for={}s",
            fetch.ip,
            policy.misses,
            policy.window.as_secs(),
            policy.ban_for.as_secs()
        );
        return true;
    }
    false
}

/// How misses on per-device paths are answered right now: a challenge as soon as any tenant
/// asks phones for credentials (so unknown MACs look like unauthenticated known ones), else 404.
async fn miss_answer(state: &AppState, fetch: &Fetch, outcome: &Outcome) -> MissAnswer {
    // A banned source is refused before its path is read: it gets what a refused per-device
    // request gets, so the answer does not tell it that it is banned.
    let per_device_miss = match outcome {
        Outcome::Missed(Miss::Banned) => true,
        Outcome::Missed(miss) => fetch.mac.is_some() && miss.own_status().is_none(),
        _ => false,
    };
    if !per_device_miss {
        return MissAnswer::NotFound;
    }
    match state.phone.cache().any_phone_auth(fetch.generation).await {
        Ok(false) => MissAnswer::NotFound,
        // When in doubt, challenge: it reveals nothing either way.
        Ok(true) | Err(_) => MissAnswer::Challenge,
    }
}
