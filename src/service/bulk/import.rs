//! Import: every row goes through the same drafts and store functions as the API, inside one
//! transaction that is committed only when `apply` was asked for and no row has a problem.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::store::Writer;
use rand::rngs::ThreadRng;
use serde::Serialize;
use serde_json::json;

use crate::domain::RuleError;
use crate::domain::audit::{Actor, Change};
use crate::domain::device::DeviceSpec;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::profile::Vendors;
use crate::service::languages::{self, Scope};
use crate::service::tenants::load_tenant;
use crate::service::users::rules;
use crate::service::{ServiceError, ServiceResult, Services};
use crate::sheet::{Column, Problem, Row, RowKind, Sheet, drafts};
use crate::store::{Store, StoreError, StoreResult, aliases, audit, devices, tenants, users};

mod keys;

/// What to import, where, and whether to write it.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// Tenant name.
    pub tenant: String,
    /// The CSV file.
    pub csv: Vec<u8>,
    /// Write the rows (when none has a problem); otherwise only check them.
    pub apply: bool,
    /// Where the rows came from (a file name), for the audit log.
    pub source: Option<String>,
}

/// Most data rows one import takes: a larger file is refused (413) before any row is read.
pub const MAX_IMPORT_ROWS: usize = 200_000;

/// Most problems a report lists (the first, by row); `problem_count` and `problem_codes`
/// count them all.
pub const MAX_REPORTED_PROBLEMS: usize = 1000;

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
    /// Keys added (or that would be).
    pub keys: usize,
    /// The first problems, by row: at most [`MAX_REPORTED_PROBLEMS`] (1000).
    pub problems: Vec<Problem>,
    /// Every problem found, listed or not.
    pub problem_count: usize,
    /// Problems found, by code (`extension_reserved` → 3).
    pub problem_codes: BTreeMap<String, usize>,
}

impl ImportReport {
    /// Whether no row has a problem.
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }

    /// Problems found but not listed.
    pub fn unlisted(&self) -> usize {
        self.problem_count - self.problems.len()
    }

    fn with_file_problems(problems: Vec<Problem>) -> Self {
        let mut tally = Tally::default();
        let mut problems = problems;
        tally.settle(&mut problems);
        tally.report_into(problems, Self::default())
    }
}

/// How often progress is reported, in rows.
pub const PROGRESS_EVERY: usize = 1000;

/// Checks (and with `apply`, writes) the rows of `request.csv` into its tenant (admins only);
/// the actor is recorded on every created record.
///
/// `progress(done, total)` is called every [`PROGRESS_EVERY`] rows and at the end. Rows with
/// problems are reported, never written: an apply writes every row or none.
pub async fn import(
    services: &Services,
    actor: &Actor,
    request: ImportRequest,
    mut progress: impl FnMut(usize, usize) + Send + 'static,
) -> ServiceResult<ImportReport> {
    actor.require_admin()?;
    let tenant = load_tenant(services, actor, request.tenant.clone()).await?;
    let (store, vendors, by) = (
        services.store.clone(),
        services.vendors.clone(),
        actor.clone(),
    );
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| import_file(&store, &vendors, &by, tenant.id, request, &mut progress))
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("import task: {e}")))?
}

/// Reads the header and counts the rows, then imports them: a file with header problems gets
/// a report of them, a file over [`MAX_IMPORT_ROWS`] is refused before any row is read.
fn import_file(
    store: &Store,
    vendors: &Vendors,
    actor: &Actor,
    tenant_id: i64,
    request: ImportRequest,
    progress: &mut dyn FnMut(usize, usize),
) -> ServiceResult<ImportReport> {
    let sheet = match Sheet::open(&request.csv) {
        Ok(sheet) => sheet,
        Err(problems) => return Ok(ImportReport::with_file_problems(problems)),
    };
    let records = sheet.records();
    if records > MAX_IMPORT_ROWS {
        return Err(ServiceError::TooLarge(RuleError::new(
            "body",
            "import_too_many_rows",
            format!(
                "the file has {records} rows; an import takes at most {MAX_IMPORT_ROWS}: split it into several files"
            ),
        )));
    }
    let apply = request.apply;
    let source = request.source.as_deref();
    Ok(import_rows(
        store,
        vendors,
        actor,
        tenant_id,
        (&sheet, apply, source),
        progress,
    )?)
}

