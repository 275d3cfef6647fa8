//! `AutotaskError`: keeps Autotask's own `errors[]` text, classifies it (Autotask reports
//! validation, permission and some auth problems all as HTTP 500), and says what to fix.

use std::time::Duration;

use http::StatusCode;

use crate::http::retry::{RetryClass, RetryError, Retryable};
use crate::web::ApiError;

use super::query::QueryError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AutotaskError {
    /// Autotask refused the data (500 or 4xx with a message): final, never retried.
    #[error("Autotask rejected the request: {}", join(.messages))]
    Validation { status: u16, messages: Vec<String> },
    /// 401, or a 500 saying the integration code is invalid.
    #[error("Autotask refused the credentials: {}", join(.messages))]
    Authentication { messages: Vec<String> },
    /// Zone discovery did not know the user name.
    #[error("Autotask could not find the zone of API user {username:?}: {}", join(.messages))]
    UnknownUser { username: String, messages: Vec<String> },
    /// 404 on a route or record.
    #[error("Autotask has no {what}")]
    NotFound { what: String },
    /// 405: the verb is not allowed on that route (e.g. PATCH /{Entity}/{id}).
    #[error("Autotask does not allow {method} on {path}: {message}")]
    MethodNotAllowed {
        method: String,
        path: String,
        message: String,
    },
    /// 429: the tenant's hourly request budget is used up.
    #[error("Autotask is throttling this tenant: {}", join(.messages))]
    Throttled {
        retry_after: Option<Duration>,
        messages: Vec<String>,
    },
    /// More than 3 concurrent calls on one endpoint for this integration code.
    #[error("Autotask thread limit exceeded: {}", join(.messages))]
    ThreadLimit { messages: Vec<String> },
    /// 5xx without a usable message (gateway errors, outages).
    #[error("Autotask failed ({status}): {}", join(.messages))]
    Server { status: u16, messages: Vec<String> },
    /// No answer: connection refused/reset or timeout.
    #[error("could not reach Autotask: {message}")]
    Transport { message: String, timeout: bool },
    /// A create that may have been applied although no id came back (timeout or reset after the
    /// request was sent, 5xx without a validation message). Never sent again blindly: the next
    /// attempt looks the record up by its natural key first.
    #[error("Autotask did not confirm the create of {what} ({cause}); it may or may not exist")]
    Ambiguous { what: String, cause: String },
    /// The query breaks a limit Autotask would refuse (checked before sending).
    #[error("invalid Autotask query: {0}")]
    Query(#[from] QueryError),
    /// The operation does not exist for this entity (e.g. creating a BillingCode).
    #[error("{0}")]
    Unsupported(String),
    /// A picklist label the tenant's Autotask instance does not have.
    #[error("Autotask {entity}.{field} has no picklist value labelled {label:?}")]
    PicklistLabel {
        entity: String,
        field: String,
        label: String,
    },
    /// A 200 whose body is not what Autotask documents.
    #[error("unexpected Autotask response: {0}")]
    InvalidResponse(String),
}

fn join(messages: &[String]) -> String {
    if messages.is_empty() {
        "(no message)".to_owned()
    } else {
        messages.join("; ")
    }
}

impl AutotaskError {
    /// Classifies a non-2xx answer from the status, `Retry-After` and the body text.
    pub fn from_response(status: StatusCode, retry_after: Option<Duration>, body: &str, what: &str) -> Self {
        let messages = error_messages(body);
        let text = messages.join(" ").to_ascii_lowercase();
        if text.contains("itgenatr005") || text.contains("thread threshold") {
            return AutotaskError::ThreadLimit { messages };
        }
        if is_hourly_limit(&text) {
            return AutotaskError::Throttled { retry_after, messages };
        }
        match status.as_u16() {
            401 => AutotaskError::Authentication { messages },
            404 => AutotaskError::NotFound { what: what.to_owned() },
            405 => AutotaskError::MethodNotAllowed {
                method: String::new(),
                path: what.to_owned(),
                message: messages.join("; "),
            },
            429 => AutotaskError::Throttled { retry_after, messages },
            _ if text.contains("integrationcode is invalid") => AutotaskError::Authentication { messages },
            500 if !messages.is_empty() => AutotaskError::Validation { status: 500, messages },
            s if s >= 500 => AutotaskError::Server { status: s, messages },
            s => AutotaskError::Validation { status: s, messages },
        }
    }

    /// How a failed create is told: a failure that may have reached the server becomes
    /// `Ambiguous` (`sent`: the request left this process); refusals before any processing
    /// (429, thread limit, connection refused) and validations keep their class.
    pub fn of_create(self, what: &str, sent: bool) -> Self {
        match self {
            AutotaskError::Transport { message, .. } if sent => AutotaskError::Ambiguous {
                what: what.to_owned(),
                cause: message,
            },
            AutotaskError::Server { status, messages } => AutotaskError::Ambiguous {
                what: what.to_owned(),
                cause: format!("HTTP {status}: {}", join(&messages)),
            },
            AutotaskError::InvalidResponse(reason) => AutotaskError::Ambiguous {
                what: what.to_owned(),
                cause: reason,
            },
            other => other,
        }
    }

    /// Autotask's own text, as received.
    pub fn autotask_messages(&self) -> &[String] {
        match self {
            AutotaskError::Validation { messages, .. }
            | AutotaskError::Authentication { messages }
            | AutotaskError::UnknownUser { messages, .. }
            | AutotaskError::Throttled { messages, .. }
            | AutotaskError::ThreadLimit { messages }
            | AutotaskError::Server { messages, .. } => messages,
            _ => &[],
        }
    }

    /// What the user (or operator) should do about it.
    pub fn fix(&self) -> String {
        let text = self.autotask_messages().join(" ").to_ascii_lowercase();
        match self {
            AutotaskError::Validation { .. } if text.contains("unexpected error") => {
                "Autotask gave no reason. The usual cause is the owner: set the default owner in the \
                 integration settings to an active, licensed Autotask resource (not the API user)."
                    .into()
            }
            AutotaskError::Validation { .. } if text.contains("does not reference an existing entity") => {
                "Pick a value that exists in Autotask (picklists and ids differ per Autotask instance), \
                 then retry."
                    .into()
            }
            AutotaskError::Validation { .. } if text.contains("permission") => {
                "Give the Autotask API user's security level access to this entity (and impersonation \
                 rights if used), then retry."
                    .into()
            }
            AutotaskError::Validation { .. } => {
                "Correct the value Autotask names above in ChannelOnline or in the integration settings, \
                 then retry."
                    .into()
            }
            AutotaskError::Authentication { .. } => {
                "Check the Autotask API user name, secret and integration code in the integration \
                 settings; the API user must have the 'API User (API-only)' security level."
                    .into()
            }
            AutotaskError::UnknownUser { .. } => {
                "Check the Autotask API user name (an email-like key of an API-only user).".into()
            }
            AutotaskError::NotFound { .. } => {
                "The record was deleted or merged in Autotask; re-link it and retry.".into()
            }
            AutotaskError::Throttled { .. } => {
                "The Autotask tenant used its hourly API budget (10,000 calls, shared by all \
                 integrations); retry later."
                    .into()
            }
            AutotaskError::ThreadLimit { .. } | AutotaskError::Server { .. } | AutotaskError::Transport { .. } => {
                "Autotask is busy or unavailable; retry in a few minutes.".into()
            }
            AutotaskError::Ambiguous { .. } => {
                "Try again in a minute: the next attempt looks the record up first, so nothing is created twice.".into()
            }
            AutotaskError::MethodNotAllowed { .. }
            | AutotaskError::Unsupported(_)
            | AutotaskError::InvalidResponse(_) => {
                "This is a defect in the integration; report it with the message above.".into()
            }
            AutotaskError::PicklistLabel { .. } => {
                "Add the value in Autotask (Admin > picklists) or change the label in the integration \
                 settings to one Autotask lists."
                    .into()
            }
            AutotaskError::Query(_) => "Narrow the search (fewer values or one custom field).".into(),
        }
    }

    /// The HTTP-facing answer: Autotask's text plus what to fix.
    pub fn to_api_error(&self) -> ApiError {
        let (status, code) = match self {
            AutotaskError::Validation { .. } | AutotaskError::Query(_) | AutotaskError::PicklistLabel { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "autotask_rejected")
            }
            AutotaskError::Authentication { .. } | AutotaskError::UnknownUser { .. } => {
                (StatusCode::PRECONDITION_FAILED, "autotask_credentials")
            }
            AutotaskError::NotFound { .. } => (StatusCode::NOT_FOUND, "autotask_not_found"),
            AutotaskError::Throttled { .. } | AutotaskError::ThreadLimit { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "autotask_busy")
            }
            AutotaskError::Server { .. } | AutotaskError::Transport { .. } | AutotaskError::Ambiguous { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "autotask_unavailable")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "autotask_client_error"),
        };
        let mut e = ApiError::new(status, code, self.to_string()).with_fix(self.fix());
        e.retryable = self.user_may_retry();
        if let AutotaskError::Throttled {
            retry_after: Some(wait),
            ..
        } = self
        {
            e = e.with_details(serde_json::json!({ "retry_after_secs": wait.as_secs() }));
        }
        e
    }

    /// Whether the user's next attempt may succeed without anyone changing anything: transient
    /// failures, and ambiguous creates (the next attempt reconciles before creating).
    pub fn user_may_retry(&self) -> bool {
        !matches!(self.retry_class(), RetryClass::Permanent)
    }
}

