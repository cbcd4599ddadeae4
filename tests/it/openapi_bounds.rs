//! What the OpenAPI document states about values, held to what the server enforces: numeric
//! bounds and integer formats, integers written without a fraction, MAC spellings, required
//! fields and parameters, and the 413 answers. A generated client validates against the
//! document; every bound, pattern and status here is one such a client would otherwise trip on.

use std::collections::BTreeSet;

use deskprov::domain::mac::MAC_PATTERN;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;
use crate::openapi::{document, resolve};

/// Where a probed value goes.
enum Carrier {
    /// Into a JSON body: the method, the path, and the body holding the value.
    Body(Method, &'static str, fn(Value) -> Value),
    /// Into a query parameter of a `GET`: the path and the parameter.
    Query(&'static str, &'static str),
}

/// One bounded integer: where the document states its bounds, how to send it, the field an
/// error names, and the bounds the server enforces.
struct Bounded {
    /// A JSON pointer to its schema in the document.
    schema: &'static str,
    carrier: Carrier,
    field: &'static str,
    min: i64,
    max: i64,
}

/// Every bounded integer the API reads. `probe.example` is a tenant without users, so its
/// numbering plan can move freely; `001565aabbcc` is John's phone.
fn bounded() -> Vec<Bounded> {
    use Carrier::{Body, Query};
    const TENANT: &str = "/tenants/probe.example";
    const DEVICE: &str = "/devices/001565aabbcc";
    const USER: &str = "/tenants/testsite.com/users/101";
    const KEYS: &str = "/tenants/testsite.com/users/101/keys";
    let b = |schema, carrier, field, min, max| Bounded {
        schema,
        carrier,
        field,
        min,
        max,
    };
    vec![
        b(
            "/components/schemas/TenantDraft/properties/sip_port",
            Body(Method::PATCH, TENANT, |v| json!({ "sip_port": v })),
            "sip_port",
            1,
            65535,
        ),
        b(
            "/components/schemas/TenantDraft/properties/outbound_proxy_port",
            Body(
                Method::PATCH,
                TENANT,
                |v| json!({ "outbound_proxy": "proxy.probe.example", "outbound_proxy_port": v }),
            ),
            "outbound_proxy_port",
            1,
            65535,
        ),
        b(
            "/components/schemas/TenantDraft/properties/registration_expires",
            Body(
                Method::PATCH,
                TENANT,
                |v| json!({ "registration_expires": v }),
            ),
            "registration_expires",
            30,
            86400,
        ),
        b(
            "/components/schemas/TenantDraft/properties/max_devices_per_user",
            Body(
                Method::PATCH,
                TENANT,
                |v| json!({ "max_devices_per_user": v }),
            ),
            "max_devices_per_user",
            1,
            100,
        ),
        b(
            "/components/schemas/ExtensionPlanInput/properties/min_digits",
            Body(
                Method::PATCH,
                TENANT,
                |v| json!({ "extension_plan": { "min_digits": v, "max_digits": 15 } }),
            ),
            "extension_plan.min_digits",
            1,
            15,
        ),
        b(
            "/components/schemas/ExtensionPlanInput/properties/max_digits",
            Body(
                Method::PATCH,
                TENANT,
                |v| json!({ "extension_plan": { "min_digits": 1, "max_digits": v } }),
            ),
            "extension_plan.max_digits",
            1,
            15,
        ),
        b(
            "/components/schemas/Settings/properties/sip_port",
            Body(
                Method::PATCH,
                DEVICE,
                |v| json!({ "settings": { "sip_port": v } }),
            ),
            "settings.sip_port",
            1,
            65535,
        ),
        b(
            "/components/schemas/Settings/properties/outbound_proxy_port",
            Body(
                Method::PATCH,
                DEVICE,
                |v| json!({ "settings": { "outbound_proxy_port": v } }),
            ),
            "settings.outbound_proxy_port",
            1,
            65535,
        ),
        b(
            "/components/schemas/Settings/properties/registration_expires",
            Body(
                Method::PATCH,
                DEVICE,
                |v| json!({ "settings": { "registration_expires": v } }),
            ),
            "settings.registration_expires",
            30,
            86400,
        ),
        b(
            "/components/schemas/UserDraft/properties/max_devices",
            Body(Method::PATCH, USER, |v| json!({ "max_devices": v })),
            "max_devices",
            1,
            100,
        ),
        b(
            "/components/schemas/KeyDraft/properties/position",
            Body(
                Method::PUT,
                KEYS,
                |v| json!({ "keys": [{ "type": "speed_dial", "value": "+4930123456", "position": v }] }),
            ),
            "keys[0].position",
            1,
            255,
        ),
        b(
            "/components/schemas/KeyDraft/properties/module",
            Body(
                Method::PUT,
                KEYS,
                |v| json!({ "keys": [{ "type": "speed_dial", "value": "+4930123456", "module": v, "position": 1 }] }),
            ),
            "keys[0].module",
            1,
            16,
        ),
        b(
            "/paths/~1api~1v1~1devices/get/parameters/name=limit",
            Query("/devices", "limit"),
            "limit",
            1,
            1000,
        ),
        b(
            "/paths/~1api~1v1~1audit/get/parameters/name=limit",
            Query("/audit", "limit"),
            "limit",
            1,
            500,
        ),
    ]
}

/// The schema at `pointer`; a last step `name=x` picks the parameter called `x`.
fn schema_at(doc: &Value, pointer: &str) -> Value {
    let found = match pointer.rsplit_once("/name=") {
        Some((list, name)) => doc
            .pointer(list)
            .and_then(Value::as_array)
            .and_then(|params| params.iter().find(|p| p["name"] == name))
            .map(|p| p["schema"].clone()),
        None => doc.pointer(pointer).cloned(),
    };
    let found = found.unwrap_or_else(|| panic!("the document has nothing at {pointer}"));
    resolve(doc, &found)
}

/// A tenant without users for the plan, John with his phone, and a user key list.
async fn probe_app() -> TestApp {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let (status, body) = app
        .post(
            "/tenants",
            json!({"name": "probe.example", "sip_server": "pbx.probe.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app
}

/// Sends `value` (a JSON value, or the text of a query parameter) where `probe` goes.
async fn send(app: &TestApp, probe: &Bounded, value: Value) -> (StatusCode, Value) {
    match &probe.carrier {
        Carrier::Body(method, path, body) => app.api(method.clone(), path, Some(body(value))).await,
        Carrier::Query(path, name) => {
            let text = match &value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            app.get(&format!("{path}?{name}={text}")).await
        }
    }
}

#[tokio::test]
async fn every_enforced_numeric_bound_is_documented_and_holds() {
    let app = probe_app().await;
    let doc = document(&app).await;
    for probe in bounded() {
        let schema = schema_at(&doc, probe.schema);
        assert_eq!(
            (schema["minimum"].as_i64(), schema["maximum"].as_i64()),
            (Some(probe.min), Some(probe.max)),
            "{}: the document's bounds of {}: {schema}",
            probe.schema,
            probe.field
        );
        for outside in [probe.min - 1, probe.max + 1] {
            let (status, body) = send(&app, &probe, json!(outside)).await;
            assert!(
                status.is_client_error(),
                "{} = {outside} was taken: {status} {body}",
                probe.field
            );
            assert_eq!(
                body["error"]["field"], probe.field,
                "{} = {outside}: {body}",
                probe.field
            );
        }
        for inside in [probe.min, probe.max] {
            let (status, body) = send(&app, &probe, json!(inside)).await;
            assert!(
                status.is_success(),
                "{} = {inside} is inside the documented bounds but refused: {status} {body}",
                probe.field
            );
        }
    }
}

#[tokio::test]
async fn integer_fields_refuse_numbers_with_a_fraction_naming_the_field() {
    let app = probe_app().await;
    let before = app.counts().await;
    for probe in bounded() {
        // `5.0` is a fraction of zero, not an integer literal: refused like `5.5`.
        let (whole, half) = match probe.carrier {
            Carrier::Body(..) => (json!(probe.min as f64), json!(probe.min as f64 + 0.5)),
            Carrier::Query(..) => (
                json!(format!("{}.0", probe.min)),
                json!(format!("{}.5", probe.min)),
            ),
        };
        for value in [whole, half] {
            let (status, body) = send(&app, &probe, value.clone()).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{} = {value}: {body}",
                probe.field
            );
            assert_eq!(
                body["error"]["field"], probe.field,
                "{} = {value}: {body}",
                probe.field
            );
        }
    }
    assert_eq!(
        app.counts().await,
        before,
        "a refused request wrote something"
    );
}

#[tokio::test]
async fn audit_limit_outside_1_to_500_is_refused_not_clamped() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for limit in ["0", "501", "2147483648"] {
        let (status, body) = app.get(&format!("/audit?limit={limit}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={limit}: {body}");
        assert_error(&body, "limit", "limit_out_of_range");
    }
    let (status, body) = app.get("/audit?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"].as_array().unwrap().len(), 1, "{body}");
}

/// Every integer a request carries (parameters and bodies), by where it is.
fn request_integers(doc: &Value) -> Vec<(String, Value)> {
    fn walk(doc: &Value, at: String, schema: &Value, out: &mut Vec<(String, Value)>) {
        let schema = resolve(doc, schema);
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.contains(&"integer") {
            out.push((at.clone(), schema.clone()));
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            walk(doc, format!("{at}.{name}"), property, out);
        }
        if schema.get("items").is_some() {
            walk(doc, format!("{at}[]"), &schema["items"], out);
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for member in schema[key].as_array().into_iter().flatten() {
                walk(doc, at.clone(), member, out);
            }
        }
    }
    let mut out = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let at = format!("{id} {}:{}", p["in"].as_str().unwrap(), p["name"]);
                walk(doc, at, &p["schema"], &mut out);
            }
            for content in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, c)| c)
            {
                walk(doc, format!("{id} body"), &content["schema"], &mut out);
            }
        }
    }
    out
}

