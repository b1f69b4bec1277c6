//! `tollgate-mock --listen 127.0.0.1:9000`: the mock provider as a standalone server.
//! With `--rest`, the plain REST upstream of [`tollgate_mock::rest`] instead (the REST
//! services benchmark, `bench/services.sh`, proxies to it).

use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use tollgate_mock::rest::RestUpstream;
use tollgate_mock::{MockProvider, MockState};

#[derive(Debug, Parser)]
#[command(
    name = "tollgate-mock",
    about = "Strict mock OpenAI / Anthropic provider"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Keep only the last N requests in the log served at /_mock/requests (0: record nothing).
    /// Without it every request is kept.
    #[arg(long)]
    max_recorded: Option<usize>,
    /// Serve the plain REST upstream (JSON echo, `/json/{bytes}`, `/mirror`,
    /// `/download/{bytes}`) instead of the provider APIs.
    #[arg(long)]
    rest: bool,
}

/// Either server; dropping it stops it.
enum Server {
    Mock(MockProvider),
    Rest(RestUpstream),
}

impl Server {
    fn addr(&self) -> SocketAddr {
        match self {
            Server::Mock(m) => m.addr(),
            Server::Rest(r) => r.addr(),
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let started = if args.rest {
        RestUpstream::start_on(args.listen, "rest")
            .await
            .map(Server::Rest)
    } else {
        let state = MockState::with_record_limit(args.max_recorded);
        MockProvider::start_with(args.listen, state)
            .await
            .map(Server::Mock)
    };
    let mock = match started {
        Ok(m) => m,
        Err(e) => {
            eprintln!("tollgate-mock: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "tollgate-mock listening on {}", mock.addr());
    let _ = out.flush();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("tollgate-mock: cannot wait for ctrl-c: {e}");
        return std::process::ExitCode::FAILURE;
    }
    drop(mock);
    std::process::ExitCode::SUCCESS
}
