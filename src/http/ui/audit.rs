//! The audit log: who changed what, newest first, filtered by tenant (admins only).

use crate::domain::audit::AuditEntry;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::error::PageResult;
use super::form::{Choice, given};
use super::session::UiSession;
use super::{Layout, page, short_time};
use crate::http::AppState;
use crate::service::tenants::visible_tenants;

/// Entries per page.
const PAGE: u32 = 100;
/// Longest value shown in a change summary.
const VALUE_CHARS: usize = 60;

struct AuditRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    entity: String,
    key: String,
    tenant: String,
    changes: String,
}

#[derive(Template)]
#[template(path = "ui/audit.html")]
struct AuditPage {
    layout: Layout,
    tenants: Vec<Choice>,
    tenant: String,
    entries: Vec<AuditRow>,
    older: Option<String>,
}

/// `?tenant=` and `?before=<id>` (paging).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filter {
    #[serde(default)]
    tenant: String,
    before: Option<i64>,
}

fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    if text.chars().count() > VALUE_CHARS {
        let cut: String = text.chars().take(VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn names(v: Option<&Value>) -> String {
    v.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| a["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// One line on what changed: the fields that differ, the new order, or the record.
fn describe(e: &AuditEntry) -> String {
    match (e.action.as_str(), &e.before, &e.after) {
        ("reorder", before, after) => {
            format!("{} → {}", names(before.as_ref()), names(after.as_ref()))
        }
        (_, Some(Value::Object(before)), Some(Value::Object(after))) => {
            let mut changed: Vec<String> = after
                .iter()
                .filter(|(k, v)| k.as_str() != "updated_at" && before.get(k.as_str()) != Some(v))
                .map(|(k, v)| {
                    let old = before.get(k.as_str()).unwrap_or(&Value::Null);
                    format!("{k}: {} → {}", short(old), short(v))
                })
                .collect();
            changed.sort();
            changed.join("; ")
        }
        (_, None, Some(Value::Object(after))) => ["name", "extension", "mac", "role"]
            .iter()
            .filter_map(|k| {
                after
                    .get(*k)
                    .filter(|v| !v.is_null())
                    .map(|v| format!("{k}: {}", short(v)))
            })
            .collect::<Vec<_>>()
            .join("; "),
        (_, Some(_), None) => "deleted; the whole record is kept for restore".to_owned(),
        (_, None, Some(v)) => short(v),
        _ => String::new(),
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    session: UiSession,
    Query(filter): Query<Filter>,
) -> PageResult<Response> {
    let entries = crate::service::audit::list(
        &state.services,
        &session.caller.actor,
        given(&filter.tenant),
        filter.before,
        PAGE,
    )
    .await?;
    let older = (entries.len() == PAGE as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten()
        .map(|id| {
            let mut q = vec![("before", id.to_string())];
            if !filter.tenant.is_empty() {
                q.push(("tenant", filter.tenant.clone()));
            }
            format!(
                "/ui/audit?{}",
                serde_urlencoded::to_string(q).unwrap_or_default()
            )
        });
    let mut tenants = vec![Choice::new("", "All tenants", &filter.tenant)];
    tenants.extend(
        visible_tenants(&state.services, &session.caller.actor)
            .await?
            .into_iter()
            .map(|t| Choice::new(t.name.clone(), t.name, &filter.tenant)),
    );
    let layout = Layout::load(&state, &session, "Audit log", "audit").await?;
    page(&AuditPage {
        layout,
        tenants,
        tenant: filter.tenant,
        entries: entries
            .iter()
            .map(|e| AuditRow {
                id: e.id,
                at: short_time(&e.at),
                actor: e.actor.clone(),
                action: e.action.clone(),
                entity: e.entity.clone(),
                key: e.key.clone(),
                tenant: e.tenant.clone().unwrap_or_default(),
                changes: describe(e),
            })
            .collect(),
        older,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(action: &str, before: Option<Value>, after: Option<Value>) -> AuditEntry {
        AuditEntry {
            id: 1,
            at: String::new(),
            actor: "token:a".into(),
            action: action.into(),
            entity: "user".into(),
            key: "101".into(),
            tenant: None,
            before,
            after,
            restored_by: None,
        }
    }

    #[test]
    fn changes_read_as_fields_orders_and_records() {
        let update = entry(
            "update",
            Some(json!({"name": "John", "email": "j@x.com", "updated_at": "1"})),
            Some(json!({"name": "Johnny", "email": "j@x.com", "updated_at": "2"})),
        );
        assert_eq!(describe(&update), "name: John → Johnny");
        let reorder = entry(
            "reorder",
            Some(json!([{"name": "A"}, {"name": "B"}])),
            Some(json!([{"name": "B"}, {"name": "A"}])),
        );
        assert_eq!(describe(&reorder), "A, B → B, A");
        let create = entry(
            "create",
            None,
            Some(json!({"name": "John", "extension": "101"})),
        );
        assert_eq!(describe(&create), "name: John; extension: 101");
        let delete = entry("delete", Some(json!({"name": "John"})), None);
        assert!(describe(&delete).starts_with("deleted"));
    }
}
