//! `TenantContext`: everything one call for one tenant needs — typed settings, the tenant's
//! Autotask and ChannelOnline clients, the stores — built from the `AppContext` after the
//! signature has named the tenant. Nothing in it can reach another tenant's data: the clients
//! carry this tenant's credentials and every store call takes `tenant`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use http::StatusCode;

use super::context::AppContext;
use crate::autotask::{ClientCredentials, CredentialSource, SharedLimit, TenantClient};
use crate::channelonline::ChannelOnline;
use crate::clock::Clock;
use crate::domain::settings::{AUTOTASK_MAX_CONCURRENT_CALLS, TenantSettings};
use crate::idempotency::{Idempotency, IdempotencyStore};
use crate::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretKind, SecretSource};
use crate::store::{AuditLog, AuditOutcome, AuditRecord, MappingStore, SettingsStore, SyncStateStore};
use crate::tenant::TenantId;
use crate::web::ApiError;

#[derive(Clone)]
pub struct TenantContext {
    pub tenant: TenantId,
    pub settings: TenantSettings,
    /// Version of the stored settings document (`None` when the tenant has saved none yet).
    pub settings_version: Option<u64>,
    pub autotask: TenantClient,
    pub channelonline: Arc<dyn ChannelOnline>,
    pub mappings: Arc<dyn MappingStore>,
    pub settings_store: Arc<dyn SettingsStore>,
    pub audit: Arc<dyn AuditLog>,
    pub sync_state: Arc<dyn SyncStateStore>,
    pub idempotency_store: Arc<dyn IdempotencyStore>,
    pub clock: Arc<dyn Clock>,
    /// Who is acting, for the audit trail (the function name unless a caller sets a user).
    pub actor: String,
    /// When the invocation must have answered (the Lambda deadline). Outbound calls and their
    /// retries end before it; claims and leases last until it plus `CLAIM_MARGIN`.
    pub deadline: DateTime<Utc>,
}

/// Used when an invocation carries no Lambda deadline (local server, tests): a typical timeout.
pub const DEFAULT_BUDGET: Duration = Duration::seconds(30);

/// How long past the deadline a claim or lease is still honoured: covers clock skew between
/// instances and the answer in flight, so a crashed or timed-out run never blocks the next
/// click for longer than the function timeout plus this.
pub const CLAIM_MARGIN: Duration = Duration::seconds(10);

fn precondition(code: &str, message: &str, fix: &str) -> ApiError {
    ApiError::new(StatusCode::PRECONDITION_FAILED, code, message).with_fix(fix)
}

/// The client's view of the tenant's Autotask secret.
fn client_credentials(at: AutotaskCredentials, impersonation: Option<i64>) -> ClientCredentials {
    ClientCredentials {
        username: at.username,
        secret: at.secret,
        integration_code: at.integration_code.expose().to_owned(),
        impersonation_resource_id: at.impersonation_resource_id.or(impersonation),
    }
}

/// Re-reads the tenant's Autotask secret past the cache after a 401 (it may have been rotated).
struct SecretCredentials {
    secrets: Arc<dyn SecretSource>,
    tenant: TenantId,
    impersonation: Option<i64>,
}

impl CredentialSource for SecretCredentials {
    fn fresh(&self) -> futures_util::future::BoxFuture<'_, Option<ClientCredentials>> {
        Box::pin(async move {
            self.secrets.invalidate(&self.tenant, SecretKind::Autotask);
            match (*self.secrets).autotask(&self.tenant).await {
                Ok(Some(at)) => Some(client_credentials(at, self.impersonation)),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "Autotask credentials could not be re-read");
                    None
                }
            }
        })
    }
}

