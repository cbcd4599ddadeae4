//! Users and their SIP aliases as admins describe them, and the checks that turn drafts into
//! records.

use rand::Rng;
use serde::{Deserialize, Deserializer};

use super::{
    E164, Email, Extension, ExtensionPlan, ExternalSipLogin, PortalPassword, PortalSecret,
    PrintableText, Role, RuleError, SipPassword, SipUsername, VoicemailPin,
};
use super::{UserFacts, UserTag, user_tags};
use serde_json::{Value, json};

/// Most phone numbers a user may carry.
pub const MAX_PHONE_NUMBERS: usize = 20;

/// `null` in a patch clears a value; a missing field leaves it alone.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A user as sent in `POST …/users` or `PATCH …/users/{extension}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDraft {
    /// Full name, shown on line 1.
    pub name: Option<String>,
    /// Email address; a user without one is tagged `setup_required`.
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    /// Extension (required on create, immutable after).
    #[schema(example = "101")]
    pub extension: Option<String>,
    /// Portal role.
    #[schema(value_type = Option<super::Role>)]
    pub role: Option<String>,
    /// Admin flag.
    pub admin: Option<bool>,
    /// Department.
    #[serde(default, deserialize_with = "nullable")]
    pub department: Option<Option<String>>,
    /// Site name.
    #[serde(default, deserialize_with = "nullable")]
    pub site: Option<Option<String>>,
    /// SIP username (with or without the tenant prefix).
    pub sip_username: Option<String>,
    /// SIP password; generated when absent on create.
    pub sip_password: Option<String>,
    /// Voicemail PIN.
    #[serde(default, deserialize_with = "nullable")]
    pub voicemail_pin: Option<Option<String>>,
    /// Caller ID (E.164).
    #[serde(default, deserialize_with = "nullable")]
    pub caller_id: Option<Option<String>>,
    /// Phone numbers (E.164).
    #[schema(max_items = 20)]
    pub phone_numbers: Option<Vec<String>>,
    /// External SIP login part.
    #[serde(default, deserialize_with = "nullable")]
    pub external_sip: Option<Option<String>>,
    /// Portal password.
    pub portal_password: Option<String>,
    /// Device limit for this user (1 to 100), overriding the tenant's; `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(minimum = 1, maximum = 100)]
    pub max_devices: Option<Option<u32>>,
}

/// A checked user: every field parsed. Secrets are held in their redacting types.
#[derive(Debug, Clone)]
pub struct UserSpec {
    /// Full name.
    pub name: PrintableText,
    /// Email.
    pub email: Option<Email>,
    /// Extension.
    pub extension: Extension,
    /// Role.
    pub role: Role,
    /// Admin flag.
    pub admin: bool,
    /// Department.
    pub department: Option<PrintableText>,
    /// Site name (resolved to an id by the store).
    pub site: Option<String>,
    /// SIP username.
    pub sip_username: SipUsername,
    /// SIP password.
    pub sip_password: SipPassword,
    /// Voicemail PIN.
    pub voicemail_pin: Option<VoicemailPin>,
    /// Caller ID.
    pub caller_id: Option<E164>,
    /// Phone numbers.
    pub phone_numbers: Vec<E164>,
    /// External SIP login.
    pub external_sip: Option<ExternalSipLogin>,
    /// A new portal password to store, if one was given: hashed by
    /// [`UserSpec::hash_portal_password`] before the write.
    pub new_portal_password: Option<PortalSecret>,
    /// Per-user device limit.
    pub max_devices: Option<u32>,
}

/// What the rules need to know about the tenant.
#[derive(Debug, Clone, Copy)]
pub struct TenantRules<'a> {
    /// The numbering plan.
    pub plan: &'a ExtensionPlan,
    /// The SIP username prefix.
    pub prefix: &'a str,
}

impl UserSpec {
    /// Hashes a new portal password given as plain text, so the write that stores it does not
    /// hash inside its transaction.
    pub fn hash_portal_password(
        &mut self,
        rng: &mut impl Rng,
    ) -> Result<(), argon2::password_hash::Error> {
        if let Some(PortalSecret::Plain(pw)) = &self.new_portal_password {
            self.new_portal_password = Some(PortalSecret::Hashed(pw.hash(rng)?));
        }
        Ok(())
    }
}

