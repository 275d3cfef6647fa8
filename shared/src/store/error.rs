//! The one error type of the store layer (every port, every adapter).

use crate::domain::mapping::{Mapping, Side};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found one side of the pair already mapped; `existing` is the stored mapping of that
    /// side (read from the failed condition, no second read).
    #[error("the {side} id is already mapped (to {} <-> {})", existing.col_id, existing.at_id)]
    AlreadyMapped { side: Side, existing: Box<Mapping> },
    /// Someone else wrote first: re-read and re-apply. `actual` is None when the item is gone.
    #[error("version conflict: expected version {expected:?}, stored version is {actual:?}")]
    VersionConflict { expected: Option<u64>, actual: Option<u64> },
    /// Another owner holds the lease until `until`.
    #[error("lease held by {owner} until {until}")]
    LeaseHeld { owner: String, until: DateTime<Utc> },
    #[error("not found")]
    NotFound,
    /// A stored item could not be read back (missing or malformed attribute, bad JSON).
    #[error("stored item is malformed: {0}")]
    Corrupt(String),
    /// Transient backend trouble (throttling, timeouts, connection errors): safe to retry.
    #[error("store temporarily unavailable: {0}")]
    Unavailable(String),
    /// Any other backend failure (validation, missing table, permissions): retrying will not help.
    #[error("store failure: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether the same call may succeed later without any change by the caller (a lost
    /// optimistic-locking race is retryable after a re-read; a held lease after its expiry).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::VersionConflict { .. } | StoreError::LeaseHeld { .. }
        )
    }
}
