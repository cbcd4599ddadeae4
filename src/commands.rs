//! What each CLI command does, on top of the library.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};

use crate::cli::{ExportArgs, ImportArgs, ModelsArgs};
use crate::config::ServeConfig;
use crate::config::check;
use crate::config::file::Origins;
use crate::domain::RuleError;
use crate::domain::audit::Actor;
use crate::domain::token::{TokenDraft, TokenRole};
use crate::profile::{Vendors, catalog};
use crate::service::bulk::{self, ImportReport, ImportRequest};
use crate::service::{ServiceError, Services, ops, tokens};
use crate::store::Store;
use crate::{demo, server};

/// `deskprov serve`: runs until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    // Before anything is served or announced, so that an early SIGTERM is a graceful stop.
    let stop = server::os_signal();
    let running = server::start(&config).await?;
    tracing::info!(phone = %running.phone_addr, admin = %running.admin_addr, https = ?running.phone_tls_addr, db = %config.db.path.display(), "deskprov is serving");
    if config.demo {
        match demo::fill(&running.state.services).await? {
            Some(info) => print_demo(&running, &info),
            None => println!(
                "The database already has data; --demo added nothing. Create a token with `deskprov token create --role admin`."
            ),
        }
    }
    stop.await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

fn print_demo(running: &server::Running, info: &demo::DemoInfo) {
    let phone = running.phone_addr;
    let host = if phone.ip().is_unspecified() {
        format!("127.0.0.1:{}", phone.port())
    } else {
        phone.to_string()
    };
    let admin = running.admin_addr;
    println!(
        "\nDemo data is in place: tenant {}, users 101 to 104 with two aliases each, one phone per vendor family.",
        demo::TENANT
    );
    println!("Admin token (shown once): {}\n", info.admin_token);
    println!("Fetch a phone's configuration as the phone would:");
    for p in demo::PHONES {
        println!("  curl -A '{}' http://{host}/{}", p.user_agent, p.file);
    }
    println!("\nSee its line map through the API:");
    println!(
        "  curl -H 'Authorization: Bearer {}' http://{admin}/api/v1/devices/{}/lines",
        info.admin_token,
        demo::PHONES[0].mac
    );
    println!("\nOr open the pages in a browser and sign in with the admin token:");
    println!("  http://{admin}/ui/");
}

/// The use cases over the database at `db`, with the built-in phone profiles, for the
/// commands that work on a database file directly.
fn open_services(db: &Path) -> anyhow::Result<Services> {
    let store = Store::open(db).with_context(|| format!("opening database {}", db.display()))?;
    let vendors = Vendors::builtin().context("loading vendor profiles")?;
    Ok(Services::new(store, Arc::new(vendors), None))
}

/// A broken rule in the terms of the command line, where each field is the flag of its name.
fn flag_error(e: RuleError) -> anyhow::Error {
    match e.message.strip_prefix(e.field.as_str()) {
        Some(rest) => anyhow!("--{}{rest}", e.field),
        None => anyhow!("--{}: {}", e.field, e.message),
    }
}

/// `deskprov token create`: prints the token alone on the last line.
pub async fn create_token(
    db: &Path,
    role: TokenRole,
    tenant: Option<&str>,
    name: Option<&str>,
) -> anyhow::Result<()> {
    let draft = TokenDraft {
        role,
        tenant: tenant.map(str::to_owned),
        name: name.map(str::to_owned),
    };
    // Checked before the database is opened, so that a refused command creates no file.
    draft
        .clone()
        .into_new(chrono::Utc::now())
        .map_err(flag_error)?;
    let services = open_services(db)?;
    let token = tokens::create(&services, &Actor::new("cli"), draft)
        .await
        .map_err(|e| match (e, tenant) {
            (e @ ServiceError::NotFound("tenant"), Some(name)) => {
                anyhow::Error::from(e).context(format!("no tenant named {name}"))
            }
            (e, _) => e.into(),
        })?;
    println!(
        "Created {} token{}. Keep it secret; it is not shown again:",
        role.as_str(),
        tenant.map(|t| format!(" for {t}")).unwrap_or_default()
    );
    println!("{token}");
    Ok(())
}

/// Files with at least this many rows report progress even when stderr is not a terminal.
const LARGE_IMPORT_ROWS: usize = 10_000;

