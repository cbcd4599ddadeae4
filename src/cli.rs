//! The command line: `deskprov serve`, `token create`, `import`, `export`, `backup`, `restore`,
//! `models` and `config check`; and the settings file laid under the flags of each ([`layer`]).

use std::path::PathBuf;

use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};

use crate::config::file::{FileSettings, Origins};
use crate::config::{DbArgs, ServeConfig};

/// deskprov: phone auto-provisioning and device-configuration server.
#[derive(Debug, Parser)]
#[command(name = "deskprov", version, about)]
pub struct Cli {
    /// A TOML settings file; flags and DESKPROV_* variables win over it.
    #[arg(long, global = true, env = "DESKPROV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve phones (HTTP, optional HTTPS) and the admin API.
    Serve(Box<ServeConfig>),
    /// Manage API tokens.
    Token {
        /// Token action.
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Check users, aliases and devices from a CSV file; with --apply, write them (all or none).
    Import(ImportArgs),
    /// Write a tenant's users, aliases and devices to stdout as CSV (the import format).
    Export(ExportArgs),
    /// Copy the database to DEST while the server runs (SQLite online backup); the copy is
    /// checked with PRAGMA integrity_check before it is put in place.
    Backup {
        /// The backup file to write.
        #[arg(value_name = "DEST")]
        dest: PathBuf,
        /// Replace DEST if it exists.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        /// Database.
        db: DbArgs,
    },
    /// Replace the database with a checked copy of SRC (stop the server first); the current
    /// database is kept as <db>.before-restore.
    Restore {
        /// The backup file to restore.
        #[arg(value_name = "SRC")]
        src: PathBuf,
        #[command(flatten)]
        /// Database.
        db: DbArgs,
    },
    /// List the phone models deskprov knows: accounts, line keys, expansion modules.
    Models(ModelsArgs),
    /// Work with the settings.
    Config {
        /// Config action.
        #[command(subcommand)]
        action: ConfigCommand,
    },
}

/// Config actions.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the settings `serve` would use and where each comes from (flag, env, file,
    /// default), and check them; exits non-zero on any problem.
    Check(Box<ServeConfig>),
}

/// `deskprov import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Tenant to import into.
    #[arg(long)]
    pub tenant: String,
    /// Write the rows when no row has a problem (without it: a dry run that writes nothing).
    #[arg(long)]
    pub apply: bool,
    /// The CSV file (`-` reads stdin).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    /// Database.
    pub db: DbArgs,
}

/// `deskprov models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Only this vendor's models (its profile id: `yealink`, `snom`, …).
    #[arg(long)]
    pub vendor: Option<String>,
    /// Print a Markdown table instead of aligned text.
    #[arg(long)]
    pub markdown: bool,
}

/// `deskprov export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Tenant to export.
    #[arg(long)]
    pub tenant: String,
    /// Include SIP passwords and voicemail PINs (recorded in the audit log).
    #[arg(long)]
    pub with_secrets: bool,
    #[command(flatten)]
    /// Database.
    pub db: DbArgs,
}

/// Token actions.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (alone, on the last line).
    Create {
        /// What the token may do.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Bind the token to one tenant (required for installers).
        #[arg(long)]
        tenant: Option<String>,
        /// Name recorded in the audit log.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        /// Database.
        db: DbArgs,
    },
}

/// Token roles on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Everything.
    Admin,
    /// Register, view, re-assign and delete devices of one tenant; list its users.
    Installer,
}

/// Lays the settings file (if `--config` or `DESKPROV_CONFIG` names one) over the parsed
/// command line, and returns where each setting the command uses came from.
pub fn layer(cli: &mut Cli, matches: &ArgMatches) -> anyhow::Result<Origins> {
    let file = cli.config.as_deref().map(FileSettings::load).transpose()?;
    let file = file.unwrap_or_default();
    let mut origins = Origins::new(cli.config.clone());
    let leaf = leaf(matches);
    match &mut cli.command {
        Command::Serve(config)
        | Command::Config {
            action: ConfigCommand::Check(config),
        } => file.lay_serve(config, leaf, &mut origins),
        Command::Token {
            action: TokenCommand::Create { db, .. },
        }
        | Command::Backup { db, .. }
        | Command::Restore { db, .. }
        | Command::Import(ImportArgs { db, .. })
        | Command::Export(ExportArgs { db, .. }) => file.lay_db(db, leaf, &mut origins),
        // The built-in profiles only: nothing of the settings file applies.
        Command::Models(_) => {}
    }
    Ok(origins)
}

/// The matches of the innermost subcommand.
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf(sub),
        None => matches,
    }
}
