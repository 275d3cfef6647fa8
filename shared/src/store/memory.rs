//! In-memory implementation of every store port, with the same conditional behaviour as the
//! DynamoDB adapter (all-or-nothing pairs, version checks, lease and idempotency conditions).
//! Each operation runs under one lock, so it is atomic like a single DynamoDB request.
//! For domain tests and the conformance suite; not for production (nothing is persisted).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::error::StoreError;
use super::keys;
use super::ports::*;
use crate::domain::mapping::{Mapping, MappingKind, Side};
use crate::domain::settings::bulk_sync_enabled;
use crate::idempotency::{ClaimOutcome, IdempotencyRecord, IdempotencyStatus, IdempotencyStore};
use crate::tenant::TenantId;

#[derive(Default)]
struct State {
    /// (tenant, kind, col id) -> mapping; the COL side is the source of truth.
    mappings: BTreeMap<(TenantId, MappingKind, String), Mapping>,
    /// (tenant, kind, at id) -> col id: the AT side.
    by_at: HashMap<(TenantId, MappingKind, i64), String>,
    settings: HashMap<TenantId, VersionedDoc>,
    /// (tenant, sort key) -> record; the sort key orders by time like the table's.
    audit: BTreeMap<(TenantId, String), AuditRecord>,
    leases: HashMap<(TenantId, String), Lease>,
    /// (tenant, bucket, slot) -> lease of its holder.
    slots: HashMap<(TenantId, String, u32), Lease>,
    checkpoints: HashMap<(TenantId, String), VersionedDoc>,
    runs: BTreeMap<(TenantId, String), StoredRunRecord>,
    idempotency: HashMap<String, IdempotencyRecord>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write (each operation
        // checks before it mutates), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn put_versioned(
    slot: Option<&VersionedDoc>,
    doc: &Value,
    expected: Option<u64>,
    now: DateTime<Utc>,
) -> Result<VersionedDoc, StoreError> {
    let actual = slot.map(|d| d.version);
    if actual != expected {
        return Err(StoreError::VersionConflict { expected, actual });
    }
    Ok(VersionedDoc {
        version: expected.unwrap_or(0) + 1,
        doc: doc.clone(),
        updated_at: now,
    })
}

/// Mirrors `Query` + `Limit`: a next cursor whenever the page is full.
fn page<T, K: Clone>(items: Vec<(K, T)>, limit: usize, cursor_of: impl Fn(&K) -> String) -> Page<T> {
    let full = items.len() == limit;
    let next = if full {
        items.last().map(|(k, _)| cursor_of(k))
    } else {
        None
    };
    Page {
        items: items.into_iter().map(|(_, v)| v).collect(),
        next,
    }
}

#[async_trait]
impl MappingStore for MemoryStore {
    async fn get_by_col(&self, tenant: &TenantId, kind: MappingKind, col_id: &str) -> StoreResult<Option<Mapping>> {
        Ok(self
            .state()
            .mappings
            .get(&(tenant.clone(), kind, col_id.to_owned()))
            .cloned())
    }

    async fn get_by_at(&self, tenant: &TenantId, kind: MappingKind, at_id: i64) -> StoreResult<Option<Mapping>> {
        let state = self.state();
        let Some(col_id) = state.by_at.get(&(tenant.clone(), kind, at_id)) else {
            return Ok(None);
        };
        Ok(state.mappings.get(&(tenant.clone(), kind, col_id.clone())).cloned())
    }

    async fn batch_get_by_col(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        col_ids: &[String],
    ) -> StoreResult<Vec<Mapping>> {
        let state = self.state();
        let mut seen = std::collections::HashSet::new();
        Ok(col_ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| state.mappings.get(&(tenant.clone(), kind, id.clone())).cloned())
            .collect())
    }

