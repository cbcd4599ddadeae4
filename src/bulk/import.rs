//! Import: every row goes through the same drafts and store functions as the API, inside one
//! transaction that is committed only when `apply` was asked for and no row has a problem.

use crate::domain::audit::{Actor, Change};
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use std::collections::{HashMap, HashSet};

use rand::rngs::ThreadRng;
use rusqlite::Transaction;
use serde::Serialize;
use serde_json::json;

use super::sheet::{self, Column, Problem, Row, RowKind};
use crate::domain::device::DeviceDraft;
use crate::domain::user::{AliasDraft, TenantRules, UserDraft};
use crate::domain::{RuleError, Settings};
use crate::profile::Vendors;
use crate::store::audit;
use crate::store::tenants;

use crate::store::{Store, StoreError, StoreResult, aliases, devices, users};

/// What to import, where, and whether to write it.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// Tenant name.
    pub tenant: String,
    /// The CSV file.
    pub csv: Vec<u8>,
    /// Write the rows (when none has a problem); otherwise only check them.
    pub apply: bool,
    /// Who imports: recorded on every created record.
    pub actor: Actor,
    /// Where the rows came from (a file name), for the audit log.
    pub source: Option<String>,
}

/// What an import found and did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Whether the rows were written.
    pub applied: bool,
    /// Data rows read.
    pub rows: usize,
    /// Users created (or, in a dry run, that would be).
    pub users: usize,
    /// Aliases created (or that would be).
    pub aliases: usize,
    /// Devices created (or that would be).
    pub devices: usize,
    /// Every problem, by row.
    pub problems: Vec<Problem>,
}

impl ImportReport {
    /// Whether no row has a problem.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How often progress is reported, in rows.
pub const PROGRESS_EVERY: usize = 1000;

/// Checks (and with `apply`, writes) the rows of `request.csv` into its tenant.
///
/// `progress(done, total)` is called every [`PROGRESS_EVERY`] rows and at the end. Rows with
/// problems are reported, never written: an apply writes every row or none.
pub fn import(
    store: &Store,
    vendors: &Vendors,
    request: ImportRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> StoreResult<ImportReport> {
    let parsed = sheet::parse(&request.csv);
    store.write_or_rollback_blocking(|tx| {
        let tenant = tenants::by_name(tx, &request.tenant)?;
        let mut run = Run::new(tx, &request.actor, &tenant, vendors, parsed.problems);
        run.all_rows(&parsed.rows, progress)?;
        let mut report = run.report(parsed.rows.len());
        let commit = request.apply && report.ok();
        if commit && report.rows > 0 {
            audit::record(
                tx,
                &request.actor,
                Change {
                    action: "import",
                    entity: "tenant",
                    key: tenant.name.clone(),
                    tenant_id: Some(tenant.id),
                    before: None,
                    after: Some(json!({
                        "source": request.source,
                        "rows": report.rows,
                        "users": report.users,
                        "aliases": report.aliases,
                        "devices": report.devices,
                    })),
                    snapshot: None,
                },
            )?;
        }
        report.applied = commit;
        Ok((report, commit))
    })
}

/// The state of one import inside its transaction.
struct Run<'a> {
    tx: &'a Transaction<'a>,
    actor: &'a Actor,
    tenant: &'a Tenant,
    vendors: &'a Vendors,
    rng: ThreadRng,
    problems: Vec<Problem>,
    /// Users created by this file, by extension.
    created: HashMap<String, User>,
    /// Extensions whose user row has a problem: their alias and device rows skip the store.
    failed: HashSet<String>,
    /// Row of each extension's user row, each SIP username and each MAC used in the file.
    extension_rows: HashMap<String, u64>,
    username_rows: HashMap<String, u64>,
    mac_rows: HashMap<String, u64>,
    counts: [usize; 3],
}

impl<'a> Run<'a> {
    fn new(
        tx: &'a Transaction<'a>,
        actor: &'a Actor,
        tenant: &'a Tenant,
        vendors: &'a Vendors,
        problems: Vec<Problem>,
    ) -> Self {
        Self {
            tx,
            actor,
            tenant,
            vendors,
            rng: rand::rng(),
            problems,
            created: HashMap::new(),
            failed: HashSet::new(),
            extension_rows: HashMap::new(),
            username_rows: HashMap::new(),
            mac_rows: HashMap::new(),
            counts: [0; 3],
        }
    }

