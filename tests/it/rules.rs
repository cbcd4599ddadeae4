//! Every provisioning rule (docs/api.md, Rules) through the real API over sockets: the 4xx status, the
//! field and code of the error, and proof that a refused request wrote nothing (row counts of
//! every table, the audit log included, are the same before and after).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const USERS: &str = "/tenants/testsite.com/users";
const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// A refused `POST` (see [`assert_refused`]).
async fn post_refused(
    app: &TestApp,
    path: &str,
    body: Value,
    status: StatusCode,
    field: &str,
    code: &str,
) -> Value {
    assert_refused(app, Method::POST, path, Some(body), status, field, code).await
}

/// A refused `PATCH` (see [`assert_refused`]).
async fn patch_refused(
    app: &TestApp,
    path: &str,
    body: Value,
    status: StatusCode,
    field: &str,
    code: &str,
) -> Value {
    assert_refused(app, Method::PATCH, path, Some(body), status, field, code).await
}

/// Creates a user from `body` in `testsite.com`, asserting 201.
async fn create_user(app: &TestApp, body: Value) -> Value {
    let (status, resp) = app.post(USERS, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}: {resp}");
    resp
}

/// The user as the admin sees it with `?reveal=true`.
async fn revealed(app: &TestApp, extension: &str) -> Value {
    let (status, body) = app.get(&format!("{USERS}/{extension}?reveal=true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn status_tags(user: &Value) -> Vec<&str> {
    user["status"]
        .as_array()
        .unwrap_or_else(|| panic!("no status tags: {user}"))
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Extensions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn extension_is_digits_only() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for bad in ["10a", " 101", "101 ", "+101", "1-01", "", "１０１", "10\n1"] {
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": bad}),
            UNPROCESSABLE,
            "extension",
            "extension_not_digits",
        )
        .await;
    }
    // A JSON number is not the string the contract asks for: a malformed body, naming the field.
    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": 101}),
        StatusCode::BAD_REQUEST,
        "extension",
        "json_shape",
    )
    .await;
    // And an extension is required at all.
    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith"}),
        UNPROCESSABLE,
        "extension",
        "required",
    )
    .await;
    let user = create_user(&app, json!({"name": "John Smith", "extension": "101"})).await;
    assert_eq!(user["extension"], "101");
}

#[tokio::test]
async fn extension_length_defaults_to_three_to_six_digits() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for bad in ["1", "12", "1234567", "12345678901"] {
        let err = post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": bad}),
            UNPROCESSABLE,
            "extension",
            "extension_length",
        )
        .await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("3 to 6"), "{message}");
    }
    // The bounds themselves are inside the plan.
    create_user(&app, json!({"name": "Three", "extension": "100"})).await;
    create_user(&app, json!({"name": "Six", "extension": "123456"})).await;
}

#[tokio::test]
async fn emergency_numbers_are_reserved() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for reserved in ["112", "911", "999", "000"] {
        let err = post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": reserved}),
            UNPROCESSABLE,
            "extension",
            "extension_reserved",
        )
        .await;
        assert!(
            err["error"]["message"].as_str().unwrap().contains(reserved),
            "{err}"
        );
    }
    // Reserved numbers only match their own length: 1120 and 0112 are ordinary extensions.
    create_user(&app, json!({"name": "Four digits", "extension": "1120"})).await;
    create_user(&app, json!({"name": "Leading zero", "extension": "0112"})).await;
}

