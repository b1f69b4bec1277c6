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
#[cfg(feature = "otel")]
mod otel;
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
            let telemetry = init_telemetry(config.as_deref(), runtime.handle());
            let result = runtime.block_on(serve::run(config));
            // Spans still buffered go out before the process ends.
            drop(telemetry);
            match result {
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

/// Logging (the config's `log` key; `RUST_LOG` and `TOLLGATE_LOG_FORMAT` override it)
/// and, in builds with the `otel` feature, OpenTelemetry traces. An invalid config
/// file is reported by `serve` itself; logging then starts with the defaults.
fn init_telemetry(
    config: Option<&std::path::Path>,
    runtime: &tokio::runtime::Handle,
) -> Option<Box<dyn std::any::Any>> {
    // The recorder first: metrics set while starting (the config revision, the
    // journal's replay) are kept.
    let _ = tollgate_telemetry::metrics_handle();
    let cfg = config
        .and_then(|p| tollgate_config::load_file(p).ok())
        .unwrap_or_default();
    let settings = tollgate_telemetry::LogSettings {
        format: if cfg.log.json {
            tollgate_telemetry::LogFormat::Json
        } else {
            tollgate_telemetry::LogFormat::Text
        },
        level: cfg.log.level.clone(),
    };
    #[cfg(feature = "otel")]
    {
        let _ = runtime;
        let (layer, guard) = match otel::layer(&cfg.telemetry, runtime) {
            Ok(Some((layer, guard))) => (Some(layer), Some(guard)),
            Ok(None) => (None, None),
            Err(e) => {
                eprintln!("tollgate: OpenTelemetry export not started: {e}");
                (None, None)
            }
        };
        tollgate_telemetry::init_tracing(&settings, layer);
        guard.map(|g| Box::new(g) as Box<dyn std::any::Any>)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = runtime;
        tollgate_telemetry::init_tracing(&settings, None);
        if cfg.telemetry.otlp_endpoint.is_some() {
            tracing::warn!(
                "telemetry.otlp_endpoint is set but this build has no OpenTelemetry export (cargo feature `otel`)"
            );
        }
        None
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
