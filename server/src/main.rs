//! `realm-wasm-server [--app DIR] --listen ADDR --data DIR …` (see `config::settings` for every
//! flag, variable and config-file key): logging, start-up lines, serve, clean exit.

use anyhow::Context;
use realm_wasm_server::ServerSettings;
use std::io::{IsTerminal, Write};
use tracing_subscriber::EnvFilter;

// Every request allocates and frees many small buffers and documents; glibc malloc took ~20% of the
// server's CPU in a findOne profile (bench/server.mjs), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

fn main() -> anyhow::Result<()> {
    // Functions run in place on these threads (see `runtime_builder`).
    realm_wasm_server::runtime_builder().build().context("cannot start the async runtime")?.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let settings = ServerSettings::from_env()?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let state = realm_wasm_server::open_state(&settings, addr).context("cannot start")?;
    let admin = match &settings.admin {
        Some(a) => {
            let l = tokio::net::TcpListener::bind(a.listen)
                .await
                .with_context(|| format!("cannot listen on {} (admin API)", a.listen))?;
            Some((l.local_addr()?, l, a.token.clone()))
        }
        None => None,
    };
    let app_id = state.app.app_id.clone();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", realm_wasm_server::startup_line(addr, &app_id))?;
        if let Some((admin_addr, _, _)) = &admin {
            writeln!(out, "{}", realm_wasm_server::admin_startup_line(*admin_addr))?;
        }
        out.flush()?;
    }
    tracing::info!(data = %settings.data.display(), "serving app {app_id} on http://{addr}");
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
    if let Some((_, listener, token)) = admin {
        let mut rx3 = rx.clone();
        let stop = async move {
            let _ = rx3.wait_for(|stop| *stop).await;
        };
        let admin_state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = realm_wasm_server::serve_admin(listener, admin_state, token, stop).await {
                tracing::error!("admin API stopped: {e}");
            }
        });
    }
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
