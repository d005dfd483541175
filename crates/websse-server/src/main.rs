//! The `websse-server` binary: the demo chat backend, example streams, optional test endpoints
//! and the built app, in one process.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::serve::ListenerExt;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use websse_server::{Config, UpstreamConfig};

/// Environment variable holding the API key sent to the upstream model.
const API_KEY_ENV: &str = "WEBSSE_UPSTREAM_API_KEY";

/// How long a graceful shutdown may take before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Parser)]
#[command(name = "websse-server", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Serve this directory (the Trunk build of the app). A path that names no file gets
    /// index.html (a route of the app), unless it has a file extension (/typo.js): that is a 404.
    /// HTML pages get a strict Content-Security-Policy: scripts from the page's origin, and
    /// inline scripts only by their SHA-256 hash; no eval; styles from files only (the browser
    /// drops inline style= attributes and <style> elements); connections to the page's origin
    /// and the --connect-src sources.
    #[arg(long, verbatim_doc_comment)]
    static_dir: Option<PathBuf>,
    /// OpenAI-compatible chat-completions URL to proxy chat requests to
    /// (http or https; API key from the WEBSSE_UPSTREAM_API_KEY environment variable).
    #[arg(long)]
    upstream: Option<String>,
    /// Model name sent to the upstream.
    #[arg(long, env = "WEBSSE_UPSTREAM_MODEL", default_value = "default")]
    upstream_model: String,
    /// An origin allowed by CORS (repeatable; `*` allows any).
    #[arg(long = "allow-origin")]
    allow_origin: Vec<String>,
    /// Serve the /test/... endpoints and open CORS to every origin.
    #[arg(long)]
    test_endpoints: bool,
    /// A source the app's pages may connect to besides their own origin, e.g.
    /// https://stream.example (repeatable; it goes into the CSP's connect-src).
    #[arg(long = "connect-src")]
    connect_src: Vec<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let config = Config {
        static_dir: args.static_dir,
        csp_connect_src: args.connect_src,
        upstream: args.upstream.map(|url| UpstreamConfig {
            url,
            api_key: std::env::var(API_KEY_ENV).ok().filter(|k| !k.is_empty()),
            model: args.upstream_model,
        }),
        allow_origins: args.allow_origin,
        test_endpoints: args.test_endpoints,
        shutdown: Some(shutdown_rx),
        ..Config::default()
    };
    if let Some(dir) = &config.static_dir
        && !dir.join("index.html").is_file()
    {
        tracing::warn!(dir = %dir.display(), "static dir has no index.html");
    }

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let local = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!("failed to set TCP_NODELAY: {err}");
        }
    });
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "websse-server listening on http://{local}")?;
        stdout.flush()?;
    }
    tracing::info!(
        addr = %local,
        test_endpoints = config.test_endpoints,
        upstream = config.upstream.as_ref().map(|u| u.url.as_str()),
        "serving"
    );

    let signalled = async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
    };
    let server = axum::serve(listener, websse_server::app(config))
        .with_graceful_shutdown(signalled)
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = async {
            // Once a signal arrived, give open connections a grace period, then exit anyway.
            wait_for_signal().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!("connections still open after the grace period; exiting");
            Ok(())
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