    fn report(mut self, rows: usize) -> ImportReport {
        // Stable: within a row, problems stay in the order they were found.
        self.problems.sort_by_key(|p| p.row);
        ImportReport {
            applied: false,
            rows,
            users: self.counts[0],
            aliases: self.counts[1],
            devices: self.counts[2],
            problems: self.problems,
        }
    }

    /// Users first, then aliases, then devices, so a row may refer to a user further down.
    fn all_rows(
        &mut self,
        rows: &[Row],
        progress: &mut dyn FnMut(usize, usize),
    ) -> StoreResult<()> {
        let mut kinds = Vec::with_capacity(rows.len());
        for row in rows {
            match RowKind::parse(row.cells.get(Column::Type)) {
                Some(kind) => kinds.push((kind, row)),
                None => self.problems.push(Problem::at(
                    row.number,
                    Column::Type,
                    "type_invalid",
                    "type is user, alias or device (empty means user)",
                )),
            }
        }
        let mut done = rows.len() - kinds.len();
        for pass in [RowKind::User, RowKind::Alias, RowKind::Device] {
            for (_, row) in kinds.iter().filter(|(k, _)| *k == pass) {
                let before = self.problems.len();
                self.not_applicable(row, pass);
                match pass {
                    RowKind::User => self.user_row(row, before)?,
                    RowKind::Alias => self.alias_row(row, before)?,
                    RowKind::Device => self.device_row(row, before)?,
                }
                done += 1;
                if done.is_multiple_of(PROGRESS_EVERY) {
                    progress(done, rows.len());
                }
            }
        }
        progress(rows.len(), rows.len());
        Ok(())
    }

    fn problem(&mut self, row: u64, column: Column, code: &'static str, message: String) {
        self.problems.push(Problem::at(row, column, code, message));
    }

    /// Reports a broken rule in the column its field belongs to.
    fn rule(&mut self, row: u64, err: RuleError) {
        let column = Column::of_field(&err.field);
        let message = match column {
            Some(c) if c.name() == err.field => err.message,
            _ => format!("{}: {}", err.field, err.message),
        };
        self.problems.push(Problem {
            row,
            column: Some(column.map_or(err.field, |c| c.name().to_owned())),
            code: err.code,
            message,
        });
    }

    /// Reports a store refusal; anything but a broken rule aborts the import.
    fn store_result<T>(&mut self, row: u64, result: StoreResult<T>) -> StoreResult<Option<T>> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(StoreError::Conflict(e) | StoreError::Invalid(e)) => {
                self.rule(row, e);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn not_applicable(&mut self, row: &Row, kind: RowKind) {
        let wrong: Vec<Column> = row
            .cells
            .filled()
            .filter(|c| !kind.columns().contains(c))
            .collect();
        for column in wrong {
            let uses: Vec<&str> = kind.columns().iter().map(|c| c.name()).collect();
            let phone_only = RowKind::Device.columns().contains(&column)
                && !RowKind::User.columns().contains(&column);
            let hint = if phone_only {
                "; a phone goes on a row of its own: type device, the user's extension, its mac"
            } else {
                ""
            };
            self.problem(
                row.number,
                column,
                "not_applicable",
                format!(
                    "{} rows do not use this column ({} rows use {}){hint}",
                    kind.name(),
                    kind.name(),
                    uses.join(", ")
                ),
            );
        }
    }

    /// The first row that used `value` in `seen`, recording `row` when it is the first.
    fn first_use(seen: &mut HashMap<String, u64>, value: &str, row: u64) -> Option<u64> {
        match seen.get(value) {
            Some(first) => Some(*first),
            None => {
                seen.insert(value.to_owned(), row);
                None
            }
        }
    }

    fn rules(&self) -> TenantRules<'a> {
        TenantRules {
            plan: &self.tenant.extension_plan,
            prefix: &self.tenant.sip_username_prefix,
        }
    }

