//! A DynamoDB-protocol server for adapter tests, started by the test itself.
//!
//! Default: dynoxide in-process on `127.0.0.1:0` with an in-memory database (milliseconds to
//! start, one per test, nothing to reset). `DYNAMODB_ENDPOINT=<url>` uses an external server
//! instead; `TEST_DYNAMO=moto` starts `moto_server` from `PATH` on a free port (the second-opinion
//! run). Tables get unique names, so tests can share an external server.

use aws_sdk_dynamodb::Client;
use shared::store::conformance::Fixture;
use shared::store::dynamo::{DynamoStore, TableNames, local_client};
use tokio::sync::oneshot;

use crate::moto::{MotoError, MotoServer};

/// Which server a test talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Dynoxide,
    Moto,
    External,
}

/// A running server; stopped when dropped.
pub struct EmbeddedDynamo {
    endpoint: String,
    backend: Backend,
    database: Option<dynoxide::Database>,
    shutdown: Option<oneshot::Sender<()>>,
    _moto: Option<MotoServer>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not bind a local port: {0}")]
    Bind(#[from] std::io::Error),
    #[error("dynoxide could not open its database: {0}")]
    Database(String),
    #[error(transparent)]
    Moto(#[from] MotoError),
}

impl EmbeddedDynamo {
    /// Starts the server chosen by the environment (see the module docs). Must run inside a
    /// Tokio runtime; the in-process server lives on that runtime.
    pub async fn start() -> Result<Self, StartError> {
        if let Some(endpoint) = std::env::var("DYNAMODB_ENDPOINT").ok().filter(|e| !e.is_empty()) {
            return Ok(Self::bare(endpoint, Backend::External));
        }
        match std::env::var("TEST_DYNAMO").as_deref() {
            Ok("moto") => Self::start_moto().await,
            _ => Self::start_dynoxide().await,
        }
    }

    fn bare(endpoint: String, backend: Backend) -> Self {
        Self {
            endpoint,
            backend,
            database: None,
            shutdown: None,
            _moto: None,
        }
    }

    async fn start_dynoxide() -> Result<Self, StartError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let database = dynoxide::Database::memory().map_err(|e| StartError::Database(e.to_string()))?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(dynoxide::server::serve_with_shutdown(
            listener,
            database.clone(),
            async {
                let _ = rx.await;
            },
        ));
        let mut server = Self::bare(endpoint, Backend::Dynoxide);
        server.database = Some(database);
        server.shutdown = Some(tx);
        Ok(server)
    }

    async fn start_moto() -> Result<Self, StartError> {
        let moto = MotoServer::start().await?;
        let mut server = Self::bare(moto.endpoint().to_owned(), Backend::Moto);
        server._moto = Some(moto);
        Ok(server)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The in-process database (dynoxide only), e.g. to call `sweep_ttl()`.
    pub fn database(&self) -> Option<&dynoxide::Database> {
        self.database.as_ref()
    }

    /// A client for this server, built by the same factory the functions use.
    pub async fn client(&self) -> Client {
        local_client(&self.endpoint)
    }

    /// A `DynamoStore` on freshly created tables with unique names.
    pub async fn store(&self) -> DynamoStore {
        let suffix = format!("{:016x}", fastrand::u64(..));
        let store = DynamoStore::new(
            self.client().await,
            TableNames {
                mappings: format!("mappings-{suffix}"),
                idempotency: format!("idempotency-{suffix}"),
            },
        );
        store.create_tables().await.expect("create test tables");
        store
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A store fixture for the conformance suite: server + fresh tables, kept alive together.
pub async fn store_fixture() -> Fixture<DynamoStore> {
    let server = EmbeddedDynamo::start().await.expect("start DynamoDB test server");
    let store = server.store().await;
    Fixture::new(store, server)
}
