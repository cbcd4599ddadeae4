//! API tokens: created here, shown once, stored only as a hash.

use super::tenants::load_tenant;
use super::{ServiceResult, Services};
use crate::domain::Actor;
use crate::domain::token::TokenDraft;
use crate::store::tokens;

/// Creates a token and returns its secret value (`dp_…`), which is never shown again.
///
/// Admins only; a token for every tenant needs an actor not bound to one, and a tenant's token
/// an actor that may see that tenant.
pub async fn create(
    services: &Services,
    actor: &Actor,
    draft: TokenDraft,
) -> ServiceResult<String> {
    actor.require_admin()?;
    let token = draft.into_new(chrono::Utc::now())?;
    let tenant_id = match token.tenant {
        Some(name) => Some(load_tenant(services, actor, name).await?.id),
        None => {
            actor.require_global_admin()?;
            None
        }
    };
    let by = actor.clone();
    Ok(services
        .store
        .write(move |tx| tokens::create(tx, &by, token.role, tenant_id, &token.name))
        .await?)
}