    /// `before`: the number of problems before this row, to tell whether it has any.
    fn user_row(&mut self, row: &Row, before: usize) -> StoreResult<()> {
        let n = row.number;
        let extension = row.cells.get(Column::Extension).unwrap_or_default();
        if !extension.is_empty()
            && let Some(first) = Self::first_use(&mut self.extension_rows, extension, n)
        {
            self.problem(
                n,
                Column::Extension,
                "duplicate_in_file",
                format!("extension {extension} already has a user row (row {first})"),
            );
        }
        let draft = self.user_draft(row);
        let rules = self.rules();
        let rng = &mut self.rng;
        let spec = all_errors(draft, |d| d.into_new(rules, rng), clear_user_field);
        let spec = match spec {
            Ok(spec) => Some(spec),
            Err(errors) => {
                errors.into_iter().for_each(|e| self.rule(n, e));
                None
            }
        };
        if let Some(spec) = &spec
            && self.problems.len() == before
            && let Some(first) = self.username_rows.get(spec.sip_username.as_str()).copied()
        {
            self.problem(
                n,
                Column::SipUsername,
                "duplicate_in_file",
                format!("{} is also used on row {first}", spec.sip_username),
            );
        }
        let user = match spec {
            Some(spec) if self.problems.len() == before => {
                let result = users::insert_as(self.tx, self.actor, "import", self.tenant, &spec);
                self.store_result(n, result)?
            }
            _ => None,
        };
        match user {
            Some(user) => {
                self.counts[0] += 1;
                self.username_rows
                    .insert(user.spec.sip_username.to_string(), n);
                self.created.insert(extension.to_owned(), user);
            }
            None => {
                self.failed.insert(extension.to_owned());
            }
        }
        Ok(())
    }

