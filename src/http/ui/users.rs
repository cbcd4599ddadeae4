//! Users of a tenant (search, status tags, create), and one user (details, aliases in line
//! order, devices, delete).

use crate::domain::tenant::Tenant;
use crate::domain::user::{Alias, User};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::error::{PageError, PageResult};
use super::form::{Choice, Field, given, place_error, rule_of};
use super::session::{Posted, UiSession};
use super::{Done, Layout, page_with, see_other, short_time};
use crate::domain::user::{AliasDraft, UserDraft};
use crate::domain::{Role, RuleError};
use crate::http::AppState;
use crate::service::devices::summaries;
use crate::service::tenants::{load_tenant, sites};
use crate::service::users::{self as act, load_user};

struct UserRow {
    extension: String,
    name: String,
    email: String,
    devices: u32,
    tags: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "ui/users.html")]
struct UsersPage {
    layout: Layout,
    tenant: String,
    q: String,
    users: Vec<UserRow>,
    can_create: bool,
    fields: Vec<Field>,
    form_error: Option<String>,
    plan: String,
}

/// `?q=` searches name and extension.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Search {
    #[serde(default)]
    q: String,
    done: Option<String>,
}

/// The create form as posted (every field a string; blanks are absent).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct NewUser {
    name: String,
    extension: String,
    email: String,
    role: String,
    department: String,
    site: String,
    caller_id: String,
    voicemail_pin: String,
    sip_password: String,
}

impl NewUser {
    /// The API's draft: the same checks and messages.
    fn draft(&self) -> UserDraft {
        UserDraft {
            name: Some(self.name.clone()),
            extension: Some(self.extension.clone()),
            email: given(&self.email).map(Some),
            role: given(&self.role),
            department: given(&self.department).map(Some),
            site: given(&self.site).map(Some),
            caller_id: given(&self.caller_id).map(Some),
            voicemail_pin: given(&self.voicemail_pin).map(Some),
            sip_password: given(&self.sip_password),
            ..UserDraft::default()
        }
    }
}

