//! Turning handler results into function-URL answers, and lower-layer errors into `ApiError`s
//! that say what to do without leaking internals.

use lambda_http::{Body, Response};
use serde_json::Value;

use crate::secrets::SecretsError;
use crate::store::StoreError;
use crate::web::{self, ApiError, Format};

/// `Ok(body)` → 200 `{"ok":true,…}` (or an HTML page titled `title`); `Err` → its status and message.
pub fn answer(format: Format, title: &str, result: Result<Value, ApiError>) -> Response<Body> {
    match result {
        Ok(body) => web::ok(format, title, body),
        Err(e) => e.into_response(format),
    }
}

impl From<SecretsError> for ApiError {
    fn from(e: SecretsError) -> Self {
        // The cause goes to the log only; it may name secret paths or backend details.
        tracing::error!(error = %e, "secret store failure");
        match e {
            SecretsError::Malformed { kind, .. } => ApiError::internal().with_fix(format!(
                "The stored {kind} credentials are unreadable: enter them again in the integration settings."
            )),
            SecretsError::Refused { .. } | SecretsError::Backend(_) => ApiError::internal(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        match e {
            StoreError::VersionConflict { .. } => ApiError::conflict(
                "changed_meanwhile",
                "Someone else changed this at the same time; nothing was saved",
            )
            .with_fix("Reload and try again.")
            .retryable(),
            StoreError::Unavailable(_) => ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "The data store is busy; nothing was changed",
            )
            .with_fix("Try again in a minute.")
            .retryable(),
            _ => ApiError::internal(),
        }
    }
}

/// Parses a JSON request body, naming the failing field path in the 400 answer.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("the body is not valid JSON: {inner}")
        } else {
            format!("{path}: {}", crate::secrets::redacted_serde_error(&inner))
        };
        ApiError::bad_request("invalid_body", message)
            .with_fix("Correct the named field and send the request again.")
            .with_details(serde_json::json!({ "field": path }))
    })
}

/// Adds to a customer answer the Autotask page of its company (`company_url`, from
/// `company_id`) and of each contact (`contacts[].url`, from `at_id`), for the result pages.
pub async fn with_autotask_links(ctx: &super::TenantContext, mut body: Value) -> Value {
    let Some(web) = ctx.autotask.web_base().await else {
        return body;
    };
    if let Some(id) = body["company_id"].as_i64() {
        body["company_url"] = crate::autotask::zone::company_page(&web, id).into();
    }
    for contact in body["contacts"].as_array_mut().into_iter().flatten() {
        if let Some(id) = contact["at_id"].as_i64() {
            contact["url"] = crate::autotask::zone::contact_page(&web, id).into();
        }
    }
    body
}

/// The company of a customer answer (after [`with_autotask_links`]) as HTML: its name and
/// Autotask id, linked to its Autotask page when known.
pub fn company_html(body: &Value) -> String {
    let name = crate::web::escape_html(body["company_name"].as_str().unwrap_or(""));
    let text = format!("{name} (Autotask company {})", body["company_id"]);
    crate::web::external_link(body["company_url"].as_str(), text)
}

/// One contact of a customer answer (`contacts[]`) as HTML, like [`company_html`].
pub fn contact_html(contact: &Value) -> String {
    let name = crate::web::escape_html(contact["name"].as_str().unwrap_or(""));
    let text = format!("{name} (Autotask contact {})", contact["at_id"]);
    crate::web::external_link(contact["url"].as_str(), text)
}
