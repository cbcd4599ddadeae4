//! Bulk CSV import and export: dry runs that report every problem by row, column and rule;
//! all-or-nothing applies; export → import round trips; the CLI commands and their exit codes.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const HEADER: &str = "type,extension,name,email,voicemail_pin,sip_username,mac,model,label";

/// Posts `csv` to the import endpoint; returns status and JSON body.
async fn import(app: &TestApp, csv: &str, apply: bool) -> (StatusCode, Value) {
    let resp = app
        .client
        .post(format!(
            "http://{}/api/v1/tenants/testsite.com/import?apply={apply}",
            app.admin
        ))
        .bearer_auth(&app.admin_token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// The tenant's export (with or without secrets) as text.
async fn export(app: &TestApp, secrets: bool) -> String {
    let resp = app
        .client
        .get(format!(
            "http://{}/api/v1/tenants/testsite.com/export?secrets={secrets}",
            app.admin
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    resp.text().await.unwrap()
}

/// `(row, column, code)` of each problem in a report.
fn problems(report: &Value) -> Vec<(u64, String, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(p["message"].as_str().is_some_and(|m| !m.is_empty()), "{p}");
            (
                p["row"].as_u64().unwrap(),
                p["column"].as_str().unwrap_or("").to_owned(),
                p["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row(r: u64, column: &str, code: &str) -> (u64, String, String) {
    (r, column.to_owned(), code.to_owned())
}

#[tokio::test]
async fn dry_run_reports_every_problem_by_row_column_and_rule_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "Existing User").await;
    let csv = [
        HEADER,
        "user,102,Ann Lee,ann@testsite.com,,,,,", // 2: fine
        "user,911,Emergency,,,,,,",               // 3: reserved extension
        "user,103,Bob,not-an-email,12,,,,",       // 4: two bad cells
        "user,101,Again,,,,,,",                   // 5: extension in the database
        ",102,Ann Twice,,,,,,",                   // 6: extension twice in the file
        "alias,104,Nobody's Alias,,,,,,",         // 7: no such user
        "device,102,,,,,00:15:65:zz:00:01,,",     // 8: bad MAC
        "device,102,,,,,001565000002,T46U,Desk",  // 9: fine
        "device,102,,,,,00-15-65-00-00-02,,",     // 10: same MAC as row 9
        "alias,102,Ann Support,ann@testsite.com,,,,,", // 11: email is not an alias column
        "phone,102,Ann,,,,,,",                    // 12: unknown type
        "alias,102,Ann Sales,,,testsitecom_101,,,", // 13: SIP username of user 101
        "device,102,,,,,001565000003,T99X,",      // 14: unknown Yealink model
    ]
    .join("\n");
    let before = app.counts().await;
    let (status, report) = import(&app, &csv, false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], false);
    assert_eq!(report["rows"], 13);
    assert_eq!(
        problems(&report),
        [
            row(3, "extension", "extension_reserved"),
            row(4, "email", "email_invalid"),
            row(4, "voicemail_pin", "pin_invalid"),
            row(5, "extension", "extension_taken"),
            row(6, "extension", "duplicate_in_file"),
            row(7, "extension", "user_unknown"),
            row(8, "mac", "mac_invalid"),
            row(10, "mac", "duplicate_in_file"),
            row(11, "email", "not_applicable"),
            row(12, "type", "type_invalid"),
            row(13, "sip_username", "sip_username_taken"),
            row(14, "model", "model_unknown"),
        ]
    );
    let dup = &report["problems"][4]["message"];
    assert!(dup.as_str().unwrap().contains("row 2"), "{dup}");
    assert_eq!(app.counts().await, before, "a dry run writes nothing");
}

#[tokio::test]
async fn apply_writes_every_row_or_none() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let good = [
        HEADER,
        "alias,102,Ann Support,,,,,,",
        "user,102,Ann Lee,ann@testsite.com,4321,,,,",
        "device,102,,,,,001565000002,T46U,Front desk",
        "alias,102,Ann Sales,,,ann.sales,,,",
        "user,103,Bob Ray,,,,,,",
    ];
    let mut bad = good.to_vec();
    bad.push("user,104,Carl,,1,,,,");
    let before = app.counts().await;
    let (status, body) = import(&app, &bad.join("\n"), true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "import_rejected", "{body}");
    assert_eq!(
        problems(&body["report"]),
        [row(7, "voicemail_pin", "pin_invalid")]
    );
    assert_eq!(app.counts().await, before, "one bad row: nothing written");

    let (status, report) = import(&app, &good.join("\r\n"), true).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["applied"], true);
    assert_eq!(
        (&report["users"], &report["aliases"], &report["devices"]),
        (&json!(2), &json!(2), &json!(1))
    );
    let (_, user) = app.get("/tenants/testsite.com/users/102").await;
    assert_eq!(user["voicemail_pin_set"], true);
    let names: Vec<&str> = user["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Ann Support", "Ann Sales"],
        "file order is line order"
    );
    assert_eq!(user["aliases"][1]["sip_username"], "testsitecom_ann.sales");
    let (_, lines) = app.get("/devices/001565000002/lines").await;
    assert_eq!(lines["lines"][0]["name"], "Ann Lee");
    assert_eq!(lines["lines"][2]["name"], "Ann Sales");

    // Who imported what: one entry per record, and one for the import as a whole.
    let (_, audit) = app.get("/audit?limit=20").await;
    let entries = audit["entries"].as_array().unwrap();
    let imported: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["action"] == "import")
        .map(|e| {
            assert_eq!(e["actor"], "token:test-admin", "{e}");
            (e["entity"].as_str().unwrap(), e["key"].as_str().unwrap())
        })
        .collect();
    assert_eq!(imported.len(), 6, "{imported:?}");
    assert_eq!(imported[0], ("tenant", "testsite.com"));
    assert_eq!(entries[0]["after"]["users"], 2);
    assert!(imported.contains(&("device", "001565000002")));
    assert!(imported.contains(&("user", "103")));

    // Importing the same users again is refused row by row: import only creates. The alias
    // and device rows of a refused user row add no further noise.
    let (status, body) = import(&app, &good.join("\n"), true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problems(&body["report"]),
        [
            row(3, "extension", "extension_taken"),
            row(6, "extension", "extension_taken")
        ]
    );
}