fn plan_text(tenant: &Tenant) -> String {
    let plan = &tenant.extension_plan;
    let list = |ranges: &[crate::domain::extension::NumberRange]| {
        ranges
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let allowed = if plan.allowed.is_empty() {
        "any".to_owned()
    } else {
        list(&plan.allowed)
    };
    let reserved = if plan.reserved.is_empty() {
        "none".to_owned()
    } else {
        list(&plan.reserved)
    };
    format!(
        "{}–{} digits; allowed: {allowed}; reserved: {reserved}.",
        plan.min_digits, plan.max_digits
    )
}

fn user_fields(form: &NewUser, next_free: Option<&str>, sites: &[String]) -> Vec<Field> {
    let extension_hint = match next_free {
        Some(n) => format!("The next free extension is {n}."),
        None => "The numbering plan has no free extension left.".to_owned(),
    };
    let mut roles: Vec<Choice> = Role::ALL
        .iter()
        .map(|r| Choice::new(r.as_str(), r.as_str().replace('_', " "), &form.role))
        .collect();
    if form.role.is_empty() {
        for c in &mut roles {
            c.selected = c.value == Role::default().as_str();
        }
    }
    let mut fields = vec![
        Field::text("name", "Name", &form.name)
            .required()
            .hint("Shown on line 1 of the user's phones."),
        Field::text("extension", "Extension", &form.extension)
            .required()
            .inputmode("numeric")
            .hint(extension_hint),
        Field::text("email", "Email", &form.email)
            .inputmode("email")
            .hint("Without one, the user is tagged setup_required."),
        Field::select("role", "Portal role", roles),
        Field::text("department", "Department", &form.department),
    ];
    if !sites.is_empty() {
        let mut choices = vec![Choice::new("", "(tenant default)", &form.site)];
        choices.extend(
            sites
                .iter()
                .map(|s| Choice::new(s.as_str(), s.as_str(), &form.site)),
        );
        fields.push(Field::select("site", "Site", choices));
    }
    fields.extend([
        Field::text("caller_id", "Caller ID", &form.caller_id)
            .inputmode("tel")
            .hint("E.164, such as +4930123456."),
        Field::text("voicemail_pin", "Voicemail PIN", &form.voicemail_pin).inputmode("numeric"),
        Field::text("sip_password", "SIP password", &form.sip_password)
            .kind("password")
            .autocomplete("new-password")
            .hint("Leave blank and deskprov generates a strong one."),
    ]);
    fields
}

struct ListView {
    tenant: Tenant,
    users: Vec<UserRow>,
    next_free: Option<String>,
    sites: Vec<String>,
}

async fn list_view(
    state: &AppState,
    session: &UiSession,
    tenant: String,
    q: &str,
) -> PageResult<ListView> {
    let tenant = load_tenant(&state.services, &session.caller.actor, tenant).await?;
    let search = given(q).map(|s| s.trim().to_owned());
    let found = act::list_in(&state.services, &session.caller.actor, &tenant, search).await?;
    let sites = sites(&state.services, &session.caller.actor, &tenant).await?;
    let next_free = if session.caller.is_admin() {
        act::extensions(&state.services, &tenant)
            .await?
            .1
            .map(|e| e.to_string())
    } else {
        None
    };
    Ok(ListView {
        users: found.iter().map(user_row).collect(),
        sites: sites.into_iter().map(|s| s.name).collect(),
        next_free,
        tenant,
    })
}

fn user_row(u: &User) -> UserRow {
    UserRow {
        extension: u.spec.extension.to_string(),
        name: u.spec.name.to_string(),
        email: u
            .spec
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        devices: u.devices,
        tags: u.tags().into_iter().map(|t| t.as_str()).collect(),
    }
}

async fn users_page(
    state: &AppState,
    session: &UiSession,
    view: ListView,
    q: String,
    form: NewUser,
    error: Option<(StatusCode, RuleError)>,
    done: Option<&str>,
) -> PageResult<Response> {
    let layout = Layout::load(
        state,
        session,
        format!("Users of {}", view.tenant.name),
        "users",
    )
    .await?
    .with_notice(done);
    let mut form = form;
    if error.is_none() && form.extension.is_empty() {
        form.extension = view.next_free.clone().unwrap_or_default();
    }
    let mut fields = user_fields(&form, view.next_free.as_deref(), &view.sites);
    let (status, form_error) = match &error {
        Some((status, rule)) => (*status, place_error(&mut fields, rule)),
        None => (StatusCode::OK, None),
    };
    page_with(
        status,
        &UsersPage {
            layout,
            plan: plan_text(&view.tenant),
            tenant: view.tenant.name,
            q,
            users: view.users,
            can_create: session.caller.is_admin(),
            fields,
            form_error,
        },
    )
}

pub(super) async fn list(
    State(state): State<AppState>,
    session: UiSession,
    Path(tenant): Path<String>,
    Query(search): Query<Search>,
) -> PageResult<Response> {
    let view = list_view(&state, &session, tenant, &search.q).await?;
    users_page(
        &state,
        &session,
        view,
        search.q,
        NewUser::default(),
        None,
        search.done.as_deref(),
    )
    .await
}

pub(super) async fn create(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Posted { session, form }: Posted<NewUser>,
) -> PageResult<Response> {
    match act::create(
        &state.services,
        &session.caller.actor,
        tenant.clone(),
        form.draft(),
    )
    .await
    {
        Ok(user) => Ok(see_other(&format!(
            "/ui/tenants/{tenant}/users/{}?done=user_created",
            user.spec.extension
        ))),
        Err(e) => {
            let rule = rule_of(e)?;
            let view = list_view(&state, &session, tenant, "").await?;
            users_page(
                &state,
                &session,
                view,
                String::new(),
                form,
                Some(rule),
                None,
            )
            .await
        }
    }
}

struct AliasRow {
    id: i64,
    line: i64,
    name: String,
    sip_username: String,
    first: bool,
    last: bool,
}

struct UserDevice {
    mac: String,
    vendor: String,
    model: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "ui/user.html")]