#[tokio::test]
async fn every_request_integer_states_its_bounds_in_a_matching_format() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut ids = BTreeSet::new();
    for (at, schema) in request_integers(&doc) {
        match schema["format"].as_str() {
            // Ids: any 64-bit value is read, and one that names nothing is not found.
            Some("int64") => {
                ids.insert(at);
            }
            Some("int32") => {
                let (min, max) = (schema["minimum"].as_i64(), schema["maximum"].as_i64());
                let (Some(min), Some(max)) = (min, max) else {
                    panic!("{at}: an integer without both bounds: {schema}");
                };
                assert!(
                    i64::from(i32::MIN) <= min && min <= max && max <= i64::from(i32::MAX),
                    "{at}: bounds {min}..={max} do not fit its int32 format"
                );
            }
            other => panic!("{at}: integer format {other:?}: {schema}"),
        }
    }
    let expected: BTreeSet<String> = [
        "deleteAlias path:\"id\"",
        "listAudit query:\"before\"",
        "restoreFromAudit path:\"id\"",
        "reorderAliases body.order[]",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(ids, expected, "unbounded 64-bit integers other than ids");
}

#[tokio::test]
async fn macs_follow_the_documented_pattern_and_a_well_formed_one_is_looked_up() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let doc = document(&app).await;
    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["name"] == "mac" || p["name"] == "after" {
                    assert_eq!(
                        p["schema"]["pattern"], MAC_PATTERN,
                        "{path} {}: {p}",
                        p["name"]
                    );
                    assert_eq!(p["required"], p["in"] == "path", "{path}: {p}");
                    documented += 1;
                }
            }
        }
    }
    assert_eq!(documented, 13, "MAC parameters");
    let draft = &doc["components"]["schemas"]["DeviceDraft"];
    assert_eq!(
        draft["properties"]["mac"]["pattern"], MAC_PATTERN,
        "{draft}"
    );
    // Well-formed, so the document takes them: no device has them, so none is found.
    for mac in ["000000000000", "01:00:5e:00:00:01", "ffff.ffff.ffff"] {
        let (status, body) = app.get(&format!("/devices/{mac}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{mac}: {body}");
    }
    // Malformed: the document refuses them, and so does the server.
    let (status, body) = app.get("/devices/00-15-65-aa-bb").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "mac", "mac_invalid");
    // A cursor is a place in the MAC order, device or not.
    let (status, body) = app.get("/devices?limit=5&after=000000000000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["devices"][0]["mac"], YEALINK_MAC, "{body}");
    for after in ["01:00:5e:00:00:01", "ffff.ffff.ffff"] {
        let (status, body) = app.get(&format!("/devices?limit=5&after={after}")).await;
        assert_eq!(status, StatusCode::OK, "after={after}: {body}");
        assert_eq!(body["devices"], json!([]), "after={after}: {body}");
    }
}

