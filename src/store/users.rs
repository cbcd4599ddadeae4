//! Users: a person or resource with an extension and a SIP account.

use crate::domain::audit::{Actor, Change};
use crate::domain::tenant::Tenant;
use std::collections::HashSet;

use crate::domain::PortalSecret;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::{Value, json};

use super::audit;
use crate::domain::keys::KeyRef;

use super::{StoreError, StoreResult, execute_cached, now, sip_usernames, sites, time_text};
use crate::domain::user::User;
use crate::domain::user::UserSpec;
use crate::domain::{
    E164, Email, Extension, ExternalSipLogin, PrintableText, Role, RuleError, SipPassword,
    SipUsername, VoicemailPin,
};

const SELECT: &str = "SELECT u.id, u.tenant_id, u.extension, u.name, u.email, u.role, u.is_admin, u.department, s.name,
    u.sip_username, u.sip_password, u.voicemail_pin, u.caller_id, u.phone_numbers, u.external_sip,
    u.portal_password_hash IS NOT NULL, u.max_devices, u.created_at, u.updated_at, u.site_id,
    (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id)
    FROM users u LEFT JOIN sites s ON s.id = u.site_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let opt = |i: usize| r.get::<_, Option<String>>(i);
    let numbers: Vec<String> = serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default();
    Ok(User {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        spec: UserSpec {
            extension: Extension::from_trusted(r.get(2)?),
            name: PrintableText::from_trusted(r.get(3)?),
            email: opt(4)?.map(Email::from_trusted),
            role: Role::parse(&r.get::<_, String>(5)?).unwrap_or_default(),
            admin: r.get(6)?,
            department: opt(7)?.map(PrintableText::from_trusted),
            site: opt(8)?,
            sip_username: SipUsername::from_trusted(r.get(9)?),
            sip_password: SipPassword::from_trusted(r.get(10)?),
            voicemail_pin: opt(11)?.map(VoicemailPin::from_trusted),
            caller_id: opt(12)?.map(E164::from_trusted),
            phone_numbers: numbers.into_iter().map(E164::from_trusted).collect(),
            external_sip: opt(14)?.map(ExternalSipLogin::from_trusted),
            new_portal_password: None,
            max_devices: r.get(16)?,
        },
        has_portal_password: r.get(15)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
        site_id: r.get(19)?,
        devices: r.get(20)?,
    })
}

/// The user of `tenant_id` with `extension`.
pub fn by_extension(conn: &Connection, tenant_id: i64, extension: &str) -> StoreResult<User> {
    conn.prepare_cached(&format!(
        "{SELECT} WHERE u.tenant_id = ?1 AND u.extension = ?2"
    ))?
    .query_row(params![tenant_id, extension], from_row)
    .optional()?
    .ok_or(StoreError::NotFound("user"))
}