    async fn create_pair(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<Mapping> {
        let mut state = self.state();
        let col_key = (tenant.clone(), mapping.kind, mapping.col_id.clone());
        if let Some(existing) = state.mappings.get(&col_key) {
            return Err(StoreError::AlreadyMapped {
                side: Side::Col,
                existing: Box::new(existing.clone()),
            });
        }
        let at_key = (tenant.clone(), mapping.kind, mapping.at_id);
        if let Some(col_id) = state.by_at.get(&at_key) {
            let existing = state.mappings[&(tenant.clone(), mapping.kind, col_id.clone())].clone();
            return Err(StoreError::AlreadyMapped {
                side: Side::At,
                existing: Box::new(existing),
            });
        }
        let stored = Mapping {
            version: 1,
            ..mapping.clone()
        };
        state.mappings.insert(col_key, stored.clone());
        state.by_at.insert(at_key, mapping.col_id.clone());
        Ok(stored)
    }

    async fn update(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<Mapping> {
        let mut state = self.state();
        let col_key = (tenant.clone(), mapping.kind, mapping.col_id.clone());
        let Some(current) = state.mappings.get_mut(&col_key) else {
            return Err(StoreError::NotFound);
        };
        if current.at_id != mapping.at_id {
            return Err(StoreError::NotFound);
        }
        if current.version != mapping.version {
            return Err(StoreError::VersionConflict {
                expected: Some(mapping.version),
                actual: Some(current.version),
            });
        }
        current.version += 1;
        current.source_hash = mapping.source_hash.clone();
        current.data = mapping.data.clone();
        current.updated_at = mapping.updated_at;
        Ok(current.clone())
    }

    async fn delete_pair(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<()> {
        let mut state = self.state();
        let col_key = (tenant.clone(), mapping.kind, mapping.col_id.clone());
        let Some(current) = state.mappings.get(&col_key) else {
            return Err(StoreError::NotFound);
        };
        if current.at_id != mapping.at_id {
            return Err(StoreError::NotFound);
        }
        if current.version != mapping.version {
            return Err(StoreError::VersionConflict {
                expected: Some(mapping.version),
                actual: Some(current.version),
            });
        }
        state.mappings.remove(&col_key);
        state.by_at.remove(&(tenant.clone(), mapping.kind, mapping.at_id));
        Ok(())
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        cursor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<Mapping>> {
        let limit = limit.max(1) as usize;
        let state = self.state();
        let lower = match cursor {
            Some(c) => Bound::Excluded((tenant.clone(), kind, c.to_owned())),
            None => Bound::Included((tenant.clone(), kind, String::new())),
        };
        let items: Vec<_> = state
            .mappings
            .range((lower, Bound::Unbounded))
            .take_while(|((t, k, _), _)| t == tenant && *k == kind)
            .take(limit)
            .map(|((_, _, col), m)| (col.clone(), m.clone()))
            .collect();
        Ok(page(items, limit, |col| col.clone()))
    }
}

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn get_settings(&self, tenant: &TenantId) -> StoreResult<Option<VersionedDoc>> {
        Ok(self.state().settings.get(tenant).cloned())
    }

    async fn put_settings(
        &self,
        tenant: &TenantId,
        doc: &Value,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut state = self.state();
        let next = put_versioned(state.settings.get(tenant), doc, expected, now)?;
        let version = next.version;
        state.settings.insert(tenant.clone(), next);
        Ok(version)
    }

    async fn bulk_sync_tenants(&self) -> StoreResult<Vec<TenantId>> {
        let state = self.state();
        let mut tenants: Vec<TenantId> = state
            .settings
            .iter()
            .filter(|(_, d)| bulk_sync_enabled(&d.doc))
            .map(|(t, _)| t.clone())
            .collect();
        tenants.sort();
        Ok(tenants)
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, record: &AuditRecord) -> StoreResult<()> {
        let key = (record.tenant.clone(), keys::audit_sk(record.at));
        self.state().audit.insert(key, record.clone());
        Ok(())
    }

    async fn list(&self, tenant: &TenantId, cursor: Option<&str>, limit: u32) -> StoreResult<Page<AuditRecord>> {
        let limit = limit.max(1) as usize;
        let state = self.state();
        let upper = match cursor {
            Some(c) => Bound::Excluded((tenant.clone(), c.to_owned())),
            None => Bound::Unbounded,
        };
        let items: Vec<_> = state
            .audit
            .range((Bound::Included((tenant.clone(), String::new())), upper))
            .rev()
            .take_while(|((t, _), _)| t == tenant)
            .take(limit)
            .map(|((_, sk), r)| (sk.clone(), r.clone()))
            .collect();
        Ok(page(items, limit, |sk| sk.clone()))
    }
}

#[async_trait]
impl SyncStateStore for MemoryStore {
    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Lease> {
        let mut state = self.state();
        let key = (tenant.clone(), name.to_owned());
        if let Some(held) = state.leases.get(&key) {
            let expired = held.until.timestamp_millis() < now.timestamp_millis();
            if !expired && held.owner != owner {
                return Err(StoreError::LeaseHeld {
                    owner: held.owner.clone(),
                    until: held.until,
                });
            }
        }
        let lease = Lease {
            name: name.to_owned(),
            owner: owner.to_owned(),
            until: from_millis(until.timestamp_millis()),
        };
        state.leases.insert(key, lease.clone());
        Ok(lease)
    }

    async fn release_lease(&self, tenant: &TenantId, name: &str, owner: &str) -> StoreResult<()> {
        let mut state = self.state();
        let key = (tenant.clone(), name.to_owned());
        match state.leases.get(&key) {
            None => Ok(()),
            Some(held) if held.owner == owner => {
                state.leases.remove(&key);
                Ok(())
            }
            Some(held) => Err(StoreError::LeaseHeld {
                owner: held.owner.clone(),
                until: held.until,
            }),
        }
    }

    async fn get_checkpoint(&self, tenant: &TenantId, stream: &str) -> StoreResult<Option<VersionedDoc>> {
        Ok(self
            .state()
            .checkpoints
            .get(&(tenant.clone(), stream.to_owned()))
            .cloned())
    }

    async fn put_checkpoint(
        &self,
        tenant: &TenantId,
        stream: &str,
        doc: &Value,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut state = self.state();
        let key = (tenant.clone(), stream.to_owned());
        let next = put_versioned(state.checkpoints.get(&key), doc, expected, now)?;
        let version = next.version;
        state.checkpoints.insert(key, next);
        Ok(version)
    }

    async fn put_run(&self, tenant: &TenantId, run: &StoredRunRecord) -> StoreResult<()> {
        self.state()
            .runs
            .insert((tenant.clone(), run.run_id.clone()), run.clone());
        Ok(())
    }

    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> StoreResult<Option<StoredRunRecord>> {
        Ok(self.state().runs.get(&(tenant.clone(), run_id.to_owned())).cloned())
    }

    async fn list_runs(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<StoredRunRecord>> {
        let limit = limit.max(1) as usize;
        let state = self.state();
        let upper = match cursor {
            Some(c) => Bound::Excluded((tenant.clone(), c.to_owned())),
            None => Bound::Unbounded,
        };
        let items: Vec<_> = state
            .runs
            .range((Bound::Included((tenant.clone(), String::new())), upper))
            .rev()
            .take_while(|((t, _), _)| t == tenant)
            .take(limit)
            .map(|((_, id), r)| (id.clone(), r.clone()))
            .collect();
        Ok(page(items, limit, |id| id.clone()))
    }
}

#[async_trait]
impl SlotStore for MemoryStore {
    async fn take_slot(
        &self,
        tenant: &TenantId,
        bucket: &str,
        slot: u32,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let key = (tenant.clone(), bucket.to_owned(), slot);
        if let Some(held) = state.slots.get(&key)
            && held.until.timestamp_millis() >= now.timestamp_millis()
        {
            return Ok(false);
        }
        let lease = Lease {
            name: bucket.to_owned(),
            owner: owner.to_owned(),
            until: from_millis(until.timestamp_millis()),
        };
        state.slots.insert(key, lease);
        Ok(true)
    }

    async fn release_slot(&self, tenant: &TenantId, bucket: &str, slot: u32, owner: &str) -> StoreResult<()> {
        let mut state = self.state();
        let key = (tenant.clone(), bucket.to_owned(), slot);
        if state.slots.get(&key).is_some_and(|held| held.owner == owner) {
            state.slots.remove(&key);
        }
        Ok(())
    }
}

/// Times as the table stores them (lease and claim deadlines in ms, TTL in s).
fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn from_secs(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
    ) -> StoreResult<ClaimOutcome> {
        let mut state = self.state();
        if let Some(existing) = state.idempotency.get(key).filter(|r| r.is_live(now)) {
            return Ok(existing.outcome_for(payload_hash));
        }
        state.idempotency.insert(
            key.to_owned(),
            IdempotencyRecord {
                key: key.to_owned(),
                status: IdempotencyStatus::InProgress,
                payload_hash: payload_hash.to_owned(),
                expires_at: from_secs(keys::epoch_secs_ceil(in_progress_until)),
                in_progress_until: from_millis(in_progress_until.timestamp_millis()),
                response: None,
            },
        );
        Ok(ClaimOutcome::Claimed)
    }

    async fn complete(&self, key: &str, response: &Value, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        let Some(record) = state.idempotency.get_mut(key) else {
            return Err(StoreError::NotFound);
        };
        record.status = IdempotencyStatus::Complete;
        record.response = Some(response.clone());
        record.expires_at = from_secs(keys::epoch_secs_ceil(expires_at));
        Ok(())
    }

    async fn release(&self, key: &str) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .idempotency
            .get(key)
            .is_some_and(|r| r.status == IdempotencyStatus::InProgress)
        {
            state.idempotency.remove(key);
        }
        Ok(())
    }

    async fn get(&self, key: &str, now: DateTime<Utc>) -> StoreResult<Option<IdempotencyRecord>> {
        Ok(self.state().idempotency.get(key).filter(|r| r.is_live(now)).cloned())
    }

    async fn consume_once(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        // The table's condition: absent, or its TTL (epoch seconds) before now.
        if state
            .idempotency
            .get(key)
            .is_some_and(|r| r.expires_at.timestamp() >= now.timestamp())
        {
            return Ok(false);
        }
        state.idempotency.insert(key.to_owned(), consumed_record(key, until));
        Ok(true)
    }
}

/// A used single-use key as the table holds it: consumed until `until`, no payload hash.
fn consumed_record(key: &str, until: DateTime<Utc>) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_owned(),
        status: IdempotencyStatus::Consumed,
        payload_hash: String::new(),
        expires_at: from_secs(keys::epoch_secs_ceil(until)),
        in_progress_until: from_millis(until.timestamp_millis()),
        response: None,
    }
}
