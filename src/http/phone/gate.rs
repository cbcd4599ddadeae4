//! The checks a phone request passes before it gets a file, and why it was refused if not.

use crate::domain::tenant::Tenant;
use crate::service::phone::Subject;
use std::net::IpAddr;

use chrono::Utc;

use super::Fetch;
use super::credentials::{Credentials, PhoneAuthenticator, Verdict};
use super::miss::Miss;
use crate::domain::phone_auth::{PhoneAuthMode, ip_in};
use crate::http::conn::PeerCert;
use crate::http::conn::Scheme;

/// The tenant's address checks: URL key and source allow-list.
pub(super) fn tenant_gate(tenant: &Tenant, key: Option<&str>, ip: IpAddr) -> Result<(), Miss> {
    let auth = &tenant.phone_auth;
    let key_ok = match (&auth.url_key, key) {
        (None, None) => true,
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    };
    if !key_ok {
        return Err(Miss::WrongKey);
    }
    if !auth.allows_ip(ip) {
        return Err(Miss::AddressNotAllowed);
    }
    Ok(())
}

/// Whether a request for this device may be answered at all: the tenant's checks, the
/// enrollment window, a User-Agent that does not contradict the device, the client
/// certificate, and the credentials.
pub(super) fn device_gate(
    subject: &Subject,
    key: Option<&str>,
    fetch: &Fetch,
    authenticator: &PhoneAuthenticator,
) -> Result<(), Miss> {
    let device = &subject.device;
    tenant_gate(&subject.tenant, key, fetch.ip)?;
    if subject.tenant.phone_auth.require_https && fetch.scheme != Scheme::Https {
        return Err(Miss::PlainHttp);
    }
    let site_allows = |site: &crate::domain::tenant::Site| {
        site.allow_cidrs
            .as_deref()
            .is_none_or(|nets| ip_in(nets, fetch.ip))
    };
    if !subject.site.as_deref().is_none_or(site_allows) {
        return Err(Miss::AddressNotAllowed);
    }
    if !device.enrollment_open(Utc::now()) {
        return Err(Miss::EnrollmentExpired);
    }
    if let Some(ua) = &fetch.ua_info {
        if ua.bad_mac || ua.mac.is_some_and(|m| m != device.mac) {
            return Err(Miss::UaMacMismatch);
        }
        if *ua.vendor != *device.vendor {
            return Err(Miss::VendorMismatch);
        }
    }
    cert_gate(subject, fetch.cert.as_deref())?;
    credentials_gate(subject, fetch, authenticator)
}

/// A client certificate must name this device's MAC, come from its vendor's CA when that CA is
/// pinned, and be the one the device was bound with; tenants may require one.
fn cert_gate(subject: &Subject, cert: Option<&PeerCert>) -> Result<(), Miss> {
    let device = &subject.device;
    let Some(cert) = cert else {
        return if subject.tenant.phone_auth.require_client_cert {
            Err(Miss::NoClientCert)
        } else {
            Ok(())
        };
    };
    if cert.mac != Some(device.mac) || cert.vendor.as_ref().is_some_and(|v| **v != *device.vendor) {
        return Err(Miss::CertMismatch);
    }
    if device
        .bound_cert
        .as_ref()
        .is_some_and(|bound| **bound != *cert.fingerprint)
    {
        return Err(Miss::CertChanged);
    }
    Ok(())
}

/// HTTP Digest (or Basic, where the tenant allows it) against the device's own credentials when
/// it has them, else the tenant's when its mode asks for credentials.
fn credentials_gate(
    subject: &Subject,
    fetch: &Fetch,
    authenticator: &PhoneAuthenticator,
) -> Result<(), Miss> {
    let auth = &subject.tenant.phone_auth;
    let creds = match (subject.device.credentials.as_deref(), auth.mode) {
        (Some(own), _) => Credentials {
            username: &own.username,
            passwords: &own.passwords,
        },
        (None, PhoneAuthMode::None) => return Ok(()),
        (None, _) => match auth.username.as_deref() {
            Some(username) => Credentials {
                username,
                passwords: &auth.passwords,
            },
            // A password mode without a username cannot be satisfied: refuse rather than serve.
            None => return Err(Miss::CredentialsWrongUsername),
        },
    };
    let allow_basic = auth.mode == PhoneAuthMode::Basic;
    match authenticator.verify(
        fetch.authorization.as_deref(),
        fetch.method.as_str(),
        fetch.request_target(),
        &creds,
        allow_basic,
    ) {
        Verdict::Accepted => Ok(()),
        Verdict::Missing => Err(Miss::NoCredentials),
        Verdict::Rejected(miss) => Err(miss),
    }
}

/// Compares secrets without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
