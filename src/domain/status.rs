//! Status tags computed for users and devices.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A tag on a user that tells an admin what is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserTag {
    /// Has an email but neither voicemail PIN nor portal password yet.
    New,
    /// No email address.
    SetupRequired,
    /// No portal password.
    PasswordRequired,
    /// No device assigned.
    NoDevice,
}

impl UserTag {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserTag::New => "new",
            UserTag::SetupRequired => "setup_required",
            UserTag::PasswordRequired => "password_required",
            UserTag::NoDevice => "no_device",
        }
    }
}

/// What the tags of a user are computed from.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserFacts {
    /// Whether an email is set.
    pub has_email: bool,
    /// Whether a voicemail PIN is set.
    pub has_pin: bool,
    /// Whether a portal password is set.
    pub has_portal_password: bool,
    /// Devices assigned to the user.
    pub devices: u32,
}

/// The user's tags, in a fixed order.
pub fn user_tags(f: UserFacts) -> Vec<UserTag> {
    let mut tags = Vec::new();
    if f.has_email && !f.has_pin && !f.has_portal_password {
        tags.push(UserTag::New);
    }
    if !f.has_email {
        tags.push(UserTag::SetupRequired);
    }
    if !f.has_portal_password {
        tags.push(UserTag::PasswordRequired);
    }
    if f.devices == 0 {
        tags.push(UserTag::NoDevice);
    }
    tags
}

/// Where a device is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Registered, inside its enrollment window, never fetched.
    AwaitingFirstFetch,
    /// Fetched its configuration, and that configuration is still current.
    Provisioned,
    /// Fetched before, but its configuration has changed since.
    ConfigChangedSinceFetch,
    /// Never fetched within the enrollment window: treated as unknown until re-opened.
    EnrollmentExpired,
}

impl DeviceStatus {
    /// Every status, in the order of a device's life.
    pub const ALL: [DeviceStatus; 4] = [
        DeviceStatus::AwaitingFirstFetch,
        DeviceStatus::Provisioned,
        DeviceStatus::ConfigChangedSinceFetch,
        DeviceStatus::EnrollmentExpired,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::AwaitingFirstFetch => "awaiting_first_fetch",
            DeviceStatus::Provisioned => "provisioned",
            DeviceStatus::ConfigChangedSinceFetch => "config_changed_since_fetch",
            DeviceStatus::EnrollmentExpired => "enrollment_expired",
        }
    }
}

/// The status of a device at `now`.
///
/// `config_current` says whether what the phone last fetched equals what it would get now.
pub fn device_status(
    first_fetch: Option<DateTime<Utc>>,
    enroll_deadline: DateTime<Utc>,
    config_current: bool,
    now: DateTime<Utc>,
) -> DeviceStatus {
    match first_fetch {
        None if now > enroll_deadline => DeviceStatus::EnrollmentExpired,
        None => DeviceStatus::AwaitingFirstFetch,
        Some(_) if config_current => DeviceStatus::Provisioned,
        Some(_) => DeviceStatus::ConfigChangedSinceFetch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn user_tags_follow_the_facts() {
        let fresh = UserFacts {
            has_email: true,
            ..Default::default()
        };
        assert_eq!(
            user_tags(fresh),
            [UserTag::New, UserTag::PasswordRequired, UserTag::NoDevice]
        );
        assert_eq!(
            user_tags(UserFacts::default()),
            [
                UserTag::SetupRequired,
                UserTag::PasswordRequired,
                UserTag::NoDevice
            ]
        );
        let done = UserFacts {
            has_email: true,
            has_pin: true,
            has_portal_password: true,
            devices: 1,
        };
        assert!(user_tags(done).is_empty());
        for tag in user_tags(UserFacts::default()) {
            assert_eq!(serde_json::to_value(tag).unwrap(), tag.as_str());
        }
    }

    #[test]
    fn device_status_moves_through_its_life() {
        let now = Utc::now();
        let later = now + TimeDelta::hours(1);
        let earlier = now - TimeDelta::hours(1);
        assert_eq!(
            device_status(None, later, true, now),
            DeviceStatus::AwaitingFirstFetch
        );
        assert_eq!(
            device_status(None, earlier, true, now),
            DeviceStatus::EnrollmentExpired
        );
        assert_eq!(
            device_status(Some(earlier), earlier, true, now),
            DeviceStatus::Provisioned
        );
        assert_eq!(
            device_status(Some(earlier), earlier, false, now),
            DeviceStatus::ConfigChangedSinceFetch
        );
        for status in DeviceStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }
}