impl UserDraft {
    /// Checks a new user. A missing SIP password is generated with `rng`.
    pub fn into_new(
        self,
        rules: TenantRules<'_>,
        rng: &mut impl Rng,
    ) -> Result<UserSpec, RuleError> {
        let name = self
            .name
            .as_deref()
            .ok_or_else(|| RuleError::new("name", "required", "a user needs a name"))?;
        let extension = self.extension.as_deref().ok_or_else(|| {
            RuleError::new(
                "extension",
                "required",
                "a user needs an extension (ask for the next free one)",
            )
        })?;
        let extension = Extension::parse(extension, rules.plan)?;
        let sip_username = SipUsername::build(
            rules.prefix,
            self.sip_username.as_deref(),
            extension.as_str(),
            "sip_username",
        )?;
        let sip_password = match &self.sip_password {
            Some(pw) => SipPassword::parse(pw, "sip_password")?,
            None => SipPassword::generate(rng),
        };
        let base = UserSpec {
            name: PrintableText::name(name, "name")?,
            email: None,
            extension,
            role: Role::default(),
            admin: false,
            department: None,
            site: None,
            sip_username,
            sip_password,
            voicemail_pin: None,
            caller_id: None,
            phone_numbers: Vec::new(),
            external_sip: None,
            new_portal_password: None,
            max_devices: None,
        };
        UserDraft {
            name: None,
            extension: None,
            sip_username: None,
            sip_password: None,
            ..self
        }
        .apply_to(base, rules)
    }

    /// Applies a patch to an existing user. The extension cannot change.
    pub fn apply_to(
        self,
        mut spec: UserSpec,
        rules: TenantRules<'_>,
    ) -> Result<UserSpec, RuleError> {
        if let Some(ext) = &self.extension
            && ext != spec.extension.as_str()
        {
            return Err(RuleError::new(
                "extension",
                "immutable",
                "an extension cannot be changed after creation; create a new user instead",
            ));
        }
        self.apply_person(&mut spec)?;
        self.apply_sip(&mut spec, rules)?;
        self.apply_numbers(&mut spec)?;
        self.apply_portal_and_limit(&mut spec)?;
        Ok(spec)
    }

    /// Who the user is: name, email, role, admin flag, department, site.
    fn apply_person(&self, spec: &mut UserSpec) -> Result<(), RuleError> {
        if let Some(name) = &self.name {
            spec.name = PrintableText::name(name, "name")?;
        }
        if let Some(email) = &self.email {
            spec.email = email.as_deref().map(Email::parse).transpose()?;
        }
        if let Some(role) = &self.role {
            spec.role = Role::parse(role)?;
        }
        if let Some(admin) = self.admin {
            spec.admin = admin;
        }
        if let Some(department) = &self.department {
            spec.department = department
                .as_deref()
                .map(|d| PrintableText::name(d, "department"))
                .transpose()?;
        }
        if let Some(site) = &self.site {
            spec.site = site.clone();
        }
        Ok(())
    }

    /// The SIP account: username (with the tenant prefix), password, voicemail PIN, caller ID.
    fn apply_sip(&self, spec: &mut UserSpec, rules: TenantRules<'_>) -> Result<(), RuleError> {
        if let Some(username) = &self.sip_username {
            spec.sip_username = SipUsername::build(
                rules.prefix,
                Some(username),
                spec.extension.as_str(),
                "sip_username",
            )?;
        }
        if let Some(pw) = &self.sip_password {
            spec.sip_password = SipPassword::parse(pw, "sip_password")?;
        }
        if let Some(pin) = &self.voicemail_pin {
            spec.voicemail_pin = pin.as_deref().map(VoicemailPin::parse).transpose()?;
        }
        if let Some(caller_id) = &self.caller_id {
            spec.caller_id = caller_id
                .as_deref()
                .map(|c| E164::parse(c, "caller_id"))
                .transpose()?;
        }
        Ok(())
    }

