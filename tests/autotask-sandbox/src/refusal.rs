//! The sandbox's refusals, shaped like Autotask's: `{"errors":[…]}` for API errors (validation is
//! HTTP 500), ASP.NET's `{"Message":…}` for 405, and an IIS-style HTML page for unknown routes.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub body: RefusalBody,
    pub retry_after: Option<u64>,
}

#[derive(Debug)]
pub enum RefusalBody {
    Errors(Vec<String>),
    Message(String),
    Html,
    QueryStringTooLong,
}

impl Refusal {
    pub fn errors(status: StatusCode, messages: impl IntoIterator<Item = String>) -> Self {
        Self {
            status,
            body: RefusalBody::Errors(messages.into_iter().collect()),
            retry_after: None,
        }
    }

    /// Validation and business-rule failures: HTTP 500 with the text.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::errors(StatusCode::INTERNAL_SERVER_ERROR, [message.into()])
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: RefusalBody::Message(format!(
                "The requested resource does not support http method '{method}'."
            )),
            retry_after: None,
        }
    }

    pub fn route_not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: RefusalBody::Html,
            retry_after: None,
        }
    }

    pub fn record_not_found() -> Self {
        Self::errors(StatusCode::NOT_FOUND, [])
    }

    /// Autotask's text (code `Itgenatr005`, quoted by n8n-nodes-autotask PR 107); `limit` is
    /// the configured thread count (Autotask: 3).
    pub fn thread_limit(limit: usize) -> Self {
        Self::invalid(format!(
            "Itgenatr005: Thread Threshold Exceeded — The Autotask API thread threshold of {limit} threads has been exceeded."
        ))
    }

    /// "Value does not reference an existing entity for taskType . " (the space before the full
    /// stop is Autotask's).
    pub fn no_such_reference(field: &str) -> Self {
        Self::invalid(format!("Value does not reference an existing entity for {field} . "))
    }

    /// Autotask's opaque answer when it gives no reason (an API-user owner, a badly shaped
    /// `userDefinedFields`).
    pub fn unexpected(error_id: i64) -> Self {
        Self::invalid(format!(
            "An unexpected error has occurred.  If the problem persists, please contact Autotask Support and reference Error ID: {error_id}."
        ))
    }

    /// A field (or user-defined field) the entity does not have.
    pub fn unknown_field(name: &str) -> Self {
        Self::invalid(format!("Unable to find {name} in the Entity."))
    }

    /// What IIS answers for a URL over 2,048 characters (request filtering, 404.15).
    pub fn url_too_long() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: RefusalBody::QueryStringTooLong,
            retry_after: None,
        }
    }

    /// `hourly_limit` is the configured budget (Autotask: 10,000 per database).
    pub fn throttled(retry_after: u64, hourly_limit: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::errors(
                StatusCode::TOO_MANY_REQUESTS,
                [format!(
                    "The external request threshold of {hourly_limit} requests per hour has been exceeded for this database."
                )],
            )
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut resp = match self.body {
            RefusalBody::Errors(e) => (self.status, axum::Json(json!({ "errors": e }))).into_response(),
            RefusalBody::Message(m) => (self.status, axum::Json(json!({ "Message": m }))).into_response(),
            RefusalBody::Html => (
                self.status,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><head><title>404 - File or directory not found.</title></head><body><h2>404 - File or directory not found.</h2></body></html>",
            )
                .into_response(),
            RefusalBody::QueryStringTooLong => (
                self.status,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><head><title>HTTP Error 404.15 - Not Found</title></head><body><h3>HTTP Error 404.15 - Not Found</h3><h4>The request filtering module is configured to deny a request where the query string is too long.</h4></body></html>",
            )
                .into_response(),
        };
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
