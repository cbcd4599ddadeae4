//! The `deskprov` binary: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use deskprov::cli::{Cli, Command, ConfigCommand, RoleArg, TokenCommand};
use deskprov::config::LogFormat;
use deskprov::{commands, telemetry};

/// mimalloc (built without transparent huge pages) rather than the system allocator: the phone
/// path allocates a few dozen small buffers per request on every thread, which glibc's malloc
/// serves more slowly, and glibc keeps more memory resident after a boot storm
/// (docs/performance.md, P4).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let origins = match deskprov::cli::layer(&mut cli, &matches) {
        Ok(origins) => origins,
        Err(e) => {
            eprintln!("deskprov: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let format = match &cli.command {
        Command::Serve(config) => config.log_format,
        _ => LogFormat::Text,
    };
    telemetry::init(format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deskprov: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(config) => commands::serve(*config).await,
            Command::Token {
                action:
                    TokenCommand::Create {
                        role,
                        tenant,
                        name,
                        db,
                    },
            } => {
                let role = match role {
                    RoleArg::Admin => deskprov::domain::TokenRole::Admin,
                    RoleArg::Installer => deskprov::domain::TokenRole::Installer,
                };
                commands::create_token(&db.path, role, tenant.as_deref(), name.as_deref()).await
            }
            Command::Import(args) => commands::import(args).await,
            Command::Export(args) => commands::export(args).await,
            Command::Backup { dest, force, db } => commands::backup(&db.path, &dest, force),
            Command::Restore { src, db } => commands::restore(&db.path, &src),
            Command::Models(args) => commands::models(&args),
            Command::Config {
                action: ConfigCommand::Check(config),
            } => commands::config_check(&config, &origins),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deskprov: {e:#}");
            ExitCode::FAILURE
        }
    }
}
