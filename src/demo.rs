//! `serve --demo`: fills an empty database with a tenant, users, aliases and a device per
//! supported vendor, through the same use cases as the API.

use anyhow::Context;

use crate::domain::audit::Actor;
use crate::domain::device::DeviceDraft;
use crate::domain::tenant::TenantDraft;
use crate::domain::token::{TokenDraft, TokenRole};
use crate::domain::user::{AliasDraft, UserDraft};
use crate::service::{ServiceResult, Services, devices, tenants, tokens, users};

/// The demo tenant's name.
pub const TENANT: &str = "demo.example";

/// One demo phone: vendor, MAC, model, a User-Agent it sends, and the file it fetches.
pub struct DemoPhone {
    /// Vendor id.
    pub vendor: &'static str,
    /// MAC, lower12.
    pub mac: &'static str,
    /// Model.
    pub model: &'static str,
    /// Owner's extension.
    pub extension: &'static str,
    /// A real User-Agent of that model.
    pub user_agent: &'static str,
    /// The per-device file the phone fetches.
    pub file: &'static str,
}

/// The demo phones, one per supported vendor, with real User-Agents of those models.
pub const PHONES: &[DemoPhone] = &[
    DemoPhone {
        vendor: "yealink",
        mac: "001565123456",
        model: "T46U",
        extension: "101",
        user_agent: "Yealink SIP-T46U 108.86.0.45 00:15:65:12:34:56",
        file: "001565123456.cfg",
    },
    DemoPhone {
        vendor: "polycom",
        mac: "0004f2123456",
        model: "VVX_411",
        extension: "101",
        user_agent: "FileTransport PolycomVVX-VVX_411-UA/6.4.6.2024 Type/Application",
        file: "0004f2123456-user.cfg",
    },
    DemoPhone {
        vendor: "cisco_mpp",
        mac: "00562b123456",
        model: "7841",
        extension: "102",
        user_agent: "Cisco-CP-7841-3PCC/11.3.1 (00562b123456)",
        file: "00562b123456.xml",
    },
    DemoPhone {
        vendor: "cisco_spa",
        mac: "0002fd123456",
        model: "SPA504G",
        extension: "102",
        user_agent: "Cisco/SPA504G-7.6.2 (0002FD123456)(CBT141400UK)",
        file: "0002fd123456.xml",
    },
    DemoPhone {
        vendor: "snom",
        mac: "000413123456",
        model: "D785",
        extension: "103",
        user_agent: "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413123456 SXM:0 UXM:0)",
        file: "snom-000413123456.xml",
    },
    DemoPhone {
        vendor: "grandstream",
        mac: "c074ad123456",
        model: "GRP2614",
        extension: "103",
        user_agent: "Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad123456",
        file: "cfgc074ad123456.xml",
    },
    DemoPhone {
        vendor: "fanvil",
        mac: "0c383e123456",
        model: "X4U",
        extension: "104",
        user_agent: "Fanvil X4U 2.12.1 0c383e123456",
        file: "0c383e123456.cfg",
    },
];

/// The demo users: extension, name, email. Each gets two aliases ("<first name> Support" and
/// "<first name> Sales").
const PEOPLE: [(&str, &str, &str); 4] = [
    ("101", "John Smith", "john.smith@demo.example"),
    ("102", "Mary Jones", "mary.jones@demo.example"),
    ("103", "Ali Khan", "ali.khan@demo.example"),
    ("104", "Li Wei", "li.wei@demo.example"),
];

/// What was created, to print.
pub struct DemoInfo {
    /// An admin token for the demo.
    pub admin_token: String,
}

/// Fills the database if it has no tenant yet; `None` when it already had data.
pub async fn fill(services: &Services) -> anyhow::Result<Option<DemoInfo>> {
    let actor = Actor::new("demo");
    let existing = tenants::visible_tenants(services, &actor).await?;
    if !existing.is_empty() {
        return Ok(None);
    }
    let admin_token = fill_empty(services, &actor)
        .await
        .context("filling the demo database")?;
    Ok(Some(DemoInfo { admin_token }))
}

/// The demo tenant, its people with their aliases, its phones and an admin token.
async fn fill_empty(services: &Services, actor: &Actor) -> ServiceResult<String> {
    let tenant = TenantDraft {
        name: Some(TENANT.into()),
        sip_server: Some("pbx.demo.example".into()),
        timezone: Some("Europe/Berlin".into()),
        language: Some("en".into()),
        ..Default::default()
    };
    tenants::create_tenant(services, actor, tenant).await?;
    for (extension, name, email) in PEOPLE {
        add_person(services, actor, extension, name, email).await?;
    }
    for phone in PHONES {
        let draft = DeviceDraft {
            mac: Some(phone.mac.into()),
            tenant: Some(TENANT.into()),
            extension: Some(phone.extension.into()),
            vendor: Some(phone.vendor.into()),
            model: Some(phone.model.into()),
            label: Some(format!("Demo {}", phone.vendor)),
            ..Default::default()
        };
        devices::register(services, actor, draft).await?;
    }
    let token = TokenDraft {
        role: TokenRole::Admin,
        tenant: None,
        name: Some("demo-admin".into()),
    };
    tokens::create(services, actor, token).await
}

/// A demo user with its two aliases, "<first name> Support" and "<first name> Sales".
async fn add_person(
    services: &Services,
    actor: &Actor,
    extension: &str,
    name: &str,
    email: &str,
) -> ServiceResult<()> {
    let user = UserDraft {
        name: Some(name.into()),
        extension: Some(extension.into()),
        email: Some(Some(email.into())),
        ..Default::default()
    };
    users::create(services, actor, TENANT.into(), user).await?;
    let first = name.split(' ').next().unwrap_or(name);
    for role in ["Support", "Sales"] {
        let alias = AliasDraft {
            name: Some(format!("{first} {role}")),
            ..Default::default()
        };
        users::add_alias(services, actor, TENANT.into(), extension.into(), alias).await?;
    }
    Ok(())
}