/// The import itself, on the current thread, in one transaction on the writer.
fn import_rows(
    store: &Store,
    vendors: &Vendors,
    actor: &Actor,
    tenant_id: i64,
    (sheet, apply, source): (&Sheet<'_>, bool, Option<&str>),
    progress: &mut dyn FnMut(usize, usize),
) -> StoreResult<ImportReport> {
    store.write_or_rollback_blocking(|tx| {
        let tenant = tenants::by_id(tx, tenant_id)?;
        let mut run = Run::new(tx, actor, &tenant, vendors);
        let rows = run.all_rows(sheet, progress)?;
        let mut report = run.report(rows);
        let commit = apply && report.ok();
        if commit && report.rows > 0 {
            record_import(tx, actor, &tenant, source, &report)?;
        }
        report.applied = commit;
        Ok((report, commit))
    })
}

/// The audit entry of an applied import: where the rows came from and what they created.
fn record_import(
    tx: &Writer<'_>,
    actor: &Actor,
    tenant: &Tenant,
    source: Option<&str>,
    report: &ImportReport,
) -> StoreResult<()> {
    audit::record(
        tx,
        actor,
        Change {
            action: "import",
            entity: "tenant",
            key: tenant.name.clone(),
            tenant_id: Some(tenant.id),
            before: None,
            after: Some(json!({
                "source": source,
                "rows": report.rows,
                "users": report.users,
                "aliases": report.aliases,
                "devices": report.devices,
                "keys": report.keys,
            })),
            snapshot: None,
        },
    )?;
    Ok(())
}

/// The state of one import inside its transaction.
struct Run<'a> {
    tx: &'a Writer<'a>,
    actor: &'a Actor,
    tenant: &'a Tenant,
    vendors: &'a Vendors,
    rng: ThreadRng,
    /// The problems kept for the report (see [`Tally`]).
    problems: Vec<Problem>,
    tally: Tally,
    /// Extensions whose user this file created.
    created: HashSet<String>,
    /// Extensions whose user row has a problem: their alias and device rows skip the store.
    failed: HashSet<String>,
    /// Row of each extension's user row, each SIP username and each MAC used in the file.
    extension_rows: HashMap<String, u64>,
    username_rows: HashMap<String, u64>,
    mac_rows: HashMap<String, u64>,
    /// Checked key rows by owner, in file order: written once every key row is read.
    keys: keys::Pending,
    counts: [usize; 4],
}

impl<'a> Run<'a> {
    fn new(tx: &'a Writer<'a>, actor: &'a Actor, tenant: &'a Tenant, vendors: &'a Vendors) -> Self {
        Self {
            tx,
            actor,
            tenant,
            vendors,
            rng: rand::rng(),
            problems: Vec::new(),
            tally: Tally::default(),
            created: HashSet::new(),
            failed: HashSet::new(),
            extension_rows: HashMap::new(),
            username_rows: HashMap::new(),
            mac_rows: HashMap::new(),
            keys: keys::Pending::default(),
            counts: [0; 4],
        }
    }

    fn report(mut self, rows: usize) -> ImportReport {
        self.tally.settle(&mut self.problems);
        let counted = ImportReport {
            rows,
            users: self.counts[0],
            aliases: self.counts[1],
            devices: self.counts[2],
            keys: self.counts[3],
            ..ImportReport::default()
        };
        self.tally.report_into(self.problems, counted)
    }

    /// Users first, then aliases, then devices, then keys, so a row may refer to a user or
    /// device further down: one pass over the file for each, one row in memory at a time.
    /// Returns the rows read.
    fn all_rows(
        &mut self,
        sheet: &Sheet<'_>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> StoreResult<usize> {
        let total = sheet.records();
        let mut done = 0;
        let mut rows = 0;
        for pass in [RowKind::User, RowKind::Alias, RowKind::Device, RowKind::Key] {
            for row in sheet.rows() {
                // The file's own problems, once: in the first pass.
                let first_pass = pass == RowKind::User;
                let row = match row {
                    Ok(row) => row,
                    Err(problems) if first_pass => {
                        self.problems.extend(problems);
                        done += 1;
                        continue;
                    }
                    Err(_) => continue,
                };
                rows += usize::from(first_pass);
                let Some(kind) = self.kind_of(&row, first_pass) else {
                    done += usize::from(first_pass);
                    continue;
                };
                if kind != pass {
                    continue;
                }
                self.one_row(&row, kind)?;
                done += 1;
                if done.is_multiple_of(PROGRESS_EVERY) {
                    progress(done, total);
                }
            }
        }
        self.write_keys()?;
        self.tally.settle(&mut self.problems);
        progress(total, total);
        Ok(rows)
    }

    /// The kind of `row`, or `None` with a problem reported when `report` is set.
    fn kind_of(&mut self, row: &Row, report: bool) -> Option<RowKind> {
        let kind = RowKind::parse(row.cells.get(Column::Type));
        if kind.is_none() && report {
            self.problems.push(drafts::type_problem(row.number));
        }
        kind
    }

    /// Checks (and writes) one row of `kind`, then settles the problems it added.
    fn one_row(&mut self, row: &Row, kind: RowKind) -> StoreResult<()> {
        let before = self.problems.len();
        drafts::not_applicable(row, kind, &mut self.problems);
        match kind {
            RowKind::User => self.user_row(row, before)?,
            RowKind::Alias => self.alias_row(row, before)?,
            RowKind::Device => self.device_row(row, before)?,
            RowKind::Key => self.key_row(row, before)?,
        }
        self.tally.settle(&mut self.problems);
        Ok(())
    }

