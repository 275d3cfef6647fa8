//! Drives a worker from a queue the way Lambda's SQS event source does: receive up to 10,
//! invoke, delete what did not fail. A crashed invocation deletes nothing, so its whole batch
//! comes back after the visibility timeout. Used by the local stack and tests.

use std::future::Future;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use super::worker::sqs_event;
use crate::queue::{QueueError, WorkQueue};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub invocations: u32,
    pub deleted: u32,
    /// Messages reported failed (they return after the visibility timeout).
    pub returned: u32,
    pub crashed_invocations: u32,
}

/// Delivers every currently visible message once. `invoke` returns the batch response, or
/// `Err` when the invocation crashed or timed out.
pub async fn drain_visible<F, Fut>(queue: &dyn WorkQueue, mut invoke: F) -> Result<DrainReport, QueueError>
where
    F: FnMut(SqsEvent) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, String>>,
{
    let mut report = DrainReport::default();
    loop {
        let batch = queue.receive(10).await?;
        if batch.is_empty() {
            return Ok(report);
        }
        report.invocations += 1;
        match invoke(sqs_event(&batch)).await {
            Err(why) => {
                tracing::warn!(%why, messages = batch.len(), "worker invocation crashed; the batch returns later");
                report.crashed_invocations += 1;
                report.returned += batch.len() as u32;
            }
            Ok(response) => {
                let failed: Vec<&str> = response
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.as_str())
                    .collect();
                for m in &batch {
                    if failed.contains(&m.message_id.as_str()) {
                        report.returned += 1;
                    } else {
                        queue.delete(&m.receipt_handle).await?;
                        report.deleted += 1;
                    }
                }
            }
        }
    }
}
