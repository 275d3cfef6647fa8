//! Autotask allows 3 concurrent calls per integration code and object endpoint; a 4th fails, and
//! the limit is shared by every Lambda instance (and the reseller's other integrations). Two layers
//! keep a tenant under it:
//!
//! 1. one semaphore per (tenant, endpoint) in this process, so it never asks for more than N;
//! 2. with a [`SharedLimit`], N slot leases per (tenant, endpoint) in the store, shared by every
//!    function instance: a slot is taken with one conditional write (free, or its lease ended),
//!    released with one conditional delete by its owner token, and taken over once the lease of
//!    a holder that vanished has ended. When all N are held the caller waits with a short backoff.
//!
//! The store is a guard, not a gate: when it fails, the call goes ahead under the process limit
//! alone (Autotask's own thread-limit refusal is retried), so a store hiccup never stops an
//! export half-way.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::AutotaskError;
use crate::clock::Clock;
use crate::store::SlotStore;
use crate::tenant::TenantId;

/// First pause when every slot is held; doubled up to [`MAX_BACKOFF`], with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// The tenant-wide half of the limit: where the slots live and how many there are.
#[derive(Clone)]
pub struct SharedLimit {
    pub store: Arc<dyn SlotStore>,
    /// Decides lease expiry (the same clock as every other store condition).
    pub clock: Arc<dyn Clock>,
    /// Concurrent calls per endpoint for the tenant across all instances; at most the client's
    /// `max_in_flight` (lower leaves room for the reseller's other integrations).
    pub slots: usize,
}

impl std::fmt::Debug for SharedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimit").field("slots", &self.slots).finish()
    }
}

#[derive(Debug)]
pub struct Limiter {
    per_endpoint: usize,
    buckets: Mutex<HashMap<(TenantId, String), Arc<Bucket>>>,
}

/// One (tenant, endpoint) in this process.
#[derive(Debug)]
struct Bucket {
    limit: usize,
    semaphore: Arc<Semaphore>,
    /// Store slots this process holds (or is taking): never asked for twice.
    held: Mutex<BTreeSet<u32>>,
}

impl Bucket {
    fn held(&self) -> std::sync::MutexGuard<'_, BTreeSet<u32>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The right to make one call; give it back with [`Permit::release`] once the answer is read.
#[must_use]
pub struct Permit {
    _local: OwnedSemaphorePermit,
    slot: Option<HeldSlot>,
}

struct HeldSlot {
    store: Arc<dyn SlotStore>,
    tenant: TenantId,
    bucket: Arc<Bucket>,
    name: String,
    slot: u32,
    owner: String,
}

impl HeldSlot {
    async fn release(self) {
        if let Err(e) = self
            .store
            .release_slot(&self.tenant, &self.name, self.slot, &self.owner)
            .await
        {
            tracing::warn!(error = %e, bucket = %self.name, slot = self.slot, "Autotask call slot not released; it frees itself when its lease ends");
        }
        self.bucket.held().remove(&self.slot);
    }
}

impl Permit {
    /// Frees the store slot (one conditional delete), then the process permit.
    pub async fn release(mut self) {
        if let Some(slot) = self.slot.take() {
            slot.release().await;
        }
    }

    /// Whether a tenant-wide slot is held (false without a shared limit, or when the store failed).
    pub fn holds_slot(&self) -> bool {
        self.slot.is_some()
    }
}

impl Drop for Permit {
    /// A call dropped mid-way (its future cancelled) still gives its slot back.
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(slot.release());
                }
                Err(_) => {
                    slot.bucket.held().remove(&slot.slot);
                }
            }
        }
    }
}

