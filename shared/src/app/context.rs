//! The dependencies every function handler uses, built once per cold start.

use std::sync::Arc;

use lambda_http::Request;

use super::auth::UnknownTenants;
use super::clients::{ClientFactories, ClientsError};
use crate::aws::AwsSdk;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, SecretsConfig};
use crate::idempotency::IdempotencyStore;
use crate::secrets::SecretSource;
use crate::secrets::aws::SecretsManagerSource;
use crate::secrets::cache::CachedSecretSource;
use crate::secrets::file::FileSecretSource;
use crate::store::dynamo::{DynamoStore, TableNames};
use crate::store::{AuditLog, MappingStore, SettingsStore, SlotStore, SyncStateStore};
use crate::tenant::TenantId;
use crate::web::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Clients(#[from] ClientsError),
}

/// Everything a handler needs, as ports. Functions build it once (`AppContext::from_env`) and
/// share it across invocations; tests and the local stack build it from parts (`AppContext::new`).
///
/// `clients` builds the Autotask and ChannelOnline clients of one tenant from its secrets;
/// [`AppContext::tenant`] puts everything one call needs into a `TenantContext`.
#[derive(Clone)]
pub struct AppContext {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn SecretSource>,
    pub mappings: Arc<dyn MappingStore>,
    pub settings: Arc<dyn SettingsStore>,
    pub audit: Arc<dyn AuditLog>,
    pub sync_state: Arc<dyn SyncStateStore>,
    /// Tenant-wide Autotask call slots (every instance's calls together stay within the limit).
    pub slots: Arc<dyn SlotStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub clients: ClientFactories,
    /// Tenants without signing keys, remembered briefly (shared by every clone of the context).
    pub unknown_tenants: Arc<UnknownTenants>,
    /// The AWS SDK configuration the context's AWS clients share (for queues built later).
    pub aws: AwsSdk,
}

/// The store ports, usually all one adapter (`DynamoStore` or `MemoryStore`).
#[derive(Clone)]
pub struct Stores {
    pub mappings: Arc<dyn MappingStore>,
    pub settings: Arc<dyn SettingsStore>,
    pub audit: Arc<dyn AuditLog>,
    pub sync_state: Arc<dyn SyncStateStore>,
    pub slots: Arc<dyn SlotStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
}

impl Stores {
    /// Every port served by one adapter.
    pub fn all<S>(store: Arc<S>) -> Self
    where
        S: MappingStore + SettingsStore + AuditLog + SyncStateStore + SlotStore + IdempotencyStore + 'static,
    {
        Self {
            mappings: store.clone(),
            settings: store.clone(),
            audit: store.clone(),
            sync_state: store.clone(),
            slots: store.clone(),
            idempotency: store,
        }
    }
}

impl AppContext {
    /// Reads the environment ([`Config::from_env`]) and builds the AWS-backed context.
    pub async fn from_env() -> Result<Self, AppError> {
        Self::from_config(Config::from_env()?).await
    }

    /// DynamoDB (with the configured endpoint override) and the configured secret source.
    pub async fn from_config(config: Config) -> Result<Self, AppError> {
        let aws = AwsSdk::default();
        let ddb = crate::store::dynamo::client(&aws, config.endpoints.dynamodb.as_deref()).await;
        let tables = TableNames {
            mappings: config.mapping_table.clone(),
            idempotency: config.idempotency_table.clone(),
        };
        let store = Arc::new(DynamoStore::new(ddb, tables));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let secrets = build_secrets(&config, &aws, clock.clone()).await;
        let clients = ClientFactories::from_config(&config.clients)?;
        let mut app = Self::new(config, clock, secrets, Stores::all(store)).with_clients(clients);
        app.aws = aws;
        Ok(app)
    }

    pub fn new(config: Config, clock: Arc<dyn Clock>, secrets: Arc<dyn SecretSource>, stores: Stores) -> Self {
        Self {
            config,
            clock,
            secrets,
            mappings: stores.mappings,
            settings: stores.settings,
            audit: stores.audit,
            sync_state: stores.sync_state,
            slots: stores.slots,
            idempotency: stores.idempotency,
            clients: ClientFactories::production(),
            unknown_tenants: Arc::new(UnknownTenants::default()),
            aws: AwsSdk::default(),
        }
    }

    /// Replaces the client factories (sandboxes in tests and the local stack).
    pub fn with_clients(mut self, clients: ClientFactories) -> Self {
        self.clients = clients;
        self
    }

    /// Verifies a call signed for the function `audience` and returns its tenant
    /// (see [`super::auth::authenticate`]).
    pub async fn authenticate(&self, req: &Request, audience: &str) -> Result<TenantId, ApiError> {
        super::auth::authenticate(
            self.secrets.as_ref(),
            &self.unknown_tenants,
            self.clock.as_ref(),
            self.config.signature_window_secs,
            audience,
            req,
        )
        .await
    }
}

/// The configured secret source behind a TTL cache. The file source is not cached: it is
/// local and cheap, and hand edits should show at once.
pub async fn build_secrets(config: &Config, aws: &AwsSdk, clock: Arc<dyn Clock>) -> Arc<dyn SecretSource> {
    match &config.secrets {
        SecretsConfig::File(path) => Arc::new(FileSecretSource::new(path)),
        SecretsConfig::SecretsManager { prefix } => {
            let client = aws_sdk_secretsmanager::Client::new(aws.config().await);
            let source = Arc::new(SecretsManagerSource::new(client, prefix.clone()));
            let ttl = chrono::Duration::seconds(config.secrets_cache_ttl_secs);
            Arc::new(CachedSecretSource::new(source, clock, ttl))
        }
    }
}
