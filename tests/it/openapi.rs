//! The OpenAPI document at `/api/v1/openapi.json` against the running server: every documented
//! operation is requested with a valid request and with invalid ones (no token, other tokens,
//! missing path items, bad and unknown parameters, empty, unknown-field, wrongly typed and
//! non-JSON bodies). Every answer must be a status the document declares for that operation, never a
//! 5xx, with a body that matches the declared schema exactly (no undocumented fields).

use deskprov::domain::token::TokenRole;
use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const TENANT: &str = "testsite.com";
const POLYCOM_MAC: &str = "0004f2a1b2c3";
const POLYCOM_UA: &str = "FileTransport PolycomVVX-VVX_411-UA/6.4.6.2024 Type/Application";
/// Registered for `deleteDevice` to delete.
const DOOMED_MAC: &str = "001565000005";
/// Registered by `createDevice`.
const NEW_MAC: &str = "00:15:65:00:00:06";
/// A value no path item has, in a shape every parameter accepts (12 hex digits is a MAC).
const ABSENT: &str = "000000000999";

/// One documented operation, its schemas resolved (no `$ref` left).
#[derive(Debug)]
struct Operation {
    id: String,
    method: Method,
    path: String,
    path_params: Vec<(String, Value)>,
    query_params: Vec<(String, Value)>,
    /// Media type and schema of the request body.
    request: Option<(String, Value)>,
    /// Status → media type → schema.
    responses: BTreeMap<u16, BTreeMap<String, Value>>,
    public: bool,
}

impl Operation {
    /// The schema of a JSON request body.
    fn json_request(&self) -> Option<&Value> {
        self.request
            .as_ref()
            .filter(|(media, _)| media == "application/json")
            .map(|(_, schema)| schema)
    }
}

/// A valid request for one operation.
struct Fixture {
    path: Vec<(&'static str, String)>,
    query: String,
    body: Option<Value>,
    /// A body that is not JSON: media type and text.
    text: Option<(&'static str, String)>,
    status: StatusCode,
}

impl Fixture {
    fn new(path: &[(&'static str, &str)], status: StatusCode) -> Self {
        Self {
            path: path.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            query: String::new(),
            body: None,
            text: None,
            status,
        }
    }

    fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn text(mut self, media: &'static str, text: &str) -> Self {
        self.text = Some((media, text.to_owned()));
        self
    }
}

/// What a case sends.
#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    /// Raw text with an optional content type.
    Raw(String, Option<String>),
}

/// One request of the walk and what it must get, when the test knows exactly.
struct Case {
    label: String,
    path: String,
    query: String,
    token: Option<String>,
    body: Body,
    expect: Option<StatusCode>,
    /// For a wrongly typed field: the field the error must name.
    field: Option<String>,
}

/// Tokens and ids made by [`setup`].
pub(crate) struct World {
    admin: String,
    installer: String,
    other_admin: String,
    doomed_alias: i64,
    /// The audit entry of a deleted user, for `restoreFromAudit`.
    restorable_entry: i64,
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let ops = operations(&doc);
    assert!(ops.len() >= 25, "only {} operations documented", ops.len());
    let ids: BTreeSet<&str> = ops.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids.len(), ops.len(), "operationIds are not unique");

    let world = setup(&app).await;
    let mut checked = 0;
    for op in &ops {
        let fixture = fixture(&app, &world, &op.id)
            .await
            .unwrap_or_else(|| panic!("operation {} has no fixture: add one", op.id));
        for case in cases(op, &fixture, &world) {
            check(&app, op, &case).await;
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} requests checked");
}

#[tokio::test]
async fn the_document_is_public_json_and_every_path_refuses_undocumented_methods() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("http://{}/api/v1/openapi.json", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // The router and the document are one list: a documented path answers its documented
    // methods (the walk above) and refuses every other one.
    let world = setup(&app).await;
    let ops = operations(&doc);
    let mut by_path: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in &ops {
        by_path.entry(op.path.as_str()).or_default().push(op);
    }
    for (path, path_ops) in by_path {
        let fixture = fixture(&app, &world, &path_ops[0].id).await.unwrap();
        let concrete = fill(path, &fixture.path);
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if path_ops.iter().any(|o| o.method == method) {
                continue;
            }
            let resp = app
                .client
                .request(method.clone(), format!("http://{}{concrete}", app.admin))
                .bearer_auth(&world.admin)
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete} is served but not documented"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------

pub(crate) async fn document(app: &TestApp) -> Value {
    let resp = app
        .client
        .get(format!("http://{}/api/v1/openapi.json", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

/// `schema` with every `$ref` replaced by the schema it points to (siblings such as
/// `description` kept). The document has no recursive schemas, so this ends.
pub(crate) fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let name = target
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("unexpected $ref {target}"));
                let found = doc["components"]["schemas"]
                    .get(name)
                    .unwrap_or_else(|| panic!("$ref to a missing schema {name}"));
                let mut out = resolve(doc, found);
                for (k, v) in map.iter().filter(|(k, _)| *k != "$ref") {
                    out[k] = resolve(doc, v);
                }
                out
            } else {
                Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), resolve(doc, v)))
                        .collect(),
                )
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(doc, v)).collect()),
        other => other.clone(),
    }
}

