//! The SQS adapter of the work queue. The planner sends with it; on AWS the worker is fed by
//! Lambda's event source mapping, so `receive`/`delete` serve the local stack and tests
//! against an SQS emulator.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use chrono::{DateTime, Utc};

use crate::aws::AwsSdk;
use crate::config::{ConfigError, Endpoints};

use super::{OutgoingMessage, QueueError, ReceivedMessage, SendFailure, SendOutcome, WorkQueue, send_batches};

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// The queue at `queue_url` (a [`crate::config::Queues`] entry, named by `url_var` in the
    /// error when unset), through the shared SDK configuration and the `SQS_ENDPOINT` override.
    pub async fn configured(
        sdk: &AwsSdk,
        endpoints: &Endpoints,
        url_var: &'static str,
        queue_url: Option<&str>,
    ) -> Result<Self, QueueError> {
        let url = queue_url.ok_or_else(|| QueueError::Config(ConfigError::Missing(url_var).to_string()))?;
        let mut config = aws_sdk_sqs::config::Builder::from(sdk.config().await);
        if let Some(endpoint) = &endpoints.sqs {
            config = config.endpoint_url(endpoint);
        }
        Ok(Self::new(Client::from_conf(config.build()), url))
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

fn unavailable<E: std::error::Error>(e: E) -> QueueError {
    QueueError::Unavailable(DisplayErrorContext(e).to_string())
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn send(&self, messages: Vec<OutgoingMessage>) -> Result<SendOutcome, QueueError> {
        let mut outcome = SendOutcome::default();
        for batch in send_batches(messages)? {
            let entries = batch
                .into_iter()
                .map(|m| {
                    SendMessageBatchRequestEntry::builder()
                        .id(m.id)
                        .message_body(m.body)
                        .build()
                        .map_err(|e| QueueError::Config(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(unavailable)?;
            outcome.sent.extend(out.successful().iter().map(|s| s.id().to_owned()));
            outcome.failed.extend(out.failed().iter().map(|f| SendFailure {
                id: f.id().to_owned(),
                code: f.code().to_owned(),
                message: f.message().unwrap_or_default().to_owned(),
                sender_fault: f.sender_fault(),
            }));
        }
        Ok(outcome)
    }

    async fn receive(&self, max: usize) -> Result<Vec<ReceivedMessage>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .messages()
            .iter()
            .map(|m| {
                let attr = |name: MessageSystemAttributeName| m.attributes().and_then(|a| a.get(&name)).cloned();
                let sent_ms = attr(MessageSystemAttributeName::SentTimestamp).and_then(|v| v.parse::<i64>().ok());
                ReceivedMessage {
                    message_id: m.message_id().unwrap_or_default().to_owned(),
                    receipt_handle: m.receipt_handle().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1),
                    sent_at: sent_ms
                        .and_then(DateTime::<Utc>::from_timestamp_millis)
                        .unwrap_or_else(Utc::now),
                }
            })
            .collect())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
