//! The local secrets file: created on first run with a demo tenant and random signing keys.

use std::path::Path;
use std::sync::Arc;

use shared::domain::mapping::MappingKind;
use shared::secret::SecretString;
use shared::secrets::file::FileSecretSource;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretSource, SecretsError, SigningKeysDocument};
use shared::store::StoreError;
use shared::store::dynamo::DynamoStore;
use shared::store::ports::MappingStore;
use shared::tenant::TenantId;

pub const DEMO_TENANT: &str = "demo";

/// A 256-bit key from the operating system's CSPRNG, hex encoded.
pub fn random_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

/// Opens the secrets file; when it does not exist yet, seeds the demo tenant's signing keys.
/// Returns the source and whether it was seeded now.
pub async fn secrets(file: &Path) -> Result<(Arc<dyn SecretSource>, bool), SecretsError> {
    let source: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(file));
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    let seeded = if file.exists() {
        false
    } else {
        let keys = SigningKeysDocument::current_only(random_key());
        source.store(&tenant, &keys).await?;
        true
    };
    Ok((source, seeded))
}

/// Points the demo tenant's Autotask and ChannelOnline credentials at the local sandboxes
/// (rewritten on every start: the sandboxes' logins are fixed, their ports are not).
pub async fn sandbox_credentials(
    source: &dyn SecretSource,
    at: &autotask_sandbox::SandboxConfig,
    col: &channelonline_sandbox::SandboxConfig,
) -> Result<(), SecretsError> {
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    let autotask = AutotaskCredentials {
        username: at.username.clone(),
        secret: SecretString::new(at.secret.clone()),
        integration_code: SecretString::new(at.integration_code.clone()),
        impersonation_resource_id: None,
    };
    source.store(&tenant, &autotask).await?;
    let channelonline = ChannelOnlineCredentials {
        shortcut: col.shortcut.clone(),
        email: col.email.clone(),
        password: SecretString::new(col.password.clone()),
    };
    source.store(&tenant, &channelonline).await
}

/// The sandboxes keep their data in memory and start fresh on every run, so the demo tenant's
/// mappings and stored answers from an earlier run would point at records that no longer exist.
/// Forget them; settings, audit records and other tenants' data survive the restart.
pub async fn forget_demo_sandbox_records(
    store: &DynamoStore,
    dynamo: &aws_sdk_dynamodb::Client,
    idempotency_table: &str,
) -> Result<usize, StoreError> {
    let mappings: &dyn MappingStore = store;
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    let mut forgotten = 0;
    for kind in MappingKind::ALL {
        loop {
            let page = mappings.list(&tenant, kind, None, 100).await?;
            if page.items.is_empty() {
                break;
            }
            for mapping in &page.items {
                mappings.delete_pair(&tenant, mapping).await?;
                forgotten += 1;
            }
        }
    }
    // Idempotency records are only replays of answers from sandboxes that are gone: drop the
    // table; `create_tables` makes it again, empty.
    if !store.existing_tables().await?.iter().any(|t| t == idempotency_table) {
        return Ok(forgotten);
    }
    if let Err(e) = dynamo.delete_table().table_name(idempotency_table).send().await {
        let missing = e
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception());
        if !missing {
            return Err(StoreError::Backend(format!("cannot reset the idempotency table: {e}")));
        }
    }
    Ok(forgotten)
}
