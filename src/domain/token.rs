//! API tokens: roles and identities (the secret itself is never kept).

use chrono::{DateTime, Utc};

use super::RuleError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRole {
    /// Everything.
    Admin,
    /// Devices of one tenant (or all, when not bound), and users without secrets.
    Installer,
}

impl TokenRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Admin => "admin",
            TokenRole::Installer => "installer",
        }
    }
}

/// A token's identity, as found from its bearer value.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Row id.
    pub id: i64,
    /// Name (recorded in the audit log).
    pub name: String,
    /// Role.
    pub role: TokenRole,
    /// Tenant the token is bound to, if any.
    pub tenant_id: Option<i64>,
}

/// A token as asked for (`deskprov token create`, the demo).
#[derive(Debug, Clone)]
pub struct TokenDraft {
    /// What the token may do.
    pub role: TokenRole,
    /// Name of the tenant the token is bound to; `None` for every tenant.
    pub tenant: Option<String>,
    /// Name recorded in the audit log; `None` for `<role>-<time>`.
    pub name: Option<String>,
}

/// A token checked and ready to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// What the token may do.
    pub role: TokenRole,
    /// Name of the tenant the token is bound to.
    pub tenant: Option<String>,
    /// Name recorded in the audit log.
    pub name: String,
}

impl TokenDraft {
    /// Checks the draft: an installer works for one tenant. Without a name, the token is
    /// named after its role and `now`.
    pub fn into_new(self, now: DateTime<Utc>) -> Result<NewToken, RuleError> {
        if self.role == TokenRole::Installer && self.tenant.is_none() {
            return Err(RuleError::new(
                "tenant",
                "tenant_required",
                "tenant is required for installer tokens: an installer works for one tenant",
            ));
        }
        let name = self
            .name
            .unwrap_or_else(|| format!("{}-{}", self.role.as_str(), now.format("%Y%m%d%H%M%S")));
        Ok(NewToken {
            role: self.role,
            tenant: self.tenant,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn installers_need_a_tenant_and_names_default_to_role_and_time() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let draft = |role, tenant: Option<&str>| TokenDraft {
            role,
            tenant: tenant.map(str::to_owned),
            name: None,
        };
        let err = draft(TokenRole::Installer, None).into_new(now).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.code),
            ("tenant", "tenant_required")
        );
        let token = draft(TokenRole::Installer, Some("a.com"))
            .into_new(now)
            .unwrap();
        assert_eq!(token.name, "installer-20260102030405");
        assert_eq!(token.tenant.as_deref(), Some("a.com"));
        assert!(draft(TokenRole::Admin, None).into_new(now).is_ok());
    }
}
