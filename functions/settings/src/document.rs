//! Writing the settings document: full replace (PUT) or JSON merge patch (PATCH), validated,
//! with optimistic locking on the stored version, and an audit record of before and after.

use http::StatusCode;
use lambda_http::Request;
use serde_json::{Value, json};
use shared::app::{AppContext, json_body};
use shared::domain::settings::{SettingsError, TenantSettings};
use shared::store::{AuditOutcome, AuditRecord, StoreError};
use shared::tenant::TenantId;
use shared::web::ApiError;

use crate::view;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Replace,
    Merge,
}

pub async fn write(ctx: &AppContext, tenant: &TenantId, req: &Request, mode: Mode) -> Result<Value, ApiError> {
    let mut body: Value = json_body(req.body().as_ref())?;
    let Some(fields) = body.as_object_mut() else {
        return Err(
            ApiError::bad_request("invalid_body", "the body must be a JSON object of settings")
                .with_details(json!({ "field": "." })),
        );
    };
    let from_body = match fields.remove("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            ApiError::bad_request(
                "invalid_settings",
                "version: must be the whole number read from the settings",
            )
            .with_details(json!({ "field": "version" }))
        })?),
    };
    let expected = match (if_match(req)?, from_body) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(
                "invalid_settings",
                format!("If-Match says version {a} but the body says version {b}"),
            )
            .with_fix("Send the version once, or the same version in both places."));
        }
        (a, b) => a.or(b),
    };

    let stored = ctx.settings.get_settings(tenant).await?;
    let current = stored.as_ref().map(|d| view::parse_stored(&d.doc)).transpose()?;
    let (next, expected) = match mode {
        Mode::Replace => {
            if expected.is_none() && stored.is_some() {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_REQUIRED,
                    "version_required",
                    "Settings already exist; say which version you are replacing",
                )
                .with_fix("Read the settings first and send their version in If-Match or a \"version\" field."));
            }
            (TenantSettings::from_json(body).map_err(invalid)?, expected)
        }
        Mode::Merge => {
            let base = current.clone().unwrap_or_default();
            let next = base.patched(&body).map_err(invalid)?;
            (next, expected.or(stored.as_ref().map(|d| d.version)))
        }
    };

    let action = match mode {
        Mode::Replace => "settings.replace",
        Mode::Merge => "settings.patch",
    };
    let before = Saved {
        version: stored.as_ref().map(|d| d.version),
        settings: current.as_ref(),
    };
    save(ctx, tenant, &before, &next, expected, action, "signed-call").await?;
    let saved = ctx.settings.get_settings(tenant).await?;
    view::render(ctx, tenant, saved.as_ref()).await
}

/// The settings a write starts from: their version and content (`None`: nothing saved yet).
pub struct Saved<'a> {
    pub version: Option<u64>,
    pub settings: Option<&'a TenantSettings>,
}

/// Stores `next` if the stored version is still `expected` (`None`: nothing stored yet), and
/// audits before and after as `action` by `actor`. Answers the new version; a lost race is 409.
pub async fn save(
    ctx: &AppContext,
    tenant: &TenantId,
    before: &Saved<'_>,
    next: &TenantSettings,
    expected: Option<u64>,
    action: &str,
    actor: &str,
) -> Result<u64, ApiError> {
    let doc = serde_json::to_value(next).expect("settings serialise");
    let now = ctx.clock.now();
    let version = match ctx.settings.put_settings(tenant, &doc, expected, now).await {
        Ok(v) => v,
        Err(StoreError::VersionConflict { actual, .. }) => return Err(lost_race(expected, actual)),
        Err(e) => return Err(e.into()),
    };
    let record = AuditRecord {
        tenant: tenant.clone(),
        at: now,
        action: action.into(),
        actor: actor.into(),
        col_ids: vec![],
        at_ids: vec![],
        changes: json!({
            "version": { "before": before.version, "after": version },
            "before": before.settings.map(view::visible),
            "after": view::visible(next),
        }),
        outcome: AuditOutcome::Succeeded,
    };
    crate::credentials::append_audit(ctx, &record).await;
    Ok(version)
}

fn invalid(e: SettingsError) -> ApiError {
    ApiError::bad_request("invalid_settings", format!("{}: {}", e.path, e.message))
        .with_fix(format!("Correct the field {} and save again.", e.path))
        .with_details(json!({ "field": e.path }))
}

pub fn lost_race(expected: Option<u64>, actual: Option<u64>) -> ApiError {
    let now = match actual {
        Some(v) => format!("they are now at version {v}"),
        None => "they were removed".to_owned(),
    };
    ApiError::conflict(
        "settings_changed",
        format!("The settings changed since you read them ({now}); nothing was saved"),
    )
    .with_fix("Reload the settings, apply your change again and save.")
    .with_details(json!({ "expected_version": expected, "actual_version": actual }))
}

/// `If-Match: "3"` (also `3` and `W/"3"`).
fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(raw) = req.headers().get(http::header::IF_MATCH) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match must carry the settings version, e.g. \"3\"",
            )
            .with_details(json!({ "field": "If-Match" }))
        })
}