#[tokio::test]
async fn what_the_server_requires_the_document_requires() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let doc = document(&app).await;
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    // Deletes need their confirmation.
    for (path, confirm) in [
        ("/api/v1/tenants/{tenant}/users/{extension}", "101"),
        ("/api/v1/devices/{mac}", YEALINK_MAC),
    ] {
        let params = op(path, "delete")["parameters"].clone();
        let confirm_param = params
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "confirm")
            .unwrap_or_else(|| panic!("{path}: no confirm parameter"));
        assert_eq!(confirm_param["required"], true, "{path}: {confirm_param}");
        let concrete = path
            .trim_start_matches("/api/v1")
            .replace("{tenant}", "testsite.com")
            .replace("{extension}", confirm)
            .replace("{mac}", confirm);
        let (status, body) = app.api(Method::DELETE, &concrete, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{concrete}: {body}");
        assert_error(&body, "confirm", "confirmation_required");
    }
    // Create bodies: what each create refuses to go without is required, and not null.
    let creates = [
        ("/api/v1/tenants", vec!["name", "sip_server"]),
        ("/api/v1/tenants/{tenant}/sites", vec!["name"]),
        ("/api/v1/tenants/{tenant}/users", vec!["name", "extension"]),
        (
            "/api/v1/tenants/{tenant}/users/{extension}/aliases",
            vec!["name"],
        ),
        ("/api/v1/devices", vec!["mac", "tenant", "extension"]),
    ];
    for (path, required) in creates {
        let schema = resolve(
            &doc,
            &op(path, "post")["requestBody"]["content"]["application/json"]["schema"],
        );
        let listed: BTreeSet<&str> = schema["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: nothing required: {schema}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            listed,
            required.iter().copied().collect(),
            "{path}: required fields"
        );
        for field in required {
            assert_eq!(
                schema["properties"][field]["type"], "string",
                "{path}: {field} may not be null"
            );
        }
    }
    // Patches of the same drafts require nothing.
    for path in [
        "/api/v1/tenants/{tenant}",
        "/api/v1/tenants/{tenant}/sites/{site}",
        "/api/v1/tenants/{tenant}/users/{extension}",
    ] {
        let schema = resolve(
            &doc,
            &op(path, "patch")["requestBody"]["content"]["application/json"]["schema"],
        );
        assert!(
            schema.get("required").is_none_or(|r| r == &json!([])),
            "{path}: {schema}"
        );
    }
}