#[tokio::test]
async fn device_limits_and_sip_usernames_count_rows_of_the_file_and_the_database() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    app.device(YEALINK_MAC, "101").await;
    let csv = [
        HEADER,
        "device,101,,,,,001565000001,,", // 2: second device of 101: fine
        "device,101,,,,,001565000002,,", // 3: third: over the limit of 2
        "user,102,Ann,,,shared,,,",      // 4: fine
        "user,103,Bob,,,shared,,,",      // 5: same SIP username as row 4
        "alias,101,John Desk,,,john.desk,,,", // 6: fine
        "alias,102,Ann Desk,,,john.desk,,,", // 7: same as row 6
    ]
    .join("\n");
    let (_, report) = import(&app, &csv, false).await;
    assert_eq!(
        problems(&report),
        [
            row(3, "extension", "device_limit"),
            row(5, "sip_username", "duplicate_in_file"),
            row(7, "sip_username", "duplicate_in_file"),
        ]
    );
}

#[tokio::test]
async fn bad_headers_are_reported_before_any_row() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let (status, report) = import(&app, "extension,nmae\n101,John\n", true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problems(&report["report"]),
        [row(1, "nmae", "unknown_column")]
    );
    let (status, body) = app
        .api(Method::POST, "/tenants/nowhere.com/import", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// A tenant with a site and users, aliases and devices made through the API, covering every
/// column of the sheet.
async fn populate(app: &TestApp) {
    app.tenant().await;
    let (status, _) = app
        .post("/tenants/testsite.com/sites", json!({"name": "Berlin"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post(
            "/tenants/testsite.com/users",
            json!({
                "name": "Mary \"MJ\" Jones, Sales", "extension": "2001", "email": "mary@testsite.com",
                "role": "office_manager", "admin": true, "department": "Sales", "site": "Berlin",
                "sip_username": "mary.jones", "sip_password": "Correct-Horse-42!", "voicemail_pin": "0042",
                "caller_id": "+4930123456", "phone_numbers": ["+4930123456", "+4930123457"],
                "external_sip": "G79333CN0001", "max_devices": 3
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.user("101", "John Smith").await;
    app.alias("101", "John Support").await;
    app.alias("101", "John Sales").await;
    app.alias("2001", "Mary Desk").await;
    app.device(YEALINK_MAC, "101").await;
    let (status, body) = app
        .post(
            "/devices",
            json!({"mac": "0004f2a1b2c3", "tenant": "testsite.com", "extension": "2001",
                   "model": "VVX400", "site": "Berlin", "label": "Reception; front",
                   "settings": {"language": "de", "timezone": "Europe/Berlin"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    populate_keys(app).await;
}

/// Keys of every type and shape: a user's (pinned, on a module, external, labelled with CSV
/// specials) and a device's.
async fn populate_keys(app: &TestApp) {
    let keys = json!({"keys": [
        {"type": "line", "value": "2"},
        {"type": "blf", "value": "2001"},
        {"type": "pickup", "value": "2001", "label": "Mary, \"MJ\"; sales"},
        {"type": "speed_dial", "value": "+4930123456", "position": 9},
        {"type": "blf", "value": "sip:alice@pbx.other.example", "external": true, "module": 1, "position": 3},
        {"type": "park", "value": "701"},
        {"type": "none", "position": 10}
    ]});
    let (status, body) = app
        .api(
            Method::PUT,
            "/tenants/testsite.com/users/101/keys",
            Some(keys),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys = json!({"keys": [{"type": "blf", "value": "101", "position": 2, "label": "John"}]});
    let (status, body) = app
        .api(Method::PUT, "/devices/0004f2a1b2c3/keys", Some(keys))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn export_then_import_into_a_fresh_database_gives_the_same_export() {
    let first = TestApp::spawn().await;
    populate(&first).await;
    let exported = export(&first, true).await;
    let lines: Vec<&str> = exported.lines().collect();
    assert!(lines[0].starts_with("type,extension,name,"), "{exported}");
    assert_eq!(
        lines.len(),
        1 + 2 + 3 + 2 + 8,
        "header, users, aliases, devices, keys: {exported}"
    );
    assert!(
        lines.contains(&"key,,,,,,,,,,,,,,,0004f2a1b2c3,,,John,,blf,101,2,,"),
        "a device's key names it by MAC: {exported}"
    );
    assert!(exported.contains("Correct-Horse-42!"), "{exported}");

    let second = TestApp::spawn().await;
    second.tenant().await;
    second
        .post("/tenants/testsite.com/sites", json!({"name": "Berlin"}))
        .await;
    let (status, report) = import(&second, &exported, true).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (
            &report["users"],
            &report["aliases"],
            &report["devices"],
            &report["keys"]
        ),
        (&json!(2), &json!(3), &json!(2), &json!(8))
    );
    assert_eq!(export(&second, true).await, exported);
    for path in [
        "/tenants/testsite.com/users/101/keys",
        "/devices/0004f2a1b2c3/keys",
    ] {
        assert_eq!(first.get(path).await, second.get(path).await, "{path}");
    }

    // The phone gets the very same account: password included.
    let (_, mary) = second
        .get("/tenants/testsite.com/users/2001?reveal=true")
        .await;
    assert_eq!(mary["sip_password"], "Correct-Horse-42!");
    assert_eq!(mary["admin"], true);

    // Without secrets, passwords and PINs are left out, and the export says who asked for them.
    let plain = export(&first, false).await;
    assert!(!plain.contains("Correct-Horse-42!"));
    assert!(!plain.contains(",0042,"));
    let (_, audit) = first.get("/audit?limit=5").await;
    let exports: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "export")
        .collect();
    assert_eq!(exports.len(), 1, "only the export with secrets is audited");
    assert_eq!(exports[0]["actor"], "token:test-admin");
}

#[tokio::test]
async fn installers_can_neither_import_nor_export() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let token = create_token(
        app.store(),
        deskprov::domain::token::TokenRole::Installer,
        Some(1),
        "installer",
    )
    .await;
    for (method, path) in [
        (Method::GET, "/tenants/testsite.com/export"),
        (Method::POST, "/tenants/testsite.com/import"),
    ] {
        let (status, body) = app.api_as(&token, method, path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
}

fn deskprov(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deskprov"))
        .args(args)
        .env_remove("DESKPROV_DB")
        .output()
        .expect("the binary runs")
}

/// Runs `deskprov import` of `file` into testsite.com in the database `db`.
fn cli_import(db: &str, apply: bool, file: &std::path::Path) -> std::process::Output {
    let mut args = vec!["import", "--db", db, "--tenant", "testsite.com"];
    if apply {
        args.push("--apply");
    }
    args.push(file.to_str().unwrap());
    deskprov(&args)
}

#[tokio::test]
async fn cli_import_checks_then_applies_and_export_prints_the_sheet() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let dir = tempfile::tempdir().unwrap();
    let db = app.db.to_str().unwrap().to_owned();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "extension,name,email\n102,Ann Lee,ann@testsite.com\n103,Bob,nope\n",
    )
    .unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "type,extension,name,mac\n,102,Ann Lee,\ndevice,102,,001565000002\n",
    )
    .unwrap();
    let before = app.counts().await;

    let out = cli_import(&db, true, &bad);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("row 3, column email: "),
        "problems on stdout: {stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was written"));
    assert_eq!(app.counts().await, before);

    let out = cli_import(&db, false, &good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("would create 1 user(s), 0 alias(es), 1 device(s)"),
        "{stdout}"
    );
    assert_eq!(app.counts().await, before, "a dry run writes nothing");

    let out = cli_import(&db, true, &good);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (status, _) = app.get("/devices/001565000002").await;
    assert_eq!(status, StatusCode::OK);
    let (_, audit) = app.get("/audit?limit=1").await;
    assert_eq!(audit["entries"][0]["actor"], "cli");
    assert_eq!(
        audit["entries"][0]["after"]["source"],
        good.to_str().unwrap()
    );

    let out = deskprov(&["export", "--db", &db, "--tenant", "testsite.com"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        export(&app, false).await
    );
    assert!(out.stderr.is_empty(), "stdout stays clean, stderr quiet");

    let out = deskprov(&["export", "--db", &db, "--tenant", "nowhere.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant not found"));
}

#[tokio::test]
async fn a_phone_on_a_user_row_is_pointed_to_a_row_of_its_own() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let (_, report) = import(&app, "extension,name,mac\n101,John,001565000001\n", false).await;
    assert_eq!(problems(&report), [row(2, "mac", "not_applicable")]);
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("type device"), "{message}");
    assert_eq!(report["users"], 0, "a row with a problem is not counted");
}

#[tokio::test]
async fn progress_is_reported_while_rows_are_checked() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let mut csv = String::from("extension,name\n");
    for ext in 1000..2500 {
        csv.push_str(&format!("{ext},User {ext}\n"));
    }
    let request = deskprov::service::bulk::ImportRequest {
        tenant: "testsite.com".into(),
        csv: csv.into_bytes(),
        apply: false,
        source: None,
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let report = deskprov::service::bulk::import(
        app.services(),
        &deskprov::domain::Actor::new("test"),
        request,
        move |d, t| record.lock().unwrap().push((d, t)),
    )
    .await
    .unwrap();
    assert!(report.ok() && report.users == 1500, "{report:?}");
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls, [(1000, 1500), (1500, 1500)]);
}

#[tokio::test]
async fn key_rows_are_checked_like_the_api_and_name_their_row_and_column() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    app.user("101", "John Smith").await;
    let header =
        "type,extension,mac,key_type,key_value,label,key_position,key_module,key_external,name";
    let csv = [
        header,
        "key,102,,blf,101,,,,,",             // 2: fine, its user is on row 8
        "key,101,,blf,199,,,,,",             // 3: no user 199
        "key,101,,park,7,,x,,,",             // 4: position is not a number
        "key,101,,speed_dial,*97,,,,maybe,", // 5: external is not a flag
        "key,101,,line,2,,,,,",              // 6: 101 has one account
        "key,,001565000009,park,7,,,,,",     // 7: no such device
        "user,102,,,,,,,,Mary Jones",        // 8
        "key,101,001565000009,park,7,,,,,",  // 9: user and device both
        "key,101,,park,8,,3,,,",             // 10: fine
        "key,101,,park,9,,3,,,",             // 11: position 3 taken by row 10
        "key,101,,macro,1,,,,,",             // 12: unknown key type
    ]
    .join("\n");
    let before = app.counts().await;
    let (status, report) = import(&app, &csv, true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(
        problems(&report["report"]),
        [
            row(3, "key_value", "key_extension_unknown"),
            row(4, "key_position", "number_invalid"),
            row(5, "key_external", "boolean_invalid"),
            row(6, "key_value", "key_line_unknown"),
            row(7, "mac", "device_unknown"),
            row(9, "extension", "key_owner_ambiguous"),
            row(11, "key_position", "key_position_taken"),
            row(12, "key_type", "key_type_unknown"),
        ]
    );
    assert_eq!(
        app.counts().await,
        before,
        "a refused import writes nothing"
    );
}

#[tokio::test]
async fn a_file_over_the_row_limit_is_refused_before_any_row_is_read() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    let before = app.counts().await;
    // 200 001 rows of valid users: each would be imported, so only the limit can refuse them.
    let mut csv = String::from("extension,name\n");
    for i in 0..=200_000u32 {
        csv.push_str(&format!("{},User {i}\n", 100_000 + i));
    }
    let (status, body) = import(&app, &csv, true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "import_too_many_rows", "{body}");
    assert_eq!(body["error"]["field"], "body");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("200001") && message.contains("200000"),
        "{message}"
    );
    assert_eq!(app.counts().await, before);
}

#[tokio::test]
async fn a_report_lists_the_first_thousand_problems_and_counts_them_all() {
    let app = TestApp::spawn().await;
    app.tenant().await;
    // 1 500 rows with a bad extension (letters) and 300 with an unknown type, interleaved.
    let mut csv = String::from("type,extension,name\n");
    for i in 0..1800u32 {
        if i % 6 == 5 {
            csv.push_str(&format!("phone,{},Someone\n", 200 + i));
        } else {
            csv.push_str(&format!("user,x{i},Someone\n"));
        }
    }
    let (status, report) = import(&app, &csv, false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let listed = problems(&report);
    assert_eq!(listed.len(), 1000, "the list is capped");
    assert_eq!(report["problem_count"], 1800);
    assert_eq!(
        report["problem_codes"]["type_invalid"], 300,
        "{}",
        report["problem_codes"]
    );
    let codes: u64 = report["problem_codes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(codes, 1800);
    // The first problems by row: rows 2… in order, every one of them.
    let rows: Vec<u64> = listed.iter().map(|p| p.0).collect();
    assert_eq!(rows, (2..1002).collect::<Vec<u64>>());
    assert_eq!(listed[5], row(7, "type", "type_invalid"));
    // An apply of the same file is refused with the full count.
    let (status, body) = import(&app, &csv, true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("1800 problem(s)"),
        "{body}"
    );
}
