//! API tokens: roles and identities (the secret itself is never kept).

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
