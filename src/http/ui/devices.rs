//! Registering a phone (the installer's page) and one device: line map, what the phone said,
//! its history, enrollment, and each file it gets with secrets masked.

use crate::domain::tenant::Tenant;
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::error::PageResult;
use super::form::{Choice, Field, given, place_error, rule_of};
use super::session::{Posted, UiSession};
use super::{Done, EventRow, Layout, page, page_with, see_other, short_time};
use crate::domain::device::{Device, DeviceBundle, DeviceDraft, DevicePatch};
use crate::domain::line_plan::{AccountKind, SipAccount};
use crate::domain::{DeviceStatus, LinePlan, RuleError};
use crate::http::AppState;
use crate::profile::Vendor;
use crate::profile::provision::line_plan;
use crate::service::Services;
use crate::service::devices::{
    self as act, MacHint, file_names, load, mac_hint, render_file, status, vendor_of,
};
use crate::service::tenants::visible_tenants;

use crate::domain::Actor;
use crate::service::users;

/// Suggestions offered in the user field.
const USER_SUGGESTIONS: usize = 500;

#[derive(Template)]
#[template(path = "ui/device_new.html")]
struct RegisterPage {
    layout: Layout,
    fields: Vec<Field>,
    form_error: Option<String>,
    tenant: String,
    pick_tenant: bool,
}

/// The register form as posted.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NewDevice {
    mac: String,
    tenant: String,
    user: String,
    vendor: String,
    model: String,
    label: String,
}

/// `?tenant=` picks the tenant whose users are suggested.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TenantPick {
    tenant: Option<String>,
}

async fn register_page(
    state: &AppState,
    session: &UiSession,
    form: NewDevice,
    error: Option<(StatusCode, RuleError)>,
) -> PageResult<Response> {
    let tenants = visible_tenants(&state.services, &session.caller.actor).await?;
    let tenant = tenants
        .iter()
        .find(|t| t.name == form.tenant)
        .or(tenants.first())
        .cloned();
    let layout = Layout::load(state, session, "Register a phone", "register").await?;
    let suggestions = match &tenant {
        Some(t) => user_suggestions(state, &session.caller.actor, t).await?,
        None => Vec::new(),
    };
    let hint = given(&form.mac).map(|m| mac_hint(&state.vendors, &m));
    let mut fields = register_fields(
        state,
        &form,
        &tenants,
        tenant.as_ref(),
        hint.as_ref(),
        suggestions,
    );
    let (status, form_error) = match &error {
        Some((status, rule)) => {
            // The owner is picked in the `user` field; the rules name it `extension`.
            let rule = if rule.field == "extension" {
                rule.clone().in_field("user")
            } else {
                rule.clone()
            };
            (*status, place_error(&mut fields, &rule))
        }
        None => (StatusCode::OK, None),
    };
    page_with(
        status,
        &RegisterPage {
            layout,
            fields,
            form_error,
            tenant: tenant.map(|t| t.name).unwrap_or_default(),
            pick_tenant: tenants.len() > 1,
        },
    )
}

async fn user_suggestions(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
) -> PageResult<Vec<Choice>> {
    let list = users::list_in(&state.services, actor, tenant, None).await?;
    Ok(list
        .iter()
        .take(USER_SUGGESTIONS)
        .map(|u| {
            let text = format!("{} {}", u.spec.extension, u.spec.name);
            Choice::new(text.clone(), text, "")
        })
        .collect())
}