#[tokio::test]
async fn json_bodies_over_2_mib_are_refused_with_a_documented_413() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let doc = document(&app).await;
    let mut json_operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"]
                .get("application/json")
                .is_some()
            {
                json_operations += 1;
                assert_eq!(
                    op["responses"]["413"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} does not document its 413"
                );
            }
        }
    }
    assert_eq!(json_operations, 12);
    let before = app.counts().await;
    // Valid JSON, one long label: refused for its size before it is parsed.
    let label = "x".repeat(3 * 1024 * 1024);
    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(json!({"keys": [{"type": "blf", "value": "101", "label": label}]})),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_error(&body, "body", "body_too_large");
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn a_declared_body_over_33_mib_is_refused_unread_in_the_error_shape() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for path in [
        "/api/v1/tenants",
        "/api/v1/tenants/testsite.com/import?apply=true",
    ] {
        // Only the head: the server must answer without waiting for the 40 MB it announces.
        let mut stream = tokio::net::TcpStream::connect(app.admin).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 40000000\r\n\r\n",
            app.admin, app.admin_token
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") || !answer.ends_with(b"}}") {
            let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
                .await
                .expect("the server answers before the body is sent")
                .unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 413"), "{path}: {text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{path}: {text}"
        );
        let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap())
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
        assert_error(&body, "body", "body_too_large");
    }
}

#[tokio::test]
async fn the_import_body_is_documented_as_the_bytes_it_reads() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let doc = document(&app).await;
    let body = &doc["paths"]["/api/v1/tenants/{tenant}/import"]["post"]["requestBody"];
    assert_eq!(
        body["content"]["text/csv"]["schema"],
        json!({"type": "string", "format": "binary"}),
        "{body}"
    );
    // Any bytes are read: what is not UTF-8 is a problem in the report, not a refused request.
    let resp = app
        .client
        .post(format!(
            "http://{}/api/v1/tenants/testsite.com/import",
            app.admin
        ))
        .bearer_auth(&app.admin_token)
        .header("content-type", "text/csv")
        .body(b"\xff\xfe,name\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["applied"], false, "{report}");
    assert!(report["problem_count"].as_u64().unwrap() > 0, "{report}");
}
