//! An in-process work queue with SQS delivery semantics, for the local stack and tests:
//! a received message is invisible for the visibility timeout, then delivered again with a
//! higher receive count; once the receive count has reached `max_receive_count`, the next
//! receive moves it to the dead-letter queue instead (SQS redrive policy).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{OutgoingMessage, QueueError, ReceivedMessage, SendFailure, SendOutcome, WorkQueue, send_batches};
use crate::clock::Clock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    pub visibility_timeout: Duration,
    /// Deliveries before a message is dead-lettered (SQS `maxReceiveCount`).
    pub max_receive_count: u32,
}

impl Default for QueueConfig {
    /// The template's values: 6 × a 60 s worker timeout, 5 deliveries.
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::seconds(360),
            max_receive_count: 5,
        }
    }
}

#[derive(Clone, Debug)]
struct Stored {
    message_id: String,
    body: String,
    sent_at: DateTime<Utc>,
    receive_count: u32,
    visible_at: DateTime<Utc>,
    receipt: Option<String>,
}

impl Stored {
    fn snapshot(&self) -> ReceivedMessage {
        ReceivedMessage {
            message_id: self.message_id.clone(),
            receipt_handle: self.receipt.clone().unwrap_or_default(),
            body: self.body.clone(),
            receive_count: self.receive_count,
            sent_at: self.sent_at,
        }
    }
}

#[derive(Default)]
struct State {
    messages: VecDeque<Stored>,
    dead: Vec<Stored>,
    next_id: u64,
    send_calls: u64,
    /// Test fault: accept this many more entries, then refuse the rest.
    accept_budget: Option<usize>,
}

