//! Tenant-scoped persistence: ports, the DynamoDB adapter and an in-memory twin with the same
//! conditional behaviour (proven by one conformance suite run against both).

pub mod dynamo;
pub mod error;
pub mod keys;
pub mod memory;
pub mod ports;

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;

pub use error::StoreError;
pub use ports::{
    AuditLog, AuditOutcome, AuditRecord, Lease, MappingStore, Page, SettingsStore, SlotStore, StoreResult,
    StoredRunRecord, SyncStateStore, VersionedDoc,
};

#[cfg(test)]
mod memory_conformance {
    use super::conformance::Fixture;
    use super::memory::MemoryStore;

    crate::store_conformance_tests!(async { Fixture::new(MemoryStore::new(), ()) });
}