struct UserPage {
    layout: Layout,
    base: String,
    tenant: String,
    users_href: String,
    facts: Vec<(&'static str, String)>,
    tags: Vec<&'static str>,
    aliases: Vec<AliasRow>,
    devices: Vec<UserDevice>,
    can_edit: bool,
    alias_fields: Vec<Field>,
    alias_error: Option<String>,
    delete_error: Option<String>,
    extension: String,
}

/// Which form of the user page a refused change came from.
enum Failed {
    Alias(AliasForm, StatusCode, RuleError),
    Order(StatusCode, RuleError),
    Delete(StatusCode, RuleError),
}

fn facts(user: &User) -> Vec<(&'static str, String)> {
    let s = &user.spec;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".to_owned());
    vec![
        ("Extension", s.extension.to_string()),
        ("Name", s.name.to_string()),
        ("SIP username", s.sip_username.to_string()),
        (
            "Email",
            opt(s.email.as_ref().map(|e| e.as_str().to_owned())),
        ),
        ("Portal role", s.role.as_str().replace('_', " ")),
        ("Admin", if s.admin { "yes" } else { "no" }.to_owned()),
        (
            "Department",
            opt(s.department.as_ref().map(|d| d.to_string())),
        ),
        ("Site", opt(s.site.clone())),
        (
            "Caller ID",
            opt(s.caller_id.as_ref().map(|c| c.to_string())),
        ),
        (
            "Phone numbers",
            opt((!s.phone_numbers.is_empty()).then(|| {
                s.phone_numbers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })),
        ),
        (
            "Voicemail PIN",
            if s.voicemail_pin.is_some() {
                "set"
            } else {
                "not set"
            }
            .to_owned(),
        ),
        (
            "Device limit",
            s.max_devices
                .map_or_else(|| "tenant default".to_owned(), |m| m.to_string()),
        ),
        ("Created", short_time(&user.created_at)),
        ("Changed", short_time(&user.updated_at)),
    ]
}

fn alias_rows(list: &[Alias]) -> Vec<AliasRow> {
    let n = list.len();
    list.iter()
        .enumerate()
        .map(|(i, a)| AliasRow {
            id: a.id,
            line: a.position + 1,
            name: a.name.clone(),
            sip_username: a.sip_username.clone(),
            first: i == 0,
            last: i + 1 == n,
        })
        .collect()
}

async fn user_page(
    state: &AppState,
    session: &UiSession,
    tenant: String,
    extension: String,
    done: Option<&str>,
    failed: Option<Failed>,
) -> PageResult<Response> {
    let (tenant, user) =
        load_user(&state.services, &session.caller.actor, tenant, extension).await?;
    let list = act::aliases_of(&state.services, &user).await?;
    let devices = user_devices(state, &tenant, &user).await?;
    let layout = Layout::load(
        state,
        session,
        format!("{} {}", user.spec.extension, user.spec.name),
        "users",
    )
    .await?
    .with_notice(done);
    let refused = Refused::from(failed);
    let mut alias_fields = alias_fields(&tenant, &user, &refused.alias_form);
    let alias_message = refused
        .alias_error
        .as_ref()
        .and_then(|rule| place_error(&mut alias_fields, rule))
        .or(refused.order_error);
    let base = format!("/ui/tenants/{}/users/{}", tenant.name, user.spec.extension);
    page_with(
        refused.status,
        &UserPage {
            layout,
            users_href: format!("/ui/tenants/{}/users", tenant.name),
            tenant: tenant.name.clone(),
            base,
            facts: facts(&user),
            tags: user.tags().into_iter().map(|t| t.as_str()).collect(),
            aliases: alias_rows(&list),
            devices,
            can_edit: session.caller.is_admin(),
            alias_fields,
            alias_error: alias_message,
            delete_error: refused.delete_error,
            extension: user.spec.extension.to_string(),
        },
    )
}

/// The user's phones, with their vendor's name and status.
async fn user_devices(
    state: &AppState,
    tenant: &Tenant,
    user: &User,
) -> PageResult<Vec<UserDevice>> {
    Ok(summaries(&state.services, Some(tenant.id), Some(user.id))
        .await?
        .into_iter()
        .map(|d| UserDevice {
            mac: d.device.mac.lower12(),
            vendor: state
                .vendors
                .get(&d.device.vendor)
                .map_or_else(|| d.device.vendor.clone(), |v| v.profile.name.clone()),
            model: d.device.effective_model().unwrap_or("").to_owned(),
            status: d.status.as_str(),
        })
        .collect())
}

/// What a refused change puts on the user page: its status, the add-alias form as it was
/// posted, and the message next to the form it came from.
struct Refused {
    status: StatusCode,
    alias_form: AliasForm,
    alias_error: Option<RuleError>,
    order_error: Option<String>,
    delete_error: Option<String>,
}

impl From<Option<Failed>> for Refused {
    fn from(failed: Option<Failed>) -> Self {
        let mut refused = Refused {
            status: StatusCode::OK,
            alias_form: AliasForm::default(),
            alias_error: None,
            order_error: None,
            delete_error: None,
        };
        match failed {
            Some(Failed::Alias(form, s, rule)) => {
                refused.alias_form = form;
                refused.status = s;
                refused.alias_error = Some(rule);
            }
            Some(Failed::Order(s, rule)) => {
                refused.status = s;
                refused.order_error = Some(rule.message);
            }
            Some(Failed::Delete(s, rule)) => {
                refused.status = s;
                refused.delete_error = Some(rule.message);
            }
            None => {}
        }
        refused
    }
}

/// The add-alias form's fields, filled with `form`.
fn alias_fields(tenant: &Tenant, user: &User, form: &AliasForm) -> Vec<Field> {
    vec![
        Field::text("name", "Alias name", &form.name)
            .required()
            .hint("Shown on the line key, such as “John Support”."),
        Field::text("sip_username", "SIP username", &form.sip_username).hint(format!(
            "Leave blank for {}{}_2, _3, …",
            tenant.sip_username_prefix, user.spec.extension
        )),
    ]
}

pub(super) async fn show(
    State(state): State<AppState>,
    session: UiSession,
    Path((tenant, extension)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> PageResult<Response> {
    user_page(
        &state,
        &session,
        tenant,
        extension,
        done.done.as_deref(),
        None,
    )
    .await
}

/// The add-alias form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AliasForm {
    name: String,
    sip_username: String,
}

pub(super) async fn add_alias(
    State(state): State<AppState>,
    Path((tenant, extension)): Path<(String, String)>,
    Posted { session, form }: Posted<AliasForm>,
) -> PageResult<Response> {
    let draft = AliasDraft {
        name: Some(form.name.clone()),
        sip_username: given(&form.sip_username),
        sip_password: None,
    };
    let back = format!("/ui/tenants/{tenant}/users/{extension}");
    match act::add_alias(
        &state.services,
        &session.caller.actor,
        tenant.clone(),
        extension.clone(),
        draft,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("{back}?done=alias_added#aliases"))),
        Err(e) => {
            let (status, rule) = rule_of(e)?;
            let failed = Failed::Alias(form, status, rule);
            user_page(&state, &session, tenant, extension, None, Some(failed)).await
        }
    }
}

