//! Starting the whole local stack: DynamoDB file, tables, secrets, the function server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use autotask_sandbox::{AutotaskSandbox, RunningSandbox as AutotaskRunning, SandboxConfig as AutotaskConfig};
use channelonline_sandbox::{ChannelOnlineSandbox, RunningSandbox as ColRunning, SandboxConfig as ColConfig};
use shared::app::{AppContext, ClientFactories, Stores};
use shared::clock::SystemClock;
use shared::config::{Config, DEFAULT_SECRETS_CACHE_TTL_SECS, SecretsConfig};
use shared::signing::DEFAULT_WINDOW_SECS;
use shared::store::dynamo::{DynamoStore, TableNames, local_client};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::dynamo::LocalDynamo;
use crate::{functions, gateway, seed};

/// Table names of the local stack (same schema as on AWS; names need not match).
pub const MAPPING_TABLE: &str = "col-at-mappings";
pub const IDEMPOTENCY_TABLE: &str = "col-at-idempotency";

#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Holds `dynamodb.db` and `secrets.json`; default `.local` in the current directory.
    pub dir: PathBuf,
    /// Where the function server listens; default `127.0.0.1:9000` (port 0 = any free port).
    pub listen: SocketAddr,
    pub ttl_sweep_every: Duration,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(".local"),
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            ttl_sweep_every: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot create {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error(transparent)]
    Dynamo(#[from] crate::dynamo::DynamoError),
    #[error("cannot create the tables: {0}")]
    Tables(#[from] shared::store::StoreError),
    #[error("cannot prepare the secrets file: {0}")]
    Secrets(#[from] shared::secrets::SecretsError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("cannot start the Autotask sandbox: {0}")]
    AutotaskSandbox(#[from] autotask_sandbox::SandboxError),
    #[error("cannot start the ChannelOnline sandbox: {0}")]
    ChannelOnlineSandbox(std::io::Error),
    #[error("cannot build the clients: {0}")]
    Clients(#[from] shared::app::ClientsError),
}

/// A running stack. Dropping it stops the server and DynamoDB.
pub struct LocalStack {
    /// The function server's address: `http://<addr>/<function>/…`.
    pub addr: SocketAddr,
    pub ctx: Arc<AppContext>,
    pub secrets_file: PathBuf,
    pub db_file: PathBuf,
    pub seeded_now: bool,
    pub dynamo: LocalDynamo,
    /// The Autotask sandbox (demo data seeded) the functions call.
    pub autotask: AutotaskRunning,
    /// The ChannelOnline sandbox (demo account seeded) the functions call.
    pub channelonline: ColRunning,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl LocalStack {
    pub async fn start(options: &StackOptions) -> Result<Self, StackError> {
        std::fs::create_dir_all(&options.dir).map_err(|e| StackError::Dir(options.dir.clone(), e))?;
        let db_file = options.dir.join("dynamodb.db");
        let secrets_file = options.dir.join("secrets.json");
        let dynamo = LocalDynamo::start(&db_file, options.ttl_sweep_every).await?;

        let store = DynamoStore::new(
            local_client(&dynamo.endpoint),
            TableNames {
                mappings: MAPPING_TABLE.into(),
                idempotency: IDEMPOTENCY_TABLE.into(),
            },
        );
        store.create_tables().await?;
        let dynamo_client = local_client(&dynamo.endpoint);
        seed::forget_demo_sandbox_records(&store, &dynamo_client, IDEMPOTENCY_TABLE).await?;
        // Makes the idempotency table again, empty.
        store.create_tables().await?;
        let (secrets, seeded_now) = seed::secrets(&secrets_file).await?;

        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| StackError::Listen(options.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StackError::Listen(options.listen, e))?;
        // The same Config the functions read on AWS, filled in for the local stack.
        let config = Config {
            mapping_table: MAPPING_TABLE.into(),
            idempotency_table: IDEMPOTENCY_TABLE.into(),
            signature_window_secs: DEFAULT_WINDOW_SECS,
            secrets: SecretsConfig::File(secrets_file.clone()),
            secrets_cache_ttl_secs: DEFAULT_SECRETS_CACHE_TTL_SECS,
            endpoints: shared::config::Endpoints {
                dynamodb: Some(dynamo.endpoint.clone()),
                ..Default::default()
            },
            queues: Default::default(),
            clients: Default::default(),
            // export-document offers a signed link to export an unmapped customer first.
            links: shared::config::Links {
                export_customer_url: Some(format!("http://{addr}/export-customer")),
            },
        };
        let autotask = AutotaskSandbox::start(AutotaskConfig {
            demo_seed: true,
            ..AutotaskConfig::default()
        })
        .await?;
        let channelonline = ChannelOnlineSandbox::start(ColConfig::default())
            .await
            .map_err(StackError::ChannelOnlineSandbox)?;
        seed::sandbox_credentials(secrets.as_ref(), autotask.config(), channelonline.config()).await?;
        let clients = ClientFactories::for_sandboxes(
            &autotask.base_url(),
            &channelonline.base_url(),
            &channelonline.config().user_agent,
        )?;
        let ctx = Arc::new(
            AppContext::new(config, Arc::new(SystemClock), secrets, Stores::all(Arc::new(store))).with_clients(clients),
        );

        let app = gateway::router(ctx.clone(), functions::all());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self {
            addr,
            ctx,
            secrets_file,
            db_file,
            seeded_now,
            dynamo,
            autotask,
            channelonline,
            shutdown: Some(tx),
            server: Some(server),
        })
    }

    /// The local function URL of `function`.
    pub fn url(&self, function: &str) -> String {
        format!("http://{}/{function}", self.addr)
    }

    /// Stops the server and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
