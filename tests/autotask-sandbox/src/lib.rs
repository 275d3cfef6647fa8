//! A local Autotask REST simulator that behaves like the real one where it matters (§9 of the
//! team's Autotask reference): zone discovery, header auth, the query grammar and its errors,
//! POST-only next-page URLs, child-route-only writes, 405s, validation from the real required
//! fields, picklists (quoteItemType read by label), UDF metadata, side effects (creates and
//! updates move `lastActivityDate`), the 2,048-character GET limit, ThresholdInformation, the
//! thread and hourly limits.
//! Tests start it in-process on a free port; `/__admin/*` holds the test-only controls.

pub mod control;
pub mod meta;
mod query;
mod refusal;
mod server;
pub mod state;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use http::StatusCode;
use tokio::sync::oneshot;

pub use control::{Chaos, Controls, CounterSnapshot, FaultKind, FaultRule};
pub use state::SandboxState;

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The one API user the sandbox knows.
    pub username: String,
    pub secret: String,
    pub integration_code: String,
    /// Status of the "IntegrationCode is invalid." answer (Autotask sends 500).
    pub integration_code_error_status: StatusCode,
    /// Concurrent calls per integration code and endpoint (Autotask: 3).
    pub thread_limit: usize,
    /// Calls per hour before 429 (Autotask: 10,000 per database).
    pub hourly_limit: u64,
    pub throttle_retry_after_secs: u64,
    /// A reference file to use instead of the default (`AUTOTASK_REFERENCE_DIR`, else the
    /// repository's `reference/autotask/autotask-reference.json`, compiled in).
    pub reference_file: Option<PathBuf>,
    /// Load `fixtures/demo.json`.
    pub demo_seed: bool,
    /// 0 = a free port.
    pub port: u16,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            username: "api-user@sandbox.example".to_owned(),
            secret: "sandbox-secret".to_owned(),
            integration_code: "SANDBOXINTEGRATIONCODE".to_owned(),
            integration_code_error_status: StatusCode::INTERNAL_SERVER_ERROR,
            thread_limit: 3,
            hourly_limit: 10_000,
            throttle_retry_after_secs: 60,
            reference_file: None,
            demo_seed: false,
            port: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Meta(#[from] meta::MetaError),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
}

pub struct AutotaskSandbox;

impl AutotaskSandbox {
    /// Loads the metadata, seeds, binds 127.0.0.1 and serves until the handle is dropped.
    pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        let schema = Arc::new(match &config.reference_file {
            Some(path) => meta::Schema::load(path)?,
            None => meta::Schema::load_default()?,
        });
        let state = SandboxState::new(schema, &config.username);
        if config.demo_seed {
            state.seed_demo();
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| SandboxError::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            port: config.port,
            source,
        })?;
        let controls = Controls::default();
        let app = Arc::new(server::App {
            config: config.clone(),
            state: state.clone(),
            controls: controls.clone(),
            origin: format!("http://{addr}"),
            zone: AtomicU32::new(1),
        });
        let router = axum::Router::new().fallback(server::dispatch).with_state(app.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = served.await {
                tracing::error!(error = %e, "autotask sandbox stopped");
            }
        });
        Ok(RunningSandbox {
            addr,
            state,
            controls,
            app,
            shutdown: Some(tx),
        })
    }
}

/// A running sandbox; stops when dropped.
pub struct RunningSandbox {
    addr: SocketAddr,
    state: SandboxState,
    controls: Controls,
    app: Arc<server::App>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:<port>`: the host that also answers zone discovery.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The REST base a client can use without zone discovery (`…/ATServicesRest`).
    pub fn rest_base(&self) -> String {
        format!("{}/ATServicesRest", self.base_url())
    }

    /// `…/atservicesrest/v1.0/zoneInformation`.
    pub fn zone_lookup_url(&self) -> String {
        format!("{}/atservicesrest/v1.0/zoneInformation", self.base_url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.app.config
    }

    /// Seeding and inspection of the data.
    pub fn state(&self) -> &SandboxState {
        &self.state
    }

    /// Call counters, latency and fault injection.
    pub fn counters(&self) -> &Controls {
        &self.controls
    }

    /// Moves the API user to another zone: calls on the old zone get 401 until the client
    /// re-resolves.
    pub fn move_zone(&self) {
        self.app.zone.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
