//! The admin and installer JSON API under `/api/v1`, plus `/healthz` and `/metrics`.

mod audit;
mod devices;
mod tenants;
mod users;

use axum::Router;
use axum::routing::{delete, get, post, put};

use super::AppState;
use super::error::ApiError;

/// The admin listener's router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route(
            "/tenants/{tenant}",
            get(tenants::show).patch(tenants::update),
        )
        .route(
            "/tenants/{tenant}/sites",
            post(tenants::create_site).get(tenants::list_sites),
        )
        .route("/tenants/{tenant}/extensions", get(users::extensions))
        .route(
            "/tenants/{tenant}/users",
            post(users::create).get(users::list),
        )
        .route(
            "/tenants/{tenant}/users/{extension}",
            get(users::show).patch(users::update).delete(users::remove),
        )
        .route(
            "/tenants/{tenant}/users/{extension}/aliases",
            post(users::add_alias).get(users::list_aliases),
        )
        .route(
            "/tenants/{tenant}/users/{extension}/aliases/order",
            put(users::reorder_aliases),
        )
        .route(
            "/tenants/{tenant}/users/{extension}/aliases/{id}",
            delete(users::remove_alias),
        )
        .route("/devices", post(devices::create).get(devices::list))
        .route(
            "/devices/{mac}",
            get(devices::show)
                .patch(devices::update)
                .delete(devices::remove),
        )
        .route("/devices/{mac}/lines", get(devices::lines))
        .route("/devices/{mac}/files", get(devices::files))
        .route("/devices/{mac}/files/{file}", get(devices::file))
        .route("/devices/{mac}/uploads", get(devices::uploads))
        .route("/devices/{mac}/uploads/{file}", get(devices::upload))
        .route("/audit", get(audit::list))
        .fallback(|| async { ApiError::NotFound("endpoint") });
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/metrics", get(super::metrics::scrape))
        .with_state(state)
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    state
        .store
        .read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
        .await?;
    Ok("ok\n")
}