/// `deskprov import`: a dry run unless `--apply`; every problem on stdout as
/// `row N, column C: message (code)`, and a failure exit when there is any.
pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let source = args.file.display().to_string();
    let csv = if source == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading stdin")?;
        buf
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {source}"))?
    };
    let services = open_services(&args.db.path)?;
    let request = ImportRequest {
        tenant: args.tenant.clone(),
        csv,
        apply: args.apply,
        source: Some(source.clone()),
    };
    let terminal = std::io::stderr().is_terminal();
    let report = bulk::import(
        &services,
        &Actor::new("cli"),
        request,
        move |done, total| show_progress(terminal, done, total),
    )
    .await
    .with_context(|| format!("importing into {}", args.tenant))?;
    print_report(&report, args.apply);
    if !report.ok() {
        bail!(
            "{} problem(s) in {source}; nothing was written",
            report.problem_count
        );
    }
    Ok(())
}

fn show_progress(terminal: bool, done: usize, total: usize) {
    let mut err = std::io::stderr().lock();
    if terminal {
        let _ = write!(err, "\rimport: {done}/{total} rows checked");
        if done == total {
            let _ = writeln!(err);
        }
    } else if total >= LARGE_IMPORT_ROWS
        && (done.is_multiple_of(LARGE_IMPORT_ROWS) || done == total)
    {
        let _ = writeln!(err, "import: {done}/{total} rows checked");
    }
}

fn print_report(report: &ImportReport, apply: bool) {
    for p in &report.problems {
        match &p.column {
            Some(column) => println!("row {}, column {column}: {} ({})", p.row, p.message, p.code),
            None => println!("row {}: {} ({})", p.row, p.message, p.code),
        }
    }
    if report.unlisted() > 0 {
        let codes: Vec<String> = report
            .problem_codes
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        println!(
            "… and {} more problem(s) not listed; all {} by code: {}",
            report.unlisted(),
            report.problem_count,
            codes.join(", ")
        );
    }
    let what = format!(
        "{} user(s), {} alias(es), {} device(s)",
        report.users, report.aliases, report.devices
    );
    if report.applied {
        println!("Imported {} row(s): {what}.", report.rows);
    } else if report.ok() && !apply {
        println!(
            "Checked {} row(s), no problems: would create {what}. Nothing was written; run again with --apply to write them.",
            report.rows
        );
    }
}

/// `deskprov export`: the tenant's sheet on stdout.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let services = open_services(&args.db.path)?;
    let text = bulk::export(
        &services,
        &Actor::new("cli"),
        args.tenant.clone(),
        args.with_secrets,
    )
    .await
    .with_context(|| format!("exporting {}", args.tenant))?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// `deskprov backup DEST`: an online, checked copy of the database.
pub fn backup(db: &Path, dest: &Path, force: bool) -> anyhow::Result<()> {
    let report = ops::backup(db, dest, force)?;
    println!(
        "Backed up {} to {} ({} pages, {} bytes); PRAGMA integrity_check on the copy: ok",
        db.display(),
        dest.display(),
        report.pages,
        report.bytes
    );
    Ok(())
}

/// `deskprov restore SRC`: replaces the (stopped) server's database with a checked copy.
pub fn restore(db: &Path, src: &Path) -> anyhow::Result<()> {
    let report = ops::restore(db, src)?;
    println!(
        "Restored {} into {} (schema {}); PRAGMA integrity_check: ok",
        src.display(),
        db.display(),
        report.schema_version
    );
    if let Some(previous) = report.previous {
        println!("The database it replaced is kept as {}", previous.display());
    }
    Ok(())
}

/// `deskprov config check`: prints the effective settings and their origin, and checks them.
pub fn config_check(config: &ServeConfig, origins: &Origins) -> anyhow::Result<()> {
    let report = check::check(config, origins);
    print!("{}", report.render(origins));
    match report.problems() {
        0 => {
            println!("The configuration is usable.");
            Ok(())
        }
        n => bail!("the configuration has {n} problem(s); see PROBLEM above"),
    }
}

/// `deskprov models`: the known models with their accounts, line keys and expansion modules.
pub fn models(args: &ModelsArgs) -> anyhow::Result<()> {
    let vendors = Vendors::builtin()?;
    if let Some(id) = args.vendor.as_deref()
        && vendors.get(id).is_none()
    {
        let ids: Vec<&str> = vendors.all().iter().map(|v| v.id()).collect();
        bail!(
            "--vendor: no vendor profile {id:?} (known: {})",
            ids.join(", ")
        );
    }
    let rows = catalog::models(&vendors, args.vendor.as_deref());
    let text = if args.markdown {
        catalog::markdown(&rows)
    } else {
        catalog::plain(&rows)
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(())
}