/// The user with row id `id`.
pub fn by_id(conn: &Connection, id: i64) -> StoreResult<User> {
    conn.prepare_cached(&format!("{SELECT} WHERE u.id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .ok_or(StoreError::NotFound("user"))
}

/// Users of a tenant by extension, optionally matching `search` in name or extension.
pub fn list(conn: &Connection, tenant_id: i64, search: Option<&str>) -> StoreResult<Vec<User>> {
    let pattern = search.map(|s| {
        format!(
            "%{}%",
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE u.tenant_id = ?1 AND (?2 IS NULL OR u.name LIKE ?2 ESCAPE '\\' OR u.extension LIKE ?2 ESCAPE '\\')
         ORDER BY length(u.extension), u.extension"
    ))?;
    let rows = stmt.query_map(params![tenant_id, pattern], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Extensions already allocated in a tenant.
pub fn extensions(conn: &Connection, tenant_id: i64) -> StoreResult<HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT extension FROM users WHERE tenant_id = ?1")?;
    let rows = stmt.query_map([tenant_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The hash to store for a new portal password. Hashing is the caller's, before the
/// transaction: a plain password here is a bug, refused rather than hashed while holding the
/// only writer.
fn portal_hash(spec: &UserSpec) -> StoreResult<Option<String>> {
    match &spec.new_portal_password {
        None => Ok(None),
        Some(PortalSecret::Hashed(hash)) => Ok(Some(hash.as_str().to_owned())),
        Some(PortalSecret::Plain(_)) => Err(StoreError::Task(
            "a portal password reached the store unhashed".into(),
        )),
    }
}

fn site_id(conn: &Connection, tenant: &Tenant, spec: &UserSpec) -> StoreResult<Option<i64>> {
    spec.site
        .as_deref()
        .map(|name| sites::resolve(conn, tenant.id, name, "site").map(|s| s.id))
        .transpose()
}

/// Creates a user in `tenant`.
pub fn insert(
    tx: &Transaction<'_>,
    actor: &Actor,
    tenant: &Tenant,
    spec: &UserSpec,
) -> StoreResult<User> {
    insert_as(tx, actor, "create", tenant, spec)
}

/// Creates a user in `tenant`, recording the change as `action` (`create`, `import`).
pub fn insert_as(
    tx: &Transaction<'_>,
    actor: &Actor,
    action: &str,
    tenant: &Tenant,
    spec: &UserSpec,
) -> StoreResult<User> {
    let portal_hash = portal_hash(spec)?;
    insert_row(tx, actor, action, tenant, spec, portal_hash)
}

/// Re-creates a deleted user with its stored portal password hash; recorded as `restore`.
pub fn restore(
    tx: &Transaction<'_>,
    actor: &Actor,
    tenant: &Tenant,
    spec: &UserSpec,
    portal_hash: Option<String>,
) -> StoreResult<User> {
    insert_row(tx, actor, "restore", tenant, spec, portal_hash)
}

fn insert_row(
    tx: &Transaction<'_>,
    actor: &Actor,
    action: &str,
    tenant: &Tenant,
    spec: &UserSpec,
    portal_hash: Option<String>,
) -> StoreResult<User> {
    if by_extension(tx, tenant.id, spec.extension.as_str()).is_ok() {
        return Err(StoreError::Conflict(RuleError::new(
            "extension",
            "extension_taken",
            format!(
                "extension {} is already allocated in {}",
                spec.extension, tenant.name
            ),
        )));
    }
    if sip_usernames::taken(tx, spec.sip_username.as_str(), None)? {
        return Err(sip_usernames::conflict(&spec.sip_username, "sip_username"));
    }
    let site_id = site_id(tx, tenant, spec)?;
    let at = time_text(now());
    execute_cached(tx,
        "INSERT INTO users (tenant_id, extension, name, email, role, is_admin, department, site_id, sip_username,
            sip_password, voicemail_pin, caller_id, phone_numbers, external_sip, portal_password_hash, max_devices,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)",
        params![
            tenant.id,
            spec.extension.as_str(),
            spec.name.as_str(),
            spec.email.as_ref().map(Email::as_str),
            spec.role.as_str(),
            spec.admin,
            spec.department.as_ref().map(PrintableText::as_str),
            site_id,
            spec.sip_username.as_str(),
            spec.sip_password.expose(),
            spec.voicemail_pin.as_ref().map(VoicemailPin::as_str),
            spec.caller_id.as_ref().map(E164::as_str),
            serde_json::to_string(&spec.phone_numbers)?,
            spec.external_sip.as_ref().map(ExternalSipLogin::as_str),
            portal_hash,
            spec.max_devices,
            at,
        ],
    )?;
    let user = by_id(tx, tx.last_insert_rowid())?;
    audit::record(
        tx,
        actor,
        Change {
            action,
            entity: "user",
            key: user.spec.extension.to_string(),
            tenant_id: Some(tenant.id),
            before: None,
            after: Some(user.to_json()),
            snapshot: None,
        },
    )?;
    Ok(user)
}

/// Replaces the fields of `before` with `spec` (the extension stays).
pub fn update(
    tx: &Transaction<'_>,
    actor: &Actor,
    tenant: &Tenant,
    before: &User,
    spec: &UserSpec,
) -> StoreResult<User> {
    if spec.sip_username != before.spec.sip_username
        && sip_usernames::taken(tx, spec.sip_username.as_str(), Some(before.id))?
    {
        return Err(sip_usernames::conflict(&spec.sip_username, "sip_username"));
    }
    if let Some(max) = spec.max_devices
        && before.devices > max
    {
        return Err(StoreError::Conflict(RuleError::new(
            "max_devices",
            "below_current",
            format!(
                "the user already has {} devices; remove some before lowering the limit",
                before.devices
            ),
        )));
    }
    let site_id = site_id(tx, tenant, spec)?;
    execute_cached(tx,
        "UPDATE users SET name = ?2, email = ?3, role = ?4, is_admin = ?5, department = ?6, site_id = ?7,
            sip_username = ?8, sip_password = ?9, voicemail_pin = ?10, caller_id = ?11, phone_numbers = ?12,
            external_sip = ?13, portal_password_hash = COALESCE(?14, portal_password_hash), max_devices = ?15,
            updated_at = ?16
         WHERE id = ?1",
        params![
            before.id,
            spec.name.as_str(),
            spec.email.as_ref().map(Email::as_str),
            spec.role.as_str(),
            spec.admin,
            spec.department.as_ref().map(PrintableText::as_str),
            site_id,
            spec.sip_username.as_str(),
            spec.sip_password.expose(),
            spec.voicemail_pin.as_ref().map(VoicemailPin::as_str),
            spec.caller_id.as_ref().map(E164::as_str),
            serde_json::to_string(&spec.phone_numbers)?,
            spec.external_sip.as_ref().map(ExternalSipLogin::as_str),
            portal_hash(spec)?,
            spec.max_devices,
            time_text(now()),
        ],
    )?;
    let after = by_id(tx, before.id)?;
    let mut after_json = after.to_json();
    if spec.sip_password != before.spec.sip_password {
        after_json["sip_password_changed"] = json!(true);
    }
    audit::record(
        tx,
        actor,
        Change {
            action: "update",
            entity: "user",
            key: after.spec.extension.to_string(),
            tenant_id: Some(tenant.id),
            before: Some(before.to_json()),
            after: Some(after_json),
            snapshot: None,
        },
    )?;
    Ok(after)
}

fn portal_password_hash(conn: &Connection, user_id: i64) -> StoreResult<Option<String>> {
    Ok(conn.query_row(
        "SELECT portal_password_hash FROM users WHERE id = ?1",
        [user_id],
        |r| r.get(0),
    )?)
}

/// Deletes a user with their aliases and keys; refused while devices are assigned to them.
/// `removed` are the other users' and devices' keys that watched this user, already removed:
/// the snapshot keeps them, with the user's own keys, for a restore.
pub fn delete(
    tx: &Transaction<'_>,
    actor: &Actor,
    user: &User,
    removed: &[KeyRef],
) -> StoreResult<()> {
    if user.devices > 0 {
        return Err(StoreError::Conflict(RuleError::new(
            "extension",
            "user_has_devices",
            format!(
                "{} has {} device(s); delete or re-assign them first",
                user.spec.name, user.devices
            ),
        )));
    }
    let aliases = super::aliases::for_user(tx, user.id)?;
    let mut snapshot = user.to_json();
    snapshot["sip_password"] = json!(user.spec.sip_password.expose());
    snapshot["voicemail_pin"] = json!(user.spec.voicemail_pin.as_ref().map(VoicemailPin::as_str));
    snapshot["aliases"] = aliases.iter().map(|a| a.snapshot()).collect();
    snapshot["portal_password_hash"] = json!(portal_password_hash(tx, user.id)?);
    let own_keys = super::keys::list_json(&super::keys::for_user(tx, user.id)?);
    let removed: Value = removed.iter().map(KeyRef::to_json).collect();
    snapshot["keys"] = own_keys.clone();
    snapshot["removed_keys"] = removed.clone();
    let mut before = user.to_json();
    before["aliases"] = aliases.iter().map(|a| a.to_json()).collect();
    before["keys"] = own_keys;
    before["removed_keys"] = removed;
    tx.execute("DELETE FROM users WHERE id = ?1", [user.id])?;
    audit::record(
        tx,
        actor,
        Change {
            action: "delete",
            entity: "user",
            key: user.spec.extension.to_string(),
            tenant_id: Some(user.tenant_id),
            before: Some(before),
            after: None,
            snapshot: Some(snapshot),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenant::TenantDraft;
    use crate::domain::user::UserDraft;
    use crate::domain::{PortalPassword, PortalSecret};
    use crate::store::{Store, tenants};

    fn store_with_tenant() -> (tempfile::TempDir, Store, Tenant) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let spec = TenantDraft {
            name: Some("demo.example".into()),
            sip_server: Some("pbx.demo.example".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap();
        let tenant = store
            .write_blocking(|tx| Ok(tenants::insert(tx, &Actor::new("test"), spec)?.0))
            .unwrap();
        (dir, store, tenant)
    }

    fn spec_with_portal_password(tenant: &Tenant) -> UserSpec {
        let rules = crate::domain::user::TenantRules {
            plan: &tenant.extension_plan,
            prefix: &tenant.sip_username_prefix,
        };
        let mut spec = UserDraft {
            name: Some("Ann Example".into()),
            extension: Some("101".into()),
            ..Default::default()
        }
        .into_new(rules, &mut rand::rng())
        .unwrap();
        let pw = PortalPassword::parse("Str0ng&Portal#Pass").unwrap();
        spec.new_portal_password = Some(PortalSecret::Plain(pw));
        spec
    }

    #[test]
    fn portal_passwords_are_hashed_before_the_write_never_inside_it() {
        let (_dir, store, tenant) = store_with_tenant();
        let mut spec = spec_with_portal_password(&tenant);
        let actor = Actor::new("test");
        let refused = store.write_blocking(|tx| insert(tx, &actor, &tenant, &spec));
        assert!(matches!(refused, Err(StoreError::Task(_))), "{refused:?}");
        spec.hash_portal_password(&mut rand::rng()).unwrap();
        let user = store
            .write_blocking(|tx| insert(tx, &actor, &tenant, &spec))
            .unwrap();
        assert!(user.has_portal_password);
        let stored: String = store
            .read_blocking(|c| {
                Ok(c.query_row("SELECT portal_password_hash FROM users", [], |r| r.get(0))?)
            })
            .unwrap();
        assert!(stored.starts_with("$argon2"), "{stored}");
    }
}
