//! The rule that every registered phone can show its language.
//!
//! A language is one of [`LANGUAGES`](crate::domain::settings::LANGUAGES) at every level, but a
//! vendor family shows only the languages its profile maps (`[languages]` in
//! `vendors/<id>.toml`). A change that would leave a registered phone with a language its
//! family lacks is refused with `422 language_unsupported`, naming the family: checked inside
//! the change's own transaction, after the change, so a refused change writes nothing. That
//! covers a language set on the tenant, a site or a device, a device registered or imported
//! into a tenant or site whose language its family lacks, a device moved to another owner or
//! site, and a user (with phones at the user's site) moved to another site.

use crate::domain::{Mac, RuleError, Settings};
use crate::profile::Vendors;
use crate::store::{Reader, StoreError, StoreResult, devices};

/// Which phones a check looks at.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every phone of the tenant with this row id.
    Tenant(i64),
    /// Every phone of the user with this row id.
    User(i64),
    /// One phone.
    Device(&'a Mac),
}

/// Checks that every phone in `scope` can show the language its settings give it now (called
/// after the change, inside its transaction); a refusal names `field`.
pub fn check(conn: &Reader, vendors: &Vendors, scope: Scope<'_>, field: &str) -> StoreResult<()> {
    let macs: Vec<Mac> = match scope {
        Scope::Tenant(id) => devices::list(conn, Some(id), None)?
            .into_iter()
            .map(|d| d.mac)
            .collect(),
        Scope::User(id) => devices::list(conn, None, Some(id))?
            .into_iter()
            .map(|d| d.mac)
            .collect(),
        Scope::Device(mac) => vec![*mac],
    };
    for mac in macs {
        let Some(bundle) = devices::bundle(conn, &mac)? else {
            continue;
        };
        let Some(vendor) = vendors.get(&bundle.device.vendor) else {
            continue;
        };
        let language = Settings::merge(&bundle.settings_levels()).language;
        let model = bundle.device.effective_model();
        if vendor.language(&language, model).is_none() {
            let family = match model.and_then(|m| vendor.model_key(m)) {
                Some(m) => format!("{} {m}", vendor.profile.name),
                None => vendor.profile.name.clone(),
            };
            return Err(StoreError::Invalid(RuleError::new(
                field,
                "language_unsupported",
                format!(
                    "{family} phones cannot show language {language}, which phone {mac} would get; they show {}",
                    vendor.language_codes(model).join(", ")
                ),
            )));
        }
    }
    Ok(())
}
