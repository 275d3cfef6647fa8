//! The one error type of the ChannelOnline layer. Messages say what the user can do about it.

use std::time::Duration;

use crate::http::retry::{RetryClass, Retryable};

#[derive(Debug, thiserror::Error)]
pub enum ChannelOnlineError {
    /// COL error 105: the user agent is not registered for this account.
    #[error(
        "ChannelOnline rejected the user agent (error 105: {message}); register the integration's user agent \
         with 1WorldSync for this account or correct it in the tenant's ChannelOnline settings"
    )]
    UserAgentRejected { message: String },

    /// COL error 507: the request matched more than 500 documents.
    #[error("ChannelOnline returns at most 500 documents per request (error 507: {message}); narrow the time window")]
    TooManyDocuments { message: String },

    #[error(
        "ChannelOnline refused the credentials (error {code}: {message}); check the account shortcut, email and \
         password in the tenant's ChannelOnline secret"
    )]
    BadCredentials { code: u32, message: String },

    #[error("ChannelOnline has no document numbered {number:?}; check the number or whether it was deleted")]
    DocumentNotFound { number: String },

    #[error("ChannelOnline has no customer numbered {number:?}; check the Customer Number on the account")]
    CustomerNotFound { number: String },

    /// Any other `<error code>` answer.
    #[error("ChannelOnline rejected the request (error {code}: {message})")]
    Rejected { code: u32, message: String },

    /// Connection refused, reset or dropped, or a timeout: COL drops rapid requests.
    #[error("could not reach ChannelOnline ({message}); it will be retried, or try again in a minute")]
    Transport { message: String },

    /// A non-200 HTTP status (the protocol answers errors inside 200).
    #[error("ChannelOnline answered HTTP {status}")]
    HttpStatus { status: u16, retry_after: Option<Duration> },

    #[error("ChannelOnline sent a response that could not be read ({reason})")]
    MalformedResponse { reason: String },
}

impl Retryable for ChannelOnlineError {
    fn retry_class(&self) -> RetryClass {
        match self {
            ChannelOnlineError::Transport { .. } => RetryClass::Transient { retry_after: None },
            ChannelOnlineError::HttpStatus { status, retry_after } if *status == 429 || *status >= 500 => {
                RetryClass::Transient {
                    retry_after: *retry_after,
                }
            }
            _ => RetryClass::Permanent,
        }
    }
}

impl ChannelOnlineError {
    /// Whether a write that failed this way may still have been applied (the request may have
    /// reached ChannelOnline: a dropped connection, a timeout, a 5xx). Such a write is never sent
    /// again blindly; the caller looks for its result first.
    pub fn may_have_applied(&self) -> bool {
        matches!(self.retry_class(), RetryClass::Transient { .. })
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        ChannelOnlineError::MalformedResponse { reason: reason.into() }
    }
}
