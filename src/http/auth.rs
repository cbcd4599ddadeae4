//! Who is calling the admin API: bearer tokens with a role and an optional tenant.

use crate::domain::audit::Actor;
use crate::domain::tenant::Tenant;
use crate::domain::token::{TokenInfo, TokenRole};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::{ApiError, ApiResult};

use crate::store::tokens;

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller(pub TokenInfo);

impl Caller {
    /// The actor recorded in the audit log.
    pub fn actor(&self) -> Actor {
        Actor::new(format!("token:{}", self.0.name))
    }

    /// Whether the token is an admin token.
    pub fn is_admin(&self) -> bool {
        self.0.role == TokenRole::Admin
    }

    /// Refuses installers.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this needs an admin token"))
        }
    }

    /// Refuses tokens bound to a tenant (creating tenants, listing all of them).
    pub fn require_global_admin(&self) -> ApiResult<()> {
        self.require_admin()?;
        if self.0.tenant_id.is_none() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this needs an admin token not bound to a tenant",
            ))
        }
    }

    /// Refuses tokens bound to another tenant.
    pub fn require_tenant(&self, tenant: &Tenant) -> ApiResult<()> {
        match self.0.tenant_id {
            Some(id) if id != tenant.id => {
                Err(ApiError::Forbidden("this token is bound to another tenant"))
            }
            _ => Ok(()),
        }
    }

    /// The tenant the token is bound to, if any.
    pub fn tenant_id(&self) -> Option<i64> {
        self.0.tenant_id
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        caller_for_token(state, token).await
    }
}

/// The caller a token value stands for (the bearer header's, or the sign-in form's).
pub async fn caller_for_token(state: &AppState, token: &str) -> ApiResult<Caller> {
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::Unauthorized);
    }
    let token = token.to_owned();
    let info = state.store.read(move |c| tokens::lookup(c, &token)).await?;
    info.map(Caller).ok_or(ApiError::Unauthorized)
}