impl Limiter {
    pub fn new(per_endpoint: usize) -> Self {
        Self {
            per_endpoint: per_endpoint.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Concurrent calls per endpoint a tenant with `shared` gets.
    pub fn limit(&self, shared: Option<&SharedLimit>) -> usize {
        shared.map_or(self.per_endpoint, |s| s.slots.clamp(1, self.per_endpoint))
    }

    fn bucket(&self, tenant: &TenantId, endpoint: &str, limit: usize) -> Arc<Bucket> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = map
            .entry((tenant.clone(), endpoint.to_owned()))
            .or_insert_with(|| Arc::new(Bucket::new(limit)));
        if bucket.limit != limit {
            // The tenant's setting changed: calls still holding the old bucket finish under it.
            *bucket = Arc::new(Bucket::new(limit));
        }
        bucket.clone()
    }

    /// Waits for a call on `endpoint` (the collection name, case-insensitive): first the process
    /// permit, then, with `shared`, a tenant-wide slot leased for `lease`. Gives up with a
    /// thread-limit error (retryable) when no slot came free before `deadline` or within one
    /// lease (by then any slot of a vanished holder has expired).
    pub async fn acquire(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        shared: Option<&SharedLimit>,
        lease: Duration,
        deadline: Option<Instant>,
    ) -> Result<Permit, AutotaskError> {
        let name = endpoint.to_ascii_lowercase();
        let limit = self.limit(shared);
        let bucket = self.bucket(tenant, &name, limit);
        let local = bucket
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("limiter semaphores are never closed");
        let Some(shared) = shared else {
            return Ok(Permit {
                _local: local,
                slot: None,
            });
        };
        let started = Instant::now();
        let give_up = deadline.map_or(started + lease, |d| d.min(started + lease));
        let mut backoff = FIRST_BACKOFF;
        loop {
            match take_free_slot(shared, tenant, &name, &bucket, limit, lease).await {
                Ok(Some(slot)) => {
                    tracing::debug!(bucket = %name, slot = slot.slot, waited_ms = started.elapsed().as_millis() as u64, "Autotask call slot taken");
                    return Ok(Permit {
                        _local: local,
                        slot: Some(slot),
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, bucket = %name, "tenant-wide Autotask limit unavailable; calling under this process's limit");
                    return Ok(Permit {
                        _local: local,
                        slot: None,
                    });
                }
            }
            let pause = backoff.mul_f64(0.5 + fastrand::f64());
            if Instant::now() + pause >= give_up {
                return Err(AutotaskError::ThreadLimit {
                    messages: vec![format!(
                        "all {limit} Autotask call slots of {endpoint} stayed busy for {} ms",
                        started.elapsed().as_millis()
                    )],
                });
            }
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

impl Bucket {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            semaphore: Arc::new(Semaphore::new(limit)),
            held: Mutex::new(BTreeSet::new()),
        }
    }
}

/// Tries each slot this process does not hold, from a random start (instances spread out), one
/// conditional write each; `None` when every one is held elsewhere.
async fn take_free_slot(
    shared: &SharedLimit,
    tenant: &TenantId,
    name: &str,
    bucket: &Arc<Bucket>,
    limit: usize,
    lease: Duration,
) -> Result<Option<HeldSlot>, crate::store::StoreError> {
    let start = fastrand::u32(..limit as u32);
    for i in 0..limit as u32 {
        let slot = (start + i) % limit as u32;
        if !bucket.held().insert(slot) {
            continue;
        }
        let owner = format!("{:016x}", fastrand::u64(..));
        let now = shared.clock.now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        match shared.store.take_slot(tenant, name, slot, &owner, now, until).await {
            Ok(true) => {
                return Ok(Some(HeldSlot {
                    store: shared.store.clone(),
                    tenant: tenant.clone(),
                    bucket: bucket.clone(),
                    name: name.to_owned(),
                    slot,
                    owner,
                }));
            }
            Ok(false) => {
                bucket.held().remove(&slot);
            }
            Err(e) => {
                bucket.held().remove(&slot);
                return Err(e);
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::memory::MemoryStore;

    const LEASE: Duration = Duration::from_secs(40);

    fn shared(store: Arc<MemoryStore>, clock: Arc<ManualClock>, slots: usize) -> SharedLimit {
        SharedLimit { store, clock, slots }
    }

    #[tokio::test]
    async fn fourth_caller_waits_but_other_endpoints_and_tenants_do_not() {
        let l = Limiter::new(3);
        let t = TenantId::parse("t1").unwrap();
        let acquire = |t: &TenantId, e: &'static str| {
            let (l, t) = (&l, t.clone());
            async move { l.acquire(&t, e, None, LEASE, None).await.unwrap() }
        };
        let _held: Vec<_> = futures_util::future::join_all((0..3).map(|_| acquire(&t, "Companies"))).await;
        let fourth = tokio::time::timeout(Duration::from_millis(20), acquire(&t, "companies")).await;
        assert!(fourth.is_err(), "a 4th permit on the same endpoint must wait");
        let other = tokio::time::timeout(Duration::from_millis(20), acquire(&t, "Contacts")).await;
        assert!(other.is_ok());
        let t2 = TenantId::parse("t2").unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(20), acquire(&t2, "Companies"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn two_instances_together_hold_at_most_the_tenant_wide_slots() {
        // GIVEN two "instances" (limiters) sharing one store, 2 slots for the tenant
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
        let limit = shared(store.clone(), clock.clone(), 2);
        let (a, b) = (Limiter::new(3), Limiter::new(3));
        let t = TenantId::parse("acme").unwrap();
        // WHEN instance A takes both slots
        let a1 = a.acquire(&t, "Companies", Some(&limit), LEASE, None).await.unwrap();
        let a2 = a.acquire(&t, "Companies", Some(&limit), LEASE, None).await.unwrap();
        assert!(a1.holds_slot() && a2.holds_slot());
        // THEN instance B waits (and gives up at its deadline with a retryable thread-limit error)
        let deadline = Instant::now() + Duration::from_millis(100);
        let refused = b.acquire(&t, "Companies", Some(&limit), LEASE, Some(deadline)).await;
        assert!(
            matches!(refused, Err(AutotaskError::ThreadLimit { .. })),
            "{:?}",
            refused.err()
        );
        // AND another endpoint is free for B
        let other = b.acquire(&t, "Contacts", Some(&limit), LEASE, None).await.unwrap();
        other.release().await;
        // WHEN A releases one THEN B gets it
        a1.release().await;
        let b1 = b.acquire(&t, "Companies", Some(&limit), LEASE, None).await.unwrap();
        assert!(b1.holds_slot());
        // AND a permit dropped without release still frees its slot
        drop(a2);
        tokio::task::yield_now().await;
        let b2 = tokio::time::timeout(
            Duration::from_secs(5),
            b.acquire(&t, "Companies", Some(&limit), LEASE, None),
        )
        .await
        .expect("the dropped permit's slot comes free")
        .unwrap();
        b1.release().await;
        b2.release().await;
    }

    #[tokio::test]
    async fn a_slot_of_a_vanished_holder_is_taken_over_when_its_lease_ends() {
        // GIVEN an instance that took the only slot and vanished (never released)
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
        let limit = shared(store.clone(), clock.clone(), 1);
        let t = TenantId::parse("acme").unwrap();
        let now = clock.now();
        assert!(
            store
                .take_slot(&t, "quotes", 0, "gone", now, now + chrono::Duration::seconds(40))
                .await
                .unwrap()
        );
        let l = Limiter::new(3);
        let soon = Instant::now() + Duration::from_millis(60);
        assert!(l.acquire(&t, "Quotes", Some(&limit), LEASE, Some(soon)).await.is_err());
        // WHEN its lease has ended THEN the next caller takes the slot over
        clock.advance(chrono::Duration::seconds(41));
        let p = l.acquire(&t, "Quotes", Some(&limit), LEASE, None).await.unwrap();
        assert!(p.holds_slot());
        p.release().await;
    }
}
