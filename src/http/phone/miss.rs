//! Why a phone request was refused.

/// Why a phone request was refused: the one name for it in logs, the fail2ban line, fetch
/// records and metrics. Never told to the phone, whose refusals all look alike (but for an
/// upload over the limit, which gets 413).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Miss {
    BadPath,
    NoSuchFile,
    UnknownDevice,
    WrongKey,
    AddressNotAllowed,
    EnrollmentExpired,
    VendorMismatch,
    UaMacMismatch,
    NoClientCert,
    /// A per-device file asked for over plain HTTP from a tenant that requires HTTPS.
    PlainHttp,
    CertMismatch,
    CertChanged,
    /// No Authorization header yet: the first step of every Digest exchange, not a failure.
    NoCredentials,
    /// An Authorization header that is malformed or too long.
    CredentialsBadHeader,
    /// A scheme, algorithm or Digest mode never offered (Basic where the tenant has Digest only).
    CredentialsUnsupported,
    CredentialsWrongUsername,
    CredentialsWrongPassword,
    CredentialsWrongRealm,
    /// A Digest response for another request target than the one asked for.
    CredentialsWrongUri,
    /// A Digest nonce count used before.
    CredentialsReplayed,
    CredentialsStaleNonce,
    /// A Digest nonce this server did not issue (or has forgotten).
    CredentialsUnknownNonce,
    /// The source is banned: nothing about the request was looked at.
    Banned,
    UploadTooLarge,
    /// An upload body that does not parse (bad chunked encoding, cut short): 400.
    UploadMalformed,
    /// An upload body that did not arrive within its time: 408.
    UploadTimedOut,
}

impl Miss {
    /// Whether the miss says something about a device identity, and so counts toward a ban.
    /// Names no profile knows are not counted (phones ask for firmware and files we do not
    /// serve), nor are requests that simply have not authenticated yet, nor requests from a
    /// source already banned, nor uploads that are merely too large.
    pub(super) fn counts(self) -> bool {
        !matches!(
            self,
            Miss::NoSuchFile
                | Miss::NoCredentials
                | Miss::Banned
                | Miss::UploadTooLarge
                | Miss::UploadMalformed
                | Miss::UploadTimedOut
        )
    }

    /// The status of a refusal that is about the request's body rather than who sent it: those
    /// are told apart (the sender passed the gate already); every other miss looks alike.
    pub(super) fn own_status(self) -> Option<axum::http::StatusCode> {
        use axum::http::StatusCode;
        match self {
            Miss::UploadTooLarge => Some(StatusCode::PAYLOAD_TOO_LARGE),
            Miss::UploadMalformed => Some(StatusCode::BAD_REQUEST),
            Miss::UploadTimedOut => Some(StatusCode::REQUEST_TIMEOUT),
            _ => None,
        }
    }

    /// The name recorded and logged.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Miss::BadPath => "bad_path",
            Miss::NoSuchFile => "no_such_file",
            Miss::UnknownDevice => "unknown_device",
            Miss::WrongKey => "wrong_key",
            Miss::AddressNotAllowed => "address_not_allowed",
            Miss::EnrollmentExpired => "enrollment_expired",
            Miss::VendorMismatch => "vendor_mismatch",
            Miss::UaMacMismatch => "ua_mac_mismatch",
            Miss::NoClientCert => "client_cert_required",
            Miss::PlainHttp => "https_required",
            Miss::CertMismatch => "cert_identity_mismatch",
            Miss::CertChanged => "cert_changed_since_binding",
            Miss::NoCredentials => "credentials_required",
            Miss::CredentialsBadHeader => "credentials_bad_header",
            Miss::CredentialsUnsupported => "credentials_unsupported",
            Miss::CredentialsWrongUsername => "credentials_wrong_username",
            Miss::CredentialsWrongPassword => "credentials_wrong_password",
            Miss::CredentialsWrongRealm => "credentials_wrong_realm",
            Miss::CredentialsWrongUri => "credentials_wrong_uri",
            Miss::CredentialsReplayed => "credentials_replayed",
            Miss::CredentialsStaleNonce => "credentials_stale_nonce",
            Miss::CredentialsUnknownNonce => "credentials_unknown_nonce",
            Miss::Banned => "banned",
            Miss::UploadTooLarge => "upload_too_large",
            Miss::UploadMalformed => "upload_malformed",
            Miss::UploadTimedOut => "upload_timed_out",
        }
    }
}
