//! Pure types, entities and provisioning rules: no HTTP, no SQL, no clock or randomness of
//! their own.
//!
//! Every value that crosses the edge (API body, CLI argument, phone request) is parsed once
//! into one of these newtypes; the rest of the program trusts them.

pub mod audit;
pub mod device;
pub mod device_state;
pub mod error;
pub mod extension;
pub mod history;
pub mod key_plan;
pub mod keys;
pub mod line_plan;
pub mod mac;
pub mod names;
pub mod numbers;
pub mod phone_auth;
pub mod role;
pub mod secret;
pub mod session;
pub mod settings;
pub mod sip;
pub mod status;
pub mod tenant;
pub mod time;
pub mod token;
pub mod user;
pub mod zone;

pub use audit::{Actor, AuditEntry, Change, Denied, StoredEntry};
pub use device::{Device, DeviceBundle, UploadInfo};
pub use error::RuleError;
pub use extension::{Extension, ExtensionPlan};
pub use key_plan::{KeyCapacity, Layout};
pub use keys::{Key, KeyDraft, KeyType};
pub use line_plan::{LinePlan, PlannedLine, SipAccount};
pub use mac::Mac;
pub use names::{Label, PrintableText};
pub use numbers::{E164, Email, ExternalSipLogin, VoicemailPin};
pub use role::Role;
pub use secret::{
    AdminPassword, AdminPasswordChange, PortalHash, PortalPassword, PortalSecret, SipPassword,
};
pub use settings::{Settings, Transport};
pub use sip::{SipUsername, sip_username_prefix};
pub use status::{DeviceStatus, UserFacts, UserTag, device_status, user_tags};
pub use tenant::{Site, Tenant, TenantSummary};
pub use token::{TokenInfo, TokenRole};
pub use user::{Alias, User};
