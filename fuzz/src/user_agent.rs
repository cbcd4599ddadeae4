//! `Vendors::parse_ua`: what a phone's User-Agent says about it, and the files rendered for the
//! model it names (the phone path renders for the User-Agent's model over the registered one).

use deskprov::domain::Mac;
use deskprov::profile::FileKind;

use crate::fixture::vendors;
use crate::render::{check_common_files, check_device_files_for_model, plain_common_files};

/// Reads `data` as a User-Agent and checks what comes out.
pub fn run(data: &[u8]) {
    let Ok(ua) = std::str::from_utf8(data) else {
        return;
    };
    let vendors = vendors();
    let Some(info) = vendors.parse_ua(ua) else {
        return;
    };
    let vendor = vendors
        .get(&info.vendor)
        .unwrap_or_else(|| panic!("{ua:?} read as unknown vendor {}", info.vendor));
    assert!(
        !(info.bad_mac && info.mac.is_some()),
        "{ua:?}: both a MAC and a bad one"
    );
    if let Some(mac) = info.mac {
        assert!(
            spelled_in(ua, &mac),
            "{ua:?}: MAC {mac} is not written in the User-Agent"
        );
    }
    if let Some(firmware) = &info.firmware {
        assert!(
            ua.contains(firmware.as_str()),
            "{ua:?}: firmware {firmware}"
        );
    }
    if let Some(model) = &info.model {
        let known = vendor.model_key(model) == Some(model.as_str());
        assert!(
            known || ua.contains(model.as_str()),
            "{ua:?}: model {model} is neither a known key nor in the User-Agent"
        );
    }
    // The same User-Agent reads the same twice: nothing in the parse carries state.
    assert_eq!(vendors.parse_ua(ua), Some(info.clone()));

    // A phone's model, whatever it claims, is rendered for: the files must come out.
    let model = info.model.as_deref();
    check_device_files_for_model(vendor, model);
    let plain = plain_common_files(vendor, model);
    check_common_files(vendor, model, &plain, &[]);
    // The common files named for that model match back, and pick a model the vendor knows.
    for (name, _) in vendors
        .device_file_names(vendor, &sample_mac(vendor), model)
        .into_iter()
        .filter(|(_, f)| f.kind == FileKind::Common)
    {
        let matched = vendors
            .match_file(&name)
            .into_iter()
            .find(|m| m.vendor.id() == vendor.id())
            .unwrap_or_else(|| panic!("{name}, written for {ua:?}, does not match"));
        if let Some(chosen) = matched.model_for(&name, model) {
            assert!(vendor.model(&chosen).is_some(), "{ua:?}: model {chosen}");
        }
    }
}

/// Whether `mac` is written in `ua` in one of the spellings `Mac::parse` accepts.
fn spelled_in(ua: &str, mac: &Mac) -> bool {
    let lower = mac.lower12();
    let ua = ua.to_ascii_lowercase();
    let dotted = format!("{}.{}.{}", &lower[..4], &lower[4..8], &lower[8..]);
    [lower, mac.colon(), mac.colon().replace(':', "-"), dotted]
        .iter()
        .any(|s| ua.contains(s.as_str()))
}

fn sample_mac(vendor: &deskprov::profile::Vendor) -> Mac {
    let oui = vendor.profile.ouis[0].replace([':', '-'], "");
    Mac::parse(&format!("{oui}a1b2c3")).expect("an OUI makes a unicast MAC")
}
