//! `SyncError`: the one error of the sync services (customers, documents, bulk), and its
//! mapping to the answer a user can act on:
//! - data Autotask refuses → 422 naming the field and the setting or record to fix;
//! - Autotask / ChannelOnline / the store unreachable or throttled → 503 "try again";
//! - conflicts (several matches, already mapped, a run in progress) → 409;
//! - unknown records → 404; missing settings or mappings → 412; bad input → 400.

use http::StatusCode;
use serde_json::Value;

use crate::autotask::AutotaskError;
use crate::channelonline::ChannelOnlineError;
use crate::http::retry::{RetryClass, Retryable};
use crate::store::StoreError;
use crate::web::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Autotask refused (or would refuse) a record's data.
    #[error("Autotask refused {record}: {message}")]
    Rejected {
        /// e.g. `company for customer C-1001 (Acme)`.
        record: String,
        /// The Autotask field at fault, when known (`ownerResourceID`, `lastName`).
        field: Option<String>,
        message: String,
        /// The setting or record to correct.
        fix: String,
    },
    #[error("{message}")]
    NotFound {
        code: &'static str,
        message: String,
        fix: String,
        details: Value,
    },
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        fix: String,
        details: Value,
        retryable: bool,
    },
    /// A setting or mapping the operation needs is missing.
    #[error("{message}")]
    Precondition {
        code: &'static str,
        message: String,
        fix: String,
    },
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// Well-formed but unusable (e.g. an idempotency key reused with another payload): 422.
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        fix: String,
    },
    #[error(transparent)]
    Autotask(#[from] AutotaskError),
    #[error(transparent)]
    ChannelOnline(#[from] ChannelOnlineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type SyncResult<T> = Result<T, SyncError>;

impl SyncError {
    pub fn not_found(code: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        SyncError::NotFound {
            code,
            message: message.into(),
            fix: fix.into(),
            details: Value::Null,
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>, fix: impl Into<String>, details: Value) -> Self {
        SyncError::Conflict {
            code,
            message: message.into(),
            fix: fix.into(),
            details,
            retryable: false,
        }
    }

    pub fn precondition(code: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        SyncError::Precondition {
            code,
            message: message.into(),
            fix: fix.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>, field: Option<&str>) -> Self {
        SyncError::BadRequest {
            code,
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    /// Whether repeating the same call later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Autotask(e) => e.user_may_retry(),
            SyncError::ChannelOnline(e) => matches!(e.retry_class(), RetryClass::Transient { .. }),
            SyncError::Store(e) => matches!(e, StoreError::Unavailable(_)),
            SyncError::Conflict { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Wraps an Autotask refusal of one record's data with the record's name; other Autotask
    /// errors pass through unchanged.
    pub fn from_autotask_write(e: AutotaskError, record: impl Into<String>) -> Self {
        match &e {
            AutotaskError::Validation { messages, .. } => {
                let text = messages.join("; ");
                let field = field_named_in(&text);
                let fix = fix_for_field(field.as_deref()).unwrap_or_else(|| e.fix());
                SyncError::Rejected {
                    record: record.into(),
                    field,
                    message: text,
                    fix,
                }
            }
            _ => SyncError::Autotask(e),
        }
    }
}

/// The field Autotask's message names: `… for contactID.`, `Reference value on field: x`,
/// `… does not exist for priority.`, `Missing Required Field: lastName`; the opaque "unexpected
/// error" of a company create is almost always the owner.
pub fn field_named_in(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    for marker in ["for field ", "on field: ", "required field: ", "field: ", " for "] {
        if let Some(at) = lower.rfind(marker) {
            let rest = &message[at + marker.len()..];
            let word: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                return Some(word);
            }
        }
    }
    lower.contains("unexpected error").then(|| "ownerResourceID".to_owned())
}

/// What to change for the fields the integration fills from settings or ChannelOnline records.
fn fix_for_field(field: Option<&str>) -> Option<String> {
    let f = field?.to_ascii_lowercase();
    Some(match f.as_str() {
        "ownerresourceid" => "Set 'owner for new companies' (field_mappings.new_company.owner_resource_id) in the \
                              integration settings to an active, licensed Autotask resource — not the API user."
            .into(),
        "companytype" => "Set 'company type for new companies' (field_mappings.new_company.company_type_id) in the \
                          integration settings to a company type that exists in Autotask."
            .into(),
        "companyname" | "phone" | "firstname" | "lastname" | "emailaddress" => {
            format!(
                "Correct {field} on the record in ChannelOnline, then export again.",
                field = field.unwrap_or("")
            )
        }
        _ => return None,
    })
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        if e.is_transient() && !matches!(e, SyncError::Conflict { .. }) {
            tracing::warn!(error = %e, "transient failure");
            let (code, who) = match &e {
                SyncError::Autotask(_) => ("autotask_unavailable", "Autotask"),
                SyncError::ChannelOnline(_) => ("channelonline_unavailable", "ChannelOnline"),
                _ => ("store_unavailable", "The data store"),
            };
            let message = match &e {
                SyncError::Autotask(AutotaskError::Ambiguous { what, .. }) => format!(
                    "Autotask did not confirm the create of {what}. Trying again finds it if it was made, so nothing is created twice."
                ),
                _ => format!("{who} is busy or unreachable right now. Nothing was left half-done."),
            };
            let mut answer = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
                .with_fix("Try again in a minute.")
                .retryable();
            if let SyncError::Autotask(AutotaskError::Throttled {
                retry_after: Some(wait),
                ..
            }) = &e
            {
                answer = answer.with_details(serde_json::json!({ "retry_after_secs": wait.as_secs() }));
            }
            return answer;
        }
        match e {
            SyncError::Rejected {
                record,
                field,
                message,
                fix,
            } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "autotask_rejected",
                format!("Autotask refused {record}: {message}"),
            )
            .with_fix(fix)
            .with_details(serde_json::json!({ "record": record, "field": field })),
            SyncError::NotFound {
                code,
                message,
                fix,
                details,
            } => ApiError::not_found(code, message).with_fix(fix).with_details(details),
            SyncError::Conflict {
                code,
                message,
                fix,
                details,
                retryable,
            } => {
                let mut a = ApiError::conflict(code, message).with_fix(fix).with_details(details);
                a.retryable = retryable;
                a
            }
            SyncError::Precondition { code, message, fix } => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, code, message).with_fix(fix)
            }
            SyncError::BadRequest { code, message, field } => {
                let a = ApiError::bad_request(code, message).with_fix("Correct the request and send it again.");
                match field {
                    Some(f) => a.with_details(serde_json::json!({ "field": f })),
                    None => a,
                }
            }
            SyncError::Unprocessable { code, message, fix } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_fix(fix)
            }
            SyncError::Autotask(e) => e.to_api_error(),
            SyncError::ChannelOnline(e) => channelonline_answer(&e),
            SyncError::Store(e) => match e {
                StoreError::AlreadyMapped { side, existing } => ApiError::conflict(
                    "already_mapped",
                    format!(
                        "The {side} record is already mapped (ChannelOnline {} ↔ Autotask {}).",
                        existing.col_id, existing.at_id
                    ),
                )
                .with_fix("Unmap that pair first, or choose another record.")
                .with_details(serde_json::json!({ "side": side, "col_id": existing.col_id, "at_id": existing.at_id })),
                other => ApiError::from(other),
            },
        }
    }
}

fn channelonline_answer(e: &ChannelOnlineError) -> ApiError {
    match e {
        ChannelOnlineError::CustomerNotFound { .. } | ChannelOnlineError::DocumentNotFound { .. } => {
            ApiError::not_found("channelonline_not_found", e.to_string())
                .with_fix("Check the number in ChannelOnline; the record may have been deleted or renumbered.")
        }
        ChannelOnlineError::BadCredentials { .. } | ChannelOnlineError::UserAgentRejected { .. } => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "channelonline_credentials",
            e.to_string(),
        )
        .with_fix("Correct the ChannelOnline connection in the integration settings."),
        // The address answers, but not as ChannelOnline's XML endpoint for this account.
        ChannelOnlineError::HttpStatus { status, .. } if (400..500).contains(status) => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "channelonline_endpoint",
            e.to_string(),
        )
        .with_fix("Check the ChannelOnline address (CHANNELONLINE_URL) and the account in the integration settings; repeating will not help."),
        ChannelOnlineError::TooManyDocuments { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "channelonline_too_many", e.to_string())
                .with_fix("Narrow the time window and run again.")
        }
        _ => {
            tracing::error!(error = %e, "ChannelOnline failure");
            ApiError::new(StatusCode::BAD_GATEWAY, "channelonline_failed", e.to_string())
                .with_fix("Repeating will not help: report the message above.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validation(msg: &str) -> AutotaskError {
        AutotaskError::Validation {
            status: 500,
            messages: vec![msg.into()],
        }
    }

    #[test]
    fn autotask_refusals_become_422_naming_field_and_setting() {
        let e = SyncError::from_autotask_write(
            validation("An unexpected error has occurred. Error ID: 54634."),
            "company for customer C-1 (Acme)",
        );
        let a = ApiError::from(e);
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(a.details["field"], "ownerResourceID");
        assert!(a.fix.unwrap().contains("owner_resource_id"));
        assert!(a.message.contains("C-1 (Acme)"));
    }

    #[test]
    fn field_names_are_read_from_autotask_messages() {
        assert_eq!(
            field_named_in("Value does not reference an existing entity for companyType. ").as_deref(),
            Some("companyType")
        );
        assert_eq!(
            field_named_in("Picklist value [99] does not exist for priority.").as_deref(),
            Some("priority")
        );
        assert_eq!(
            field_named_in("Reference value on field: contactID of type x").as_deref(),
            Some("contactID")
        );
        assert_eq!(field_named_in("something else entirely"), None);
    }

    #[test]
    fn unreachable_or_throttled_systems_answer_503_try_again() {
        let cases = [
            SyncError::Autotask(AutotaskError::Transport {
                message: "reset".into(),
                timeout: true,
            }),
            SyncError::Autotask(AutotaskError::Throttled {
                retry_after: None,
                messages: vec![],
            }),
            SyncError::ChannelOnline(ChannelOnlineError::Transport {
                message: "refused".into(),
            }),
            SyncError::Store(StoreError::Unavailable("throttled".into())),
        ];
        for e in cases {
            let a = ApiError::from(e);
            assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
            assert!(a.retryable);
            assert_eq!(a.fix.as_deref(), Some("Try again in a minute."));
        }
    }

    #[test]
    fn conflicts_keep_their_details_and_retry_flag() {
        let e = SyncError::Conflict {
            code: "in_progress",
            message: "busy".into(),
            fix: "wait".into(),
            details: serde_json::json!({"a": 1}),
            retryable: true,
        };
        let a = ApiError::from(e);
        assert_eq!(
            (a.status, a.retryable, a.details["a"].as_i64()),
            (StatusCode::CONFLICT, true, Some(1))
        );
        let nf = ApiError::from(SyncError::ChannelOnline(ChannelOnlineError::CustomerNotFound {
            number: "X".into(),
        }));
        assert_eq!(nf.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn message_status_and_retryable_always_agree() {
        let cases = [
            SyncError::ChannelOnline(ChannelOnlineError::HttpStatus {
                status: 404,
                retry_after: None,
            }),
            SyncError::ChannelOnline(ChannelOnlineError::HttpStatus {
                status: 503,
                retry_after: None,
            }),
            SyncError::Autotask(AutotaskError::Server {
                status: 500,
                messages: vec![],
            }),
            SyncError::Autotask(AutotaskError::Ambiguous {
                what: "Opportunities".into(),
                cause: "timed out".into(),
            }),
            SyncError::Autotask(AutotaskError::Authentication { messages: vec![] }),
            SyncError::from_autotask_write(validation("Missing Required Field: title"), "opportunity"),
        ];
        for e in cases {
            let a = ApiError::from(e);
            let says_try_again = a
                .fix
                .as_deref()
                .unwrap_or("")
                .to_ascii_lowercase()
                .contains("try again")
                || a.message.to_ascii_lowercase().contains("try again");
            assert_eq!(a.retryable, a.status == StatusCode::SERVICE_UNAVAILABLE, "{a:?}");
            assert_eq!(says_try_again, a.retryable, "{a:?}");
        }
    }
}
