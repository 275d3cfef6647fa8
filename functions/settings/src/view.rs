//! The read view: settings, version, and which credentials are set. Secrets, and the Autotask
//! integration code, never appear.

use serde_json::{Value, json};
use shared::app::AppContext;
use shared::domain::settings::TenantSettings;
use shared::store::VersionedDoc;
use shared::tenant::TenantId;
use shared::web::ApiError;

pub async fn read(ctx: &AppContext, tenant: &TenantId) -> Result<Value, ApiError> {
    let stored = ctx.settings.get_settings(tenant).await?;
    render(ctx, tenant, stored.as_ref()).await
}

/// The stored settings as the caller sees them (defaults when nothing is stored yet).
pub async fn render(ctx: &AppContext, tenant: &TenantId, stored: Option<&VersionedDoc>) -> Result<Value, ApiError> {
    let settings = match stored {
        Some(doc) => parse_stored(&doc.doc)?,
        None => TenantSettings::default(),
    };
    let secrets = ctx.secrets.status(tenant).await?;
    let said = |set: bool| if set { "set" } else { "not set" };
    let version = stored.map(|d| d.version);
    let message = format!(
        "{} Autotask credentials: {}. ChannelOnline credentials: {}.",
        match version {
            Some(v) => format!("Settings version {v}."),
            None => "No settings saved yet; showing defaults.".to_owned(),
        },
        said(secrets.autotask),
        said(secrets.channelonline),
    );
    Ok(json!({
        "tenant": tenant,
        "version": version,
        "updated_at": stored.map(|d| d.updated_at),
        "credentials": {
            "autotask": said(secrets.autotask),
            "channelonline": said(secrets.channelonline),
        },
        "settings": visible(&settings),
        "message": message,
    }))
}

/// Fields that hold the Autotask integration code: they never leave the function, whatever
/// document (settings, audit record) they appear in.
const HIDDEN_FIELDS: &[&str] = &["tracking_identifier", "integration_code"];

/// The settings as a view may show them (without the integration code).
pub fn visible(settings: &TenantSettings) -> Value {
    let mut value = serde_json::to_value(settings).expect("settings serialise");
    hide(&mut value);
    value
}

/// Removes every [`HIDDEN_FIELDS`] member at any depth of `value`.
pub fn hide(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !HIDDEN_FIELDS.contains(&k.as_str()));
            map.values_mut().for_each(hide);
        }
        Value::Array(items) => items.iter_mut().for_each(hide),
        _ => {}
    }
}

/// Stored settings are re-validated on read: a document written by an older version that no
/// longer parses is reported instead of silently dropped.
pub fn parse_stored(doc: &Value) -> Result<TenantSettings, ApiError> {
    TenantSettings::from_json(doc.clone()).map_err(|e| {
        tracing::error!(error = %e, "stored settings do not parse");
        ApiError::internal().with_fix(format!(
            "The stored settings are invalid at {}: save them again with that field corrected.",
            e.path
        ))
    })
}
