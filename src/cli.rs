//! The command line: `deskprov serve` and `deskprov token create`.

use clap::{Parser, Subcommand, ValueEnum};

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
