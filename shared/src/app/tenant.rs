//! `TenantContext`: everything one call for one tenant needs — typed settings, the tenant's
//! Autotask and ChannelOnline clients, the stores — built from the `AppContext` after the
//! signature has named the tenant. Nothing in it can reach another tenant's data: the clients
//! carry this tenant's credentials and every store call takes `tenant`.

use std::sync::Arc;
use std::time::Instant;

use http::StatusCode;

use super::context::AppContext;
use crate::autotask::{AutotaskCredentials as AtClientCredentials, TenantClient};
use crate::channelonline::ChannelOnline;
use crate::clock::Clock;
use crate::domain::settings::TenantSettings;
use crate::idempotency::{Idempotency, IdempotencyStore};
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
}

fn precondition(code: &str, message: &str, fix: &str) -> ApiError {
    ApiError::new(StatusCode::PRECONDITION_FAILED, code, message).with_fix(fix)
}

impl AppContext {
    /// The context of `tenant` (already authenticated): its settings (defaults when none are
    /// saved yet), its secrets turned into clients. Missing credentials → 412 saying what to set.
    pub async fn tenant(&self, tenant: &TenantId) -> Result<TenantContext, ApiError> {
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
        let autotask = self.clients.autotask.for_tenant(
            tenant.clone(),
            AtClientCredentials {
                username: at.username,
                secret: at.secret,
                integration_code: at.integration_code.expose().to_owned(),
                impersonation_resource_id: at
                    .impersonation_resource_id
                    .or(settings.autotask.impersonation_resource_id),
            },
        );
        let channelonline = self.clients.channelonline.for_tenant(tenant, col).map_err(|e| {
            tracing::error!(error = %e, "cannot build the ChannelOnline client");
            ApiError::internal()
        })?;
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
        })
    }
}

impl TenantContext {
    /// Outbound retries never sleep past `deadline` (the Lambda deadline).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.autotask = self.autotask.with_deadline(deadline);
        self
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
