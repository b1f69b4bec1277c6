//! `tollgate`: the gateway binary.
//!
//! - `tollgate serve [--config FILE]` runs the gateway and admin listeners.
//! - `tollgate check --config FILE` validates a config file.
//! - `tollgate explain REQUEST_ID [--config FILE] [--json]` tells why a request got
//!   its answer, from its call record.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apply;
mod explain;
mod listener;
mod serve;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Self-hosted AI gateway and API management"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (embedded defaults without --config).
    Serve {
        /// YAML config file; `${VAR}` is replaced from the environment.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a config file and report every error.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Why a request got its answer: the steps of its call record (auth, limits,
    /// budgets, credits, cache, upstream attempts, settlement).
    Explain {
        /// The request's `x-request-id`.
        request_id: String,
        /// The config whose database holds the record (embedded defaults without it).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the JSON document instead of the readable trail.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Explain {
            request_id,
            config,
            json,
        } => explain(config, &request_id, json),
        Command::Serve { config } => {
            tollgate_telemetry::init_tracing();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("tollgate: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tollgate: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn explain(config: Option<PathBuf>, request_id: &str, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(explain::run(config, request_id, json)) {
        Ok(explain::Found::Explained(text)) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Ok(explain::Found::Unknown) => {
            eprintln!(
                "tollgate: no call record `{request_id}` in this database (records arrive shortly after the request ends; is this the gateway's config?)"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tollgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match tollgate_config::load_file(path) {
        Ok(cfg) => {
            println!(
                "{}: OK ({} providers, {} models, {} teams, {} consumers)",
                path.display(),
                cfg.providers.len(),
                cfg.models.len(),
                cfg.teams.len(),
                cfg.consumers.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}