impl AppContext {
    /// The context of `tenant` (already authenticated): its settings (defaults when none are
    /// saved yet), its secrets turned into clients. Missing credentials → 412 saying what to set.
    /// `deadline` is the invocation's: both clients stop before it, claims last until just after.
    pub async fn tenant(&self, tenant: &TenantId, deadline: DateTime<Utc>) -> Result<TenantContext, ApiError> {
        let (settings, settings_version) = match self.settings.get_settings(tenant).await? {
            None => (TenantSettings::default(), None),
            Some(doc) => {
                let settings = TenantSettings::from_json(doc.doc).map_err(|e| {
                    precondition(
                        "settings_invalid",
                        &format!("The saved integration settings are not valid: {e}"),
                        "Open the integration settings, correct the named field and save.",
                    )
                })?;
                (settings, Some(doc.version))
            }
        };
        let at = (*self.secrets).autotask(tenant).await?.ok_or_else(|| {
            precondition(
                "autotask_not_configured",
                "The Autotask connection is not set up for this account.",
                "Enter the Autotask API user, its secret and the tracking identifier in the integration settings.",
            )
        })?;
        let col = (*self.secrets).channelonline(tenant).await?.ok_or_else(|| {
            precondition(
                "channelonline_not_configured",
                "The ChannelOnline connection is not set up for this account.",
                "Enter the ChannelOnline account shortcut, API user email and password in the integration settings.",
            )
        })?;
        let until = instant_of(deadline, self.clock.now());
        let autotask = self.autotask_client(tenant, &settings, at, until);
        let channelonline = self.channelonline_client(tenant, col, until)?;
        Ok(TenantContext {
            tenant: tenant.clone(),
            settings,
            settings_version,
            autotask,
            channelonline,
            mappings: self.mappings.clone(),
            settings_store: self.settings.clone(),
            audit: self.audit.clone(),
            sync_state: self.sync_state.clone(),
            idempotency_store: self.idempotency.clone(),
            clock: self.clock.clone(),
            actor: "integration".into(),
            deadline,
        })
    }
}

impl AppContext {
    /// The tenant's Autotask client from its stored credentials, limited as every call is.
    fn autotask_client(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
        at: AutotaskCredentials,
        until: Instant,
    ) -> TenantClient {
        let impersonation = settings.autotask.impersonation_resource_id;
        self.clients
            .autotask
            .for_tenant(tenant.clone(), client_credentials(at, impersonation))
            .with_credential_source(Arc::new(SecretCredentials {
                secrets: self.secrets.clone(),
                tenant: tenant.clone(),
                impersonation,
            }))
            .with_deadline(until)
            .with_shared_limit(SharedLimit {
                store: self.slots.clone(),
                clock: self.clock.clone(),
                slots: usize::from(
                    settings
                        .autotask
                        .max_concurrent_calls
                        .unwrap_or(AUTOTASK_MAX_CONCURRENT_CALLS),
                ),
            })
    }

    fn channelonline_client(
        &self,
        tenant: &TenantId,
        col: ChannelOnlineCredentials,
        until: Instant,
    ) -> Result<Arc<dyn ChannelOnline>, ApiError> {
        self.clients
            .channelonline
            .for_tenant(tenant, col, Some(until))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot build the ChannelOnline client");
                ApiError::internal()
            })
    }

    /// Each connection on its own, `None` where its credentials are not stored: the setup
    /// screens test one connection before the other is set up.
    pub async fn connections(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
        deadline: DateTime<Utc>,
    ) -> Result<(Option<TenantClient>, Option<Arc<dyn ChannelOnline>>), ApiError> {
        let until = instant_of(deadline, self.clock.now());
        let autotask = (*self.secrets)
            .autotask(tenant)
            .await?
            .map(|at| self.autotask_client(tenant, settings, at, until));
        let channelonline = match (*self.secrets).channelonline(tenant).await? {
            Some(col) => Some(self.channelonline_client(tenant, col, until)?),
            None => None,
        };
        Ok((autotask, channelonline))
    }
}

