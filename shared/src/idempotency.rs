//! Idempotent handlers, after the Powertools design (anchors §2a).
//!
//! One conditional write claims a key as IN_PROGRESS until the Lambda deadline. A duplicate
//! that arrives meanwhile gets `InProgress` (answer 409 + Retry-After: it is a lock, not a
//! queue); after completion it gets the stored response (`Replay`); the same key with a
//! different payload is rejected (`PayloadMismatch`). An IN_PROGRESS record past its deadline
//! (a crashed or timed-out run) is taken over. After a failure that had no external side effect
//! the record is released so a retry runs again. Expiry is decided from the stored timestamps,
//! never from DynamoDB TTL, which deletes lazily.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::store::{StoreError, StoreResult};
use crate::tenant::TenantId;

/// The answer to a claim.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimOutcome {
    /// The caller owns the key: run, then `complete` (or `release` on failure).
    Claimed,
    /// Already done with the same payload: return this stored response, do not run again.
    Replay(Value),
    /// Another invocation holds the key until `until`: retryable (HTTP 409 + Retry-After).
    InProgress { until: DateTime<Utc> },
    /// The key was used with a different payload: reject (HTTP 422), never replay.
    PayloadMismatch,
}

impl ClaimOutcome {
    /// Only `InProgress` may succeed when the same request is sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClaimOutcome::InProgress { .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdempotencyStatus {
    InProgress,
    Complete,
    /// A used single-use key (`consume_once`) whose use has not stored an answer: never
    /// released or taken over before it expires.
    Consumed,
}

/// A stored idempotency record, as `IdempotencyStore::get` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotencyRecord {
    pub key: String,
    pub status: IdempotencyStatus,
    pub payload_hash: String,
    /// When the whole record expires (TTL attribute).
    pub expires_at: DateTime<Utc>,
    /// Until when an IN_PROGRESS claim is honoured (the claiming Lambda's deadline).
    pub in_progress_until: DateTime<Utc>,
    pub response: Option<Value>,
}

impl IdempotencyRecord {
    /// Whether the record still counts at `now` (expired ones are treated as absent).
    /// Mirrors the claim condition exactly: `expiration` in epoch seconds, `in_progress_expiry`
    /// in epoch milliseconds, as stored.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        let expired = self.expires_at.timestamp() < now.timestamp();
        let stale_claim = self.status == IdempotencyStatus::InProgress
            && self.in_progress_until.timestamp_millis() < now.timestamp_millis();
        !expired && !stale_claim
    }

    /// What a claim meeting this live record answers.
    pub fn outcome_for(&self, payload_hash: &str) -> ClaimOutcome {
        if self.payload_hash != payload_hash {
            return ClaimOutcome::PayloadMismatch;
        }
        match (self.status, &self.response) {
            (IdempotencyStatus::Complete, Some(response)) => ClaimOutcome::Replay(response.clone()),
            _ => ClaimOutcome::InProgress {
                until: self.in_progress_until,
            },
        }
    }
}

/// The idempotency table (separate from the mapping table, TTL on `expiration`).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// One conditional write: succeeds if the key is absent, expired at `now`, or IN_PROGRESS
    /// past its `in_progress_until`. The claim expires (TTL) at `in_progress_until`.
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
    ) -> StoreResult<ClaimOutcome>;

    /// Stores the response for replay until `expires_at`. `NotFound` if the claim is gone.
    async fn complete(&self, key: &str, response: &Value, expires_at: DateTime<Utc>) -> StoreResult<()>;

    /// Deletes an IN_PROGRESS record so a retry re-executes; a completed record is kept and a
    /// missing one is fine.
    async fn release(&self, key: &str) -> StoreResult<()>;

    /// The record if it is live at `now`.
    async fn get(&self, key: &str, now: DateTime<Utc>) -> StoreResult<Option<IdempotencyRecord>>;

    /// Marks `key` used until `until` in one conditional write (TTL at `until`): `true` the
    /// first time, `false` while an earlier use is not yet expired at `now`. Unlike a claim it
    /// is never taken over before `until`, and `release` leaves it. The record reads back
    /// (`get`) as `Consumed` until `complete` stores the answer of the use for replay.
    async fn consume_once(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool>;
}

/// Default time a completed response is kept for replay (covers double clicks and client retries).
pub const DEFAULT_EXPIRY: Duration = Duration::hours(1);

/// How long a button's completed answer is replayed: at least a signed link's lifetime (it is
/// accepted 5 minutes either side of its timestamp), so no reload or repeated click of a link
/// that is still valid runs the write again.
pub const LINK_REPLAY_WINDOW: Duration = Duration::minutes(10);

/// Handler-side helper: builds keys, hashes payloads and takes times from a `Clock`.
#[derive(Clone)]
pub struct Idempotency {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    function: String,
    expiry: Duration,
}

/// A claim attempt: the full stored key (needed for `complete`/`release`) and the outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub key: String,
    pub outcome: ClaimOutcome,
}

impl Idempotency {
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>, function: impl Into<String>) -> Self {
        Self {
            store,
            clock,
            function: function.into(),
            expiry: DEFAULT_EXPIRY,
        }
    }

    /// How long a completed response is replayed (use at least the scheduler's max event age
    /// for scheduled work).
    pub fn with_expiry(mut self, expiry: Duration) -> Self {
        self.expiry = expiry;
        self
    }

    /// `<function>#<tenant>#<caller key>`: the caller key comes from business identity, not
    /// transport (e.g. `sha256(company id | lastActivityDate)`).
    pub fn key(&self, tenant: &TenantId, caller_key: &str) -> String {
        format!("{}#{}#{}", self.function, tenant, caller_key)
    }

    /// Claims the key until `deadline` (the Lambda deadline), validating `payload`.
    pub async fn claim<P: Serialize + ?Sized>(
        &self,
        tenant: &TenantId,
        caller_key: &str,
        payload: &P,
        deadline: DateTime<Utc>,
    ) -> StoreResult<Claim> {
        let key = self.key(tenant, caller_key);
        let hash = payload_hash(payload)?;
        let outcome = self.store.claim(&key, &hash, self.clock.now(), deadline).await?;
        Ok(Claim { key, outcome })
    }

    pub async fn complete<R: Serialize + ?Sized>(&self, key: &str, response: &R) -> StoreResult<()> {
        let response = serde_json::to_value(response).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store
            .complete(key, &response, self.clock.now() + self.expiry)
            .await
    }

    pub async fn release(&self, key: &str) -> StoreResult<()> {
        self.store.release(key).await
    }
}

/// Hex sha256 of the canonical JSON of `payload` (object keys sorted at every level, no
/// whitespace), so field order and formatting do not change the hash.
pub fn payload_hash<P: Serialize + ?Sized>(payload: &P) -> StoreResult<String> {
    let value = serde_json::to_value(payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    Ok(hex::encode(Sha256::digest(canonical.as_bytes())))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_hash_ignores_key_order_but_not_values() {
        let a = payload_hash(&json!({"a": 1, "b": {"x": [1, 2], "y": "z"}})).unwrap();
        let b = payload_hash(&json!({"b": {"y": "z", "x": [1, 2]}, "a": 1})).unwrap();
        let c = payload_hash(&json!({"a": 2, "b": {"x": [1, 2], "y": "z"}})).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn array_order_matters() {
        assert_ne!(
            payload_hash(&json!([1, 2])).unwrap(),
            payload_hash(&json!([2, 1])).unwrap()
        );
    }
}
