//! The admin API contract (docs/api.md) over real sockets: tenants, extensions, users, aliases,
//! devices, line maps, file previews, deletes with confirmation, tokens and the audit log.

use deskprov::domain::token::TokenRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const USERS: &str = "/tenants/testsite.com/users";
/// A Yealink T31P (80:5E:C0 block): two lines.
const T31P_MAC: &str = "805ec0d57d72";

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

/// A second tenant `other.com` with user 201 and a Yealink phone `001565000201`.
async fn other_tenant(app: &TestApp) {
    let (status, body) = app
        .post(
            "/tenants",
            json!({"name": "other.com", "sip_server": "pbx.other.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/tenants/other.com/users",
            json!({"name": "Olga Other", "extension": "201", "email": "olga@other.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": "001565000201", "tenant": "other.com", "extension": "201"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The newest audit entries (admin view).
async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/audit{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"].as_array().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_tenant_is_created_read_and_patched() {
    let app = TestApp::spawn().await;
    let (status, tenant) = app
        .post(
            "/tenants",
            json!({
                "name": "testsite.com",
                "sip_server": "pbx.testsite.com",
                "sip_port": 5062,
                "transport": "tcp",
                "timezone": "Europe/Berlin",
                "ntp_server": "ntp.testsite.com",
                "language": "de"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(tenant["name"], "testsite.com");
    assert_eq!(tenant["sip_username_prefix"], "testsitecom_");
    assert_eq!(tenant["sip_server"], "pbx.testsite.com");
    assert_eq!(tenant["sip_port"], 5062);
    assert_eq!(tenant["transport"], "tcp");
    assert_eq!(tenant["timezone"], "Europe/Berlin");
    assert_eq!(tenant["ntp_server"], "ntp.testsite.com");
    assert_eq!(tenant["language"], "de");
    // Defaults: the 3–6 digit plan without emergency numbers, 2 devices per user, a 72 h
    // enrollment window, and a phone policy open to the LAN only.
    assert_eq!(
        tenant["extension_plan"],
        json!({"min_digits": 3, "max_digits": 6, "allowed": [], "reserved": ["112", "911", "999", "000"]})
    );
    assert_eq!(tenant["max_devices_per_user"], 2);
    assert!(
        ["72h", "3d"].contains(&tenant["enroll_window"].as_str().unwrap()),
        "{tenant}"
    );
    let auth = &tenant["phone_auth"];
    assert_eq!(auth["mode"], "none");
    assert_eq!(auth["url_key"], Value::Null);
    assert_eq!(auth["require_client_cert"], false);
    assert_eq!(auth["passwords_set"], 0);
    assert_eq!(
        strings(&auth["allow_cidrs"]),
        [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7"
        ]
    );
    assert!(auth.get("generated_password").is_none(), "{tenant}");

    let (status, fetched) = app.get("/tenants/testsite.com").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, tenant);

    // A patch changes what it names and keeps the rest.
    let (status, patched) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"ntp_server": "ntp2.testsite.com", "max_devices_per_user": 3, "enroll_window": "48h"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["ntp_server"], "ntp2.testsite.com");
    assert_eq!(patched["max_devices_per_user"], 3);
    assert!(
        ["48h", "2d"].contains(&patched["enroll_window"].as_str().unwrap()),
        "{patched}"
    );
    assert_eq!(patched["sip_server"], "pbx.testsite.com");
    assert_eq!(patched["sip_port"], 5062);
    assert_eq!(patched["timezone"], "Europe/Berlin");
    assert_eq!(patched["sip_username_prefix"], "testsitecom_");
    let (_, fetched) = app.get("/tenants/testsite.com").await;
    assert_eq!(fetched, patched);

    let (_, list) = app.get("/tenants").await;
    assert_eq!(names(&list["tenants"]), ["testsite.com"]);
    let (status, body) = app.get("/tenants/nosuch.example").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_generated_phone_password_is_shown_once() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let (status, tenant) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"mode": "digest", "username": "phones"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    let auth = &tenant["phone_auth"];
    assert_eq!(auth["mode"], "digest");
    assert_eq!(auth["username"], "phones");
    assert_eq!(auth["passwords_set"], 1);
    let password = auth["generated_password"]
        .as_str()
        .unwrap_or_else(|| panic!("no generated password: {tenant}"))
        .to_owned();
    assert!(password.len() >= 20, "{password}");
    // It is the password phones are checked against.
    let stored = app
        .store()
        .read(|c| deskprov::store::tenants::by_name(c, "testsite.com"))
        .await
        .unwrap();
    assert_eq!(stored.phone_auth.passwords, std::slice::from_ref(&password));

    // Never again: not on GET, not on later patches, not in the audit log.
    let (_, fetched) = app.get("/tenants/testsite.com").await;
    assert!(fetched["phone_auth"].get("generated_password").is_none());
    assert_eq!(fetched["phone_auth"]["passwords_set"], 1);
    assert!(!fetched.to_string().contains(&password));
    let (status, later) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"ntp_server": "ntp.testsite.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(later["phone_auth"].get("generated_password").is_none());
    assert!(!later.to_string().contains(&password));
    let (_, list) = app.get("/tenants").await;
    assert!(!list.to_string().contains(&password));
    let (_, log) = app.get("/audit").await;
    assert!(!log.to_string().contains(&password));

    // Given passwords are not generated over; a password mode needs a username.
    let (status, tenant) = app
        .post(
            "/tenants",
            json!({"name": "other.com", "sip_server": "pbx.other.com",
                   "phone_auth": {"mode": "basic", "username": "phones", "passwords": ["Given-Passw0rd!xy"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert!(tenant["phone_auth"].get("generated_password").is_none());
    assert_eq!(tenant["phone_auth"]["passwords_set"], 1);
    assert!(!tenant.to_string().contains("Given-Passw0rd!xy"));
    let (status, tenant) = app
        .post(
            "/tenants",
            json!({"name": "third.com", "sip_server": "pbx.third.com",
                   "phone_auth": {"mode": "digest", "username": "phones"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    let third = tenant["phone_auth"]["generated_password"].as_str().unwrap();
    assert_ne!(third, password, "each tenant gets its own");
    assert_refused(
        &app,
        Method::POST,
        "/tenants",
        Some(json!({"name": "fourth.com", "sip_server": "pbx.fourth.com", "phone_auth": {"mode": "digest"}})),
        StatusCode::UNPROCESSABLE_ENTITY,
        "phone_auth.username",
        "username_required",
    )
    .await;
    // Back to no HTTP credentials: the stored passwords go.
    let (status, tenant) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"phone_auth": {"mode": "none"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tenant["phone_auth"]["passwords_set"], 0);
    assert_eq!(tenant["phone_auth"]["username"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Extensions and users
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_get_the_next_free_extension_and_the_allocated_ones() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let (status, ext) = app.get("/tenants/testsite.com/extensions").await;
    assert_eq!(status, StatusCode::OK, "{ext}");
    assert_eq!(ext["next_free"], "100");
    assert_eq!(ext["allocated"], json!([]));
    assert_eq!(ext["plan"]["min_digits"], 3);
    for (extension, name) in [
        ("100", "A"),
        ("101", "B"),
        ("103", "C"),
        ("1000", "D"),
        ("200", "E"),
    ] {
        app.user(extension, name).await;
    }
    let (_, ext) = app.get("/tenants/testsite.com/extensions").await;
    assert_eq!(ext["next_free"], "102");
    // Numerically ordered: shorter numbers first.
    assert_eq!(
        strings(&ext["allocated"]),
        ["100", "101", "103", "200", "1000"]
    );

    // With allowed ranges, the next free one skips taken and reserved numbers, and runs out.
    let (status, _) = app
        .post(
            "/tenants",
            json!({"name": "small.example", "sip_server": "pbx.small.example",
                   "extension_plan": {"allowed": ["110-113"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for extension in ["110", "111"] {
        let (status, body) = app
            .post(
                "/tenants/small.example/users",
                json!({"name": "Someone", "extension": extension}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, ext) = app.get("/tenants/small.example/extensions").await;
    assert_eq!(ext["next_free"], "113", "112 is reserved: {ext}");
    let (status, _) = app
        .post(
            "/tenants/small.example/users",
            json!({"name": "Last", "extension": "113"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, ext) = app.get("/tenants/small.example/extensions").await;
    assert_eq!(ext["next_free"], Value::Null);
    assert_eq!(strings(&ext["allocated"]), ["110", "111", "113"]);
}

#[tokio::test]
async fn users_are_listed_with_tags_and_searched() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("103", "Johnny Cash").await;
    app.user("101", "John Smith").await;
    app.user("102", "Mary Jones").await;
    app.user("1010", "Percent 100% Sure").await;
    let list = |query: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get(&format!("{USERS}{query}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["extension"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("").await, ["101", "102", "103", "1010"]);
    assert_eq!(list("?q=john").await, ["101", "103"], "case-insensitive");
    assert_eq!(list("?q=Jones").await, ["102"]);
    assert_eq!(list("?q=101").await, ["101", "1010"], "by extension");
    assert_eq!(
        list("?q=%25").await,
        ["1010"],
        "% is literal, not a wildcard"
    );
    assert_eq!(list("?q=_").await, Vec::<String>::new(), "_ is literal");
    assert_eq!(list("?q=nobody").await, Vec::<String>::new());

    let (_, body) = app.get(USERS).await;
    for user in body["users"].as_array().unwrap() {
        assert_eq!(
            user["status"],
            json!(["new", "password_required", "no_device"])
        );
        assert!(user.get("sip_password").is_none());
        assert!(
            user["sip_username"]
                .as_str()
                .unwrap()
                .starts_with("testsitecom_")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens: installers, tenant binding, no token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_installer_manages_devices_and_reads_users_of_its_tenant() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.user("102", "Mary Jones").await;
    let alias = app.alias("101", "John Support").await;
    let (_, john) = app.get(&format!("{USERS}/101?reveal=true")).await;
    let john_password = john["sip_password"].as_str().unwrap().to_owned();
    let tenant = tenant_id(&app, "testsite.com").await;
    let installer = create_token(
        app.store(),
        TokenRole::Installer,
        Some(tenant),
        "installer-anna",
    )
    .await;
    let call = |method: Method, path: String, body: Option<Value>| {
        let (app, installer) = (&app, &installer);
        async move { app.api_as(installer, method, &path, body).await }
    };

    // Register, view, list, see the lines, re-assign, delete.
    let (status, device) = call(
        Method::POST,
        "/devices".into(),
        Some(json!({"mac": "00-15-65-AA-BB-CC", "tenant": "testsite.com", "extension": "101", "label": "Reception"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["mac"], YEALINK_MAC);
    assert_eq!(device["vendor"], "yealink");
    assert_eq!(device["status"], "awaiting_first_fetch");
    let (status, device) = call(Method::GET, format!("/devices/{YEALINK_MAC}"), None).await;
    assert_eq!(status, StatusCode::OK, "{device}");
    assert_eq!(device["extension"], "101");
    let (status, list) = call(Method::GET, "/devices".into(), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["devices"].as_array().unwrap().len(), 1);
    let (status, lines) = call(Method::GET, format!("/devices/{YEALINK_MAC}/lines"), None).await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    assert_eq!(names(&lines["lines"]), ["John Smith", "John Support"]);
    let (status, device) = call(
        Method::PATCH,
        format!("/devices/{YEALINK_MAC}"),
        Some(json!({"extension": "102"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{device}");
    assert_eq!(device["extension"], "102");
    assert_eq!(device["user"], "Mary Jones");

    // Users: list and read, without secrets.
    let (status, list) = call(Method::GET, USERS.into(), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(names(&list["users"]), ["John Smith", "Mary Jones"]);
    let (status, user) = call(Method::GET, format!("{USERS}/101"), None).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["name"], "John Smith");
    let text = user.to_string();
    assert!(!text.contains("sip_password"), "{text}");
    assert!(!text.contains(&john_password), "{text}");

    // Everything else is for admins, and a refusal writes nothing.
    let forbidden: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("{USERS}/101?reveal=true"), None),
        (
            Method::POST,
            USERS.into(),
            Some(json!({"name": "New Person", "extension": "103"})),
        ),
        (
            Method::PATCH,
            format!("{USERS}/101"),
            Some(json!({"name": "Renamed"})),
        ),
        (Method::DELETE, format!("{USERS}/101?confirm=101"), None),
        (
            Method::POST,
            "/tenants".into(),
            Some(json!({"name": "new.example", "sip_server": "pbx.new.example"})),
        ),
        (Method::GET, "/tenants".into(), None),
        (Method::GET, "/tenants/testsite.com".into(), None),
        (
            Method::PATCH,
            "/tenants/testsite.com".into(),
            Some(json!({"ntp_server": "evil.example"})),
        ),
        (
            Method::POST,
            "/tenants/testsite.com/sites".into(),
            Some(json!({"name": "Depot"})),
        ),
        (Method::GET, "/tenants/testsite.com/extensions".into(), None),
        (
            Method::POST,
            format!("{USERS}/101/aliases"),
            Some(json!({"name": "John Sales"})),
        ),
        (
            Method::PUT,
            format!("{USERS}/101/aliases/order"),
            Some(json!({"order": [alias]})),
        ),
        (Method::DELETE, format!("{USERS}/101/aliases/{alias}"), None),
        (Method::GET, format!("/devices/{YEALINK_MAC}/files"), None),
        (
            Method::GET,
            format!("/devices/{YEALINK_MAC}/files/{YEALINK_MAC}.cfg"),
            None,
        ),
        (
            Method::GET,
            format!("/devices/{YEALINK_MAC}/files/{YEALINK_MAC}.cfg?reveal=true"),
            None,
        ),
        (Method::GET, "/audit".into(), None),
    ];
    let before = app.counts().await;
    for (method, path, body) in forbidden {
        let (status, err) = call(method.clone(), path.clone(), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {err}");
        assert_eq!(err["error"]["code"], "forbidden", "{err}");
        assert!(!err.to_string().contains(&john_password));
    }
    assert_eq!(app.counts().await, before);

    // The installer's changes are audited under its name; then it deletes the phone.
    let (status, device_delete) = call(
        Method::DELETE,
        format!("/devices/{YEALINK_MAC}?confirm=00:15:65:aa:bb:cc"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{device_delete}");
    let (status, _) = call(Method::GET, format!("/devices/{YEALINK_MAC}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let entries = audit(&app, "").await;
    let mine: Vec<&str> = entries
        .iter()
        .filter(|e| e["actor"] == "token:installer-anna")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(mine, ["delete", "update", "create"]);
}

#[tokio::test]
async fn a_token_bound_to_one_tenant_cannot_touch_another() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    other_tenant(&app).await;
    let a = tenant_id(&app, "testsite.com").await;
    let installer = create_token(app.store(), TokenRole::Installer, Some(a), "anna").await;
    let tenant_admin = create_token(app.store(), TokenRole::Admin, Some(a), "ada").await;

    let other_mac = "001565000201";
    for token in [&installer, &tenant_admin] {
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/devices/{other_mac}"), None),
            (Method::GET, format!("/devices/{other_mac}/lines"), None),
            (
                Method::PATCH,
                format!("/devices/{other_mac}"),
                Some(json!({"label": "Mine now"})),
            ),
            (
                Method::DELETE,
                format!("/devices/{other_mac}?confirm={other_mac}"),
                None,
            ),
            (
                Method::POST,
                "/devices".into(),
                Some(json!({"mac": "001565000202", "tenant": "other.com", "extension": "201"})),
            ),
            (Method::GET, "/devices?tenant=other.com".into(), None),
            (Method::GET, "/tenants/other.com/users".into(), None),
            (Method::GET, "/tenants/other.com/users/201".into(), None),
        ];
        let before = app.counts().await;
        for (method, path, body) in cases {
            let (status, err) = app.api_as(token, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {err}");
            assert_eq!(err["error"]["code"], "forbidden");
        }
        assert_eq!(app.counts().await, before);
        // Its own tenant works, and the device list shows only its tenant's phones.
        let (status, own) = app
            .api_as(token, Method::GET, &format!("/devices/{YEALINK_MAC}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{own}");
        let (status, list) = app.api_as(token, Method::GET, "/devices", None).await;
        assert_eq!(status, StatusCode::OK);
        let macs: Vec<&str> = list["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["mac"].as_str().unwrap())
            .collect();
        assert_eq!(macs, [YEALINK_MAC]);
    }

    // A tenant-bound admin manages its tenant but neither sees nor makes others.
    let as_ada = |method: Method, path: &'static str, body: Option<Value>| {
        let (app, token) = (&app, &tenant_admin);
        async move { app.api_as(token, method, path, body).await }
    };
    let (status, _) = as_ada(Method::GET, "/tenants/other.com", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = as_ada(
        Method::POST,
        "/tenants/other.com/users",
        Some(json!({"name": "Intruder", "extension": "202"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = as_ada(
        Method::POST,
        "/tenants",
        Some(json!({"name": "new.example", "sip_server": "pbx.new.example"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, list) = as_ada(Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list["tenants"]), ["testsite.com"]);
    let (status, log) = as_ada(Method::GET, "/audit", None).await;
    assert_eq!(status, StatusCode::OK);
    let entries = log["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e["tenant"] == "testsite.com"),
        "{log}"
    );
    let (status, _) = as_ada(Method::GET, "/audit?tenant=other.com", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, user) = as_ada(
        Method::POST,
        USERS,
        Some(json!({"name": "Mary Jones", "extension": "102"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
}

#[tokio::test]
async fn no_token_or_a_bad_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let before = app.counts().await;
    let paths = [
        (Method::GET, "/api/v1/tenants/testsite.com/users"),
        (Method::POST, "/api/v1/tenants"),
        (Method::GET, "/api/v1/devices/001565aabbcc"),
        (Method::GET, "/api/v1/audit"),
    ];
    let headers = [
        None,
        Some("Bearer "),
        Some("Bearer dp_not-a-real-token"),
        Some("bearer dp_garbage"),
        Some("Basic YWRtaW46YWRtaW4="),
        Some("dp_garbage"),
    ];
    for (method, path) in paths {
        for auth in headers {
            let mut req = app
                .client
                .request(method.clone(), format!("http://{}{path}", app.admin))
                .json(&json!({"name": "x.example", "sip_server": "pbx.x.example"}));
            if let Some(auth) = auth {
                req = req.header("authorization", auth);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path} {auth:?}");
            assert_eq!(resp.headers()["www-authenticate"], "Bearer");
            let err: Value = resp.json().await.unwrap();
            assert_eq!(err["error"]["code"], "unauthorized", "{err}");
        }
    }
    // A real token with one character changed is no token.
    let mut forged = app.admin_token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    let (status, _) = app.api_as(&forged, Method::GET, "/audit", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// Aliases
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn aliases_get_an_id_a_position_and_a_default_username() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let aliases = format!("{USERS}/101/aliases");
    let mut ids = Vec::new();
    for (i, name) in ["John Support", "John Sales", "John Service"]
        .iter()
        .enumerate()
    {
        let (status, alias) = app.post(&aliases, json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{alias}");
        assert!(alias["id"].is_i64(), "{alias}");
        assert_eq!(alias["position"], i + 1);
        assert_eq!(alias["name"], *name);
        assert_eq!(alias["sip_username"], format!("testsitecom_101_{}", i + 2));
        assert!(alias.get("sip_password").is_none(), "{alias}");
        ids.push(alias["id"].as_i64().unwrap());
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 3);
    let (status, alias) = app
        .post(
            &aliases,
            json!({"name": "John Night", "sip_username": "night", "sip_password": "Night-Passw0rd!x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alias}");
    assert_eq!(alias["position"], 4);
    assert_eq!(alias["sip_username"], "testsitecom_night");
    assert!(!alias.to_string().contains("Night-Passw0rd!x"));

    let (_, list) = app.get(&aliases).await;
    assert_eq!(
        names(&list["aliases"]),
        ["John Support", "John Sales", "John Service", "John Night"]
    );
    // The user's GET carries them in order too.
    let (_, user) = app.get(&format!("{USERS}/101")).await;
    assert_eq!(
        names(&user["aliases"]),
        ["John Support", "John Sales", "John Service", "John Night"]
    );
    // Aliases of an unknown user are 404.
    let (status, _) = app
        .post(&format!("{USERS}/199/aliases"), json!({"name": "Ghost"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reordering_needs_exactly_the_users_alias_ids() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.user("102", "Mary Jones").await;
    let a = app.alias("101", "John Support").await;
    let b = app.alias("101", "John Sales").await;
    let c = app.alias("101", "John Service").await;
    let marys = app.alias("102", "Mary Support").await;
    let order = format!("{USERS}/101/aliases/order");
    let wrong = [
        json!({"order": [a, b]}),
        json!({"order": [a, b, c, c]}),
        json!({"order": [a, b, b]}),
        json!({"order": [a, b, c, 999_999]}),
        json!({"order": [a, b, marys]}),
        json!({"order": [a, b, c, marys]}),
        json!({"order": []}),
    ];
    for body in wrong {
        assert_refused(
            &app,
            Method::PUT,
            &order,
            Some(body),
            StatusCode::UNPROCESSABLE_ENTITY,
            "order",
            "order_mismatch",
        )
        .await;
    }
    let (_, list) = app.get(&format!("{USERS}/101/aliases")).await;
    assert_eq!(
        names(&list["aliases"]),
        ["John Support", "John Sales", "John Service"]
    );

    let (status, list) = app
        .api(Method::PUT, &order, Some(json!({"order": [c, a, b]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        names(&list["aliases"]),
        ["John Service", "John Support", "John Sales"]
    );
    let positions: Vec<i64> = list["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    let (_, list) = app.get(&format!("{USERS}/101/aliases")).await;
    assert_eq!(
        names(&list["aliases"]),
        ["John Service", "John Support", "John Sales"]
    );
    // Mary's order is untouched.
    let (_, list) = app.get(&format!("{USERS}/102/aliases")).await;
    assert_eq!(names(&list["aliases"]), ["Mary Support"]);
    assert_eq!(list["aliases"][0]["position"], 1);
}

#[tokio::test]
async fn deleting_an_alias_closes_the_gap() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.user("102", "Mary Jones").await;
    let _a = app.alias("101", "John Support").await;
    let b = app.alias("101", "John Sales").await;
    let _c = app.alias("101", "John Service").await;
    let marys = app.alias("102", "Mary Support").await;

    // Another user's alias id under this user is not found, and nothing goes.
    let before = app.counts().await;
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("{USERS}/101/aliases/{marys}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.counts().await, before);

    let (status, _) = app
        .api(Method::DELETE, &format!("{USERS}/101/aliases/{b}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app.get(&format!("{USERS}/101/aliases")).await;
    let left: Vec<(&str, i64)> = list["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["name"].as_str().unwrap(), x["position"].as_i64().unwrap()))
        .collect();
    assert_eq!(left, [("John Support", 1), ("John Service", 2)]);
    // A new alias goes at the end, right after the last one.
    let (status, alias) = app
        .post(
            &format!("{USERS}/101/aliases"),
            json!({"name": "John Night"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(alias["position"], 3);
    // The deleted alias is in the audit log.
    let entries = audit(&app, "").await;
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "delete" && e["entity"] == "alias")
        .expect("alias delete audited");
    assert_eq!(deleted["before"]["name"], "John Sales");
    let (status, _) = app
        .api(Method::DELETE, &format!("{USERS}/101/aliases/{b}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Devices: lines, spellings, files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_line_map_reports_aliases_beyond_the_models_capacity_as_overflow() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let support = app.alias("101", "John Support").await;
    let sales = app.alias("101", "John Sales").await;
    let service = app.alias("101", "John Service").await;
    let (status, device) = app
        .post(
            "/devices",
            json!({"mac": T31P_MAC, "tenant": "testsite.com", "extension": "101", "model": "T31P"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["capacity"], 2);

    let (status, map) = app.get(&format!("/devices/{T31P_MAC}/lines")).await;
    assert_eq!(status, StatusCode::OK, "{map}");
    assert_eq!(map["capacity"], 2);
    assert_eq!(map["model"], "T31P");
    assert_eq!(
        map["lines"],
        json!([
            {"line": 1, "kind": "user", "name": "John Smith", "sip_username": "testsitecom_101", "alias_id": null},
            {"line": 2, "kind": "alias", "name": "John Support", "sip_username": "testsitecom_101_2", "alias_id": support},
        ])
    );
    assert_eq!(
        map["overflow"],
        json!([
            {"kind": "alias", "name": "John Sales", "sip_username": "testsitecom_101_3", "alias_id": sales},
            {"kind": "alias", "name": "John Service", "sip_username": "testsitecom_101_4", "alias_id": service},
        ])
    );
    assert!(!map.to_string().contains("password"));

    // The phone gets exactly the planned lines.
    let ua = "Yealink SIP-T31P 124.86.0.40 80:5e:c0:d5:7d:72";
    let resp = app.phone_get(&format!("{T31P_MAC}.cfg"), Some(ua)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.text().await.unwrap();
    let pairs = parse_kv(&body);
    assert_eq!(kv(&pairs, "account.1.display_name"), Some("John Smith"));
    assert_eq!(kv(&pairs, "account.2.display_name"), Some("John Support"));
    assert!(kv(&pairs, "account.3.display_name").is_none(), "{body}");
    assert!(!body.contains("John Sales"));

    // Reordering moves an overflowing alias onto the phone and the other one off.
    let (status, _) = app
        .api(
            Method::PUT,
            &format!("{USERS}/101/aliases/order"),
            Some(json!({"order": [service, support, sales]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, map) = app.get(&format!("/devices/{T31P_MAC}/lines")).await;
    assert_eq!(names(&map["lines"]), ["John Smith", "John Service"]);
    assert_eq!(names(&map["overflow"]), ["John Support", "John Sales"]);

    // A phone of unknown model gets the vendor's default capacity: everything fits.
    let (status, _) = app
        .post(
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, map) = app.get(&format!("/devices/{YEALINK_MAC}/lines")).await;
    assert_eq!(map["capacity"], 6);
    assert_eq!(map["lines"].as_array().unwrap().len(), 4);
    assert_eq!(map["overflow"], json!([]));
}

#[tokio::test]
async fn devices_are_found_by_any_common_mac_spelling() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    for spelling in [
        "001565aabbcc",
        "001565AABBCC",
        "00:15:65:aa:bb:cc",
        "00:15:65:AA:BB:CC",
        "00-15-65-aa-bb-cc",
        "00-15-65-AA-BB-CC",
        "0015.65aa.bbcc",
        "0015.65AA.BBCC",
    ] {
        let (status, device) = app.get(&format!("/devices/{spelling}")).await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {device}");
        assert_eq!(device["mac"], YEALINK_MAC);
        assert_eq!(device["extension"], "101");
        assert_eq!(device["tenant"], "testsite.com");
        let (status, lines) = app.get(&format!("/devices/{spelling}/lines")).await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {lines}");
        assert_eq!(lines["mac"], YEALINK_MAC);
    }
    let (status, err) = app.get("/devices/00:15:65:aa:bb").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_error(&err, "mac", "mac_invalid");
    let (status, err) = app.get("/devices/001565aabbcd").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    assert_eq!(err["error"]["code"], "not_found");
}

#[tokio::test]
async fn file_previews_mask_secrets_unless_revealed_and_audited() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.alias("101", "John Support").await;
    let (status, _) = app
        .post(
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "model": "T46U"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, john) = app.get(&format!("{USERS}/101?reveal=true")).await;
    let user_pw = john["sip_password"].as_str().unwrap().to_owned();
    let alias_pw = john["aliases"][0]["sip_password"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, files) = app.get(&format!("/devices/{YEALINK_MAC}/files")).await;
    assert_eq!(status, StatusCode::OK, "{files}");
    let listed: Vec<(&str, &str)> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["kind"].as_str().unwrap()))
        .collect();
    // The per-device file and the model's common file are among them (a profile may list more,
    // such as boot files).
    for expected in [
        ("001565aabbcc.cfg", "device"),
        ("y000000000108.cfg", "common"),
    ] {
        assert!(listed.contains(&expected), "{expected:?} not in {listed:?}");
    }
    assert!(
        listed
            .iter()
            .all(|(_, kind)| ["device", "common"].contains(kind)),
        "{listed:?}"
    );

    let file = format!("/api/v1/devices/{YEALINK_MAC}/files/{YEALINK_MAC}.cfg");
    let fetch = |query: &'static str| {
        let (app, file) = (&app, &file);
        async move {
            let resp = raw_request(
                app,
                Some(&app.admin_token),
                Method::GET,
                &format!("{file}{query}"),
                None,
                "",
            )
            .await;
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()["cache-control"], "no-store");
            assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
            resp.text().await.unwrap()
        }
    };

    let before = app.counts().await;
    let masked = fetch("").await;
    assert_eq!(
        app.counts().await,
        before,
        "a masked preview writes nothing"
    );
    let pairs = parse_kv(&masked);
    assert_eq!(kv(&pairs, "account.1.password"), Some("********"));
    assert_eq!(kv(&pairs, "account.2.password"), Some("********"));
    assert_eq!(kv(&pairs, "account.1.user_name"), Some("testsitecom_101"));
    assert!(!masked.contains(&user_pw) && !masked.contains(&alias_pw));
    assert_eq!(
        kv(&pairs, "static.security.user_password"),
        Some("admin:********"),
        "the phone's admin password is masked too"
    );

    let revealed = fetch("?reveal=true").await;
    let pairs = parse_kv(&revealed);
    assert_eq!(kv(&pairs, "account.1.password"), Some(user_pw.as_str()));
    assert_eq!(kv(&pairs, "account.2.password"), Some(alias_pw.as_str()));
    let admin_pw = kv(&pairs, "static.security.user_password")
        .and_then(|v| v.strip_prefix("admin:"))
        .expect("an admin password")
        .to_owned();
    assert!(!masked.contains(&admin_pw));
    // Masking touches the passwords and nothing else.
    assert_eq!(
        revealed
            .replace(&user_pw, "********")
            .replace(&alias_pw, "********")
            .replace(&admin_pw, "********"),
        masked
    );
    // The reveal is audited.
    let entries = audit(&app, "").await;
    let newest = &entries[0];
    assert_eq!(newest["action"], "reveal", "{newest}");
    assert_eq!(newest["entity"], "device");
    assert_eq!(newest["key"], YEALINK_MAC);
    assert_eq!(newest["actor"], "token:test-admin");
    assert_eq!(newest["tenant"], "testsite.com");
    assert_eq!(newest["after"]["file"], format!("{YEALINK_MAC}.cfg"));
    assert!(!newest.to_string().contains(&user_pw));
    assert!(!newest.to_string().contains(&admin_pw));

    // The revealed preview is the file as the phone gets it.
    let phone = app
        .phone_get(&format!("{YEALINK_MAC}.cfg"), Some(YEALINK_UA))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(phone, revealed);

    // Common files preview too, and hold no passwords; unknown names are 404.
    let (status, _) = app
        .get(&format!("/devices/{YEALINK_MAC}/files/y000000000108.cfg"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = app
        .get(&format!("/devices/{YEALINK_MAC}/files/001565aabbcd.cfg"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
}

// ---------------------------------------------------------------------------------------------
// Deletes and the audit log
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deleting_a_user_needs_confirmation_and_no_devices_and_is_kept_in_the_audit_log() {
    let app = TestApp::spawn().await;
    app.john_with_phone().await;
    let (_, john) = app.get(&format!("{USERS}/101?reveal=true")).await;
    let john_pw = john["sip_password"].as_str().unwrap().to_owned();
    let user = format!("{USERS}/101");

    for query in ["", "?confirm=", "?confirm=102", "?confirm=yes"] {
        assert_refused(
            &app,
            Method::DELETE,
            &format!("{user}{query}"),
            None,
            StatusCode::BAD_REQUEST,
            "confirm",
            "confirmation_required",
        )
        .await;
    }
    let err = assert_refused(
        &app,
        Method::DELETE,
        &format!("{user}?confirm=101"),
        None,
        StatusCode::CONFLICT,
        "extension",
        "user_has_devices",
    )
    .await;
    assert!(
        err["error"]["message"].as_str().unwrap().contains("device"),
        "{err}"
    );

    // The device first; it too needs its MAC repeated (in any spelling).
    let device = format!("/devices/{YEALINK_MAC}");
    for query in ["", "?confirm=", "?confirm=001565aabbcd", "?confirm=101"] {
        assert_refused(
            &app,
            Method::DELETE,
            &format!("{device}{query}"),
            None,
            StatusCode::BAD_REQUEST,
            "confirm",
            "confirmation_required",
        )
        .await;
    }
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("{device}?confirm=00-15-65-AA-BB-CC"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&device).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let entries = audit(&app, "").await;
    assert_eq!(entries[0]["action"], "delete");
    assert_eq!(entries[0]["entity"], "device");
    assert_eq!(entries[0]["key"], YEALINK_MAC);
    assert_eq!(entries[0]["before"]["extension"], "101");
    assert_eq!(entries[0]["before"]["vendor"], "yealink");

    let (status, deleted) = app
        .api(Method::DELETE, &format!("{user}?confirm=101"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["extension"], "101");
    assert_eq!(deleted["removed_keys"], json!([]));
    let audit_id = deleted["audit_id"].as_i64().unwrap();
    let (status, _) = app.get(&user).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let counts = app.counts().await;
    let count = |table: &str| counts.iter().find(|(t, _)| t == table).unwrap().1;
    assert_eq!(count("users"), 0);
    assert_eq!(count("aliases"), 0, "the user's aliases go with them");
    let (status, _) = app
        .api(Method::DELETE, &format!("{user}?confirm=101"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The audit entry names who deleted what, and shows the record without secrets…
    let entries = audit(&app, "").await;
    let deleted = &entries[0];
    assert_eq!(
        deleted["id"], audit_id,
        "the answer names the delete's audit entry"
    );
    assert_eq!(deleted["action"], "delete");
    assert_eq!(deleted["entity"], "user");
    assert_eq!(deleted["key"], "101");
    assert_eq!(deleted["actor"], "token:test-admin");
    assert_eq!(deleted["before"]["name"], "John Smith");
    assert_eq!(deleted["before"]["sip_username"], "testsitecom_101");
    assert_eq!(
        names(&deleted["before"]["aliases"]),
        ["John Support", "John Sales"]
    );
    assert_eq!(deleted["after"], Value::Null);
    assert!(!deleted.to_string().contains(&john_pw));
    // …while the stored snapshot keeps everything needed to restore it, passwords included.
    let snapshot: Value = app
        .store()
        .read(|c| {
            let text: String = c.query_row(
                "SELECT snapshot FROM audit WHERE action = 'delete' AND entity = 'user' AND entity_key = '101'",
                [],
                |r| r.get(0),
            )?;
            Ok(serde_json::from_str(&text)?)
        })
        .await
        .unwrap();
    assert_eq!(snapshot["sip_password"], john_pw.as_str());
    assert_eq!(snapshot["email"], "u101@testsite.com");
    assert_eq!(
        snapshot["aliases"][1]["sip_password"],
        john["aliases"][1]["sip_password"]
    );
    assert_eq!(snapshot["aliases"][1]["sip_username"], "testsitecom_101_3");
}

#[tokio::test]
async fn the_audit_log_is_newest_first_with_actor_and_changes() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/101"),
            Some(json!({"name": "John A. Smith"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.device(YEALINK_MAC, "101").await;
    other_tenant(&app).await;

    let entries = audit(&app, "").await;
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let summary: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["entity"].as_str().unwrap(),
                e["key"].as_str().unwrap(),
            )
        })
        .collect();
    let admin = "token:test-admin";
    assert_eq!(
        summary,
        [
            (admin, "create", "device", "001565000201"),
            (admin, "create", "user", "201"),
            (admin, "create", "tenant", "other.com"),
            (admin, "create", "device", YEALINK_MAC),
            (admin, "update", "user", "101"),
            (admin, "create", "user", "101"),
            (admin, "create", "tenant", "testsite.com"),
            ("test", "create", "token", "test-admin"),
        ]
    );
    let update = &entries[4];
    assert_eq!(update["before"]["name"], "John Smith");
    assert_eq!(update["after"]["name"], "John A. Smith");
    assert_eq!(update["tenant"], "testsite.com");
    assert!(
        entries
            .iter()
            .all(|e| e["at"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
    let created = &entries[5];
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["extension"], "101");

    // One tenant's entries only.
    let theirs = audit(&app, "?tenant=other.com").await;
    let keys: Vec<&str> = theirs.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["001565000201", "201", "other.com"]);
    assert!(theirs.iter().all(|e| e["tenant"] == "other.com"));
    let ours = audit(&app, "?tenant=testsite.com").await;
    assert_eq!(ours.len(), 4);
    assert!(ours.iter().all(|e| e["tenant"] == "testsite.com"));
    let (status, _) = app.get("/audit?tenant=nosuch.example").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Paging: a limit, then the entries before the last one seen.
    let page = audit(&app, "?limit=3").await;
    assert_eq!(page.len(), 3);
    assert_eq!(page[0]["id"], entries[0]["id"]);
    let next = audit(&app, &format!("?limit=3&before={}", page[2]["id"])).await;
    assert_eq!(next[0]["id"], entries[3]["id"]);
}

#[tokio::test]
async fn healthz_answers_ok_on_the_admin_listener() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(format!("http://{}/healthz", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap().trim(), "ok");
    // Unknown API paths are a JSON 404, not an empty page.
    let (status, body) = app.get("/no/such/endpoint").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn long_device_lists_come_in_pages_by_mac() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    // Registered out of MAC order: pages follow the MAC, not the registration.
    for (extension, mac) in [
        ("101", "001565000003"),
        ("102", "001565000001"),
        ("103", "001565000005"),
        ("104", "001565000002"),
        ("105", "001565000004"),
    ] {
        app.user(extension, &format!("User {extension}")).await;
        app.device(mac, extension).await;
    }
    let macs = |body: &Value| -> Vec<String> {
        body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["mac"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = app.get("/devices").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert!(all.get("next").is_none(), "one page without a limit: {all}");
    let every = macs(&all);
    assert_eq!(every.len(), 5);

    let mut paged = Vec::new();
    let mut path = "/devices?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        pages += 1;
        paged.extend(macs(&page));
        match page["next"].as_str() {
            // Any spelling of the MAC is taken.
            Some(next) => path = format!("/devices?limit=2&after={}", next.to_uppercase()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, every);
    assert_eq!(
        paged,
        [
            "001565000001",
            "001565000002",
            "001565000003",
            "001565000004",
            "001565000005"
        ]
    );
    // A page that ends exactly at the last device says no more follow.
    let (_, last) = app.get("/devices?limit=2&after=00:15:65:00:00:03").await;
    assert_eq!(macs(&last), ["001565000004", "001565000005"]);
    assert!(last.get("next").is_none(), "{last}");

    for (path, field, code) in [
        ("/devices?limit=0", "limit", "limit_out_of_range"),
        ("/devices?limit=1001", "limit", "limit_out_of_range"),
        ("/devices?after=not-a-mac", "after", "mac_invalid"),
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_error(&body, field, code);
    }
}

#[tokio::test]
async fn unknown_query_parameters_are_refused_naming_them() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let before = app.counts().await;
    let csv = "extension,name\n102,Ann Example\n";
    // `aply` is not `apply`: without this check the import would silently be a dry run.
    let resp = raw_request(
        &app,
        Some(&app.admin_token),
        Method::POST,
        "/api/v1/tenants/testsite.com/import?aply=true",
        Some("text/csv"),
        csv,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "aply", "{body}");
    assert_eq!(body["error"]["code"], "query_unknown", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`apply`"),
        "{body}"
    );
    assert_eq!(app.counts().await, before);
    for path in [
        "/tenants?x=1",
        "/devices?limit=2&sort=mac",
        "/audit?tenant=testsite.com&page=2",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "query_unknown", "{path}: {body}");
    }
    // Documented parameters still work.
    let (status, _) = app.get("/devices?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/tenants/testsite.com/users?q=john").await;
    assert_eq!(status, StatusCode::OK);
}
