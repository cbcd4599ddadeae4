//! The command line: `deskprov serve`, `token create`, `import` and `export`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{DbArgs, ServeConfig};

/// deskprov: phone auto-provisioning and device-configuration server.
#[derive(Debug, Parser)]
#[command(name = "deskprov", version, about)]
pub struct Cli {
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
