//! What the targets share: the built-in vendor profiles, and a device of each vendor with its
//! tenant and owner, built as the store would hand them to the renderer.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use deskprov::domain::device::DeviceBundle;
use deskprov::domain::phone_auth::PhoneAuth;
use deskprov::domain::user::{TenantRules, User, UserDraft};
use deskprov::domain::{AdminPassword, Device, ExtensionPlan, Mac, Settings, Tenant};
use deskprov::profile::render::RenderError;
use deskprov::profile::{FileKind, FileSpec, Format, Rendered, Vendor, Vendors};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The URL the files are rendered for: a base with a tenant's URL key, as phones reach it.
pub const SERVER_URL: &str = "https://prov.example.test/k3y-abcdefghijklmnop";

/// The built-in profiles, loaded once per process.
pub fn vendors() -> &'static Vendors {
    static VENDORS: OnceLock<Vendors> = OnceLock::new();
    VENDORS.get_or_init(|| Vendors::builtin().expect("the built-in profiles load"))
}

/// A fixed random source: a target must do the same with the same input.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(0x00de_5c9f)
}

/// The tenant every bundle belongs to.
pub fn tenant() -> Tenant {
    Tenant {
        id: 1,
        name: "fuzz.example".into(),
        sip_username_prefix: "fuzzexample_".into(),
        settings: Settings {
            sip_server: Some("pbx.fuzz.example".into()),
            timezone: Some("Europe/Berlin".into()),
            ..Settings::default()
        },
        extension_plan: ExtensionPlan::default(),
        phone_auth: PhoneAuth::default(),
        enroll_window: Duration::from_secs(72 * 3600),
        max_devices_per_user: 2,
        admin_password: None,
        created_at: "2026-01-02T03:04:05.000Z".into(),
    }
}

/// The owner, user 101, made from a draft like one the API takes.
pub fn owner(tenant: &Tenant) -> User {
    let draft = UserDraft {
        name: Some("Owner Name".into()),
        extension: Some("101".into()),
        ..UserDraft::default()
    };
    let rules = TenantRules {
        plan: &tenant.extension_plan,
        prefix: &tenant.sip_username_prefix,
    };
    User {
        id: 7,
        tenant_id: tenant.id,
        spec: draft.into_new(rules, &mut rng()).expect("a valid user"),
        site_id: None,
        has_portal_password: false,
        devices: 1,
        created_at: "2026-01-02T03:04:05.000Z".into(),
        updated_at: "2026-01-02T03:04:05.000Z".into(),
    }
}

/// A device of `vendor` (a MAC in its first OUI) registered as `model`, with no aliases or
/// keys: the targets add those.
pub fn bundle(vendor: &Vendor, model: Option<&str>) -> DeviceBundle {
    let tenant = tenant();
    let owner = owner(&tenant);
    let oui = vendor.profile.ouis[0].replace([':', '-'], "");
    let mac = Mac::parse(&format!("{oui}a1b2c3")).expect("an OUI makes a unicast MAC");
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let device = Device {
        id: 9,
        mac,
        tenant_id: tenant.id,
        user_id: owner.id,
        vendor: vendor.id().to_owned(),
        model: model.map(str::to_owned),
        site_id: None,
        label: None,
        settings: Settings::default(),
        enroll_deadline: at,
        first_fetch_at: None,
        last_fetch_at: None,
        last_ip: None,
        seen_model: None,
        seen_firmware: None,
        bound_ip: None,
        bound_cert: None,
        credentials: None,
        admin_password: None,
        generated_admin_password: AdminPassword::from_trusted("Admin-Pass-0001".into()),
        created_at: "2026-01-02T03:04:05.000Z".into(),
    };
    DeviceBundle {
        device,
        tenant,
        site: None,
        owner,
        aliases: Vec::new(),
        keys: Default::default(),
    }
}

/// The files of `vendor` of `kind`.
pub fn files(vendor: &Vendor, kind: FileKind) -> impl Iterator<Item = &FileSpec> {
    vendor.profile.files.iter().filter(move |f| f.kind == kind)
}

/// What must hold of a file rendered from names (or a model) that passed the domain's checks,
/// given the same file rendered from plain ones (`baseline`): it rendered, it has exactly the
/// baseline's control characters (a name adds no line break, tab or NUL), and an XML file
/// that is well-formed with plain names is still well-formed.
pub fn check_rendered(
    what: &str,
    file: &FileSpec,
    result: Result<Rendered, RenderError>,
    baseline: &Rendered,
) -> Rendered {
    let rendered = result.unwrap_or_else(|e| panic!("{what}: {} did not render: {e}", file.name));
    assert_eq!(
        crate::control_chars(&rendered.body),
        crate::control_chars(&baseline.body),
        "{what}: {} has control characters its template does not write:\n{}",
        file.name,
        rendered.body
    );
    assert_eq!(rendered.content_type, file.content_type);
    assert_eq!(rendered.etag.len(), 34, "a quoted 128-bit hex ETag");
    if file.format == Format::Xml
        && roxmltree::Document::parse(&baseline.body).is_ok()
        && let Err(e) = roxmltree::Document::parse(&rendered.body)
    {
        panic!(
            "{what}: {} is no longer well-formed XML ({e}):\n{}",
            file.name, rendered.body
        );
    }
    rendered
}