/// The hourly request limit, in the forms Autotask uses (429, or a 500 with the threshold text).
fn is_hourly_limit(text: &str) -> bool {
    text.contains("external request threshold")
        || text.contains("requests per hour")
        || text.contains("request threshold of")
}

impl Retryable for AutotaskError {
    fn retry_class(&self) -> RetryClass {
        match self {
            AutotaskError::Throttled { retry_after, .. } => RetryClass::Transient {
                retry_after: *retry_after,
            },
            AutotaskError::ThreadLimit { .. } | AutotaskError::Server { .. } | AutotaskError::Transport { .. } => {
                RetryClass::Transient { retry_after: None }
            }
            AutotaskError::Ambiguous { .. } => RetryClass::Ambiguous,
            _ => RetryClass::Permanent,
        }
    }
}

impl From<RetryError<AutotaskError>> for AutotaskError {
    fn from(value: RetryError<AutotaskError>) -> Self {
        value.into_inner()
    }
}

/// Extracts `errors[]` (strings, or objects with `message`) or ASP.NET's `Message`; falls back to
/// the raw text so nothing Autotask said is lost.
pub fn error_messages(body: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        let t = body.trim();
        return if t.is_empty() || t.starts_with('<') {
            vec![]
        } else {
            vec![t.chars().take(500).collect()]
        };
    };
    if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
        return errors
            .iter()
            .filter_map(|e| match e {
                serde_json::Value::String(s) => Some(s.trim().to_owned()),
                other => other
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(|s| s.trim().to_owned()),
            })
            .collect();
    }
    v.get("Message")
        .or_else(|| v.get("message"))
        .and_then(|m| m.as_str())
        .map(|m| vec![m.to_owned()])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_autotask_answers() {
        let v = AutotaskError::from_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            r#"{"errors":["Value does not reference an existing entity for ownerResourceID. "]}"#,
            "Companies",
        );
        assert!(matches!(v, AutotaskError::Validation { .. }));
        assert_eq!(v.retry_class(), RetryClass::Permanent);
        assert!(v.to_api_error().message.contains("ownerResourceID"));
        let t = AutotaskError::from_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            r#"{"errors":["Itgenatr005 Thread Threshold Exceeded"]}"#,
            "Companies",
        );
        assert!(matches!(t, AutotaskError::ThreadLimit { .. }));
        let r = AutotaskError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(2)),
            "{}",
            "Companies",
        );
        assert_eq!(
            r.retry_class(),
            RetryClass::Transient {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        let a = AutotaskError::from_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            r#"{"errors":["IntegrationCode is invalid."]}"#,
            "x",
        );
        assert!(matches!(a, AutotaskError::Authentication { .. }));
        let m = AutotaskError::from_response(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            r#"{"Message":"The requested resource does not support http method 'GET'."}"#,
            "x",
        );
        assert!(matches!(m, AutotaskError::MethodNotAllowed { ref message, .. } if message.contains("'GET'")));
        let g = AutotaskError::from_response(StatusCode::BAD_GATEWAY, None, "<html>", "x");
        assert!(matches!(g, AutotaskError::Server { status: 502, .. }));
        let h = AutotaskError::from_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            r#"{"errors":["The external request threshold of 10000 requests per hour has been exceeded for this database."]}"#,
            "x",
        );
        assert!(matches!(h, AutotaskError::Throttled { .. }));
    }

    #[test]
    fn a_create_that_may_have_reached_autotask_is_ambiguous_and_told_as_try_again() {
        let blank = AutotaskError::from_response(StatusCode::INTERNAL_SERVER_ERROR, None, "{}", "Opportunities");
        let lost = AutotaskError::Transport {
            message: "operation timed out".into(),
            timeout: true,
        };
        for e in [
            blank.of_create("opportunity", true),
            lost.of_create("opportunity", true),
        ] {
            assert_eq!(e.retry_class(), RetryClass::Ambiguous, "{e}");
            let a = e.to_api_error();
            assert_eq!((a.status, a.retryable), (StatusCode::SERVICE_UNAVAILABLE, true));
        }
        // never sent, throttled, or refused data: not ambiguous
        let refused = AutotaskError::Transport {
            message: "connection refused".into(),
            timeout: false,
        };
        assert!(matches!(
            refused.of_create("x", false).retry_class(),
            RetryClass::Transient { .. }
        ));
        let validation = AutotaskError::from_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            r#"{"errors":["Missing Required Field: title"]}"#,
            "x",
        );
        assert_eq!(validation.of_create("x", true).retry_class(), RetryClass::Permanent);
    }
}
