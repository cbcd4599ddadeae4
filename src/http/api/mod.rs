//! The admin and installer JSON API under `/api/v1`, plus `/healthz` and its OpenAPI document.

mod audit;
mod bulk;
mod devices;
mod history;
pub mod key_views;
mod keys;
pub mod openapi;
mod query;
mod tenants;
mod users;
pub mod views;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::AppState;
use super::error::ApiError;

/// Every route of the admin listener, each added with `routes!` from its `#[utoipa::path]`
/// handler: the router and the OpenAPI document are both built from this one list, so neither
/// can have a route the other lacks. (`OpenApiRouter::route` would bypass the document; clippy
/// refuses it, see `clippy.toml`.)
fn documented() -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::new()
        .routes(routes!(tenants::create, tenants::list))
        .routes(routes!(tenants::show, tenants::update))
        .routes(routes!(tenants::create_site, tenants::list_sites))
        .routes(routes!(tenants::update_site))
        .routes(routes!(users::extensions))
        .routes(routes!(bulk::import).layer(DefaultBodyLimit::max(bulk::IMPORT_MAX_BYTES)))
        .routes(routes!(bulk::export))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::show, users::update, users::remove))
        .routes(routes!(users::add_alias, users::list_aliases))
        .routes(routes!(users::reorder_aliases))
        .routes(routes!(users::remove_alias))
        .routes(routes!(keys::user_keys, keys::set_user_keys))
        .routes(routes!(devices::create, devices::list))
        .routes(routes!(devices::show, devices::update, devices::remove))
        .routes(routes!(devices::lines))
        .routes(routes!(keys::device_keys, keys::set_device_keys))
        .routes(routes!(keys::layout))
        .routes(routes!(devices::files))
        .routes(routes!(devices::file))
        .routes(routes!(devices::uploads))
        .routes(routes!(devices::upload))
        .routes(routes!(history::show))
        .routes(routes!(audit::list))
        .routes(routes!(audit::restore))
        .routes(routes!(openapi::document))
        .fallback(|| async { ApiError::NotFound("endpoint") });
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", api)
        .routes(routes!(healthz))
}

/// The admin listener's router: the documented API, and the HTML pages under `/ui` (not part
/// of the JSON API).
pub fn router(state: AppState) -> Router {
    let (router, doc) = documented().split_for_parts();
    let known = std::sync::Arc::new(query::KnownParams::from_openapi(&doc));
    router
        .route_layer(axum::middleware::from_fn_with_state(
            known,
            query::refuse_unknown,
        ))
        // The limit `ApiJson` answers 413 for (the import sets its own on its route).
        .layer(DefaultBodyLimit::max(super::json::JSON_MAX_BYTES))
        .merge(super::ui::router())
        .route("/metrics", axum::routing::get(super::metrics::scrape))
        .with_state(state)
}

/// The OpenAPI document of the admin listener (served at `/api/v1/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().into_openapi()
}

/// `ok` when the database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "The database answers", body = String,
            content_type = "text/plain", example = "ok\n"),
        openapi::BadRequest,
        (status = 500, description = "The database does not answer (the detail is logged)",
            body = crate::http::error::ErrorBody),
    ),
)]
async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    crate::service::health(&state.services).await?;
    Ok("ok\n")
}