fn register_fields(
    state: &AppState,
    form: &NewDevice,
    tenants: &[Tenant],
    tenant: Option<&Tenant>,
    hint: Option<&MacHint>,
    suggestions: Vec<Choice>,
) -> Vec<Field> {
    let mac_hint = hint.map_or_else(
        || "Type or scan it in any spelling: 00:15:65:AA:BB:CC, 00-15-65-aa-bb-cc, 001565aabbcc or 0015.65aa.bbcc.".to_owned(),
        |h| h.message.clone(),
    );
    let mut fields = vec![
        Field::text("mac", "MAC address", &form.mac)
            .required()
            .autocomplete("off")
            .hint(mac_hint),
    ];
    if tenants.len() > 1 {
        let current = tenant.map_or("", |t| t.name.as_str());
        fields.push(Field::select(
            "tenant",
            "Tenant",
            tenants
                .iter()
                .map(|t| Choice::new(t.name.as_str(), t.name.as_str(), current))
                .collect(),
        ));
    }
    fields.push(
        Field::text("user", "User", &form.user)
            .required()
            .suggest(suggestions)
            .hint("The extension, or the name, of the person whose phone this is."),
    );
    let mut vendors = vec![Choice::new("", "Recognise it from the MAC", &form.vendor)];
    vendors.extend(
        state
            .vendors
            .all()
            .iter()
            .map(|v| Choice::new(v.id(), v.profile.name.as_str(), &form.vendor)),
    );
    fields.push(Field::select("vendor", "Vendor", vendors));
    fields.push(
        Field::text("model", "Model", &form.model)
            .hint("Such as T46U. Phones tell their model when they fetch; give it now to see the right number of lines."),
    );
    fields.push(
        Field::text("label", "Label", &form.label)
            .hint("Where the phone is, such as “Reception desk”."),
    );
    fields
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    session: UiSession,
    Query(pick): Query<TenantPick>,
) -> PageResult<Response> {
    let form = NewDevice {
        tenant: pick.tenant.unwrap_or_default(),
        ..NewDevice::default()
    };
    register_page(&state, &session, form, None).await
}

