//! Idempotent execution of a mutating call (Powertools design, anchors §2a): one claim per key;
//! a duplicate in flight gets a retryable 409, a completed duplicate the stored answer; a failed
//! run releases its key, which is safe because every create reconciles by natural key first.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::TenantContext;
use crate::idempotency::ClaimOutcome;
use crate::sync::error::{SyncError, SyncResult};

/// The answer of an idempotent call: fresh, or the stored answer of an earlier identical call.
#[derive(Clone, Debug, PartialEq)]
pub struct Guarded {
    pub body: Value,
    pub replayed: bool,
}

/// Runs `op` at most once per `caller_key`, storing its answer for `replay_window` (long enough
/// for double clicks and client retries, short enough that a deliberate repeat later runs again).
pub async fn idempotent<T, P, F, Fut>(
    ctx: &TenantContext,
    function: &str,
    caller_key: &str,
    payload: &P,
    deadline: DateTime<Utc>,
    replay_window: Duration,
    op: F,
) -> SyncResult<Guarded>
where
    T: Serialize,
    P: Serialize + ?Sized,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = SyncResult<T>>,
{
    let idem = ctx.idempotency(function).with_expiry(replay_window);
    let claim = idem.claim(&ctx.tenant, caller_key, payload, deadline).await?;
    match claim.outcome {
        ClaimOutcome::Claimed => {}
        ClaimOutcome::Replay(body) => return Ok(Guarded { body, replayed: true }),
        ClaimOutcome::InProgress { until } => {
            return Err(SyncError::Conflict {
                code: "in_progress",
                message: "The same request is being processed right now.".into(),
                fix: "Wait a few seconds; repeating the request then returns its result.".into(),
                details: json!({ "until": until }),
                retryable: true,
            });
        }
        ClaimOutcome::PayloadMismatch => {
            return Err(SyncError::Unprocessable {
                code: "idempotency_key_reused",
                message: "This idempotency key was already used for a different request.".into(),
                fix: "Send a new idempotency key with a changed request.".into(),
            });
        }
    }
    match op().await {
        Ok(answer) => {
            let body = serde_json::to_value(&answer).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            if let Err(e) = idem.complete(&claim.key, &body).await {
                tracing::warn!(error = %e, "idempotency record not completed; a retry re-runs and reconciles");
            }
            Ok(Guarded { body, replayed: false })
        }
        Err(e) => {
            if let Err(re) = idem.release(&claim.key).await {
                tracing::warn!(error = %re, "idempotency record not released; it expires at the deadline");
            }
            Err(e)
        }
    }
}