#[tokio::test]
async fn extensions_outside_the_allowed_ranges_are_refused() {
    let app = TestApp::spawn().await;
    let (status, tenant) = app
        .post(
            "/tenants",
            json!({
                "name": "testsite.com",
                "sip_server": "pbx.testsite.com",
                "extension_plan": {"min_digits": 3, "max_digits": 4, "allowed": ["100-199", "5000-5099"]}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(
        tenant["extension_plan"]["allowed"],
        json!(["100-199", "5000-5099"])
    );
    // The default emergency numbers stay reserved when only the allowed ranges are given.
    assert_eq!(
        tenant["extension_plan"]["reserved"],
        json!(["112", "911", "999", "000"])
    );
    for outside in ["200", "099", "999", "5100", "4999"] {
        let code = if outside == "999" {
            "extension_reserved"
        } else {
            "extension_not_allowed"
        };
        let err = post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": outside}),
            UNPROCESSABLE,
            "extension",
            code,
        )
        .await;
        if code == "extension_not_allowed" {
            let message = err["error"]["message"].as_str().unwrap();
            assert!(message.contains("100-199, 5000-5099"), "{message}");
        }
    }
    // The plan's own length bounds apply: 5 digits is too long here, though it would fit the
    // default plan.
    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": "10000"}),
        UNPROCESSABLE,
        "extension",
        "extension_length",
    )
    .await;
    create_user(&app, json!({"name": "Low", "extension": "100"})).await;
    create_user(&app, json!({"name": "High", "extension": "5099"})).await;

    // A plan set later with PATCH binds new users the same way.
    let (status, tenant) = app
        .api(
            Method::PATCH,
            "/tenants/testsite.com",
            Some(json!({"extension_plan": {"allowed": ["300-399"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": "150"}),
        UNPROCESSABLE,
        "extension",
        "extension_not_allowed",
    )
    .await;
    create_user(&app, json!({"name": "New range", "extension": "300"})).await;

    // A plan that is not a plan is refused, naming the bad entry.
    patch_refused(
        &app,
        "/tenants/testsite.com",
        json!({"extension_plan": {"allowed": ["100-199", "300-20"]}}),
        UNPROCESSABLE,
        "extension_plan.allowed[1]",
        "range_invalid",
    )
    .await;
    patch_refused(
        &app,
        "/tenants/testsite.com",
        json!({"extension_plan": {"min_digits": 5, "max_digits": 4}}),
        UNPROCESSABLE,
        "extension_plan.min_digits",
        "plan_digits_invalid",
    )
    .await;
}

#[tokio::test]
async fn a_duplicate_extension_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    post_refused(
        &app,
        USERS,
        json!({"name": "Someone Else", "extension": "101", "sip_username": "someone"}),
        StatusCode::CONFLICT,
        "extension",
        "extension_taken",
    )
    .await;
    // The same extension in another tenant is fine: uniqueness is per tenant.
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
            json!({"name": "Other John", "extension": "101"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sip_username"], "othercom_101");
}

#[tokio::test]
async fn an_extension_cannot_change_after_creation() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"extension": "102", "name": "Renamed Too"}),
        UNPROCESSABLE,
        "extension",
        "immutable",
    )
    .await;
    // Nothing of the refused patch was applied, and no user 102 appeared.
    let (_, user) = app.get(&format!("{USERS}/101")).await;
    assert_eq!(user["extension"], "101");
    assert_eq!(user["name"], "John Smith");
    let (status, _) = app.get(&format!("{USERS}/102")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Repeating the same extension in a patch is not a change.
    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/101"),
            Some(json!({"extension": "101", "name": "John A. Smith"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["name"], "John A. Smith");
}

// ---------------------------------------------------------------------------------------------
// SIP usernames
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sip_usernames_always_carry_the_tenant_prefix() {
    let app = TestApp::spawn().await;
    let (status, tenant) = app
        .post(
            "/tenants",
            json!({"name": "TestSite.com", "sip_server": "pbx.testsite.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(tenant["sip_username_prefix"], "testsitecom_");
    let users = "/tenants/TestSite.com/users";
    let cases = [
        // (extension, chosen, expected)
        ("101", None, "testsitecom_101"),
        ("102", Some("john.smith"), "testsitecom_john.smith"),
        ("103", Some("testsitecom_mary"), "testsitecom_mary"),
        ("104", Some("a-b_c.9"), "testsitecom_a-b_c.9"),
    ];
    for (extension, chosen, expected) in cases {
        let mut body = json!({"name": "Someone", "extension": extension});
        if let Some(chosen) = chosen {
            body["sip_username"] = json!(chosen);
        }
        let (status, user) = app.post(users, body).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        assert_eq!(user["sip_username"], expected, "{chosen:?}");
        let (_, fetched) = app.get(&format!("{users}/{extension}")).await;
        assert_eq!(fetched["sip_username"], expected);
    }
    // A patch keeps the prefix too.
    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{users}/101"),
            Some(json!({"sip_username": "front.desk"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["sip_username"], "testsitecom_front.desk");
    // Aliases get it as well, chosen or default.
    let (status, alias) = app
        .post(
            &format!("{users}/102/aliases"),
            json!({"name": "Support", "sip_username": "support"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alias}");
    assert_eq!(alias["sip_username"], "testsitecom_support");
    let (status, alias) = app
        .post(&format!("{users}/102/aliases"), json!({"name": "Sales"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alias}");
    assert_eq!(alias["sip_username"], "testsitecom_102_2");
}

#[tokio::test]
async fn sip_usernames_use_lower_case_letters_digits_dot_dash_underscore() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for bad in [
        "John",
        "a b",
        "a@b",
        "ü",
        "a/b",
        "a:b",
        "",
        "testsitecom_",
        "x\ny",
    ] {
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "sip_username": bad}),
            UNPROCESSABLE,
            "sip_username",
            "sip_username_invalid",
        )
        .await;
    }
    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": "101", "sip_username": "a".repeat(60)}),
        UNPROCESSABLE,
        "sip_username",
        "sip_username_too_long",
    )
    .await;
    app.user("101", "John Smith").await;
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"sip_username": "Bad Name"}),
        UNPROCESSABLE,
        "sip_username",
        "sip_username_invalid",
    )
    .await;
    post_refused(
        &app,
        &format!("{USERS}/101/aliases"),
        json!({"name": "Support", "sip_username": "Sup port"}),
        UNPROCESSABLE,
        "sip_username",
        "sip_username_invalid",
    )
    .await;
}

#[tokio::test]
async fn sip_usernames_are_unique_across_users_aliases_and_tenants() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    // Taken by a user of the same tenant.
    post_refused(
        &app,
        USERS,
        json!({"name": "Mary Jones", "extension": "102", "sip_username": "101"}),
        StatusCode::CONFLICT,
        "sip_username",
        "sip_username_taken",
    )
    .await;
    // Taken by an alias: John's first alias defaults to testsitecom_101_2.
    app.alias("101", "John Support").await;
    post_refused(
        &app,
        USERS,
        json!({"name": "Mary Jones", "extension": "102", "sip_username": "testsitecom_101_2"}),
        StatusCode::CONFLICT,
        "sip_username",
        "sip_username_taken",
    )
    .await;
    post_refused(
        &app,
        &format!("{USERS}/101/aliases"),
        json!({"name": "Again", "sip_username": "101_2"}),
        StatusCode::CONFLICT,
        "sip_username",
        "sip_username_taken",
    )
    .await;
    // A user who takes the next default alias name pushes the default on: _3, not a clash.
    create_user(
        &app,
        json!({"name": "Mary Jones", "extension": "102", "sip_username": "101_3"}),
    )
    .await;
    let (status, alias) = app
        .post(
            &format!("{USERS}/101/aliases"),
            json!({"name": "John Sales"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alias}");
    assert_eq!(alias["sip_username"], "testsitecom_101_4");
    patch_refused(
        &app,
        &format!("{USERS}/102"),
        json!({"sip_username": "101"}),
        StatusCode::CONFLICT,
        "sip_username",
        "sip_username_taken",
    )
    .await;

    // Across tenants. Through the API two tenants never share a prefix (see
    // `tenant_sip_prefixes_must_not_collide`), so a username of tenant B can only begin with
    // tenant A's prefix if it was written some other way (an import, an older version). Plant
    // one in the store and prove the check is global, not per tenant.
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
            json!({"name": "Other Person", "extension": "500"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.store()
        .write(|tx| {
            Ok(tx.execute(
                "UPDATE users SET sip_username = 'testsitecom_shared' WHERE extension = '500'",
                [],
            )?)
        })
        .await
        .unwrap();
    post_refused(
        &app,
        USERS,
        json!({"name": "Shared Name", "extension": "103", "sip_username": "shared"}),
        StatusCode::CONFLICT,
        "sip_username",
        "sip_username_taken",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// SIP passwords
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sip_passwords_follow_the_policy() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let weak = [
        ("Sh0rt!pass", "too short"),
        ("NoDigitsHere!!abc", "no digit"),
        ("nouppercase1!abcd", "no upper-case"),
        ("NOLOWERCASE1!ABCD", "no lower-case"),
        ("NoSymbolsHere1234", "no symbol"),
    ];
    for (password, why) in weak {
        let err = post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "sip_password": password}),
            UNPROCESSABLE,
            "sip_password",
            "password_too_weak",
        )
        .await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(why), "{password}: {message}");
        assert!(!message.contains(password), "the error echoes the password");
    }
    for password in [
        "Angle<Brackets1!x",
        "Angle>Brackets1!x",
        "<Str0ng-Secret-Pass>",
    ] {
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "sip_password": password}),
            UNPROCESSABLE,
            "sip_password",
            "password_forbidden_char",
        )
        .await;
    }
    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": "101", "sip_password": "Line\nBreak1!abcdef"}),
        UNPROCESSABLE,
        "sip_password",
        "password_not_printable",
    )
    .await;

    // Exactly 14 characters with every class is enough, and is stored as given.
    let chosen = "Str0ng&Secret#";
    let user = create_user(
        &app,
        json!({"name": "John Smith", "extension": "101", "sip_password": chosen}),
    )
    .await;
    assert!(!user.to_string().contains(chosen), "echoed: {user}");
    assert_eq!(revealed(&app, "101").await["sip_password"], chosen);

    // The same policy guards patches and aliases.
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"sip_password": "weakweakweakweak"}),
        UNPROCESSABLE,
        "sip_password",
        "password_too_weak",
    )
    .await;
    post_refused(
        &app,
        &format!("{USERS}/101/aliases"),
        json!({"name": "John Support", "sip_password": "short1!A"}),
        UNPROCESSABLE,
        "sip_password",
        "password_too_weak",
    )
    .await;
    assert_eq!(revealed(&app, "101").await["sip_password"], chosen);
}

