//! The demo data: every demo phone is served its file, with its owner and aliases in order.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn every_demo_phone_gets_its_file_with_owner_then_aliases() {
    let app = TestApp::spawn().await;
    let info = deskprov::demo::fill(app.services())
        .await
        .unwrap()
        .expect("an empty database gets demo data");
    assert!(info.admin_token.starts_with("dp_"));
    assert!(
        deskprov::demo::fill(app.services())
            .await
            .unwrap()
            .is_none(),
        "a second run adds nothing"
    );
    let vendors: std::collections::BTreeSet<&str> =
        deskprov::demo::PHONES.iter().map(|p| p.vendor).collect();
    assert_eq!(
        vendors.len(),
        deskprov::demo::PHONES.len(),
        "one phone per vendor profile"
    );
    assert_eq!(
        vendors.len(),
        deskprov::profile::Vendors::builtin().unwrap().all().len(),
        "every profile has a demo phone"
    );
    for phone in deskprov::demo::PHONES {
        let resp = app.phone_get(phone.file, Some(phone.user_agent)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", phone.vendor);
        let body = resp.text().await.unwrap();
        let owner = match phone.extension {
            "101" => ("John Smith", "John Support", "John Sales"),
            "102" => ("Mary Jones", "Mary Support", "Mary Sales"),
            "103" => ("Ali Khan", "Ali Support", "Ali Sales"),
            _ => ("Li Wei", "Li Support", "Li Sales"),
        };
        let at = |name: &str| {
            body.find(name)
                .unwrap_or_else(|| panic!("{} file lacks {name}:\n{body}", phone.vendor))
        };
        assert!(
            at(owner.0) < at(owner.1) && at(owner.1) < at(owner.2),
            "{}: lines out of order",
            phone.vendor
        );
        let (_, device) = app.get(&format!("/devices/{}", phone.mac)).await;
        assert_eq!(device["vendor"], phone.vendor);
        assert_eq!(device["model"], phone.model);
    }
}