    /// Phone numbers (E.164, a bounded list) and the external SIP login.
    fn apply_numbers(&self, spec: &mut UserSpec) -> Result<(), RuleError> {
        if let Some(numbers) = &self.phone_numbers {
            if numbers.len() > MAX_PHONE_NUMBERS {
                return Err(RuleError::new(
                    "phone_numbers",
                    "too_many",
                    format!("at most {MAX_PHONE_NUMBERS} phone numbers"),
                ));
            }
            spec.phone_numbers = numbers
                .iter()
                .enumerate()
                .map(|(i, n)| E164::parse(n, &format!("phone_numbers[{i}]")))
                .collect::<Result<_, _>>()?;
        }
        if let Some(external) = &self.external_sip {
            spec.external_sip = external
                .as_deref()
                .map(|e| ExternalSipLogin::parse(e, "external_sip"))
                .transpose()?;
        }
        Ok(())
    }

    /// A new portal password and the user's own device limit.
    fn apply_portal_and_limit(&self, spec: &mut UserSpec) -> Result<(), RuleError> {
        if let Some(pw) = &self.portal_password {
            spec.new_portal_password = Some(PortalSecret::Plain(PortalPassword::parse(pw)?));
        }
        if let Some(max) = self.max_devices {
            if let Some(m) = max
                && !(1..=100).contains(&m)
            {
                return Err(RuleError::new(
                    "max_devices",
                    "out_of_range",
                    "a device limit is 1 to 100",
                ));
            }
            spec.max_devices = max;
        }
        Ok(())
    }
}

/// An alias as sent in `POST …/users/{extension}/aliases`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasDraft {
    /// Name shown on the line (`John Support`).
    #[schema(required = true, nullable = false)]
    pub name: Option<String>,
    /// SIP username (with or without prefix); defaults to `<prefix><extension>_<n>`.
    pub sip_username: Option<String>,
    /// SIP password; generated when absent.
    pub sip_password: Option<String>,
}

/// A checked alias.
#[derive(Debug, Clone)]
pub struct AliasSpec {
    /// Name.
    pub name: PrintableText,
    /// SIP username, or `None` to let the store pick the next default one.
    pub sip_username: Option<SipUsername>,
    /// SIP password.
    pub sip_password: SipPassword,
}