#[tokio::test]
async fn a_missing_sip_password_is_generated_per_account_and_never_echoed() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let created = [
        create_user(&app, json!({"name": "John Smith", "extension": "101"})).await,
        create_user(&app, json!({"name": "Mary Jones", "extension": "102"})).await,
    ];
    let (status, alias) = app
        .post(
            &format!("{USERS}/101/aliases"),
            json!({"name": "John Support"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alias}");

    let john = revealed(&app, "101").await;
    let mary = revealed(&app, "102").await;
    let passwords = [
        john["sip_password"].as_str().unwrap().to_owned(),
        mary["sip_password"].as_str().unwrap().to_owned(),
        john["aliases"][0]["sip_password"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    for pw in &passwords {
        assert!(pw.chars().count() >= 20, "{pw}");
        assert!(pw.chars().any(|c| c.is_ascii_digit()), "{pw}");
        assert!(pw.chars().any(|c| c.is_ascii_uppercase()), "{pw}");
        assert!(pw.chars().any(|c| c.is_ascii_lowercase()), "{pw}");
        assert!(pw.chars().any(|c| !c.is_ascii_alphanumeric()), "{pw}");
        // Safe in every vendor format: no markup, quotes, spaces, `=`, `#`, `&`, `%`.
        assert!(
            pw.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.!*~".contains(c)),
            "{pw}"
        );
    }
    assert_ne!(passwords[0], passwords[1]);
    assert_ne!(passwords[0], passwords[2]);
    assert_ne!(passwords[1], passwords[2]);

    // Never in create, GET or list bodies, and no password key at all without reveal.
    let (_, john_plain) = app.get(&format!("{USERS}/101")).await;
    let (_, list) = app.get(USERS).await;
    let (_, aliases) = app.get(&format!("{USERS}/101/aliases")).await;
    for body in [
        &created[0],
        &created[1],
        &alias,
        &john_plain,
        &list,
        &aliases,
    ] {
        let text = body.to_string();
        for pw in &passwords {
            assert!(!text.contains(pw.as_str()), "password echoed in {text}");
        }
        assert!(!text.contains("sip_password"), "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers, logins, PINs, email, role
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn caller_id_and_phone_numbers_are_e164() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let bad = [
        "4930123456",
        "+0930123456",
        "+1234567",
        "+1234567890123456",
        "+49 30 123456",
        "+49301234a6",
        "+",
        "",
    ];
    for number in bad {
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "caller_id": number}),
            UNPROCESSABLE,
            "caller_id",
            "e164_invalid",
        )
        .await;
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "phone_numbers": ["+4930123456", "+4930123457", number]}),
            UNPROCESSABLE,
            "phone_numbers[2]",
            "e164_invalid",
        )
        .await;
    }
    let user = create_user(
        &app,
        json!({
            "name": "John Smith",
            "extension": "101",
            "caller_id": "+4930123456",
            "phone_numbers": ["+12345678", "+123456789012345"]
        }),
    )
    .await;
    assert_eq!(user["caller_id"], "+4930123456");
    assert_eq!(
        user["phone_numbers"],
        json!(["+12345678", "+123456789012345"])
    );
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"caller_id": "030123456"}),
        UNPROCESSABLE,
        "caller_id",
        "e164_invalid",
    )
    .await;
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"phone_numbers": ["0301234567"]}),
        UNPROCESSABLE,
        "phone_numbers[0]",
        "e164_invalid",
    )
    .await;
    // `null` clears the caller ID.
    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/101"),
            Some(json!({"caller_id": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["caller_id"], Value::Null);
}

#[tokio::test]
async fn external_sip_is_the_login_part_only() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let err = post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": "101", "external_sip": "G79333CN0001@sip.example.net"}),
        UNPROCESSABLE,
        "external_sip",
        "sip_login_has_host",
    )
    .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("login part only"),
        "{err}"
    );
    for bad in ["G79 333", "", "a/b", "sip:G79333CN0001"] {
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "external_sip": bad}),
            UNPROCESSABLE,
            "external_sip",
            "sip_login_invalid",
        )
        .await;
    }
    let user = create_user(
        &app,
        json!({"name": "John Smith", "extension": "101", "external_sip": "G79333CN0001"}),
    )
    .await;
    assert_eq!(user["external_sip"], "G79333CN0001");
}

