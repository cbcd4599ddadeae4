//! The `deskprov` binary: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use deskprov::cli::{Cli, Command, RoleArg, TokenCommand};
use deskprov::config::LogFormat;
use deskprov::{commands, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
                    RoleArg::Admin => deskprov::store::tokens::TokenRole::Admin,
                    RoleArg::Installer => deskprov::store::tokens::TokenRole::Installer,
                };
                commands::create_token(&db.path, role, tenant.as_deref(), name.as_deref()).await
            }
            Command::Import(args) => commands::import(args).await,
            Command::Export(args) => commands::export(args).await,
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
