//! The OpenAPI 3 document of the admin listener, served at `GET /api/v1/openapi.json`.
//!
//! Nothing here lists routes: the document is collected from the `#[utoipa::path]` annotations
//! of the very handlers the router is built from (see [`super::router`]), so a route cannot be
//! served undocumented or documented unserved. This module adds the parts no handler owns:
//! the title, the bearer scheme, and the error responses every operation shares.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema};

use crate::http::error::ErrorBody;

/// The document's fixed parts; the paths and their schemas come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "deskprov admin API",
        description = "Tenants, sites, users, SIP aliases, devices and phone keys of the \
            deskprov phone provisioning server. Every call but this document and `/healthz` takes \
            `Authorization: Bearer <token>` (`deskprov token create`). Errors are \
            `{\"error\": {\"code\", \"message\", \"field\"}}`; a refused request writes nothing."
    ),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "tenants", description = "Tenants, their sites and numbering plans"),
        (name = "users", description = "Users, extensions and SIP aliases"),
        (name = "devices", description = "Phones by MAC: registration, line map, file previews"),
        (name = "keys", description = "Programmable phone keys: users' keys, device overrides, \
            the laid-out keys of a phone"),
        (name = "audit", description = "Who changed what"),
        (name = "meta", description = "This document and the health check"),
    )
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme the document's `security` refers to.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An admin or installer token from `deskprov token create`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Malformed request: not JSON, an unknown field, a wrong type, a bad path or query parameter,
/// an unknown query parameter (every operation refuses those), or a missing `?confirm=`.
#[derive(IntoResponses)]
#[response(status = 400)]
pub struct BadRequest(pub ErrorBody);

/// No bearer token, or an unknown one.
#[derive(IntoResponses)]
#[response(status = 401)]
pub struct Unauthorized(pub ErrorBody);

/// The token's role or tenant does not allow this.
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct Forbidden(pub ErrorBody);

/// No such tenant, site, user, alias, device or file.
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(pub ErrorBody);

/// It exists already, or a limit is reached.
#[derive(IntoResponses)]
#[response(status = 409)]
pub struct Conflict(pub ErrorBody);

/// The JSON body is over 2 MiB (`body_too_large`), or the declared body is over the admin
/// listener's 33 MiB: nothing was read.
#[derive(IntoResponses)]
#[response(status = 413)]
pub struct TooLarge(pub ErrorBody);

/// A provisioning rule is broken; `field` names the input and `code` the rule.
#[derive(IntoResponses)]
#[response(status = 422)]
pub struct Unprocessable(pub ErrorBody);

/// The schema of a create operation's body whose draft type `T` is shared with its patch
/// (where every field is optional): `T`'s schema, described by `description`, with `fields`
/// required and not null.
pub(super) fn creating<T: PartialSchema>(description: &str, fields: &[&str]) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = T::schema() else {
        unreachable!("a draft's schema is an inline object")
    };
    for field in fields {
        let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(*field) else {
            unreachable!("a required field is a property of the draft")
        };
        if let SchemaType::Array(types) = &property.schema_type {
            let mut kept: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            property.schema_type = match kept.len() {
                1 => SchemaType::Type(kept.remove(0)),
                _ => SchemaType::Array(kept),
            };
        }
        object.required.push((*field).to_owned());
    }
    object.description = Some(description.to_owned());
    RefOr::T(Schema::Object(object))
}

/// The document as served, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    super::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3 document of this API", body = Object,
            content_type = "application/json"),
        BadRequest,
    )
)]
pub(super) async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use crate::profile::Vendors;

    fn document() -> serde_json::Value {
        serde_json::from_str(&super::DOCUMENT).unwrap()
    }

    #[test]
    fn every_vendor_content_type_is_documented_for_file_previews() {
        let doc = document();
        let documented = doc["paths"]["/api/v1/devices/{mac}/files/{file}"]["get"]["responses"]
            ["200"]["content"]
            .as_object()
            .expect("getDeviceFile documents its content types")
            .clone();
        let vendors = Vendors::builtin().unwrap();
        for vendor in vendors.all() {
            for file in &vendor.profile.files {
                let media = file.content_type.split(';').next().unwrap().trim();
                assert!(
                    documented.contains_key(media),
                    "{} serves {} as {media}, which the document does not list",
                    vendor.id(),
                    file.name
                );
            }
        }
    }

    #[test]
    fn every_operation_has_an_id_a_tag_and_its_error_shape() {
        let doc = document();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{id} is used twice");
                assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id}");
                let public = op["security"] == serde_json::json!([{}]);
                assert_eq!(
                    public,
                    path == "/healthz" || path.ends_with("/openapi.json"),
                    "{method} {path}"
                );
                if !public {
                    assert_eq!(
                        op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path}"
                    );
                }
            }
        }
    }
}