#[tokio::test]
async fn voicemail_pins_are_four_or_more_digits() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for bad in ["", "123", "12a4", "12 34", "+1234", "12345678901234567"] {
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "voicemail_pin": bad}),
            UNPROCESSABLE,
            "voicemail_pin",
            "pin_invalid",
        )
        .await;
    }
    let user = create_user(
        &app,
        json!({"name": "John Smith", "extension": "101", "voicemail_pin": "4711"}),
    )
    .await;
    assert_eq!(user["voicemail_pin_set"], true);
    assert!(!user.to_string().contains("4711"), "PIN echoed: {user}");
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"voicemail_pin": "12"}),
        UNPROCESSABLE,
        "voicemail_pin",
        "pin_invalid",
    )
    .await;
}

#[tokio::test]
async fn emails_must_be_addresses() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for bad in [
        "",
        "john",
        "john@",
        "@testsite.com",
        "john@localhost",
        "jo hn@testsite.com",
        "john@testsite..com",
        "john@testsite.com\n",
        "john@@testsite.com",
    ] {
        post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "email": bad}),
            UNPROCESSABLE,
            "email",
            "email_invalid",
        )
        .await;
    }
    let user = create_user(
        &app,
        json!({"name": "John Smith", "extension": "101", "email": "john.smith+desk@testsite.com"}),
    )
    .await;
    assert_eq!(user["email"], "john.smith+desk@testsite.com");
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"email": "not-an-address"}),
        UNPROCESSABLE,
        "email",
        "email_invalid",
    )
    .await;
}

#[tokio::test]
async fn roles_are_one_of_the_seven_scopes() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for bad in ["king", "admin", "Basic_User", "basic user", ""] {
        let err = post_refused(
            &app,
            USERS,
            json!({"name": "John Smith", "extension": "101", "role": bad}),
            UNPROCESSABLE,
            "role",
            "role_unknown",
        )
        .await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("no_portal") && message.contains("office_manager"),
            "the error lists the roles: {message}"
        );
    }
    // The admin flag is a boolean, not a role.
    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": "101", "admin": "yes"}),
        StatusCode::BAD_REQUEST,
        "admin",
        "json_shape",
    )
    .await;
    let user = create_user(&app, json!({"name": "Default Role", "extension": "100"})).await;
    assert_eq!(user["role"], "basic_user");
    assert_eq!(user["admin"], false);
    let roles = [
        "no_portal",
        "simple_user",
        "basic_user",
        "call_center_agent",
        "call_center_supervisor",
        "site_manager",
        "office_manager",
    ];
    for (i, role) in roles.iter().enumerate() {
        let user = create_user(
            &app,
            json!({"name": "Role Holder", "extension": format!("{}", 201 + i), "role": role, "admin": i == 0}),
        )
        .await;
        assert_eq!(user["role"], *role);
        assert_eq!(user["admin"], i == 0);
    }
}

