//! Idempotent execution of a mutating call (Powertools design, anchors §2a): one claim per key;
//! a duplicate in flight gets a retryable 409, a completed duplicate the stored answer; a failed
//! run releases its key, which is safe because every create reconciles by natural key first.

use serde::Serialize;
use serde_json::{Value, json};

use crate::app::TenantContext;
use crate::idempotency::{ClaimOutcome, LINK_REPLAY_WINDOW};
use crate::sync::error::{SyncError, SyncResult};

/// The answer of an idempotent call: fresh, or the stored answer of an earlier identical call.
#[derive(Clone, Debug, PartialEq)]
pub struct Guarded {
    pub body: Value,
    pub replayed: bool,
}

/// Runs `op` at most once per `caller_key`, storing its answer for `LINK_REPLAY_WINDOW` (a
/// signed link's lifetime: long enough for double clicks, reloads and client retries, short
/// enough that a deliberate repeat later runs again). The claim lasts until the invocation's
/// deadline plus a margin, so a crashed run blocks the next click no longer than that.
pub async fn idempotent<T, P, F, Fut>(
    ctx: &TenantContext,
    function: &str,
    caller_key: &str,
    payload: &P,
    op: F,
) -> SyncResult<Guarded>
where
    T: Serialize,
    P: Serialize + ?Sized,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = SyncResult<T>>,
{
    let idem = ctx.idempotency(function).with_expiry(LINK_REPLAY_WINDOW);
    let claim = idem.claim(&ctx.tenant, caller_key, payload, ctx.claim_until()).await?;
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
