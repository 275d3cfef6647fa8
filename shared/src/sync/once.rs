//! The one idempotency helper of every button function (Powertools design, anchors §2a): one
//! claim per key; a duplicate in flight is told it is busy (retryable), a completed duplicate
//! gets the stored answer; a failed run releases its key, which is safe because every create
//! reconciles by natural key first.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::app::TenantContext;
use crate::idempotency::{ClaimOutcome, LINK_REPLAY_WINDOW};
use crate::store::StoreError;
use crate::sync::error::{SyncError, SyncResult};

/// Whether an answer is final. A final answer is stored and replayed to repeats; any other (a
/// document export with lines left to fix) releases the key, so the user's next click runs again.
pub trait Settled {
    fn is_final(&self) -> bool {
        true
    }
}

impl Settled for Value {}

/// The answer of an idempotent call: fresh, or the stored answer of an earlier identical call.
#[derive(Clone, Debug, PartialEq)]
pub struct Once<T> {
    pub answer: T,
    pub replayed: bool,
}

/// How a repeat is told that the first call is still running (a retryable 409).
pub struct Busy {
    pub code: &'static str,
    pub message: String,
    pub fix: String,
}

impl Busy {
    /// The same request is running now (a double click, a client retry).
    pub fn same_request() -> Self {
        Self {
            code: "in_progress",
            message: "The same request is being processed right now.".into(),
            fix: "Wait a few seconds; repeating the request then returns its result.".into(),
        }
    }

    /// The retryable 409 a repeat gets (`until`: when the running call's hold ends).
    pub fn into_error(self, until: Option<chrono::DateTime<chrono::Utc>>) -> SyncError {
        SyncError::Conflict {
            code: self.code,
            message: self.message,
            fix: self.fix,
            details: until.map_or(Value::Null, |until| json!({ "until": until })),
            retryable: true,
        }
    }
}

/// Runs `op` at most once per `caller_key` of `function`, storing its final answer for
/// `LINK_REPLAY_WINDOW` (a signed link's lifetime: long enough for double clicks, reloads and
/// client retries, short enough that a deliberate repeat later runs again). The claim lasts until
/// the invocation's deadline plus a margin, so a crashed run blocks the next click no longer.
pub async fn run_once<T, P, F, Fut>(
    ctx: &TenantContext,
    function: &str,
    caller_key: &str,
    payload: &P,
    busy: Busy,
    op: F,
) -> SyncResult<Once<T>>
where
    T: Serialize + DeserializeOwned + Settled,
    P: Serialize + ?Sized,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = SyncResult<T>>,
{
    let idem = ctx.idempotency(function).with_expiry(LINK_REPLAY_WINDOW);
    let claim = idem.claim(&ctx.tenant, caller_key, payload, ctx.claim_until()).await?;
    match claim.outcome {
        ClaimOutcome::Claimed => {}
        ClaimOutcome::Replay(body) => {
            let answer = serde_json::from_value(body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Ok(Once { answer, replayed: true });
        }
        ClaimOutcome::InProgress { until } => return Err(busy.into_error(Some(until))),
        ClaimOutcome::PayloadMismatch => {
            return Err(SyncError::Unprocessable {
                code: "idempotency_key_reused",
                message: "This idempotency key was already used for a different request.".into(),
                fix: "Send a new idempotency key with a changed request.".into(),
            });
        }
    }
    let result = op().await;
    match &result {
        Ok(answer) if answer.is_final() => {
            let body = serde_json::to_value(answer).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if let Err(e) = idem.complete(&claim.key, &body).await {
                tracing::warn!(error = %e, "idempotency record not completed; a retry re-runs and reconciles");
            }
        }
        _ => {
            if let Err(e) = idem.release(&claim.key).await {
                tracing::warn!(error = %e, "idempotency record not released; it expires at the deadline");
            }
        }
    }
    result.map(|answer| Once {
        answer,
        replayed: false,
    })
}

/// [`run_once`] for a function that answers the JSON of `op`'s result (the customer functions).
pub async fn idempotent<T, P, F, Fut>(
    ctx: &TenantContext,
    function: &str,
    caller_key: &str,
    payload: &P,
    op: F,
) -> SyncResult<Once<Value>>
where
    T: Serialize,
    P: Serialize + ?Sized,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = SyncResult<T>>,
{
    run_once(ctx, function, caller_key, payload, Busy::same_request(), || async {
        let answer = op().await?;
        Ok(serde_json::to_value(&answer).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    })
    .await
}

/// Runs `op` holding the lease `name` of the tenant until the invocation's claim ends (one run
/// of a record at a time, and a crashed run frees it by itself); a held lease is told by `busy`.
pub async fn with_lease<T, F, Fut>(ctx: &TenantContext, name: &str, busy: Busy, op: F) -> SyncResult<T>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = SyncResult<T>>,
{
    let owner = format!("{:016x}", fastrand::u64(..));
    match ctx
        .sync_state
        .acquire_lease(&ctx.tenant, name, &owner, ctx.clock.now(), ctx.claim_until())
        .await
    {
        Ok(_) => {}
        Err(StoreError::LeaseHeld { until, .. }) => return Err(busy.into_error(Some(until))),
        Err(e) => return Err(e.into()),
    }
    let result = op().await;
    if let Err(e) = ctx.sync_state.release_lease(&ctx.tenant, name, &owner).await {
        tracing::warn!(error = %e, "lease not released; it expires with the claim");
    }
    result
}