pub struct InProcessQueue {
    config: QueueConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl InProcessQueue {
    pub fn new(config: QueueConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    pub fn config(&self) -> QueueConfig {
        self.config
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("queue lock")
    }

    /// Messages waiting or in flight (not dead-lettered).
    pub fn len(&self) -> usize {
        self.state().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages in the dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> Vec<ReceivedMessage> {
        self.state().dead.iter().map(Stored::snapshot).collect()
    }

    /// When the next invisible message becomes visible again (`None`: nothing in flight).
    pub fn next_visible_at(&self) -> Option<DateTime<Utc>> {
        self.state().messages.iter().map(|m| m.visible_at).min()
    }

    /// `SendMessageBatch` calls made so far.
    pub fn send_calls(&self) -> u64 {
        self.state().send_calls
    }

    /// Test fault: accept `entries` more entries, then refuse every further one.
    pub fn refuse_after(&self, entries: usize) {
        self.state().accept_budget = Some(entries);
    }
}

#[async_trait]
impl WorkQueue for InProcessQueue {
    async fn send(&self, messages: Vec<OutgoingMessage>) -> Result<SendOutcome, QueueError> {
        let batches = send_batches(messages)?;
        let now = self.clock.now();
        let mut st = self.state();
        let mut outcome = SendOutcome::default();
        for batch in batches {
            st.send_calls += 1;
            for m in batch {
                if let Some(left) = st.accept_budget.as_mut() {
                    if *left == 0 {
                        outcome.failed.push(SendFailure {
                            id: m.id,
                            code: "ServiceUnavailable".into(),
                            message: "injected: the queue refused the entry".into(),
                            sender_fault: false,
                        });
                        continue;
                    }
                    *left -= 1;
                }
                st.next_id += 1;
                let message_id = format!("msg-{:06}", st.next_id);
                st.messages.push_back(Stored {
                    message_id,
                    body: m.body,
                    sent_at: now,
                    receive_count: 0,
                    visible_at: now,
                    receipt: None,
                });
                outcome.sent.push(m.id);
            }
        }
        Ok(outcome)
    }

    async fn receive(&self, max: usize) -> Result<Vec<ReceivedMessage>, QueueError> {
        let now = self.clock.now();
        let max = max.clamp(1, 10);
        let max_receive = self.config.max_receive_count;
        let visibility = self.config.visibility_timeout;
        let mut st = self.state();
        let (mut out, mut dead) = (Vec::new(), Vec::new());
        let mut keep = VecDeque::with_capacity(st.messages.len());
        let pending = std::mem::take(&mut st.messages);
        for mut m in pending {
            if out.len() < max && m.visible_at <= now {
                if m.receive_count >= max_receive {
                    dead.push(m);
                    continue;
                }
                m.receive_count += 1;
                m.visible_at = now + visibility;
                st.next_id += 1;
                m.receipt = Some(format!("rh-{}-{}", m.message_id, st.next_id));
                out.push(m.snapshot());
            }
            keep.push_back(m);
        }
        st.messages = keep;
        for mut m in dead {
            m.receipt = None;
            tracing::warn!(message_id = %m.message_id, receives = m.receive_count, "moved to the dead-letter queue");
            st.dead.push(m);
        }
        Ok(out)
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut st = self.state();
        let pos = st
            .messages
            .iter()
            .position(|m| m.receipt.as_deref() == Some(receipt_handle))
            .ok_or(QueueError::UnknownReceipt)?;
        st.messages.remove(pos);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn setup(max_receive_count: u32) -> (Arc<ManualClock>, InProcessQueue) {
        let clock = Arc::new(ManualClock::at(
            DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc(),
        ));
        let q = InProcessQueue::new(
            QueueConfig {
                visibility_timeout: Duration::seconds(30),
                max_receive_count,
            },
            clock.clone(),
        );
        (clock, q)
    }

    fn msgs(n: usize) -> Vec<OutgoingMessage> {
        (0..n)
            .map(|i| OutgoingMessage {
                id: format!("e{i}"),
                body: format!("body-{i}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn sends_in_sqs_sized_batches_and_delivers_in_order() {
        let (_, q) = setup(3);
        let out = q.send(msgs(23)).await.unwrap();
        assert_eq!(out.sent.len(), 23);
        assert_eq!(q.send_calls(), 3);
        let got = q.receive(10).await.unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].body, "body-0");
        assert_eq!(got[0].receive_count, 1);
    }

    #[tokio::test]
    async fn a_received_message_is_hidden_until_the_visibility_timeout() {
        // GIVEN one message received and not deleted
        let (clock, q) = setup(3);
        q.send(msgs(1)).await.unwrap();
        let first = q.receive(10).await.unwrap();
        // THEN it is not delivered again before the timeout, and is after it, with a new receipt
        assert!(q.receive(10).await.unwrap().is_empty());
        clock.advance(Duration::seconds(30));
        let again = q.receive(10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].receive_count, 2);
        assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
        // AND the stale receipt no longer deletes it, the fresh one does
        assert!(matches!(
            q.delete(&first[0].receipt_handle).await,
            Err(QueueError::UnknownReceipt)
        ));
        q.delete(&again[0].receipt_handle).await.unwrap();
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_poison_message_is_dead_lettered_after_max_receive_count() {
        // GIVEN a message that is never deleted, with maxReceiveCount 3
        let (clock, q) = setup(3);
        q.send(msgs(1)).await.unwrap();
        // WHEN it is received 3 times
        for n in 1..=3 {
            let got = q.receive(10).await.unwrap();
            assert_eq!(got[0].receive_count, n);
            clock.advance(Duration::seconds(31));
        }
        // THEN the next receive moves it to the dead-letter queue instead of delivering it
        assert!(q.receive(10).await.unwrap().is_empty());
        let dead = q.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].body.as_str(), dead[0].receive_count), ("body-0", 3));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn refused_entries_are_reported_not_lost() {
        let (_, q) = setup(3);
        q.refuse_after(4);
        let out = q.send(msgs(6)).await.unwrap();
        assert_eq!(out.sent, vec!["e0", "e1", "e2", "e3"]);
        assert_eq!(
            out.failed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            vec!["e4", "e5"]
        );
        assert_eq!(q.len(), 4);
    }
}