// ---------------------------------------------------------------------------------------------
// Status tags and device limits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn status_tags_follow_email_portal_password_pin_and_devices() {
    let app = TestApp::spawn().await;
    app.tenant().await;

    // No email: setup is required.
    let user = create_user(&app, json!({"name": "No Mail", "extension": "102"})).await;
    assert_eq!(
        status_tags(&user),
        ["setup_required", "password_required", "no_device"]
    );
    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/102"),
            Some(json!({"email": "nomail@testsite.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(
        status_tags(&user),
        ["new", "password_required", "no_device"]
    );

    // With email: new until a PIN or portal password is set.
    let user = app.user("101", "John Smith").await;
    assert_eq!(
        status_tags(&user),
        ["new", "password_required", "no_device"]
    );

    app.device(YEALINK_MAC, "101").await;
    let (_, user) = app.get(&format!("{USERS}/101")).await;
    assert_eq!(status_tags(&user), ["new", "password_required"]);
    assert_eq!(user["devices"], 1);

    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/101"),
            Some(json!({"voicemail_pin": "4711"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(status_tags(&user), ["password_required"]);

    // The portal password follows the password policy, and is never shown.
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"portal_password": "short"}),
        UNPROCESSABLE,
        "portal_password",
        "password_too_weak",
    )
    .await;
    let portal = "Portal-Passw0rd!";
    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/101"),
            Some(json!({"portal_password": portal})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(status_tags(&user).is_empty(), "{user}");
    assert_eq!(user["portal_password_set"], true);
    assert!(!user.to_string().contains(portal));
    assert!(!revealed(&app, "101").await.to_string().contains(portal));

    // Clearing the email brings setup_required back; the list shows the same tags.
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/101"),
            Some(json!({"email": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.get(USERS).await;
    let users = list["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["extension"], "101");
    assert_eq!(status_tags(&users[0]), ["setup_required"]);
    assert_eq!(users[1]["extension"], "102");
    assert_eq!(
        status_tags(&users[1]),
        ["new", "password_required", "no_device"]
    );
}

#[tokio::test]
async fn a_user_has_at_most_the_tenants_device_limit_unless_raised() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.user("102", "Mary Jones").await;
    app.device("001565000001", "101").await;
    app.device("001565000002", "101").await;
    let third = json!({"mac": "001565000003", "tenant": "testsite.com", "extension": "101"});
    let err = post_refused(
        &app,
        "/devices",
        third.clone(),
        StatusCode::CONFLICT,
        "extension",
        "device_limit",
    )
    .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_devices"),
        "the error says how to raise the limit: {err}"
    );
    let (status, _) = app.get("/devices/001565000003").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Re-assigning someone else's phone to a full user is refused the same way.
    app.device("001565000004", "102").await;
    patch_refused(
        &app,
        "/devices/001565000004",
        json!({"extension": "101"}),
        StatusCode::CONFLICT,
        "extension",
        "device_limit",
    )
    .await;
    let (_, device) = app.get("/devices/001565000004").await;
    assert_eq!(device["extension"], "102");

    // The limit is 1 to 100, and cannot drop below what the user already has.
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"max_devices": 0}),
        UNPROCESSABLE,
        "max_devices",
        "out_of_range",
    )
    .await;
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"max_devices": 1}),
        StatusCode::CONFLICT,
        "max_devices",
        "below_current",
    )
    .await;

    // The admin raises the limit for this user; now the third fits, and a fourth does not.
    let (status, user) = app
        .api(
            Method::PATCH,
            &format!("{USERS}/101"),
            Some(json!({"max_devices": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["max_devices"], 3);
    let (status, body) = app.post("/devices", third).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    patch_refused(
        &app,
        "/devices/001565000004",
        json!({"extension": "101"}),
        StatusCode::CONFLICT,
        "extension",
        "device_limit",
    )
    .await;
    // Mary's limit is still the tenant's 2.
    app.device("001565000005", "102").await;
    post_refused(
        &app,
        "/devices",
        json!({"mac": "001565000006", "tenant": "testsite.com", "extension": "102"}),
        StatusCode::CONFLICT,
        "extension",
        "device_limit",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Printable text and malformed bodies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn names_and_labels_are_printable_text_only() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let bad = [
        "John\nSmith",
        "John\r\naccount.1.password = x",
        "John\tSmith",
        "John\u{0}Smith",
        "John\u{7f}",
        "John\u{85}Smith",
    ];
    for text in bad {
        post_refused(
            &app,
            USERS,
            json!({"name": text, "extension": "102"}),
            UNPROCESSABLE,
            "name",
            "text_not_printable",
        )
        .await;
        patch_refused(
            &app,
            &format!("{USERS}/101"),
            json!({"name": text}),
            UNPROCESSABLE,
            "name",
            "text_not_printable",
        )
        .await;
        patch_refused(
            &app,
            &format!("{USERS}/101"),
            json!({"department": text}),
            UNPROCESSABLE,
            "department",
            "text_not_printable",
        )
        .await;
        post_refused(
            &app,
            &format!("{USERS}/101/aliases"),
            json!({"name": text}),
            UNPROCESSABLE,
            "name",
            "text_not_printable",
        )
        .await;
        post_refused(
            &app,
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "label": text}),
            UNPROCESSABLE,
            "label",
            "text_not_printable",
        )
        .await;
        post_refused(
            &app,
            "/tenants/testsite.com/sites",
            json!({"name": text}),
            UNPROCESSABLE,
            "name",
            "text_not_printable",
        )
        .await;
    }
    // Empty, padded and over-long text is refused too.
    for (text, code) in [
        ("", "text_empty"),
        ("   ", "text_empty"),
        (" John", "text_untrimmed"),
        ("John ", "text_untrimmed"),
    ] {
        post_refused(
            &app,
            USERS,
            json!({"name": text, "extension": "102"}),
            UNPROCESSABLE,
            "name",
            code,
        )
        .await;
    }
    post_refused(
        &app,
        USERS,
        json!({"name": "x".repeat(65), "extension": "102"}),
        UNPROCESSABLE,
        "name",
        "text_too_long",
    )
    .await;
    // Markup, quotes and non-ASCII letters are printable and kept as typed.
    let fancy = "Zoë \"Z\" <Ångström> & 李";
    let user = create_user(&app, json!({"name": fancy, "extension": "102"})).await;
    assert_eq!(user["name"], fancy);
    let device = app.device(YEALINK_MAC, "101").await;
    assert_eq!(device["label"], Value::Null);
    patch_refused(
        &app,
        &format!("/devices/{YEALINK_MAC}"),
        json!({"label": "Desk\n2"}),
        UNPROCESSABLE,
        "label",
        "text_not_printable",
    )
    .await;
}

#[tokio::test]
async fn invisible_and_bidi_characters_are_refused_and_names_are_kept_in_nfc() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    // A right-to-left override would show "John Smith" as something else on the phone.
    for c in ['\u{202E}', '\u{200B}', '\u{2066}', '\u{FEFF}', '\u{2028}'] {
        let text = format!("John{c} Smith");
        for (path, body, field) in [
            (
                USERS.to_owned(),
                json!({"name": text, "extension": "102"}),
                "name",
            ),
            (
                format!("{USERS}/101/aliases"),
                json!({"name": text}),
                "name",
            ),
            (
                "/devices".to_owned(),
                json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "label": text}),
                "label",
            ),
        ] {
            post_refused(
                &app,
                &path,
                body,
                UNPROCESSABLE,
                field,
                "text_invisible_characters",
            )
            .await;
        }
        patch_refused(
            &app,
            &format!("{USERS}/101"),
            json!({"name": text}),
            UNPROCESSABLE,
            "name",
            "text_invisible_characters",
        )
        .await;
    }
    // A decomposed name is stored (and shown to phones) precomposed.
    let user = create_user(
        &app,
        json!({"name": "Zoe\u{0308} Smith", "extension": "102"}),
    )
    .await;
    assert_eq!(user["name"], "Zoë Smith");
}