/// The monotonic instant of a wall-clock deadline (the outbound clients time with `Instant`).
fn instant_of(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Instant {
    Instant::now() + (deadline - now).to_std().unwrap_or_default()
}

impl TenantContext {
    /// Until when a claim or lease taken by this invocation must hold: its deadline plus
    /// `CLAIM_MARGIN`. After that a retry takes over (and reconciles by natural key).
    pub fn claim_until(&self) -> DateTime<Utc> {
        self.deadline + CLAIM_MARGIN
    }

    /// Who the audit trail names as acting.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The idempotency helper for one function (keys are `<function>#<tenant>#<caller key>`).
    pub fn idempotency(&self, function: &str) -> Idempotency {
        Idempotency::new(self.idempotency_store.clone(), self.clock.clone(), function)
    }

    /// Appends an audit record for this tenant. A failing audit write is logged, not raised:
    /// the change it describes has already happened and must still be answered.
    pub async fn record(
        &self,
        action: &str,
        col_ids: Vec<String>,
        at_ids: Vec<i64>,
        changes: serde_json::Value,
        outcome: AuditOutcome,
    ) {
        let record = AuditRecord {
            tenant: self.tenant.clone(),
            at: self.clock.now(),
            action: action.to_owned(),
            actor: self.actor.clone(),
            col_ids,
            at_ids,
            changes,
            outcome,
        };
        if let Err(e) = self.audit.append(&record).await {
            tracing::error!(error = %e, action, "audit record not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::app::Stores;
    use crate::clock::SystemClock;
    use crate::config::{Config, SecretsConfig};
    use crate::secret::SecretString;
    use crate::secrets::file::FileSecretSource;
    use crate::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretSource};
    use crate::store::memory::MemoryStore;

    async fn app(dir: &tempfile::TempDir) -> (AppContext, Arc<dyn SecretSource>) {
        let path = dir.path().join("secrets.json");
        let secrets: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&path));
        let config = Config {
            mapping_table: "m".into(),
            idempotency_table: "i".into(),
            signature_window_secs: 300,
            secrets: SecretsConfig::File(path),
            secrets_cache_ttl_secs: 300,
            endpoints: crate::config::Endpoints::default(),
            queues: Default::default(),
            clients: Default::default(),
            links: Default::default(),
        };
        let stores = Stores::all(Arc::new(MemoryStore::new()));
        (
            AppContext::new(config, Arc::new(SystemClock), secrets.clone(), stores),
            secrets,
        )
    }

    fn soon() -> DateTime<Utc> {
        Utc::now() + DEFAULT_BUDGET
    }

    async fn with_credentials(secrets: &dyn SecretSource, tenant: &TenantId) {
        let at = AutotaskCredentials {
            username: "api@x.example".into(),
            secret: SecretString::new("s"),
            integration_code: SecretString::new("CODE"),
            impersonation_resource_id: None,
        };
        secrets.store(tenant, &at).await.unwrap();
        let col = ChannelOnlineCredentials {
            shortcut: "x".into(),
            email: "e@x.example".into(),
            password: "p".into(),
        };
        secrets.store(tenant, &col).await.unwrap();
    }

    #[tokio::test]
    async fn missing_credentials_are_a_412_saying_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _) = app(&dir).await;
        let e = app
            .tenant(&TenantId::parse("acme").unwrap(), soon())
            .await
            .err()
            .unwrap();
        assert_eq!(e.status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(e.code, "autotask_not_configured");
        assert!(e.fix.unwrap().contains("integration settings"));
    }

    #[tokio::test]
    async fn a_configured_tenant_gets_its_own_settings_and_clients() {
        // GIVEN two tenants with credentials, only acme with saved settings
        let dir = tempfile::tempdir().unwrap();
        let (app, secrets) = app(&dir).await;
        let (acme, other) = (TenantId::parse("acme").unwrap(), TenantId::parse("other").unwrap());
        with_credentials(secrets.as_ref(), &acme).await;
        with_credentials(secrets.as_ref(), &other).await;
        let doc = json!({ "field_mappings": { "new_company": { "company_type_id": 1, "owner_resource_id": 7 } } });
        app.settings
            .put_settings(&acme, &doc, None, app.clock.now())
            .await
            .unwrap();
        // WHEN each tenant's context is built THEN each sees only its own settings
        let a = app.tenant(&acme, soon()).await.unwrap();
        assert_eq!(a.tenant, acme);
        assert_eq!(a.autotask.tenant(), &acme);
        assert_eq!(a.settings.field_mappings.new_company.owner_resource_id, Some(7));
        assert_eq!(a.settings_version, Some(1));
        let o = app.tenant(&other, soon()).await.unwrap();
        assert_eq!(o.settings.field_mappings.new_company.owner_resource_id, None);
        assert_eq!(o.settings_version, None);
        assert_eq!(o.idempotency("f").key(&other, "k"), "f#other#k");
    }

    #[tokio::test]
    async fn saved_settings_that_no_longer_validate_are_a_412() {
        let dir = tempfile::tempdir().unwrap();
        let (app, secrets) = app(&dir).await;
        let acme = TenantId::parse("acme").unwrap();
        with_credentials(secrets.as_ref(), &acme).await;
        app.settings
            .put_settings(&acme, &json!({ "no_such_setting": 1 }), None, app.clock.now())
            .await
            .unwrap();
        let e = app.tenant(&acme, soon()).await.err().unwrap();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::PRECONDITION_FAILED, "settings_invalid")
        );
    }
}
