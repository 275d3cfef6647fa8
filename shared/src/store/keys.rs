//! The single-table key layout, shared by every adapter so cursors and ordering agree.
//!
//! Mapping table (`MAPPING_TABLE`): partition key `pk` (S), sort key `sk` (S), on-demand, no GSI.
//! Every `pk` but one starts with `T#<tenant>#`; tenant ids cannot contain `#`, so no tenant's key
//! is a prefix of another's and every read names exactly one tenant. The exception is the bulk-sync
//! directory (`BULK_SYNC#TENANTS`): the ids of the tenants whose settings turn bulk sync on, and
//! nothing else, so the one schedule's planner finds them with one Query (no Scan).
//!
//! | item                 | pk                       | sk                          | attributes |
//! |----------------------|--------------------------|-----------------------------|------------|
//! | mapping, COL side    | `T#<t>#MAP#<KIND>`       | `COL#<col id>`              | `col_id`, `at_id`, `version`, `source_hash`, `data` (JSON), `updated_at` |
//! | mapping, AT side     | `T#<t>#MAP#<KIND>`       | `AT#<at id>`                | same copy as the COL side |
//! | settings             | `T#<t>#SETTINGS`         | `SETTINGS`                  | `doc` (JSON), `version`, `updated_at` |
//! | audit record         | `T#<t>#AUDIT`            | `<at, RFC 3339 ms>#<rand>`  | `record` (JSON) |
//! | sync lease           | `T#<t>#SYNC#<name>`      | `LEASE`                     | `owner`, `lease_until` (epoch ms) |
//! | sync checkpoint      | `T#<t>#SYNC#<stream>`    | `CHECKPOINT`                | `doc` (JSON), `version`, `updated_at` |
//! | sync run             | `T#<t>#RUN`              | `RUN#<run id>`              | `data` (JSON) |
//! | call slot            | `T#<t>#SLOTS#<bucket>`   | `SLOT#<n>`                  | `owner`, `lease_until` (epoch ms) |
//! | bulk-sync directory  | `BULK_SYNC#TENANTS`      | `<t>`                       | none (written with the settings, in one transaction) |
//!
//! Both sides of a mapping live in one partition (`T#<t>#MAP#<KIND>`), so listing a kind is one
//! Query (`begins_with(sk, "COL#")`) and the pair is written in one `TransactWriteItems`, each
//! side `attribute_not_exists(pk)`: an AT id maps to at most one COL id and back. Both sides carry
//! the full mapping so either lookup is one GetItem; updates change both in one transaction.
//! A call slot exists only while it is held (released = deleted), so the table holds at most N
//! per tenant and Autotask endpoint. Audit and runs sort by time within their partition, so "newest first" is a reverse Query.
//!
//! Idempotency table (`IDEMPOTENCY_TABLE`): partition key `id` (S), TTL on `expiration`
//! (epoch seconds); attributes `status` (`INPROGRESS` | `COMPLETE` | `CONSUMED`), `in_progress_expiry`
//! (epoch ms), `validation` (payload hash), `data` (response JSON). The id is
//! `<function>#<tenant>#<caller key>`. A used confirmation token (`consume_once`) is an item of
//! the same shape with id `confirmation#<tenant>#<nonce>`, status `CONSUMED`, an empty `validation` and, once its
//! write answered, that answer in `data`; its TTL is the token's end plus a margin.

use chrono::{DateTime, Utc};

use crate::domain::mapping::MappingKind;
use crate::tenant::TenantId;

pub const PK: &str = "pk";
pub const SK: &str = "sk";

pub const COL_PREFIX: &str = "COL#";
pub const AT_PREFIX: &str = "AT#";
pub const SETTINGS_SK: &str = "SETTINGS";
pub const LEASE_SK: &str = "LEASE";
pub const CHECKPOINT_SK: &str = "CHECKPOINT";
pub const RUN_PREFIX: &str = "RUN#";
pub const SLOT_PREFIX: &str = "SLOT#";
pub const BULK_SYNC_DIRECTORY_PK: &str = "BULK_SYNC#TENANTS";

pub fn mapping_pk(tenant: &TenantId, kind: MappingKind) -> String {
    format!("T#{tenant}#MAP#{}", kind.key_name())
}

pub fn mapping_col_sk(col_id: &str) -> String {
    format!("{COL_PREFIX}{col_id}")
}

pub fn mapping_at_sk(at_id: i64) -> String {
    format!("{AT_PREFIX}{at_id}")
}

pub fn settings_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#SETTINGS")
}

pub fn audit_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#AUDIT")
}

/// Time-ordered and unique: two records in the same millisecond get different suffixes.
pub fn audit_sk(at: DateTime<Utc>) -> String {
    format!("{}#{:08x}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), fastrand::u32(..))
}

pub fn sync_pk(tenant: &TenantId, name: &str) -> String {
    format!("T#{tenant}#SYNC#{name}")
}

pub fn runs_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#RUN")
}

pub fn run_sk(run_id: &str) -> String {
    format!("{RUN_PREFIX}{run_id}")
}

pub fn slots_pk(tenant: &TenantId, bucket: &str) -> String {
    format!("T#{tenant}#SLOTS#{bucket}")
}

pub fn slot_sk(slot: u32) -> String {
    format!("{SLOT_PREFIX}{slot}")
}

/// Idempotency TTL attribute value: epoch seconds, rounded up so a record never expires early.
pub fn epoch_secs_ceil(t: DateTime<Utc>) -> i64 {
    let secs = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 { secs + 1 } else { secs }
}
