//! `realm-wasm-server --listen ADDR --data DIR`: flags, logging, start-up line, serve, clean exit.

use anyhow::Context;
use clap::Parser;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// Local MongoDB Atlas App Services server for realm-wasm and realm-web.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// Data directory (created if missing).
    #[arg(long, default_value = "./realm-data")]
    data: PathBuf,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let state = realm_wasm_server::open_state(&args.data, addr)
        .with_context(|| format!("cannot open data directory {}", args.data.display()))?;
    let app_id = state.app.app_id.clone();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", realm_wasm_server::startup_line(addr, &app_id))?;
        out.flush()?;
    }
    tracing::info!(data = %args.data.display(), "serving app {app_id} on http://{addr}");
    // Graceful shutdown on SIGTERM/SIGINT; connections that are still busy after 5 s are dropped.
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let mut rx2 = rx.clone();
    let graceful = async move {
        let _ = rx2.wait_for(|stop| *stop).await;
    };
    let server = realm_wasm_server::serve(listener, state, graceful);
    tokio::select! {
        result = server => result?,
        _ = async {
            let _ = rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        } => tracing::warn!("connections still open after 5 s; exiting anyway"),
    }
    Ok(())
}
