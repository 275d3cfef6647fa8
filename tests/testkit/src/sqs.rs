//! SQS for the bulk-sync engine tests: moto's SQS with the template's queue pair (work queue
//! with a `RedrivePolicy` to a dead-letter queue), and a poller that plays Lambda's SQS event
//! source mapping for the real `sync-worker` binary.
//!
//! The poller receives up to 10 messages with the queue's visibility timeout, hands the worker
//! the `SqsEvent` Lambda would build, deletes what the answer does not list in
//! `batchItemFailures`, and leaves the rest to come back after the visibility timeout. A crashed
//! or timed-out invocation deletes nothing. moto applies the redrive policy on receive, as SQS
//! does: a message received `maxReceiveCount` times moves to the DLQ on the next receive.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::queue::sqs::SqsQueue;
use shared::sync::bulk::drain_visible;

use crate::lambda_runtime_api::{Outcome, invoke_binary};
use crate::moto::{MotoError, MotoServer};

/// moto's SQS; stopped when dropped.
pub struct MotoSqs {
    server: MotoServer,
    client: Client,
}

/// The work queue and its dead-letter queue, as the template declares them.
#[derive(Clone, Debug)]
pub struct QueuePair {
    pub queue_url: String,
    pub dlq_url: String,
    pub visibility_timeout_secs: u32,
    pub max_receive_count: u32,
}

impl MotoSqs {
    pub async fn start() -> Result<Self, MotoError> {
        let server = MotoServer::start().await?;
        let client = client(server.endpoint());
        Ok(Self { server, client })
    }

    /// The value of `SQS_ENDPOINT` for the functions.
    pub fn endpoint(&self) -> &str {
        self.server.endpoint()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates `<name>` and `<name>-dlq` with the template's redrive policy shape.
    pub async fn create_queue_pair(
        &self,
        name: &str,
        visibility_timeout_secs: u32,
        max_receive_count: u32,
    ) -> QueuePair {
        let dlq_url = self.create(&format!("{name}-dlq"), &[]).await;
        let dlq_arn = self
            .client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("DLQ attributes")
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .expect("DLQ ARN");
        let redrive = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count });
        let queue_url = self
            .create(
                name,
                &[
                    (
                        QueueAttributeName::VisibilityTimeout,
                        visibility_timeout_secs.to_string(),
                    ),
                    (QueueAttributeName::RedrivePolicy, redrive.to_string()),
                ],
            )
            .await;
        QueuePair {
            queue_url,
            dlq_url,
            visibility_timeout_secs,
            max_receive_count,
        }
    }

    async fn create(&self, name: &str, attributes: &[(QueueAttributeName, String)]) -> String {
        let mut req = self.client.create_queue().queue_name(name);
        for (k, v) in attributes {
            req = req.attributes(k.clone(), v.clone());
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("create queue {name}: {e:?}"))
            .queue_url()
            .expect("queue url")
            .to_owned()
    }

    /// The adapter the planner uses, on `url`.
    pub fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(self.client.clone(), url)
    }

    /// Messages on `url`, visible or in flight.
    pub async fn depth(&self, url: &str) -> u64 {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes().cloned().unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|k| attrs.get(k).and_then(|v| v.parse::<u64>().ok()))
        .sum()
    }

    /// The bodies of the messages now on `url` (received with a long visibility, so each once).
    pub async fn peek_bodies(&self, url: &str) -> Vec<String> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(3600)
            .send()
            .await
            .expect("receive");
        out.messages()
            .iter()
            .filter_map(|m| m.body().map(str::to_owned))
            .collect()
    }
}

fn client(endpoint: &str) -> Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    Client::from_conf(conf)
}

/// One worker invocation as the poller saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// `(message id, ApproximateReceiveCount)` of each message in the batch.
    pub messages: Vec<(String, u32)>,
    /// The ids the worker listed in `batchItemFailures`; `None` when it crashed or timed out.
    pub failures: Option<Vec<String>>,
}

/// What a drain did, invocation by invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappingReport {
    pub deliveries: Vec<Delivery>,
    pub deleted: u32,
    /// Messages left for another delivery (reported failed or in a crashed batch).
    pub returned: u32,
}

impl MappingReport {
    /// How many times the message `id` was delivered.
    pub fn receives_of(&self, id: &str) -> usize {
        self.deliveries
            .iter()
            .filter(|d| d.messages.iter().any(|(m, _)| m == id))
            .count()
    }
}

/// Lambda's SQS event source mapping for one function binary.
pub struct EventSourceMapping {
    pub queue: SqsQueue,
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
    /// Invocation timeout (the function's `Timeout`).
    pub timeout: Duration,
}

impl EventSourceMapping {
    /// Polls until the queue holds nothing (visible or in flight), waiting out visibility
    /// timeouts in between; panics after `limit` (a message that never settles).
    pub async fn drain_until_empty(&self, sqs: &MotoSqs, limit: Duration) -> MappingReport {
        let started = Instant::now();
        let report = Arc::new(Mutex::new(MappingReport::default()));
        loop {
            let drained = drain_visible(&self.queue, |event| self.invoke(event, report.clone()))
                .await
                .expect("SQS reachable");
            {
                let mut r = report.lock().unwrap();
                r.deleted += drained.deleted;
                r.returned += drained.returned;
            }
            if sqs.depth(self.queue.queue_url()).await == 0 {
                break;
            }
            assert!(
                started.elapsed() < limit,
                "queue not empty after {limit:?}: {:?}",
                report.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Arc::try_unwrap(report).unwrap().into_inner().unwrap()
    }

    async fn invoke(&self, event: SqsEvent, report: Arc<Mutex<MappingReport>>) -> Result<SqsBatchResponse, String> {
        let messages = event
            .records
            .iter()
            .map(|m| {
                let count = m.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok());
                (m.message_id.clone().unwrap_or_default(), count.unwrap_or(0))
            })
            .collect();
        let body = serde_json::to_string(&event).expect("event serialises");
        let (binary, env, timeout) = (self.binary.clone(), self.env.clone(), self.timeout);
        let outcome = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            invoke_binary(&binary, &body, &env, timeout)
        })
        .await
        .expect("invocation thread");
        let response = match outcome {
            Outcome::Response(body) => {
                serde_json::from_str::<SqsBatchResponse>(&body).map_err(|e| format!("{e}: {body}"))
            }
            other => Err(format!("{other:?}")),
        };
        report.lock().unwrap().deliveries.push(Delivery {
            messages,
            failures: response.as_ref().ok().map(|r| {
                r.batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.clone())
                    .collect()
            }),
        });
        response
    }
}