    fn problem(&mut self, row: u64, column: Column, code: &'static str, message: String) {
        self.problems.push(Problem::at(row, column, code, message));
    }

    /// Reports a broken rule in the column its field belongs to.
    fn rule(&mut self, row: u64, err: RuleError) {
        self.problems.push(drafts::rule_problem(row, err));
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

    /// Reports a SIP username that an earlier row of the file already created.
    fn duplicate_username(&mut self, row: u64, username: &str) {
        if let Some(first) = self.username_rows.get(username).copied() {
            self.problem(
                row,
                Column::SipUsername,
                "duplicate_in_file",
                format!("{username} is also used on row {first}"),
            );
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
        let rules = rules(self.tenant);
        let spec = drafts::user_spec(row, rules, &mut self.rng, &mut self.problems);
        if let Some(spec) = &spec
            && self.problems.len() == before
        {
            self.duplicate_username(n, spec.sip_username.as_str());
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
                self.created.insert(extension.to_owned());
            }
            None => {
                self.failed.insert(extension.to_owned());
            }
        }
        Ok(())
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
        if self.failed.contains(extension) && !self.created.contains(extension) {
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
        let prefix = self.tenant.sip_username_prefix.as_str();
        let spec = drafts::alias_spec(row, prefix, &mut self.rng, &mut self.problems);
        if let Some(username) = spec.as_ref().and_then(|s| s.sip_username.as_ref()) {
            self.duplicate_username(n, username.as_str());
        }
        let owner = self.owner(row)?;
        let (Some(spec), Some(owner)) = (spec, owner) else {
            return Ok(());
        };
        if self.problems.len() > before {
            return Ok(());
        }
        let result = aliases::insert_as(self.tx, self.actor, "import", prefix, &owner, &spec);
        if let Some(alias) = self.store_result(n, result)? {
            self.counts[1] += 1;
            self.username_rows.insert(alias.sip_username, n);
        }
        Ok(())
    }

    /// The vendor a device row gets (given, or recognised from its MAC), checked against its
    /// model; `None` with the broken rule reported.
    fn vendor_of(&mut self, row: u64, spec: &DeviceSpec) -> Option<String> {
        let vendor =
            self.vendors
                .for_new_device(spec.vendor.as_deref(), &spec.mac, spec.model.as_deref());
        match vendor {
            Ok(vendor) => Some(vendor.id().to_owned()),
            Err(e) => {
                self.rule(row, e);
                None
            }
        }
    }

    /// `before`: the number of problems before this row, to tell whether it has any.
    fn device_row(&mut self, row: &Row, before: usize) -> StoreResult<()> {
        let n = row.number;
        let spec = drafts::device_spec(row, &self.tenant.name, &mut self.problems);
        let vendor = spec.as_ref().and_then(|spec| self.vendor_of(n, spec));
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
        let field = if spec.settings.language.is_some() {
            "settings.language"
        } else {
            "language"
        };
        let result = devices::insert_as(self.tx, self.actor, "import", self.tenant, &spec, &vendor)
            .and_then(|_| languages::check(self.tx, self.vendors, Scope::Device(&spec.mac), field));
        if self.store_result(n, result)?.is_some() {
            self.counts[2] += 1;
        }
        Ok(())
    }
}

/// The problems of an import, counted as they are found; only the first
/// [`MAX_REPORTED_PROBLEMS`] by row are kept, so a file full of errors cannot fill memory.
#[derive(Debug, Default)]
struct Tally {
    /// How many problems at the head of the list are already counted.
    counted: usize,
    /// Every problem counted, by code.
    codes: BTreeMap<String, usize>,
}

impl Tally {
    /// Counts the problems added since the last call; trims the list to the first
    /// [`MAX_REPORTED_PROBLEMS`] by row once it holds twice as many.
    fn settle(&mut self, problems: &mut Vec<Problem>) {
        for p in &problems[self.counted..] {
            *self.codes.entry(p.code.to_owned()).or_default() += 1;
        }
        if problems.len() > 2 * MAX_REPORTED_PROBLEMS {
            Self::trim(problems);
        }
        self.counted = problems.len();
    }

    /// Keeps the first [`MAX_REPORTED_PROBLEMS`] by row (stable: a row's problems stay in the
    /// order they were found).
    fn trim(problems: &mut Vec<Problem>) {
        problems.sort_by_key(|p| p.row);
        problems.truncate(MAX_REPORTED_PROBLEMS);
    }

    /// `report` with the first problems and every count.
    fn report_into(self, mut problems: Vec<Problem>, report: ImportReport) -> ImportReport {
        Self::trim(&mut problems);
        ImportReport {
            problems,
            problem_count: self.codes.values().sum(),
            problem_codes: self.codes,
            ..report
        }
    }
}
