//! Reading a sheet's rows into the drafts the API takes and checking them with the same domain
//! rules: every unreadable cell and every broken rule is reported by row and column, so a row
//! shows all of its problems at once. Pure: what the store says is the import's business.

use rand::Rng;

use super::format::{Column, Problem, Row, RowKind};
use crate::domain::device::{DeviceDraft, DeviceSpec};
use crate::domain::user::{AliasDraft, AliasSpec, TenantRules, UserDraft, UserSpec};
use crate::domain::{RuleError, Settings};

/// The problem of a row whose `type` is none of the kinds.
pub fn type_problem(row: u64) -> Problem {
    Problem::at(
        row,
        Column::Type,
        "type_invalid",
        "type is user, alias, device or key (empty means user)",
    )
}

/// Reports each filled cell that a row of `kind` does not use.
pub fn not_applicable(row: &Row, kind: RowKind, problems: &mut Vec<Problem>) {
    let uses: Vec<&str> = kind.columns().iter().map(|c| c.name()).collect();
    for column in row.cells.filled().filter(|c| !kind.columns().contains(c)) {
        let phone_only = RowKind::Device.columns().contains(&column)
            && !RowKind::User.columns().contains(&column);
        let key_only = RowKind::Key.columns().contains(&column)
            && !RowKind::Device.columns().contains(&column);
        let hint = if phone_only && kind != RowKind::Key {
            "; a phone goes on a row of its own: type device, the user's extension, its mac"
        } else if key_only {
            "; a key goes on a row of its own: type key, the user's extension (or a device's mac), its key_type and key_value"
        } else {
            ""
        };
        problems.push(Problem::at(
            row.number,
            column,
            "not_applicable",
            format!(
                "{} rows do not use this column ({} rows use {}){hint}",
                kind.name(),
                kind.name(),
                uses.join(", ")
            ),
        ));
    }
}

/// A broken rule as a problem of `row`, in the column its field belongs to.
pub fn rule_problem(row: u64, err: RuleError) -> Problem {
    let column = Column::of_field(&err.field);
    let message = match column {
        Some(c) if c.name() == err.field => err.message,
        _ => format!("{}: {}", err.field, err.message),
    };
    Problem {
        row,
        column: Some(column.map_or(err.field, |c| c.name().to_owned())),
        code: err.code,
        message,
    }
}

/// The checked user of a row, or `None` with every problem of its cells reported.
pub fn user_spec(
    row: &Row,
    rules: TenantRules<'_>,
    rng: &mut impl Rng,
    problems: &mut Vec<Problem>,
) -> Option<UserSpec> {
    let draft = user_draft(row, problems);
    let checked = all_errors(draft, |d| d.into_new(rules, rng), clear_user_field);
    reported(row.number, checked, problems)
}

/// The checked alias of a row, or `None` with every problem of its cells reported.
pub fn alias_spec(
    row: &Row,
    prefix: &str,
    rng: &mut impl Rng,
    problems: &mut Vec<Problem>,
) -> Option<AliasSpec> {
    let cell = |c| row.cells.get(c).map(str::to_owned);
    let draft = AliasDraft {
        name: cell(Column::Name),
        sip_username: cell(Column::SipUsername),
        sip_password: cell(Column::SipPassword),
    };
    let checked = all_errors(draft, |d| d.into_new(prefix, rng), clear_alias_field);
    reported(row.number, checked, problems)
}

/// The checked device of a row in `tenant`, or `None` with every problem of its cells
/// reported. The vendor is not checked here: that needs the phone profiles.
pub fn device_spec(row: &Row, tenant: &str, problems: &mut Vec<Problem>) -> Option<DeviceSpec> {
    let cell = |c| row.cells.get(c).map(str::to_owned);
    let draft = DeviceDraft {
        mac: cell(Column::Mac),
        tenant: Some(tenant.to_owned()),
        extension: cell(Column::Extension),
        vendor: cell(Column::Vendor),
        model: cell(Column::Model),
        site: cell(Column::Site),
        label: cell(Column::Label),
        settings: settings(row, problems),
    };
    let checked = all_errors(draft, DeviceDraft::into_spec, clear_device_field);
    reported(row.number, checked, problems)
}

/// The spec, or `None` after reporting each broken rule.
fn reported<S>(
    row: u64,
    checked: Result<S, Vec<RuleError>>,
    problems: &mut Vec<Problem>,
) -> Option<S> {
    match checked {
        Ok(spec) => Some(spec),
        Err(errors) => {
            problems.extend(errors.into_iter().map(|e| rule_problem(row, e)));
            None
        }
    }
}

/// The user draft of a row; cells that cannot even be read are reported and left out.
fn user_draft(row: &Row, problems: &mut Vec<Problem>) -> UserDraft {
    let cell = |c| row.cells.get(c).map(str::to_owned);
    let admin = row.cells.get(Column::Admin).and_then(|v| {
        let parsed = parse_yes_no(v);
        if parsed.is_none() {
            problems.push(Problem::at(
                row.number,
                Column::Admin,
                "boolean_invalid",
                "admin is yes or no (or true/false, 1/0)",
            ));
        }
        parsed
    });
    let max_devices = row.cells.get(Column::MaxDevices).and_then(|v| {
        let parsed = v.parse::<u32>().ok();
        if parsed.is_none() {
            problems.push(Problem::at(
                row.number,
                Column::MaxDevices,
                "number_invalid",
                "max_devices is a whole number from 1 to 100",
            ));
        }
        parsed
    });
    UserDraft {
        name: cell(Column::Name),
        email: cell(Column::Email).map(Some),
        extension: cell(Column::Extension),
        role: cell(Column::Role),
        admin,
        department: cell(Column::Department).map(Some),
        site: cell(Column::Site).map(Some),
        sip_username: cell(Column::SipUsername),
        sip_password: cell(Column::SipPassword),
        voicemail_pin: cell(Column::VoicemailPin).map(Some),
        caller_id: cell(Column::CallerId).map(Some),
        phone_numbers: row.cells.get(Column::PhoneNumbers).map(split_list),
        external_sip: cell(Column::ExternalSip).map(Some),
        portal_password: None,
        max_devices: max_devices.map(Some),
    }
}