/// Finds the extension the `user` field means: a leading number is an extension (as the
/// suggestions `101 John Smith` are); otherwise a name that matches exactly one user.
async fn resolve_user(
    state: &AppState,
    actor: &Actor,
    tenant: &Tenant,
    input: &str,
) -> PageResult<Result<String, RuleError>> {
    let input = input.trim();
    let digits: String = input.chars().take_while(char::is_ascii_digit).collect();
    if !digits.is_empty()
        && input[digits.len()..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
    {
        return Ok(Ok(digits));
    }
    if input.is_empty() {
        return Ok(Err(RuleError::new(
            "user",
            "required",
            "pick the phone's user by extension or name",
        )));
    }
    let found = users::list_in(&state.services, actor, tenant, Some(input.to_owned())).await?;
    let exact: Vec<_> = found
        .iter()
        .filter(|u| u.spec.name.as_str().eq_ignore_ascii_case(input))
        .collect();
    let candidates: Vec<_> = if exact.is_empty() {
        found.iter().collect()
    } else {
        exact
    };
    Ok(match candidates.as_slice() {
        [one] => Ok(one.spec.extension.to_string()),
        [] => Err(RuleError::new(
            "user",
            "user_unknown",
            format!("{} has no user called “{input}”", tenant.name),
        )),
        several => {
            let names: Vec<String> = several
                .iter()
                .take(5)
                .map(|u| format!("{} {}", u.spec.extension, u.spec.name))
                .collect();
            Err(RuleError::new(
                "user",
                "user_ambiguous",
                format!(
                    "{} users match: {}; type the extension",
                    several.len(),
                    names.join(", ")
                ),
            ))
        }
    })
}

pub(super) async fn register(
    State(state): State<AppState>,
    Posted { session, form }: Posted<NewDevice>,
) -> PageResult<Response> {
    let tenants = visible_tenants(&state.services, &session.caller.actor).await?;
    let Some(tenant) = tenants
        .iter()
        .find(|t| t.name == form.tenant)
        .or(if tenants.len() == 1 {
            tenants.first()
        } else {
            None
        })
    else {
        let rule = RuleError::new("tenant", "required", "pick the tenant the phone belongs to");
        return register_page(
            &state,
            &session,
            form,
            Some((StatusCode::UNPROCESSABLE_ENTITY, rule)),
        )
        .await;
    };
    let extension = match resolve_user(&state, &session.caller.actor, tenant, &form.user).await? {
        Ok(ext) => ext,
        Err(rule) => {
            return register_page(
                &state,
                &session,
                form,
                Some((StatusCode::UNPROCESSABLE_ENTITY, rule)),
            )
            .await;
        }
    };
    let draft = DeviceDraft {
        mac: Some(form.mac.clone()),
        tenant: Some(tenant.name.clone()),
        extension: Some(extension),
        vendor: given(&form.vendor),
        model: given(&form.model),
        site: None,
        label: given(&form.label),
        settings: None,
    };
    match act::register(&state.services, &session.caller.actor, draft).await {
        Ok(bundle) => Ok(see_other(&format!(
            "/ui/devices/{}?done=registered",
            bundle.device.mac.lower12()
        ))),
        Err(e) => {
            let rule = rule_of(e)?;
            register_page(&state, &session, form, Some(rule)).await
        }
    }
}

/// `?mac=` as typed.
#[derive(Debug, Deserialize)]
pub(super) struct HintQuery {
    #[serde(default)]
    mac: String,
}

/// The vendor of a MAC as it is typed (for the register page's script).
pub(super) async fn vendor_hint(
    State(state): State<AppState>,
    _session: UiSession,
    Query(q): Query<HintQuery>,
) -> Response {
    let hint = mac_hint(&state.vendors, &q.mac);
    Json(json!({"mac": hint.mac, "vendor": hint.vendor, "message": hint.message})).into_response()
}

struct LineRow {
    line: usize,
    kind: &'static str,
    name: String,
    sip_username: String,
}

struct FilePreview {
    name: String,
    kind: &'static str,
    content_type: String,
    body: String,
}

#[derive(Template)]
#[template(path = "ui/device.html")]
struct DevicePage {
    layout: Layout,
    mac: String,
    mac_colon: String,
    facts: Vec<(&'static str, String)>,
    owner_href: String,
    owner: String,
    status: &'static str,
    enrollment: String,
    capacity: String,
    lines: Vec<LineRow>,
    overflow: Vec<LineRow>,
    summary: String,
    events: Vec<EventRow>,
    files: Vec<FilePreview>,
    show_files: bool,
    just_registered: bool,
}

fn kind_name(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::User => "user",
        AccountKind::Alias => "alias",
    }
}

fn row(line: usize, a: &SipAccount) -> LineRow {
    LineRow {
        line,
        kind: kind_name(a.kind),
        name: a.name.clone(),
        sip_username: a.sip_username.clone(),
    }
}

/// "1 line", "16 lines".
fn lines_text(n: usize) -> String {
    if n == 1 {
        "1 line".to_owned()
    } else {
        format!("{n} lines")
    }
}

/// "Line 1: John Smith, Line 2: John Support", and what did not fit.
fn line_summary(plan: &LinePlan) -> String {
    let lines: Vec<String> = plan
        .lines
        .iter()
        .map(|l| format!("Line {}: {}", l.line, l.account.name))
        .collect();
    let mut text = lines.join(", ");
    if !plan.overflow.is_empty() {
        let names: Vec<&str> = plan.overflow.iter().map(|a| a.name.as_str()).collect();
        text.push_str(&format!(
            ". Not on this phone ({}): {}",
            lines_text(plan.capacity),
            names.join(", ")
        ));
    }
    text
}

pub(super) async fn show(
    State(state): State<AppState>,
    session: UiSession,
    Path(mac): Path<String>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    let bundle = load(&state.services, &session.caller.actor, &mac).await?;
    let vendor = vendor_of(&state.vendors, &bundle.device)?;
    let plan = line_plan(&bundle, vendor);
    let status = status(&state.services, &bundle).await?;
    let d = &bundle.device;
    let recent = crate::service::devices::history(&state.services, &bundle, 20).await?;
    let show_files = session.caller.is_admin();
    let files = if show_files {
        file_previews(&state.services, &session.caller.actor, &bundle).await?
    } else {
        Vec::new()
    };
    let layout = Layout::load(
        &state,
        &session,
        format!("Phone {}", d.mac.colon()),
        "device",
    )
    .await?
    .with_notice(done.done.as_deref());
    page(&DevicePage {
        layout,
        mac: d.mac.lower12(),
        mac_colon: d.mac.colon(),
        facts: device_facts(vendor, &bundle),
        owner_href: format!(
            "/ui/tenants/{}/users/{}",
            bundle.tenant.name, bundle.owner.spec.extension
        ),
        owner: format!("{} {}", bundle.owner.spec.extension, bundle.owner.spec.name),
        status: status.as_str(),
        enrollment: enrollment_text(d, status),
        capacity: lines_text(plan.capacity),
        lines: plan.lines.iter().map(|l| row(l.line, &l.account)).collect(),
        overflow: plan.overflow.iter().map(|a| row(0, a)).collect(),
        summary: line_summary(&plan),
        events: recent.into_iter().map(EventRow::from).collect(),
        files,
        show_files,
        just_registered: done.done.as_deref() == Some("registered"),
    })
}

/// Every file the device gets, rendered as the phone would get it, secrets masked.
async fn file_previews(
    services: &Services,
    actor: &Actor,
    bundle: &DeviceBundle,
) -> PageResult<Vec<FilePreview>> {
    let mut files = Vec::new();
    for (name, spec) in file_names(services, bundle)? {
        let rendered = render_file(services, actor, bundle, &name, false).await?;
        files.push(FilePreview {
            name,
            kind: spec.kind_name(),
            content_type: rendered.content_type,
            body: rendered.body,
        });
    }
    Ok(files)
}

/// The device's facts table: what was registered, what the phone said, when it fetched.
fn device_facts(vendor: &Vendor, bundle: &DeviceBundle) -> Vec<(&'static str, String)> {
    let d = &bundle.device;
    let opt = |v: Option<&str>| v.map_or_else(|| "—".to_owned(), str::to_owned);
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        opt(t
            .map(crate::domain::time::time_text)
            .as_deref()
            .map(short_time)
            .as_deref())
    };
    vec![
        ("Vendor", vendor.profile.name.clone()),
        ("Model registered", opt(d.model.as_deref())),
        ("Model seen", opt(d.seen_model.as_deref())),
        ("Firmware seen", opt(d.seen_firmware.as_deref())),
        ("Tenant", bundle.tenant.name.clone()),
        ("Site", opt(bundle.site.as_ref().map(|s| s.name.as_str()))),
        ("Label", opt(d.label.as_deref())),
        ("First fetch", when(d.first_fetch_at)),
        ("Last fetch", when(d.last_fetch_at)),
        ("Last address", opt(d.last_ip.as_deref())),
        ("Bound to address", opt(d.bound_ip.as_deref())),
        ("Registered", short_time(&d.created_at)),
    ]
}