/// `direction=up` or `down`.
#[derive(Debug, Deserialize)]
pub(super) struct Move {
    direction: String,
}

/// `ids` with `id` swapped with its neighbour above (`up`) or below; `None` at an end.
fn moved(ids: &[i64], id: i64, up: bool) -> Option<Vec<i64>> {
    let i = ids.iter().position(|&x| x == id)?;
    let j = if up { i.checked_sub(1)? } else { i + 1 };
    if j >= ids.len() {
        return None;
    }
    let mut out = ids.to_vec();
    out.swap(i, j);
    Some(out)
}

pub(super) async fn move_alias(
    State(state): State<AppState>,
    Path((tenant, extension, id)): Path<(String, String, i64)>,
    Posted { session, form }: Posted<Move>,
) -> PageResult<Response> {
    let up = match form.direction.as_str() {
        "up" => true,
        "down" => false,
        _ => return Err(PageError::BadForm("direction is up or down".into())),
    };
    let (_, user) = load_user(
        &state.services,
        &session.caller.actor,
        tenant.clone(),
        extension.clone(),
    )
    .await?;
    let current: Vec<i64> = act::aliases_of(&state.services, &user)
        .await?
        .iter()
        .map(|a| a.id)
        .collect();
    let back = format!("/ui/tenants/{tenant}/users/{extension}");
    let Some(order) = moved(&current, id, up) else {
        // Already first or last (or gone): nothing to change.
        return Ok(see_other(&format!("{back}#aliases")));
    };
    match act::reorder_aliases(
        &state.services,
        &session.caller.actor,
        tenant.clone(),
        extension.clone(),
        order,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("{back}?done=alias_moved#aliases"))),
        Err(e) => {
            let (status, rule) = rule_of(e)?;
            user_page(
                &state,
                &session,
                tenant,
                extension,
                None,
                Some(Failed::Order(status, rule)),
            )
            .await
        }
    }
}

/// Deleting an alias needs nothing but the CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct NoFields {}

pub(super) async fn delete_alias(
    State(state): State<AppState>,
    Path((tenant, extension, id)): Path<(String, String, i64)>,
    Posted { session, .. }: Posted<NoFields>,
) -> PageResult<Response> {
    act::remove_alias(
        &state.services,
        &session.caller.actor,
        tenant.clone(),
        extension.clone(),
        id,
    )
    .await?;
    Ok(see_other(&format!(
        "/ui/tenants/{tenant}/users/{extension}?done=alias_deleted#aliases"
    )))
}

/// The typed confirmation of a delete.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Confirm {
    confirm: String,
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Path((tenant, extension)): Path<(String, String)>,
    Posted { session, form }: Posted<Confirm>,
) -> PageResult<Response> {
    let confirm = form.confirm.trim();
    match act::remove(
        &state.services,
        &session.caller.actor,
        tenant.clone(),
        extension.clone(),
        Some(confirm),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/ui/tenants/{tenant}/users?done=user_deleted"
        ))),
        Err(e) => {
            let (status, rule) = rule_of(e)?;
            user_page(
                &state,
                &session,
                tenant,
                extension,
                None,
                Some(Failed::Delete(status, rule)),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::moved;

    #[test]
    fn moving_swaps_with_the_neighbour_and_stops_at_the_ends() {
        assert_eq!(moved(&[1, 2, 3], 3, true), Some(vec![1, 3, 2]));
        assert_eq!(moved(&[1, 2, 3], 1, false), Some(vec![2, 1, 3]));
        assert_eq!(moved(&[1, 2, 3], 1, true), None);
        assert_eq!(moved(&[1, 2, 3], 3, false), None);
        assert_eq!(moved(&[1, 2, 3], 9, true), None);
    }
}
