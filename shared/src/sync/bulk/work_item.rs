//! One unit of work for the sync worker: an entity of a stream, as observed by the planner.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::run_record::RunId;
use super::stream::Stream;
use crate::tenant::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub tenant: TenantId,
    /// The run that planned the item; the worker reports its outcome there.
    pub run_id: RunId,
    pub stream: Stream,
    /// Autotask id (decimal) or ChannelOnline customer / document number.
    pub entity_id: String,
    /// The modification time the planner saw; part of the idempotency key.
    pub modified_at: DateTime<Utc>,
    /// Producer-set idempotency key (see [`WorkItem::idempotency_key`]).
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkItemError {
    #[error("the message body is not a sync work item: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("the work item key {found:?} does not match its content (expected {expected:?})")]
    KeyMismatch { expected: String, found: String },
}

impl WorkItem {
    pub fn new(
        tenant: TenantId,
        run_id: RunId,
        stream: Stream,
        entity_id: impl Into<String>,
        modified_at: DateTime<Utc>,
    ) -> Self {
        let entity_id = entity_id.into();
        let key = Self::idempotency_key(stream, &entity_id, modified_at);
        Self {
            tenant,
            run_id,
            stream,
            entity_id,
            modified_at,
            key,
        }
    }

    /// `bulk#<stream>#<entity id>#<modified, epoch ms>`: the same change planned twice (a
    /// re-enqueue, an overlapping window, a second run) gets the same key, so the worker runs
    /// it once; a later change of the same entity gets a new key. Unambiguous because the
    /// stream has no `#` and the last segment is a number.
    pub fn idempotency_key(stream: Stream, entity_id: &str, modified_at: DateTime<Utc>) -> String {
        format!("bulk#{stream}#{entity_id}#{}", modified_at.timestamp_millis())
    }

    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a work item always serialises")
    }

    /// Parses a queue message body and checks that its key was derived from its content, so
    /// an edited message cannot replay another item's stored outcome.
    pub fn from_body(body: &str) -> Result<Self, WorkItemError> {
        let item: WorkItem = serde_json::from_str(body)?;
        let expected = Self::idempotency_key(item.stream, &item.entity_id, item.modified_at);
        if item.key != expected {
            return Err(WorkItemError::KeyMismatch {
                expected,
                found: item.key,
            });
        }
        Ok(item)
    }

    /// The Autotask id of an Autotask-stream item.
    pub fn autotask_id(&self) -> Option<i64> {
        self.stream.is_autotask().then(|| self.entity_id.parse().ok()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn item(stream: Stream, id: &str, modified: &str) -> WorkItem {
        WorkItem::new(
            TenantId::parse("acme").unwrap(),
            RunId::from_raw("run-1"),
            stream,
            id,
            at(modified),
        )
    }

    #[test]
    fn key_is_stable_for_the_same_change_and_new_for_a_later_one() {
        let a = item(Stream::AtCompanies, "42", "2026-11-27T10:00:00Z");
        let again = item(Stream::AtCompanies, "42", "2026-11-27T10:00:00Z");
        let later = item(Stream::AtCompanies, "42", "2026-11-27T10:00:01Z");
        let other_stream = item(Stream::AtContacts, "42", "2026-11-27T10:00:00Z");
        assert_eq!(a.key, again.key);
        assert_ne!(a.key, later.key);
        assert_ne!(a.key, other_stream.key);
        assert_eq!(a.key, "bulk#at_companies#42#1795773600000");
    }

    #[test]
    fn body_round_trips_and_rejects_a_forged_key() {
        let a = item(Stream::ColDocuments, "Q-1001", "2026-11-27T10:00:00Z");
        assert_eq!(WorkItem::from_body(&a.to_body()).unwrap(), a);

        let mut forged = a.clone();
        forged.entity_id = "Q-9999".into();
        assert!(matches!(
            WorkItem::from_body(&forged.to_body()),
            Err(WorkItemError::KeyMismatch { .. })
        ));
        assert!(matches!(WorkItem::from_body("{}"), Err(WorkItemError::Malformed(_))));
    }

    #[test]
    fn autotask_id_only_for_autotask_streams() {
        assert_eq!(
            item(Stream::AtContacts, "7", "2026-11-27T10:00:00Z").autotask_id(),
            Some(7)
        );
        assert_eq!(
            item(Stream::ColCustomers, "7", "2026-11-27T10:00:00Z").autotask_id(),
            None
        );
    }
}