    /// The user draft of a row; cells that cannot even be read are reported and left out.
    fn user_draft(&mut self, row: &Row) -> UserDraft {
        let cell = |c| row.cells.get(c).map(str::to_owned);
        let admin = row.cells.get(Column::Admin).and_then(|v| {
            let parsed = parse_yes_no(v);
            if parsed.is_none() {
                self.problem(
                    row.number,
                    Column::Admin,
                    "boolean_invalid",
                    "admin is yes or no (or true/false, 1/0)".into(),
                );
            }
            parsed
        });
        let max_devices = row.cells.get(Column::MaxDevices).and_then(|v| {
            let parsed = v.parse::<u32>().ok();
            if parsed.is_none() {
                self.problem(
                    row.number,
                    Column::MaxDevices,
                    "number_invalid",
                    "max_devices is a whole number from 1 to 100".into(),
                );
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

    /// The owner of an alias or device row: created by this file or already stored. `None`
    /// when its user row has problems (already reported) or no such user exists (reported).
    fn owner(&mut self, row: &Row) -> StoreResult<Option<User>> {
        let Some(extension) = row.cells.get(Column::Extension) else {
            self.problem(
                row.number,
                Column::Extension,
                "required",
                "the extension of the user this row belongs to is required".into(),
            );
            return Ok(None);
        };
        if let Some(user) = self.created.get(extension) {
            return Ok(Some(user.clone()));
        }
        if self.failed.contains(extension) {
            return Ok(None);
        }
        match users::by_extension(self.tx, self.tenant.id, extension) {
            Ok(user) => Ok(Some(user)),
            Err(StoreError::NotFound(_)) => {
                self.problem(
                    row.number,
                    Column::Extension,
                    "user_unknown",
                    format!(
                        "{} has no user with extension {extension}, in the database or in this file",
                        self.tenant.name
                    ),
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `before`: the number of problems before this row, to tell whether it has any.
    fn alias_row(&mut self, row: &Row, before: usize) -> StoreResult<()> {
        let n = row.number;
        let cell = |c| row.cells.get(c).map(str::to_owned);
        let draft = AliasDraft {
            name: cell(Column::Name),
            sip_username: cell(Column::SipUsername),
            sip_password: cell(Column::SipPassword),
        };
        let prefix = self.tenant.sip_username_prefix.as_str();
        let rng = &mut self.rng;
        let spec = match all_errors(draft, |d| d.into_new(prefix, rng), clear_alias_field) {
            Ok(spec) => Some(spec),
            Err(errors) => {
                errors.into_iter().for_each(|e| self.rule(n, e));
                None
            }
        };
        if let Some(username) = spec.as_ref().and_then(|s| s.sip_username.as_ref())
            && let Some(first) = self.username_rows.get(username.as_str()).copied()
        {
            self.problem(
                n,
                Column::SipUsername,
                "duplicate_in_file",
                format!("{username} is also used on row {first}"),
            );
        }
        let owner = self.owner(row)?;
        let (Some(spec), Some(owner)) = (spec, owner) else {
            return Ok(());
        };
        if self.problems.len() > before {
            return Ok(());
        }
        let prefix = &self.tenant.sip_username_prefix;
        let result = aliases::insert_as(self.tx, self.actor, "import", prefix, &owner, &spec);
        if let Some(alias) = self.store_result(n, result)? {
            self.counts[1] += 1;
            self.username_rows.insert(alias.sip_username, n);
        }
        Ok(())
    }

    /// `before`: the number of problems before this row, to tell whether it has any.
    fn device_row(&mut self, row: &Row, before: usize) -> StoreResult<()> {
        let n = row.number;
        let cell = |c| row.cells.get(c).map(str::to_owned);
        let settings = match row.cells.get(Column::Settings) {
            None => None,
            Some(text) => match serde_json::from_str::<Settings>(text) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.problem(
                        n,
                        Column::Settings,
                        "settings_invalid",
                        format!("settings is a JSON object of device settings, as in the API: {e}"),
                    );
                    None
                }
            },
        };
        let draft = DeviceDraft {
            mac: cell(Column::Mac),
            tenant: Some(self.tenant.name.clone()),
            extension: cell(Column::Extension),
            vendor: cell(Column::Vendor),
            model: cell(Column::Model),
            site: cell(Column::Site),
            label: cell(Column::Label),
            settings,
        };
        let spec = match all_errors(draft, DeviceDraft::into_spec, clear_device_field) {
            Ok(spec) => Some(spec),
            Err(errors) => {
                errors.into_iter().for_each(|e| self.rule(n, e));
                None
            }
        };
        let vendors = self.vendors;
        let vendor = match spec.as_ref().map(|spec| {
            vendors.for_new_device(spec.vendor.as_deref(), &spec.mac, spec.model.as_deref())
        }) {
            Some(Ok(vendor)) => Some(vendor.id().to_owned()),
            Some(Err(e)) => {
                self.rule(n, e);
                None
            }
            None => None,
        };
        if let Some(spec) = &spec
            && let Some(first) = Self::first_use(&mut self.mac_rows, &spec.mac.lower12(), n)
        {
            self.problem(
                n,
                Column::Mac,
                "duplicate_in_file",
                format!("{} is also on row {first}", spec.mac),
            );
        }
        let owner = self.owner(row)?;
        let (Some(spec), Some(vendor), Some(_)) = (spec, vendor, owner) else {
            return Ok(());
        };
        if self.problems.len() > before {
            return Ok(());
        }
        let result = devices::insert_as(self.tx, self.actor, "import", self.tenant, &spec, &vendor);
        if self.store_result(n, result)?.is_some() {
            self.counts[2] += 1;
        }
        Ok(())
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

fn parse_yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// `a | b|c` → `[a, b, c]`.
pub(super) fn split_list(value: &str) -> Vec<String> {
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
