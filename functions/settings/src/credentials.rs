//! Write-only credentials. The secret goes to the secrets port; the non-secret parts (user
//! name, impersonated resource, shortcut, email) are copied into the settings document so the
//! read view can show them. Nothing secret is ever returned or audited.

use lambda_http::Request;
use serde_json::{Value, json};
use shared::app::{AppContext, json_body};
use shared::domain::settings::TenantSettings;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials};
use shared::store::{AuditOutcome, AuditRecord, StoreError};
use shared::tenant::TenantId;
use shared::web::ApiError;

use crate::{document, view};

pub async fn put_autotask(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<Value, ApiError> {
    let creds: AutotaskCredentials = json_body(req.body().as_ref())?;
    store_autotask(ctx, tenant, &creds, "signed-call").await?;
    view::read(ctx, tenant).await
}

/// Checks and stores the Autotask credentials, copies the non-secret parts into the settings
/// and audits who set them (never what).
pub async fn store_autotask(
    ctx: &AppContext,
    tenant: &TenantId,
    creds: &AutotaskCredentials,
    actor: &str,
) -> Result<(), ApiError> {
    required("username", &creds.username)?;
    required("secret", creds.secret.expose())?;
    required("integration_code", creds.integration_code.expose())?;
    if creds.impersonation_resource_id.is_some_and(|id| id <= 0) {
        return Err(field_error(
            "impersonation_resource_id",
            "must be a positive Autotask resource id",
        ));
    }
    ctx.secrets.store(tenant, creds).await?;
    let (username, resource) = (creds.username.trim().to_owned(), creds.impersonation_resource_id);
    // The integration code stays in the secret only: settings are shown to every caller of the
    // read view, and a stale copy from before is dropped.
    update_settings(ctx, tenant, |s| {
        s.autotask.username = Some(username.clone());
        s.autotask.tracking_identifier = None;
        s.autotask.impersonation_resource_id = resource;
    })
    .await?;
    audit_credentials(
        ctx,
        tenant,
        actor,
        "autotask-credentials.put",
        json!({ "username": creds.username }),
    )
    .await;
    Ok(())
}

pub async fn put_channelonline(ctx: &AppContext, tenant: &TenantId, req: &Request) -> Result<Value, ApiError> {
    let creds: ChannelOnlineCredentials = json_body(req.body().as_ref())?;
    store_channelonline(ctx, tenant, &creds, "signed-call").await?;
    view::read(ctx, tenant).await
}

/// [`store_autotask`] for the ChannelOnline connection.
pub async fn store_channelonline(
    ctx: &AppContext,
    tenant: &TenantId,
    creds: &ChannelOnlineCredentials,
    actor: &str,
) -> Result<(), ApiError> {
    required("shortcut", &creds.shortcut)?;
    required("email", &creds.email)?;
    required("password", creds.password.expose())?;
    ctx.secrets.store(tenant, creds).await?;
    let (shortcut, email) = (creds.shortcut.trim().to_owned(), creds.email.trim().to_owned());
    update_settings(ctx, tenant, |s| {
        s.channelonline.shortcut = Some(shortcut.clone());
        s.channelonline.email = Some(email.clone());
    })
    .await?;
    audit_credentials(
        ctx,
        tenant,
        actor,
        "channelonline-credentials.put",
        json!({ "shortcut": creds.shortcut, "email": creds.email }),
    )
    .await;
    Ok(())
}

/// Read-modify-write of the settings with a few retries on a lost race: the change is
/// small and independent of what the other writer did, so re-applying it is safe.
pub async fn update_settings(
    ctx: &AppContext,
    tenant: &TenantId,
    change: impl Fn(&mut TenantSettings),
) -> Result<u64, ApiError> {
    const ATTEMPTS: usize = 3;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let stored = ctx.settings.get_settings(tenant).await?;
        let mut settings = match &stored {
            Some(d) => view::parse_stored(&d.doc)?,
            None => TenantSettings::default(),
        };
        change(&mut settings);
        let doc = serde_json::to_value(&settings).expect("settings serialise");
        let expected = stored.as_ref().map(|d| d.version);
        match ctx.settings.put_settings(tenant, &doc, expected, ctx.clock.now()).await {
            Ok(v) => return Ok(v),
            Err(StoreError::VersionConflict { actual, .. }) => last = Some((expected, actual)),
            Err(e) => return Err(e.into()),
        }
    }
    let (expected, actual) = last.expect("loop ran");
    Err(document::lost_race(expected, actual).retryable())
}

async fn audit_credentials(ctx: &AppContext, tenant: &TenantId, actor: &str, action: &str, changes: Value) {
    let record = AuditRecord {
        tenant: tenant.clone(),
        at: ctx.clock.now(),
        action: action.into(),
        actor: actor.into(),
        col_ids: vec![],
        at_ids: vec![],
        changes,
        outcome: AuditOutcome::Succeeded,
    };
    append_audit(ctx, &record).await;
}

/// The change is already saved; a failed audit append is logged loudly rather than turning a
/// successful save into an error the user would retry.
pub async fn append_audit(ctx: &AppContext, record: &AuditRecord) {
    if let Err(e) = ctx.audit.append(record).await {
        tracing::error!(error = %e, action = %record.action, "audit append failed");
    }
}

pub fn required(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        Err(field_error(field, "must not be empty"))
    } else {
        Ok(())
    }
}

pub fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::bad_request("invalid_credentials", format!("{field}: {message}"))
        .with_fix(format!("Enter the {field} and save again."))
        .with_details(json!({ "field": field }))
}