impl AliasDraft {
    /// Checks a new alias of a user; a missing password is generated with `rng`.
    pub fn into_new(self, prefix: &str, rng: &mut impl Rng) -> Result<AliasSpec, RuleError> {
        let name = self
            .name
            .as_deref()
            .ok_or_else(|| RuleError::new("name", "required", "an alias needs a name"))?;
        Ok(AliasSpec {
            name: PrintableText::name(name, "name")?,
            sip_username: self
                .sip_username
                .as_deref()
                .map(|u| SipUsername::build(prefix, Some(u), "", "sip_username"))
                .transpose()?,
            sip_password: match &self.sip_password {
                Some(pw) => SipPassword::parse(pw, "sip_password")?,
                None => SipPassword::generate(rng),
            },
        })
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Tenant row id.
    pub tenant_id: i64,
    /// Checked fields.
    pub spec: UserSpec,
    /// Site row id.
    pub site_id: Option<i64>,
    /// Whether a portal password is set.
    pub has_portal_password: bool,
    /// Devices assigned.
    pub devices: u32,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl User {
    /// Computed status tags.
    pub fn tags(&self) -> Vec<UserTag> {
        user_tags(UserFacts {
            has_email: self.spec.email.is_some(),
            has_pin: self.spec.voicemail_pin.is_some(),
            has_portal_password: self.has_portal_password,
            devices: self.devices,
        })
    }

    /// The user as JSON without secrets (no SIP password, PIN or portal password).
    pub fn to_json(&self) -> Value {
        let s = &self.spec;
        json!({
            "name": s.name,
            "extension": s.extension,
            "email": s.email,
            "role": s.role,
            "admin": s.admin,
            "department": s.department,
            "site": s.site,
            "sip_username": s.sip_username,
            "voicemail_pin_set": s.voicemail_pin.is_some(),
            "portal_password_set": self.has_portal_password,
            "caller_id": s.caller_id,
            "phone_numbers": s.phone_numbers,
            "external_sip": s.external_sip,
            "max_devices": s.max_devices,
            "devices": self.devices,
            "status": self.tags(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// A stored alias.
#[derive(Debug, Clone)]
pub struct Alias {
    /// Row id (the alias id of the API).
    pub id: i64,
    /// Owner's row id.
    pub user_id: i64,
    /// 1-based position in the owner's order.
    pub position: i64,
    /// Name shown on the line.
    pub name: String,
    /// SIP username.
    pub sip_username: String,
    /// SIP password.
    pub sip_password: SipPassword,
}

impl Alias {
    /// The alias as JSON without its password.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "position": self.position, "name": self.name, "sip_username": self.sip_username})
    }

    /// The whole alias, password included, for restore after a delete.
    pub fn snapshot(&self) -> Value {
        let mut v = self.to_json();
        v["sip_password"] = json!(self.sip_password.expose());
        v
    }
}

/// Most aliases one user may have.
pub const MAX_ALIASES_PER_USER: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(plan: &ExtensionPlan) -> TenantRules<'_> {
        TenantRules {
            plan,
            prefix: "testsitecom_",
        }
    }

    fn draft(json: &str) -> UserDraft {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_minimal_user_gets_a_prefixed_username_and_a_generated_password() {
        let plan = ExtensionPlan::default();
        let spec = draft(r#"{"name":"John Smith","extension":"101"}"#)
            .into_new(rules(&plan), &mut rand::rng())
            .unwrap();
        assert_eq!(spec.sip_username.as_str(), "testsitecom_101");
        assert!(spec.sip_password.expose().len() >= 20);
        assert_eq!(spec.role, Role::BasicUser);
    }

    #[test]
    fn every_field_error_names_its_field() {
        let plan = ExtensionPlan::default();
        let cases = [
            (r#"{"extension":"101"}"#, "name"),
            (r#"{"name":"J"}"#, "extension"),
            (r#"{"name":"J","extension":"911"}"#, "extension"),
            (r#"{"name":"J\nK","extension":"101"}"#, "name"),
            (r#"{"name":"J","extension":"101","email":"nope"}"#, "email"),
            (r#"{"name":"J","extension":"101","role":"king"}"#, "role"),
            (
                r#"{"name":"J","extension":"101","sip_password":"weak"}"#,
                "sip_password",
            ),
            (
                r#"{"name":"J","extension":"101","voicemail_pin":"12"}"#,
                "voicemail_pin",
            ),
            (
                r#"{"name":"J","extension":"101","caller_id":"0301234"}"#,
                "caller_id",
            ),
            (
                r#"{"name":"J","extension":"101","phone_numbers":["+4930123456","x"]}"#,
                "phone_numbers[1]",
            ),
            (
                r#"{"name":"J","extension":"101","external_sip":"G1@host"}"#,
                "external_sip",
            ),
            (
                r#"{"name":"J","extension":"101","sip_username":"Bad Name"}"#,
                "sip_username",
            ),
            (
                r#"{"name":"J","extension":"101","portal_password":"short"}"#,
                "portal_password",
            ),
        ];
        for (json, field) in cases {
            let err = draft(json)
                .into_new(rules(&plan), &mut rand::rng())
                .unwrap_err();
            assert_eq!(err.field, field, "{json}: {err}");
        }
    }

    #[test]
    fn patches_cannot_change_the_extension_and_null_clears() {
        let plan = ExtensionPlan::default();
        let spec = draft(r#"{"name":"J","extension":"101","email":"j@testsite.com"}"#)
            .into_new(rules(&plan), &mut rand::rng())
            .unwrap();
        let err = draft(r#"{"extension":"102"}"#)
            .apply_to(spec.clone(), rules(&plan))
            .unwrap_err();
        assert_eq!((err.field.as_str(), err.code), ("extension", "immutable"));
        let cleared = draft(r#"{"email":null}"#)
            .apply_to(spec, rules(&plan))
            .unwrap();
        assert!(cleared.email.is_none());
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<UserDraft>(r#"{"name":"J","extention":"101"}"#).is_err());
    }
}
