//! Ports of the store layer: what the domain and the functions need from persistence.
//!
//! Every method is tenant-scoped (the tenant is part of every key), so one tenant can never read
//! or overwrite another's items. Times that decide conditions (`now`) are passed in by the caller
//! (from its `Clock`), so leases and expiry are testable without sleeping and behave the same in
//! every adapter.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::StoreError;
use crate::domain::mapping::{Mapping, MappingKind};
use crate::tenant::TenantId;

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a listing; pass `next` back as the cursor to continue (None = no more items).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// COL <-> AT id mappings, 1:1 in both directions.
#[async_trait]
pub trait MappingStore: Send + Sync {
    async fn get_by_col(&self, tenant: &TenantId, kind: MappingKind, col_id: &str) -> StoreResult<Option<Mapping>>;

    async fn get_by_at(&self, tenant: &TenantId, kind: MappingKind, at_id: i64) -> StoreResult<Option<Mapping>>;

    /// The mappings that exist among `col_ids`, each once, in no particular order (missing ids
    /// are simply absent). Any number of ids: adapters split into requests as needed.
    async fn batch_get_by_col(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        col_ids: &[String],
    ) -> StoreResult<Vec<Mapping>>;

    /// Writes both directions atomically, each only if absent. Stores and returns version 1
    /// (the incoming `version` is ignored). Fails with `AlreadyMapped` naming the side found
    /// (the COL side when both exist) and carrying the stored mapping of that side; a failed
    /// create writes nothing.
    async fn create_pair(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<Mapping>;

    /// Replaces `source_hash`, `data` and `updated_at` on both directions if the stored version
    /// equals `mapping.version`; returns the stored mapping with `version + 1`.
    /// A stale version gives `VersionConflict`, a missing pair `NotFound`.
    async fn update(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<Mapping>;

    /// Deletes both directions atomically if the stored version equals `mapping.version`.
    async fn delete_pair(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<()>;

    /// Mappings of one kind ordered by COL id, at most `limit` (min 1) per page. A full page
    /// always has a `next` cursor, so the last page may be empty.
    async fn list(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        cursor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<Mapping>>;
}

/// A JSON document with an optimistic-locking version (settings, checkpoints).
#[derive(Clone, Debug, PartialEq)]
pub struct VersionedDoc {
    pub version: u64,
    pub doc: Value,
    pub updated_at: DateTime<Utc>,
}

/// Tenant settings: one versioned JSON document per tenant (typed by the settings module).
#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_settings(&self, tenant: &TenantId) -> StoreResult<Option<VersionedDoc>>;

    /// Writes the document if the stored version equals `expected` (`None` = must not exist yet).
    /// Returns the new version (1 for the first write). Otherwise `VersionConflict`.
    async fn put_settings(
        &self,
        tenant: &TenantId,
        doc: &Value,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// The tenants whose stored settings turn the scheduled bulk sync on (`bulk_sync.enabled`),
    /// by id. Kept by `put_settings` in the same write, so it never lags the settings.
    async fn bulk_sync_tenants(&self) -> StoreResult<Vec<TenantId>>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Succeeded,
    /// Some steps (e.g. some document lines) failed; `changes` says which.
    Partial,
    Failed,
}

/// Who did what, when, to which records, with what result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub tenant: TenantId,
    pub at: DateTime<Utc>,
    /// e.g. `export-customer`, `settings.put`.
    pub action: String,
    /// A user, or the function name for scheduled work.
    pub actor: String,
    pub col_ids: Vec<String>,
    pub at_ids: Vec<i64>,
    /// Before/after or per-step details.
    pub changes: Value,
    pub outcome: AuditOutcome,
}

/// An append-only trail per tenant.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, record: &AuditRecord) -> StoreResult<()>;

    /// Newest first, at most `limit` (min 1) per page (paging as in `MappingStore::list`).
    async fn list(&self, tenant: &TenantId, cursor: Option<&str>, limit: u32) -> StoreResult<Page<AuditRecord>>;
}

/// A held lease (one planner per stream at a time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub owner: String,
    pub until: DateTime<Utc>,
}

/// A record of one sync run, stored as JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRunRecord {
    /// Sortable by start time (see [`StoredRunRecord::new_id`]): listings are newest first by id.
    pub run_id: String,
    pub data: Value,
}

impl StoredRunRecord {
    /// A run id that sorts by start time: `20261127T160102.345Z-1a2b3c4d`.
    pub fn new_id(started_at: DateTime<Utc>) -> String {
        format!("{}-{:08x}", started_at.format("%Y%m%dT%H%M%S%.3fZ"), fastrand::u32(..))
    }
}

/// Leases, checkpoints and run records of the scheduled sync.
#[async_trait]
pub trait SyncStateStore: Send + Sync {
    /// Takes the lease if it is free, expired (`until < now`) or already ours (then it is
    /// extended to `until`). Otherwise `LeaseHeld`.
    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Lease>;

    /// Frees the lease if `owner` holds it; releasing a lease that is gone is a no-op;
    /// another owner's lease gives `LeaseHeld` and stays.
    async fn release_lease(&self, tenant: &TenantId, name: &str, owner: &str) -> StoreResult<()>;

    async fn get_checkpoint(&self, tenant: &TenantId, stream: &str) -> StoreResult<Option<VersionedDoc>>;

    /// Same version rules as `SettingsStore::put_settings`.
    async fn put_checkpoint(
        &self,
        tenant: &TenantId,
        stream: &str,
        doc: &Value,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Creates or replaces the run record with this id.
    async fn put_run(&self, tenant: &TenantId, run: &StoredRunRecord) -> StoreResult<()>;

    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> StoreResult<Option<StoredRunRecord>>;

    /// Newest first, at most `limit` (min 1) per page (paging as in `MappingStore::list`).
    async fn list_runs(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<StoredRunRecord>>;
}

/// Tenant-wide slots of a concurrency limit shared by every function instance: Autotask allows 3
/// concurrent calls per endpoint for a tenant's integration, however many Lambdas make them.
/// A slot is a short lease; a holder that vanished without releasing is taken over once its
/// lease has ended.
#[async_trait]
pub trait SlotStore: Send + Sync {
    /// Takes slot `slot` of `bucket` for `owner` until `until` when it is free or its lease has
    /// ended (`until < now`), in one conditional write. `false`: someone holds it.
    async fn take_slot(
        &self,
        tenant: &TenantId,
        bucket: &str,
        slot: u32,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Frees the slot if `owner` still holds it, in one conditional delete. A slot that is gone,
    /// or that another owner took over after `owner`'s lease ended, stays as it is.
    async fn release_slot(&self, tenant: &TenantId, bucket: &str, slot: u32, owner: &str) -> StoreResult<()>;
}