/// `schema` that also refuses properties it does not list: the test holds answers to exactly
/// the documented fields. Members of an `allOf` stay open (each lists only its part); the
/// schema holding the `allOf` closes over all of them.
fn strict(schema: &Value, in_all_of: bool) -> Value {
    let Value::Object(map) = schema else {
        return match schema {
            Value::Array(items) => Value::Array(items.iter().map(|v| strict(v, false)).collect()),
            other => other.clone(),
        };
    };
    let mut out: serde_json::Map<String, Value> = map
        .iter()
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("allOf", Value::Array(items)) => {
                    Value::Array(items.iter().map(|i| strict(i, true)).collect())
                }
                ("properties", Value::Object(props)) => Value::Object(
                    props
                        .iter()
                        .map(|(name, s)| (name.clone(), strict(s, false)))
                        .collect(),
                ),
                _ => strict(v, false),
            };
            (k.clone(), v)
        })
        .collect();
    let is_object = out.contains_key("properties") || out.contains_key("allOf");
    if is_object && !in_all_of && !out.contains_key("additionalProperties") {
        out.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

fn operations(doc: &Value) -> Vec<Operation> {
    let global_security = doc.get("security").cloned().unwrap_or(Value::Null);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                other => panic!("{path}: unexpected key {other}"),
            };
            let mut path_params = Vec::new();
            let mut query_params = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let entry = (
                    p["name"].as_str().unwrap().to_owned(),
                    resolve(doc, &p["schema"]),
                );
                match p["in"].as_str() {
                    Some("path") => path_params.push(entry),
                    Some("query") => query_params.push(entry),
                    other => panic!("{path}: parameter in {other:?}"),
                }
            }
            for name in placeholders(path) {
                assert!(
                    path_params.iter().any(|(n, _)| *n == name),
                    "{path}: {{{name}}} is not a documented parameter"
                );
            }
            let request = op.get("requestBody").map(|b| {
                assert_eq!(b["required"], true, "{path}: request body not required");
                let content = b["content"].as_object().expect("request content");
                assert_eq!(content.len(), 1, "{path}: one request media type");
                let (media, m) = content.iter().next().unwrap();
                (media.clone(), resolve(doc, &m["schema"]))
            });
            let mut responses = BTreeMap::new();
            for (status, r) in op["responses"].as_object().expect("responses") {
                let content = r
                    .get("content")
                    .and_then(Value::as_object)
                    .map(|c| {
                        c.iter()
                            .map(|(media, m)| (media.clone(), resolve(doc, &m["schema"])))
                            .collect()
                    })
                    .unwrap_or_default();
                responses.insert(status.parse().expect("numeric status"), content);
            }
            let security = op.get("security").unwrap_or(&global_security);
            let public = security
                .as_array()
                .is_some_and(|reqs| reqs.is_empty() || reqs.iter().any(|r| r == &json!({})));
            ops.push(Operation {
                id: op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path}: no operationId"))
                    .to_owned(),
                method,
                path: path.clone(),
                path_params,
                query_params,
                request,
                responses,
                public,
            });
        }
    }
    ops
}

fn placeholders(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    assert!(!out.contains('{'), "{template}: a parameter has no value");
    out
}

