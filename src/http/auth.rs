//! Who is calling the admin API: bearer tokens with a role and an optional tenant.

use crate::domain::audit::Actor;
use crate::domain::tenant::Tenant;
use crate::domain::token::TokenInfo;
use crate::service::ServiceError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::{ApiError, ApiResult};

/// The authenticated caller of an API request: the token and the actor it stands for.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token presented.
    pub token: TokenInfo,
    /// Who the use cases see.
    pub actor: Actor,
}

impl Caller {
    /// The caller a looked-up token stands for.
    pub fn new(token: TokenInfo) -> Self {
        let actor = Actor::for_token(&token);
        Self { token, actor }
    }

    /// Whether the token is an admin token.
    pub fn is_admin(&self) -> bool {
        self.actor.is_admin()
    }

    /// Refuses installers.
    pub fn require_admin(&self) -> ApiResult<()> {
        Ok(self.actor.require_admin().map_err(ServiceError::from)?)
    }

    /// Refuses tokens bound to another tenant.
    pub fn require_tenant(&self, tenant: &Tenant) -> ApiResult<()> {
        Ok(self
            .actor
            .require_tenant(tenant)
            .map_err(ServiceError::from)?)
    }

    /// The tenant the token is bound to, if any.
    pub fn tenant_id(&self) -> Option<i64> {
        self.actor.tenant_id
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
    let info = crate::service::sign_in::token(&state.services, token.to_owned()).await?;
    info.map(Caller::new).ok_or(ApiError::Unauthorized)
}
