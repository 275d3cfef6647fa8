//! Run records in the sync-state store. The planner and up to two workers update one run's
//! record concurrently, and the store's run records are plain JSON, so every
//! read-modify-write holds a short per-run lease (a conditional write: one holder at a time).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;

use super::run_record::{RunId, RunRecord};
use crate::clock::Clock;
use crate::store::ports::{Page, StoredRunRecord};
use crate::store::{StoreError, SyncStateStore};
use crate::tenant::TenantId;

/// How long a crashed updater can block others.
const LOCK_TTL: Duration = Duration::seconds(15);
const LOCK_ATTEMPTS: u32 = 200;

#[derive(Clone)]
pub struct RunLedger {
    store: Arc<dyn SyncStateStore>,
    clock: Arc<dyn Clock>,
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("run record: {e}"))
}

impl RunLedger {
    pub fn new(store: Arc<dyn SyncStateStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub async fn put(&self, record: &RunRecord) -> Result<(), StoreError> {
        let stored = StoredRunRecord {
            run_id: record.run_id.to_string(),
            data: record.to_view(),
        };
        self.store.put_run(&record.tenant, &stored).await
    }

    pub async fn get(&self, tenant: &TenantId, run_id: &RunId) -> Result<Option<RunRecord>, StoreError> {
        match self.store.get_run(tenant, run_id.as_str()).await? {
            None => Ok(None),
            Some(stored) => Ok(Some(serde_json::from_value(stored.data).map_err(corrupt)?)),
        }
    }

    /// Newest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<RunRecord>, StoreError> {
        let page = self.store.list_runs(tenant, cursor, limit).await?;
        let items = page
            .items
            .into_iter()
            .map(|s| serde_json::from_value(s.data).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Applies `change` to the stored record under the run's lock; `NotFound` if it is gone.
    pub async fn update(
        &self,
        tenant: &TenantId,
        run_id: &RunId,
        change: impl FnOnce(&mut RunRecord),
    ) -> Result<RunRecord, StoreError> {
        let lock = format!("run-record#{run_id}");
        let owner = format!("{:016x}", fastrand::u64(..));
        let mut attempt = 0;
        loop {
            let now = self.clock.now();
            match self
                .store
                .acquire_lease(tenant, &lock, &owner, now, now + LOCK_TTL)
                .await
            {
                Ok(_) => break,
                Err(StoreError::LeaseHeld { .. }) if attempt < LOCK_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(StdDuration::from_millis(5 + fastrand::u64(..20))).await;
                }
                Err(e) => return Err(e),
            }
        }
        let result = async {
            let mut record = self.get(tenant, run_id).await?.ok_or(StoreError::NotFound)?;
            change(&mut record);
            self.put(&record).await?;
            Ok(record)
        }
        .await;
        if let Err(e) = self.store.release_lease(tenant, &lock, &owner).await {
            tracing::warn!(error = %e, run = %run_id, "could not release the run-record lock; it expires by itself");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::store::memory::MemoryStore;
    use crate::sync::bulk::run_record::{ItemOutcome, Trigger};
    use crate::sync::bulk::{Stream, WorkItem};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_updates_lose_no_count() {
        // GIVEN a stored run
        let store = Arc::new(MemoryStore::new());
        let ledger = RunLedger::new(store, Arc::new(SystemClock));
        let tenant = TenantId::parse("acme").unwrap();
        let start = chrono::Utc::now();
        let rec = RunRecord::new(tenant.clone(), RunId::new(start), Trigger::Manual, start);
        ledger.put(&rec).await.unwrap();
        // WHEN 40 tasks each record one done item at once
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (ledger, tenant, run) = (ledger.clone(), tenant.clone(), rec.run_id.clone());
            tasks.push(tokio::spawn(async move {
                let item = WorkItem::new(tenant.clone(), run.clone(), Stream::AtCompanies, i.to_string(), start);
                let done = ItemOutcome::Done {
                    summary: "ok".into(),
                    autotask_calls: 1,
                };
                ledger
                    .update(&tenant, &run, |r| r.record(&item, &done, start))
                    .await
                    .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // THEN every update landed
        let stored = ledger.get(&tenant, &rec.run_id).await.unwrap().unwrap();
        assert_eq!(stored.counts.done, 40);
        assert_eq!(stored.autotask_calls.worker, 40);
        let listed = ledger.list(&tenant, None, 10).await.unwrap();
        assert_eq!(listed.items.len(), 1);
    }
}