/// The JSON types a (resolved) schema admits; empty when it admits anything.
fn json_types(schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match &schema["type"] {
        Value::String(t) => {
            out.insert(t.clone());
        }
        Value::Array(ts) => out.extend(ts.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    for key in ["oneOf", "anyOf"] {
        for member in schema[key].as_array().into_iter().flatten() {
            out.extend(json_types(member));
        }
    }
    if out.contains("number") {
        out.insert("integer".into());
    }
    out
}

/// A value of a JSON type `schema` does not admit, if there is one.
fn wrong_value(schema: &Value) -> Option<Value> {
    let types = json_types(schema);
    if types.is_empty() {
        return None;
    }
    [
        ("integer", json!(12345)),
        ("string", json!("text")),
        ("boolean", json!(true)),
        ("array", json!([1])),
        ("object", json!({"x": 1})),
    ]
    .into_iter()
    .find(|(t, _)| !types.contains(*t))
    .map(|(_, v)| v)
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema)
        .unwrap_or_else(|e| panic!("the document has an invalid schema ({e}): {schema}"))
}

// ---------------------------------------------------------------------------------------------
// The requests
// ---------------------------------------------------------------------------------------------

/// A tenant with a site, users (one per destructive operation), aliases, devices of two
/// vendors, an upload, a fetch and a deleted user; an installer token, and an admin token of
/// another tenant.
pub(crate) async fn setup(app: &TestApp) -> World {
    app.tenant().await;
    let (status, body) = app
        .post(&format!("/tenants/{TENANT}/sites"), json!({"name": "hq"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.user("101", "John Smith").await;
    app.alias("101", "John Support").await;
    app.alias("101", "John Sales").await;
    app.device(YEALINK_MAC, "101").await;
    app.user("102", "Doomed User").await;
    app.user("103", "Desk Three").await;
    app.device(DOOMED_MAC, "103").await;
    app.user("104", "Alias Owner").await;
    let doomed_alias = app.alias("104", "Doomed Alias").await;
    app.user("106", "Restorable User").await;
    let (status, body) = app
        .api(
            Method::DELETE,
            &format!("/tenants/{TENANT}/users/106?confirm=106"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, audit) = app.get("/audit?limit=1").await;
    let entry = &audit["entries"][0];
    assert_eq!(
        (&entry["action"], &entry["key"]),
        (&json!("delete"), &json!("106"))
    );
    let restorable_entry = entry["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": POLYCOM_MAC, "tenant": TENANT, "extension": "101", "model": "VVX_411"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let resp = app
        .client
        .put(format!("http://{}/{POLYCOM_MAC}-app.log", app.phone))
        .header("user-agent", POLYCOM_UA)
        .body("booted\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .phone_get(&format!("{YEALINK_MAC}.cfg"), Some(YEALINK_UA))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, body) = app
        .post(
            "/tenants",
            json!({"name": "other.example", "sip_server": "pbx.other.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let store = app.store();
    let installer = create_token(
        store,
        TokenRole::Installer,
        Some(tenant_id(app, TENANT).await),
        "installer",
    )
    .await;
    let other_admin = create_token(
        store,
        TokenRole::Admin,
        Some(tenant_id(app, "other.example").await),
        "other-admin",
    )
    .await;
    World {
        admin: app.admin_token.clone(),
        installer,
        other_admin,
        doomed_alias,
        restorable_entry,
    }
}

/// The valid request of each operation, by operationId. Destructive operations work on
/// resources made for them in [`setup`], so the order of the walk does not matter.
async fn fixture(app: &TestApp, world: &World, id: &str) -> Option<Fixture> {
    use StatusCode as S;
    let t = ("tenant", TENANT);
    let user = |ext| [t, ("extension", ext)];
    let yealink = [("mac", YEALINK_MAC)];
    Some(match id {
        "createTenant" => Fixture::new(&[], S::CREATED).body(json!({
            "name": "new.example", "sip_server": "pbx.new.example", "sip_port": 5061,
            "transport": "tls", "extension_plan": {"min_digits": 3, "max_digits": 4, "allowed": ["100-899"]},
            "timezone": "Europe/Berlin", "language": "de",
            "phone_auth": {"mode": "digest", "username": "phones", "url_key": "generate"},
            "enroll_window": "48h", "max_devices_per_user": 3
        })),
        "listTenants" => Fixture::new(&[], S::OK),
        "getTenant" => Fixture::new(&[t], S::OK),
        "updateTenant" => Fixture::new(&[t], S::OK)
            .body(json!({"timezone": "Europe/Paris", "phone_auth": {"allow_cidrs": ["127.0.0.0/8", "10.0.0.0/8"]}})),
        "createSite" => Fixture::new(&[t], S::CREATED).body(json!({
            "name": "Berlin office", "timezone": "Europe/Berlin", "ntp_server": "ntp.berlin.example",
            "sip_server": "pbx-berlin.testsite.com", "language": "de", "allow_cidrs": ["10.1.0.0/16"]
        })),
        "listSites" => Fixture::new(&[t], S::OK),
        "updateSite" => Fixture::new(&[t, ("site", "hq")], S::OK).body(json!({"language": "fr"})),
        "getExtensions" => Fixture::new(&[t], S::OK),
        "importTenant" => Fixture::new(&[t], S::OK).query("apply=true").text(
            "text/csv",
            "type,extension,name,email\nuser,120,Imported User,imported@testsite.com\n",
        ),
        "exportTenant" => Fixture::new(&[t], S::OK).query("secrets=true"),
        "createUser" => Fixture::new(&[t], S::CREATED).body(json!({
            "name": "Jane Doe", "extension": "105", "email": "jane@testsite.com", "role": "site_manager",
            "department": "Sales", "site": "hq", "voicemail_pin": "4321", "caller_id": "+4930123456",
            "phone_numbers": ["+4930123457"], "external_sip": "G79333CN0001", "max_devices": 3
        })),
        "listUsers" => Fixture::new(&[t], S::OK).query("q=John"),
        "getUser" => Fixture::new(&user("101"), S::OK).query("reveal=true"),
        "updateUser" => Fixture::new(&user("101"), S::OK)
            .body(json!({"department": "Support", "email": null})),
        "deleteUser" => Fixture::new(&user("102"), S::OK).query("confirm=102"),
        "createAlias" => {
            Fixture::new(&user("101"), S::CREATED).body(json!({"name": "John Night"}))
        }
        "listAliases" => Fixture::new(&user("101"), S::OK),
        "reorderAliases" => {
            let (_, list) = app
                .get(&format!("/tenants/{TENANT}/users/101/aliases"))
                .await;
            let mut ids: Vec<i64> = list["aliases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap())
                .collect();
            ids.reverse();
            Fixture::new(&user("101"), S::OK).body(json!({ "order": ids }))
        }
        "deleteAlias" => {
            let id = world.doomed_alias.to_string();
            Fixture::new(&[t, ("extension", "104"), ("id", &id)], S::NO_CONTENT)
        }
        "createDevice" => Fixture::new(&[], S::CREATED).body(json!({
            "mac": NEW_MAC, "tenant": TENANT, "extension": "103", "model": "T46U",
            "site": "hq", "label": "Reception", "settings": {"language": "de"}
        })),
        "listDevices" => Fixture::new(&[], S::OK).query("tenant=testsite.com"),
        "getDevice" => Fixture::new(&yealink, S::OK),
        "updateDevice" => Fixture::new(&yealink, S::OK).body(json!({
            "label": "Front desk", "reopen_enrollment": true,
            "phone_credentials": {"username": "desk-101"}
        })),
        "deleteDevice" => {
            Fixture::new(&[("mac", DOOMED_MAC)], S::NO_CONTENT).query("confirm=00:15:65:00:00:05")
        }
        "getDeviceLines" => Fixture::new(&yealink, S::OK),
        "getUserKeys" => Fixture::new(&user("101"), S::OK),
        "setUserKeys" => Fixture::new(&user("101"), S::OK).body(json!({"keys": [
            {"type": "blf", "value": "104"},
            {"type": "speed_dial", "value": "+4930123456", "label": "Office"},
            {"type": "park", "value": "701", "position": 6},
            {"type": "line", "value": "1"},
            {"type": "blf", "value": "sip:desk@pbx.other.example", "external": true,
             "module": 1, "position": 1}
        ]})),
        "getDeviceKeys" => Fixture::new(&yealink, S::OK),
        "setDeviceKeys" => Fixture::new(&yealink, S::OK).body(json!({"keys": [
            {"type": "none", "position": 2},
            {"type": "pickup", "value": "104", "label": "Alias desk"}
        ]})),
        "getDeviceLayout" => Fixture::new(&yealink, S::OK),
        "listDeviceFiles" => Fixture::new(&yealink, S::OK),
        "getDeviceFile" => {
            Fixture::new(&[("mac", YEALINK_MAC), ("file", "001565aabbcc.cfg")], S::OK)
        }
        "listDeviceUploads" => Fixture::new(&[("mac", POLYCOM_MAC)], S::OK),
        "getDeviceHistory" => Fixture::new(&[("mac", YEALINK_MAC)], S::OK).query("limit=20"),
        "getDeviceUpload" => Fixture::new(
            &[("mac", POLYCOM_MAC), ("file", "0004f2a1b2c3-app.log")],
            S::OK,
        ),
        "listAudit" => Fixture::new(&[], S::OK).query("tenant=testsite.com&limit=50"),
        "restoreFromAudit" => {
            let id = world.restorable_entry.to_string();
            Fixture::new(&[("id", &id)], S::CREATED)
        }
        "getOpenApi" => Fixture::new(&[], S::OK),
        "healthz" => Fixture::new(&[], S::OK),
        _ => return None,
    })
}

/// The invalid requests of `op` first, then its valid one (twice), then the installer's (which
/// may succeed, and so goes last).
fn cases(op: &Operation, fx: &Fixture, world: &World) -> Vec<Case> {
    let path = fill(&op.path, &fx.path);
    let body = match (&fx.body, &fx.text) {
        (Some(v), _) => Body::Json(v.clone()),
        (None, Some((media, text))) => Body::Raw(text.clone(), Some((*media).to_owned())),
        (None, None) => Body::None,
    };
    if let (Some((media, _)), Some((fixture_media, _))) = (&op.request, &fx.text) {
        assert_eq!(media, fixture_media, "{}: the fixture's media type", op.id);
    }
    if let (Some(schema), Some(valid)) = (op.json_request(), &fx.body) {
        let errors: Vec<String> = validator(schema)
            .iter_errors(valid)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{}: the fixture body breaks the documented schema: {errors:?}",
            op.id
        );
    }
    assert_eq!(
        op.request.is_some(),
        fx.body.is_some() || fx.text.is_some(),
        "{}: a body is documented iff the fixture has one",
        op.id
    );
    let base = |label: &str, token: Option<&str>| Case {
        label: label.to_owned(),
        path: path.clone(),
        query: fx.query.clone(),
        token: token.map(str::to_owned),
        body: body.clone(),
        expect: None,
        field: None,
    };
    let admin = Some(world.admin.as_str());
    let mut out = Vec::new();
    if op.public {
        out.push(Case {
            expect: Some(fx.status),
            ..base("no token on a public operation", None)
        });
    } else {
        out.push(Case {
            expect: Some(StatusCode::UNAUTHORIZED),
            ..base("no token", None)
        });
        out.push(Case {
            expect: Some(StatusCode::UNAUTHORIZED),
            ..base("unknown token", Some("dp_not-a-token"))
        });
        out.push(base("admin of another tenant", Some(&world.other_admin)));
    }
    for (name, schema) in &op.path_params {
        for missing in [ABSENT, "zz-missing"] {
            let values: Vec<(&str, String)> = fx
                .path
                .iter()
                .map(|(k, v)| {
                    (
                        *k,
                        if k == name {
                            missing.to_owned()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect();
            out.push(Case {
                path: fill(&op.path, &values),
                ..base(&format!("path {name}={missing}"), admin)
            });
        }
        let bad = if json_types(schema).contains("integer") {
            "abc"
        } else {
            "%FF"
        };
        let values: Vec<(&str, String)> = fx
            .path
            .iter()
            .map(|(k, v)| (*k, if k == name { bad.to_owned() } else { v.clone() }))
            .collect();
        out.push(Case {
            path: fill(&op.path, &values),
            expect: Some(StatusCode::BAD_REQUEST),
            field: Some(name.clone()),
            ..base(&format!("path {name}={bad}"), admin)
        });
    }
    for (name, schema) in &op.query_params {
        let types = json_types(schema);
        if types.contains("integer") || types.contains("boolean") {
            let prefix = format!("{name}=");
            let query = fx
                .query
                .split('&')
                .filter(|pair| !pair.is_empty() && !pair.starts_with(&prefix))
                .chain([format!("{name}=not-a-value").as_str()])
                .collect::<Vec<_>>()
                .join("&");
            out.push(Case {
                query,
                expect: Some(StatusCode::BAD_REQUEST),
                field: Some(name.clone()),
                ..base(&format!("query {name}=not-a-value"), admin)
            });
        }
    }
    // Every operation refuses a query parameter it does not document, naming it.
    let query = [fx.query.as_str(), "no_such_parameter=1"]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect::<Vec<_>>()
        .join("&");
    out.push(Case {
        query,
        expect: Some(StatusCode::BAD_REQUEST),
        field: Some("no_such_parameter".into()),
        ..base("unknown query parameter", admin)
    });
    if let (Some((media, _)), None) = (&op.request, op.json_request()) {
        for (label, text, media) in [
            ("empty text body", "", media.as_str()),
            ("unbalanced quotes", "\"type,name\n\"x", media.as_str()),
            ("a JSON body", "{}", "application/json"),
        ] {
            out.push(Case {
                body: Body::Raw(text.to_owned(), Some(media.to_owned())),
                ..base(label, admin)
            });
        }
    }
    if let (Some(schema), Some(valid)) = (op.json_request(), &fx.body) {
        out.push(Case {
            body: Body::Json(json!({})),
            ..base("empty body", admin)
        });
        if schema["additionalProperties"] == false {
            let mut extra = valid.clone();
            extra["no_such_field"] = json!(1);
            out.push(Case {
                body: Body::Json(extra),
                expect: Some(StatusCode::BAD_REQUEST),
                field: Some("no_such_field".into()),
                ..base("unknown field", admin)
            });
        }
        for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(wrong) = wrong_value(prop) {
                let mut bad = valid.clone();
                bad[name] = wrong;
                out.push(Case {
                    body: Body::Json(bad),
                    expect: Some(StatusCode::BAD_REQUEST),
                    field: Some(name.clone()),
                    ..base(&format!("wrong type of {name}"), admin)
                });
            }
        }
        out.push(Case {
            body: Body::Json(json!([])),
            expect: Some(StatusCode::BAD_REQUEST),
            ..base("an array body", admin)
        });
        out.push(Case {
            body: Body::Raw("{\"name\": ".into(), Some("application/json".into())),
            expect: Some(StatusCode::BAD_REQUEST),
            ..base("truncated JSON", admin)
        });
        out.push(Case {
            body: Body::Raw("name=x".into(), None),
            expect: Some(StatusCode::BAD_REQUEST),
            ..base("no content type", admin)
        });
    }
    out.push(Case {
        expect: Some(fx.status),
        ..base("valid", admin)
    });
    // Again: now a duplicate, a second delete, a repeated change.
    out.push(base("valid again", admin));
    if !op.public {
        out.push(base("installer", Some(&world.installer)));
    }
    out
}

/// Sends `case` and holds the answer to the document.
async fn check(app: &TestApp, op: &Operation, case: &Case) {
    let what = format!(
        "{} {} {}?{} ({})",
        op.id, op.method, case.path, case.query, case.label
    );
    let url = if case.query.is_empty() {
        format!("http://{}{}", app.admin, case.path)
    } else {
        format!("http://{}{}?{}", app.admin, case.path, case.query)
    };
    let mut req = app.client.request(op.method.clone(), url);
    if let Some(token) = &case.token {
        req = req.bearer_auth(token);
    }
    let sent = match &case.body {
        Body::None => None,
        Body::Json(v) => {
            req = req.json(v);
            Some(v.clone())
        }
        Body::Raw(text, content_type) => {
            if let Some(ct) = content_type {
                req = req.header("content-type", ct.as_str());
            }
            req = req.body(text.clone());
            None
        }
    };
    let resp = req.send().await.expect("admin listener answers");
    let status = resp.status();
    let media = resp.headers().get("content-type").map(|v| {
        v.to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_owned()
    });
    let bytes = resp.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&bytes);

    assert!(!status.is_server_error(), "{what}: {status} {text}");
    let Some(content) = op.responses.get(&status.as_u16()) else {
        panic!(
            "{what}: {status} is not a documented answer (documented: {:?}): {text}",
            op.responses.keys().collect::<Vec<_>>()
        );
    };
    if let Some(expect) = case.expect {
        assert_eq!(status, expect, "{what}: {text}");
    }
    if let (Some(schema), Some(body)) = (op.json_request(), &sent)
        && !validator(schema).is_valid(body)
    {
        assert!(
            status.is_client_error(),
            "{what}: a body the document refuses was accepted with {status}"
        );
    }
    if content.is_empty() {
        assert!(
            bytes.is_empty(),
            "{what}: {status} documents no body but got {text}"
        );
        return;
    }
    let media = media.unwrap_or_else(|| panic!("{what}: {status} without a content type"));
    let schema = content.get(&media).unwrap_or_else(|| {
        panic!(
            "{what}: content type {media} is not documented for {status} ({:?})",
            content.keys().collect::<Vec<_>>()
        )
    });
    let value = if media == "application/json" {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
    } else {
        Value::String(text.clone().into_owned())
    };
    let errors: Vec<String> = validator(&strict(schema, false))
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {status} body does not match the documented schema: {errors:#?}\n{value:#}"
    );
    if let Some(field) = &case.field {
        assert_eq!(value["error"]["field"], field.as_str(), "{what}: {value}");
    }
}
