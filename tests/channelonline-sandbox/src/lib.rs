//! A ChannelOnline XML interface on 127.0.0.1 for tests and the local stack: same path, same
//! envelope, same errors (105, 507, login), the designed write requests, fault injection and
//! call counters. Started in-process with [`ChannelOnlineSandbox::start`].
//!
//! Admin routes (JSON): `GET /admin/counters`, `POST /admin/faults` (a [`Fault`]),
//! `POST /admin/reset` (clears state and counters, re-seeds the demo account when configured).

mod memory;
pub mod seed;
mod server;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use shared::channelonline::protocol::REQUEST_PATH;
use shared::channelonline::{ColCredentials, XmlChannelOnline, XmlChannelOnlineConfig};
use shared::http::retry::RetryPolicy;
use shared::secret::SecretString;
use tokio::sync::oneshot;

pub use memory::MemoryChannelOnline;
pub use state::{Chaos, Fault, SandboxConfig, SandboxState};

pub struct ChannelOnlineSandbox;

impl ChannelOnlineSandbox {
    /// Binds `127.0.0.1:{config.port}` (0 = a free port) and serves until the handle drops.
    pub async fn start(config: SandboxConfig) -> std::io::Result<RunningSandbox> {
        let shared = Arc::new(server::Shared::new(config.clone()));
        let app = Router::new()
            .route(REQUEST_PATH, post(server::request))
            .route("/admin/counters", get(server::counters))
            .route("/admin/faults", post(server::add_fault))
            .route("/admin/reset", post(server::reset))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "channelonline sandbox stopped");
            }
        });
        Ok(RunningSandbox {
            addr,
            shared,
            _stop: stop,
        })
    }
}

/// A running sandbox; it stops when dropped.
pub struct RunningSandbox {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    _stop: oneshot::Sender<()>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:{port}` (the client appends `/REQUEST`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The account for seeding and inspection. Do not hold it across an `.await`.
    pub fn state(&self) -> MutexGuard<'_, SandboxState> {
        self.shared.lock()
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// The login the sandbox accepts.
    pub fn credentials(&self) -> ColCredentials {
        let c = &self.shared.config;
        ColCredentials {
            shortcut: c.shortcut.clone(),
            email: c.email.clone(),
            password: SecretString::new(c.password.clone()),
            user_agent: c.user_agent.clone(),
        }
    }

    /// Client settings for this sandbox: no pause, fast retries.
    pub fn client_config(&self) -> XmlChannelOnlineConfig {
        let mut config = XmlChannelOnlineConfig::for_base_url(self.base_url()).with_pause(Duration::ZERO);
        config.retry = RetryPolicy {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            ..RetryPolicy::default()
        };
        config
    }

    /// The in-memory port on this sandbox's state (no HTTP): writes show on both.
    pub fn memory_client(&self) -> MemoryChannelOnline {
        MemoryChannelOnline::on(self.shared.clone())
    }

    /// An `XmlChannelOnline` pointed at this sandbox with its credentials.
    pub fn client(&self) -> XmlChannelOnline {
        XmlChannelOnline::new(self.client_config(), self.credentials()).expect("HTTP client")
    }
}