#[tokio::test]
async fn unknown_json_fields_are_refused_naming_them() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let cases = [
        (
            Method::POST,
            USERS.to_owned(),
            json!({"name": "Mary Jones", "extention": "102"}),
            "extention",
        ),
        (
            Method::PATCH,
            format!("{USERS}/101"),
            json!({"nmae": "John"}),
            "nmae",
        ),
        (
            Method::POST,
            "/tenants".to_owned(),
            json!({"name": "other.com", "sip_server": "pbx.other.com", "sip_sever": "x"}),
            "sip_sever",
        ),
        (
            Method::PATCH,
            "/tenants/testsite.com".to_owned(),
            json!({"phone_auth": {"mode": "none", "pasword": "x"}}),
            "pasword",
        ),
        (
            Method::POST,
            format!("{USERS}/101/aliases"),
            json!({"name": "Support", "position": 1}),
            "position",
        ),
        (
            Method::POST,
            "/devices".to_owned(),
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "owner": "101"}),
            "owner",
        ),
        (
            Method::POST,
            "/tenants/testsite.com/sites".to_owned(),
            json!({"name": "Berlin", "city": "Berlin"}),
            "city",
        ),
        (
            Method::PUT,
            format!("{USERS}/101/aliases/order"),
            json!({"order": [], "reverse": true}),
            "reverse",
        ),
    ];
    for (method, path, body, field) in cases {
        let err = assert_refused(
            &app,
            method,
            &path,
            Some(body),
            StatusCode::BAD_REQUEST,
            field,
            "json_shape",
        )
        .await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown field"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let before = app.counts().await;
    for body in [
        "{\"name\": \"John\", \"extension\": ",
        "{name: 'John'}",
        "",
        "not json",
        "{\"name\": \"John Smith\", \"extension\": \"101\"",
        "{\"name\": \"John Smith\", \"extension\": \"101\"} trailing",
    ] {
        let resp = raw_request(
            &app,
            Some(&app.admin_token),
            Method::POST,
            "/api/v1/tenants/testsite.com/users",
            Some("application/json"),
            body,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "json_syntax", "{body:?}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{err}"
        );
    }
    // Valid JSON of the wrong shape names the field.
    let resp = raw_request(
        &app,
        Some(&app.admin_token),
        Method::POST,
        "/api/v1/tenants/testsite.com/users",
        Some("application/json"),
        r#"{"name": "John Smith", "extension": "101", "phone_numbers": "+4930123456"}"#,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.unwrap();
    assert_error(&err, "phone_numbers", "json_shape");
    // A body that is not declared as JSON is refused too.
    let resp = raw_request(
        &app,
        Some(&app.admin_token),
        Method::POST,
        "/api/v1/tenants/testsite.com/users",
        Some("text/plain"),
        r#"{"name": "John Smith", "extension": "101"}"#,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "content_type", "{err}");
    assert_eq!(app.counts().await, before);
}

// ---------------------------------------------------------------------------------------------
// Tenants and sites
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tenant_names_are_domain_like_and_unique() {
    let app = TestApp::spawn().await;
    for bad in [
        "",
        "...",
        "a b",
        "a/b",
        "ä.com",
        "test_site.com",
        "test\nsite.com",
        &"a".repeat(64),
    ] {
        post_refused(
            &app,
            "/tenants",
            json!({"name": bad, "sip_server": "pbx.testsite.com"}),
            UNPROCESSABLE,
            "name",
            "tenant_name_invalid",
        )
        .await;
    }
    post_refused(
        &app,
        "/tenants",
        json!({"sip_server": "pbx.testsite.com"}),
        UNPROCESSABLE,
        "name",
        "required",
    )
    .await;
    post_refused(
        &app,
        "/tenants",
        json!({"name": "testsite.com"}),
        UNPROCESSABLE,
        "sip_server",
        "required",
    )
    .await;
    post_refused(
        &app,
        "/tenants",
        json!({"name": "testsite.com", "sip_server": "pbx.testsite.com", "transport": "carrier-pigeon"}),
        UNPROCESSABLE,
        "transport",
        "transport_unknown",
    )
    .await;
    post_refused(
        &app,
        "/tenants",
        json!({"name": "testsite.com", "sip_server": "pbx.testsite.com", "timezone": "Mars/Olympus"}),
        UNPROCESSABLE,
        "timezone",
        "timezone_unknown",
    )
    .await;
    app.tenant().await;
    post_refused(
        &app,
        "/tenants",
        json!({"name": "testsite.com", "sip_server": "pbx2.testsite.com"}),
        StatusCode::CONFLICT,
        "name",
        "tenant_exists",
    )
    .await;
    // The name cannot change: the SIP usernames derive from it.
    patch_refused(
        &app,
        "/tenants/testsite.com",
        json!({"name": "renamed.com"}),
        UNPROCESSABLE,
        "name",
        "immutable",
    )
    .await;
}

#[tokio::test]
async fn tenant_sip_prefixes_must_not_collide() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    for clash in [
        "test-site.com",
        "TestSite.com",
        "testsitecom",
        "test.site.com",
    ] {
        let err = post_refused(
            &app,
            "/tenants",
            json!({"name": clash, "sip_server": "pbx.testsite.com"}),
            StatusCode::CONFLICT,
            "name",
            "prefix_taken",
        )
        .await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("testsitecom_"),
            "{err}"
        );
    }
    let (status, tenant) = app
        .post(
            "/tenants",
            json!({"name": "testsite.de", "sip_server": "pbx.testsite.de"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(tenant["sip_username_prefix"], "testsitede_");
}

#[tokio::test]
async fn sites_are_created_and_users_and_devices_name_existing_ones() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let (status, site) = app
        .post(
            "/tenants/testsite.com/sites",
            json!({"name": "Berlin office", "timezone": "Europe/Berlin", "ntp_server": "ntp.berlin.testsite.com", "language": "de"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    assert_eq!(site["name"], "Berlin office");
    assert_eq!(site["timezone"], "Europe/Berlin");
    assert_eq!(site["language"], "de");
    post_refused(
        &app,
        "/tenants/testsite.com/sites",
        json!({"name": "Berlin office"}),
        StatusCode::CONFLICT,
        "name",
        "site_exists",
    )
    .await;
    post_refused(
        &app,
        "/tenants/testsite.com/sites",
        json!({"name": "Paris", "language": "klingon"}),
        UNPROCESSABLE,
        "language",
        "language_unknown",
    )
    .await;
    post_refused(
        &app,
        "/tenants/testsite.com/sites",
        json!({"name": "Paris", "timezone": "Europe/Atlantis"}),
        UNPROCESSABLE,
        "timezone",
        "timezone_unknown",
    )
    .await;

    post_refused(
        &app,
        USERS,
        json!({"name": "John Smith", "extension": "101", "site": "Hamburg office"}),
        UNPROCESSABLE,
        "site",
        "site_unknown",
    )
    .await;
    let user = create_user(
        &app,
        json!({"name": "John Smith", "extension": "101", "site": "Berlin office"}),
    )
    .await;
    assert_eq!(user["site"], "Berlin office");
    patch_refused(
        &app,
        &format!("{USERS}/101"),
        json!({"site": "Hamburg office"}),
        UNPROCESSABLE,
        "site",
        "site_unknown",
    )
    .await;
    post_refused(
        &app,
        "/devices",
        json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "site": "Hamburg office"}),
        UNPROCESSABLE,
        "site",
        "site_unknown",
    )
    .await;
    // A site of another tenant is unknown here.
    let (status, _) = app
        .post(
            "/tenants",
            json!({"name": "other.com", "sip_server": "pbx.other.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .post(
            "/tenants/other.com/sites",
            json!({"name": "Hamburg office"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    post_refused(
        &app,
        USERS,
        json!({"name": "Mary Jones", "extension": "102", "site": "Hamburg office"}),
        UNPROCESSABLE,
        "site",
        "site_unknown",
    )
    .await;
    let (status, device) = app
        .post(
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "site": "Berlin office"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["site"], "Berlin office");
}

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_and_non_device_macs_are_refused() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let cases = [
        ("001565aabbc", "mac_invalid"),
        ("001565aabbccd", "mac_invalid"),
        ("00:15-65:aa:bb:cc", "mac_invalid"),
        ("00-15:65-aa:bb-cc", "mac_invalid"),
        ("0015.65aa:bbcc", "mac_invalid"),
        ("0:15:65:a:b:c", "mac_invalid"),
        ("00:15:65:aa:bb:cc:", "mac_invalid"),
        ("zz1565aabbcc", "mac_invalid"),
        ("00 15 65 aa bb cc", "mac_invalid"),
        ("", "mac_invalid"),
        ("01005e000001", "mac_multicast"),
        ("01:00:5e:00:00:01", "mac_multicast"),
        ("ffffffffffff", "mac_multicast"),
        ("000000000000", "mac_reserved"),
        ("00:00:00:00:00:00", "mac_reserved"),
    ];
    for (mac, code) in cases {
        post_refused(
            &app,
            "/devices",
            json!({"mac": mac, "tenant": "testsite.com", "extension": "101"}),
            UNPROCESSABLE,
            "mac",
            code,
        )
        .await;
    }
    post_refused(
        &app,
        "/devices",
        json!({"tenant": "testsite.com", "extension": "101"}),
        UNPROCESSABLE,
        "mac",
        "required",
    )
    .await;
    // Every common spelling is the same phone, normalised.
    let device = app.device("00:15:65:AA:BB:CC", "101").await;
    assert_eq!(device["mac"], YEALINK_MAC);
}

#[tokio::test]
async fn a_mac_is_registered_once_in_any_spelling() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.user("102", "Mary Jones").await;
    app.device(YEALINK_MAC, "101").await;
    for spelling in [
        YEALINK_MAC,
        "001565AABBCC",
        "00:15:65:aa:bb:cc",
        "00-15-65-AA-BB-CC",
        "0015.65aa.bbcc",
    ] {
        post_refused(
            &app,
            "/devices",
            json!({"mac": spelling, "tenant": "testsite.com", "extension": "102"}),
            StatusCode::CONFLICT,
            "mac",
            "mac_registered",
        )
        .await;
    }
    let (_, device) = app.get(&format!("/devices/{YEALINK_MAC}")).await;
    assert_eq!(device["extension"], "101");
}

#[tokio::test]
async fn vendor_model_owner_and_tenant_must_be_known() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    // Not a Yealink block, and no vendor given.
    let unknown_oui = "0a1b2c3d4e5f";
    post_refused(
        &app,
        "/devices",
        json!({"mac": unknown_oui, "tenant": "testsite.com", "extension": "101"}),
        UNPROCESSABLE,
        "mac",
        "vendor_not_recognised",
    )
    .await;
    post_refused(
        &app,
        "/devices",
        json!({"mac": unknown_oui, "tenant": "testsite.com", "extension": "101", "vendor": "acmephones"}),
        UNPROCESSABLE,
        "vendor",
        "vendor_unknown",
    )
    .await;
    for model in ["T99X", "SIP-T46U"] {
        post_refused(
            &app,
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "model": model}),
            UNPROCESSABLE,
            "model",
            "model_unknown",
        )
        .await;
    }
    post_refused(
        &app,
        "/devices",
        json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "model": "T46U; rm"}),
        UNPROCESSABLE,
        "model",
        "model_invalid",
    )
    .await;
    post_refused(
        &app,
        "/devices",
        json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "999"}),
        UNPROCESSABLE,
        "extension",
        "user_unknown",
    )
    .await;
    let before = app.counts().await;
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "nosuch.example", "extension": "101"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(app.counts().await, before);

    // With the vendor named, an unknown block registers; models match in any case.
    let (status, device) = app
        .post(
            "/devices",
            json!({"mac": unknown_oui, "tenant": "testsite.com", "extension": "101", "vendor": "yealink"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["vendor"], "yealink");
    let (status, device) = app
        .post(
            "/devices",
            json!({"mac": YEALINK_MAC, "tenant": "testsite.com", "extension": "101", "model": "t46u"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["vendor"], "yealink");
    // A patch to an unknown model is refused too.
    patch_refused(
        &app,
        &format!("/devices/{YEALINK_MAC}"),
        json!({"model": "T99X"}),
        UNPROCESSABLE,
        "model",
        "model_unknown",
    )
    .await;
}

#[tokio::test]
async fn a_secret_of_the_wrong_type_is_never_repeated_in_the_error() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.alias("101", "John Support").await;
    app.device(YEALINK_MAC, "101").await;
    const TEXT: &str = "Leaked-S3cret!value";
    const NUMBER: i64 = 98_765_432_123;
    let devices = format!("/devices/{YEALINK_MAC}");
    let cases = [
        (
            Method::POST,
            "/tenants".to_owned(),
            json!({"name": "other.example", "sip_server": "pbx.other.example", "phone_auth": {"mode": "digest", "passwords": TEXT}}),
            "phone_auth.passwords",
        ),
        (
            Method::PATCH,
            "/tenants/testsite.com".to_owned(),
            json!({"phone_auth": {"passwords": TEXT}}),
            "phone_auth.passwords",
        ),
        (
            Method::PATCH,
            "/tenants/testsite.com".to_owned(),
            json!({"phone_auth": {"passwords": [NUMBER]}}),
            "phone_auth.passwords[0]",
        ),
        (
            Method::PATCH,
            "/tenants/testsite.com".to_owned(),
            json!({"phone_auth": {"url_key": NUMBER}}),
            "phone_auth.url_key",
        ),
        (
            Method::POST,
            USERS.to_owned(),
            json!({"name": "Ann", "extension": "102", "sip_password": NUMBER}),
            "sip_password",
        ),
        (
            Method::POST,
            USERS.to_owned(),
            json!({"name": "Ann", "extension": "102", "voicemail_pin": NUMBER}),
            "voicemail_pin",
        ),
        (
            Method::POST,
            USERS.to_owned(),
            json!({"name": "Ann", "extension": "102", "portal_password": NUMBER}),
            "portal_password",
        ),
        (
            Method::PATCH,
            format!("{USERS}/101"),
            json!({"sip_password": [TEXT]}),
            "sip_password",
        ),
        (
            Method::PATCH,
            format!("{USERS}/101"),
            json!({"voicemail_pin": {"pin": TEXT}}),
            "voicemail_pin",
        ),
        (
            Method::PATCH,
            format!("{USERS}/101"),
            json!({"portal_password": NUMBER}),
            "portal_password",
        ),
        (
            Method::POST,
            format!("{USERS}/101/aliases"),
            json!({"name": "Sales", "sip_password": NUMBER}),
            "sip_password",
        ),
        (
            Method::PATCH,
            devices.clone(),
            json!({"phone_credentials": {"username": "desk", "passwords": TEXT}}),
            "phone_credentials.passwords",
        ),
        (
            Method::PATCH,
            devices,
            json!({"phone_credentials": {"username": "desk", "passwords": [NUMBER]}}),
            "phone_credentials.passwords[0]",
        ),
    ];
    for (method, path, body, field) in cases {
        let before = app.counts().await;
        let (status, answer) = app.api(method.clone(), &path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        let text = answer.to_string();
        assert!(
            !text.contains(TEXT) && !text.contains(&NUMBER.to_string()),
            "{method} {path} repeats the secret: {text}"
        );
        assert_eq!(answer["error"]["field"], field, "{method} {path}: {answer}");
        assert_eq!(
            app.counts().await,
            before,
            "{method} {path} wrote something"
        );
    }
}