/// Where the device stands with enrollment: enrolled, open until its deadline, or expired.
fn enrollment_text(d: &Device, status: DeviceStatus) -> String {
    let deadline = short_time(&crate::domain::time::time_text(d.enroll_deadline));
    match d.first_fetch_at {
        Some(_) => "Enrolled: the phone made its first fetch.".to_owned(),
        None if status == DeviceStatus::EnrollmentExpired => format!(
            "Expired at {deadline} without a first fetch: phones with this MAC are treated as unknown until enrollment is re-opened."
        ),
        None => format!("Open until {deadline}: the phone must make its first fetch before then."),
    }
}

/// Re-opening needs nothing but the CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct NoFields {}

pub(super) async fn reopen(
    State(state): State<AppState>,
    Path(mac): Path<String>,
    Posted { session, .. }: Posted<NoFields>,
) -> PageResult<Response> {
    let patch = DevicePatch {
        reopen_enrollment: Some(true),
        ..DevicePatch::default()
    };
    let (bundle, _) = act::update(&state.services, &session.caller.actor, &mac, patch).await?;
    Ok(see_other(&format!(
        "/ui/devices/{}?done=reopened",
        bundle.device.mac.lower12()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SipPassword;

    fn account(kind: AccountKind, name: &str) -> SipAccount {
        SipAccount {
            kind,
            alias_id: None,
            name: name.into(),
            sip_username: "u".into(),
            password: SipPassword::from_trusted("x".into()),
        }
    }

    #[test]
    fn the_summary_reads_line_by_line_and_calls_out_overflow() {
        let aliases = vec![
            account(AccountKind::Alias, "John Support"),
            account(AccountKind::Alias, "John Sales"),
        ];
        let plan = LinePlan::build(
            account(AccountKind::User, "John Smith"),
            aliases.clone(),
            16,
        );
        assert_eq!(
            line_summary(&plan),
            "Line 1: John Smith, Line 2: John Support, Line 3: John Sales"
        );
        let small = LinePlan::build(account(AccountKind::User, "John Smith"), aliases, 2);
        assert_eq!(
            line_summary(&small),
            "Line 1: John Smith, Line 2: John Support. Not on this phone (2 lines): John Sales"
        );
    }
}