/// The `settings` cell as device settings; one that is not is reported and left out.
fn settings(row: &Row, problems: &mut Vec<Problem>) -> Option<Settings> {
    let text = row.cells.get(Column::Settings)?;
    match serde_json::from_str::<Settings>(text) {
        Ok(settings) => Some(settings),
        Err(e) => {
            problems.push(Problem::at(
                row.number,
                Column::Settings,
                "settings_invalid",
                format!("settings is a JSON object of device settings, as in the API: {e}"),
            ));
            None
        }
    }
}

/// Runs `check` until it passes, clearing each failing field with `clear` to find the
/// problems behind it, so a row reports every broken rule at once rather than the first.
fn all_errors<D: Clone, S>(
    mut draft: D,
    mut check: impl FnMut(D) -> Result<S, RuleError>,
    clear: impl Fn(&mut D, &str) -> bool,
) -> Result<S, Vec<RuleError>> {
    let mut errors: Vec<RuleError> = Vec::new();
    loop {
        match check(draft.clone()) {
            Ok(spec) if errors.is_empty() => return Ok(spec),
            Ok(_) => return Err(errors),
            Err(e) => {
                let repeated = errors.iter().any(|seen| seen.field == e.field);
                if repeated {
                    return Err(errors);
                }
                let more = clear(&mut draft, &e.field);
                errors.push(e);
                if !more {
                    return Err(errors);
                }
            }
        }
    }
}

/// Clears a failing optional field of a user draft; a bad name is replaced by a placeholder
/// so the other cells are still checked (the row is not written either way).
fn clear_user_field(d: &mut UserDraft, field: &str) -> bool {
    match Column::of_field(field) {
        Some(Column::Name) => d.name = Some("placeholder".into()),
        Some(Column::Email) => d.email = None,
        Some(Column::Role) => d.role = None,
        Some(Column::Department) => d.department = None,
        Some(Column::SipUsername) => d.sip_username = None,
        Some(Column::SipPassword) => d.sip_password = None,
        Some(Column::VoicemailPin) => d.voicemail_pin = None,
        Some(Column::CallerId) => d.caller_id = None,
        Some(Column::PhoneNumbers) => d.phone_numbers = None,
        Some(Column::ExternalSip) => d.external_sip = None,
        Some(Column::MaxDevices) => d.max_devices = None,
        // The extension: the default SIP username depends on it.
        _ => return false,
    }
    true
}

fn clear_alias_field(d: &mut AliasDraft, field: &str) -> bool {
    match Column::of_field(field) {
        Some(Column::Name) => d.name = Some("placeholder".into()),
        Some(Column::SipUsername) => d.sip_username = None,
        Some(Column::SipPassword) => d.sip_password = None,
        _ => return false,
    }
    true
}

fn clear_device_field(d: &mut DeviceDraft, field: &str) -> bool {
    match Column::of_field(field) {
        Some(Column::Model) => d.model = None,
        Some(Column::Label) => d.label = None,
        Some(Column::Settings) => d.settings = None,
        // The MAC and the extension: nothing else is worth checking without them.
        _ => return false,
    }
    true
}

/// `yes`/`no`, `true`/`false`, `1`/`0` (and `y`/`n`), any case.
pub(super) fn parse_yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// `a | b|c` → `[a, b, c]`.
fn split_list(value: &str) -> Vec<String> {
    value
        .split('|')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_broken_rule_of_a_row_is_found() {
        let plan = crate::domain::ExtensionPlan::default();
        let rules = TenantRules {
            plan: &plan,
            prefix: "testsitecom_",
        };
        let draft = UserDraft {
            name: Some("Bad\nName".into()),
            extension: Some("101".into()),
            email: Some(Some("nope".into())),
            voicemail_pin: Some(Some("12".into())),
            ..Default::default()
        };
        let mut rng = rand::rng();
        let errors =
            all_errors(draft, |d| d.into_new(rules, &mut rng), clear_user_field).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "voicemail_pin"]);
    }

    #[test]
    fn a_bad_extension_stops_the_row() {
        let plan = crate::domain::ExtensionPlan::default();
        let rules = TenantRules {
            plan: &plan,
            prefix: "testsitecom_",
        };
        let draft = UserDraft {
            name: Some("Ann".into()),
            extension: Some("911".into()),
            email: Some(Some("nope".into())),
            ..Default::default()
        };
        let mut rng = rand::rng();
        let errors =
            all_errors(draft, |d| d.into_new(rules, &mut rng), clear_user_field).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "extension_reserved");
    }

    #[test]
    fn lists_and_flags_read_leniently() {
        assert_eq!(
            split_list(" +4930123456 | |+4930123457"),
            ["+4930123456", "+4930123457"]
        );
        assert_eq!(parse_yes_no("Yes"), Some(true));
        assert_eq!(parse_yes_no("0"), Some(false));
        assert_eq!(parse_yes_no("maybe"), None);
    }
}
