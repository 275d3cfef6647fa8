//! The work queue port between the bulk-sync planner and worker. On AWS it is SQS (the
//! worker is fed by Lambda's event source mapping); locally and in tests it is an in-process
//! queue with the same delivery semantics: visibility timeout, receive count, dead-letter queue.

mod batching;
pub mod in_process;
#[cfg(feature = "sqs")]
pub mod sqs;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use batching::{MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, send_batches};
pub use in_process::{InProcessQueue, QueueConfig};

/// A message to send. `id` is the batch entry id (`[A-Za-z0-9_-]`, ≤ 80), unique per call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub id: String,
    pub body: String,
}

/// A delivered message. Delete it with `receipt_handle` once processed; otherwise it becomes
/// visible again after the visibility timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// 1 on first delivery (SQS `ApproximateReceiveCount`).
    pub receive_count: u32,
    pub sent_at: DateTime<Utc>,
}

/// A batch entry the queue refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendFailure {
    pub id: String,
    pub code: String,
    pub message: String,
    /// True when resending the same entry cannot succeed.
    pub sender_fault: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOutcome {
    /// Entry ids accepted, in the order sent.
    pub sent: Vec<String>,
    pub failed: Vec<SendFailure>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("message {id:?} is {bytes} bytes; the queue accepts at most {max}")]
    MessageTooLarge { id: String, bytes: usize, max: usize },
    #[error("the receipt handle is unknown or expired; the message will be delivered again")]
    UnknownReceipt,
    #[error("the work queue could not be reached ({0}); try again")]
    Unavailable(String),
    #[error("work queue configuration: {0}")]
    Config(String),
}

#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Sends `messages` in as few SQS-sized batches as possible (≤ 10 entries, ≤ 256 KiB each).
    /// Entries the queue refused are listed in the outcome; a transport failure is an error.
    async fn send(&self, messages: Vec<OutgoingMessage>) -> Result<SendOutcome, QueueError>;

    /// Up to `max` (≤ 10) visible messages; they stay invisible for the visibility timeout.
    async fn receive(&self, max: usize) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Removes a processed message.
    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError>;
}
