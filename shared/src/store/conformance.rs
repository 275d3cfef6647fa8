//! One behaviour suite for every store adapter: `MemoryStore` runs it in this crate's unit
//! tests, `DynamoStore` in `tests/testkit` against dynoxide (or moto / any `DYNAMODB_ENDPOINT`).
//! Instantiate it with [`store_conformance_tests!`](crate::store_conformance_tests).

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::json;

use super::error::StoreError;
use super::ports::*;
use crate::clock::{Clock, ManualClock};
use crate::domain::mapping::{Mapping, MappingKind, Side};
use crate::idempotency::{ClaimOutcome, Idempotency, IdempotencyStatus, IdempotencyStore};
use crate::tenant::TenantId;

/// Everything an adapter must implement to be tested here.
pub trait TestStore:
    MappingStore + SettingsStore + AuditLog + SyncStateStore + SlotStore + IdempotencyStore + 'static
{
}
impl<T: MappingStore + SettingsStore + AuditLog + SyncStateStore + SlotStore + IdempotencyStore + 'static> TestStore
    for T
{
}

/// A store under test plus whatever must live as long as it (e.g. the embedded server).
pub struct Fixture<S> {
    pub store: Arc<S>,
    _keep: Box<dyn Any + Send + Sync>,
}

impl<S> Fixture<S> {
    pub fn new(store: S, keep: impl Any + Send + Sync) -> Self {
        Self {
            store: Arc::new(store),
            _keep: Box::new(keep),
        }
    }
}

/// Generates one `#[tokio::test]` per conformance case; `$fixture` is an expression giving a
/// future of a [`Fixture`], evaluated once per test.
#[macro_export]
macro_rules! store_conformance_tests {
    ($fixture:expr) => {
        $crate::store_conformance_tests!(@cases $fixture;
            concurrent_creates_of_one_mapping_have_one_winner
            cancelled_transaction_leaves_nothing_behind
            at_id_maps_to_one_col_id_and_back
            stale_version_update_fails
            delete_pair_checks_version_and_removes_both_sides
            batch_get_returns_existing_mappings_across_chunks
            list_pages_in_col_id_order
            tenant_b_cannot_see_tenant_a
            settings_are_versioned
            bulk_sync_directory_follows_the_settings
            audit_lists_newest_first
            lease_held_by_another_owner_is_refused_until_expiry
            checkpoints_are_versioned_and_runs_listed_newest_first
            call_slot_has_one_holder_until_released_or_expired
            concurrent_takes_of_one_call_slot_have_one_winner
            idempotency_claim_complete_replay
            idempotency_concurrent_duplicate_is_in_progress
            idempotency_different_payload_is_rejected
            idempotency_expired_in_progress_is_taken_over
            idempotency_expired_completion_is_ignored
            idempotency_release_lets_a_retry_run
            a_single_use_key_is_consumed_once
        );
    };
    (@cases $fixture:expr; $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $fixture.await;
                $crate::store::conformance::$case(fixture.store.clone()).await;
            }
        )*
    };
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("valid tenant")
}

/// A base time near now (whole seconds), so stored TTLs look realistic on a real table.
fn t0() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::seconds(1)).expect("truncate")
}

fn customer(col: &str, at: i64) -> Mapping {
    Mapping::new(MappingKind::Customer, col, at, t0())
}

pub async fn concurrent_creates_of_one_mapping_have_one_winner<S: TestStore>(store: Arc<S>) {
    // GIVEN 50 writers racing to map COL customer C-1, each to a different AT company
    let acme = tenant("acme");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (store, acme) = (store.clone(), acme.clone());
        tasks.spawn(async move { (i, store.create_pair(&acme, &customer("C-1", 1000 + i)).await) });
    }
    // WHEN all finish
    let mut winners = Vec::new();
    let mut already_mapped = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            (i, Ok(m)) => winners.push((i, m)),
            (
                _,
                Err(StoreError::AlreadyMapped {
                    side: Side::Col,
                    existing,
                }),
            ) => {
                assert_eq!(existing.col_id, "C-1");
                already_mapped += 1;
            }
            (_, Err(other)) => panic!("unexpected error: {other:?}"),
        }
    }
    // THEN exactly one won, the others were told the COL side is mapped, and no loser's AT side exists
    assert_eq!(winners.len(), 1, "exactly one winner");
    assert_eq!(already_mapped, 49);
    let (winner, stored) = &winners[0];
    assert_eq!(stored.version, 1);
    let by_col = store
        .get_by_col(&acme, MappingKind::Customer, "C-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_col.at_id, 1000 + winner);
    for i in (0..50).filter(|i| i != winner) {
        assert_eq!(
            store.get_by_at(&acme, MappingKind::Customer, 1000 + i).await.unwrap(),
            None
        );
    }
}

pub async fn cancelled_transaction_leaves_nothing_behind<S: TestStore>(store: Arc<S>) {
    // GIVEN C-1 <-> 1
    let acme = tenant("acme");
    store.create_pair(&acme, &customer("C-1", 1)).await.unwrap();
    // WHEN C-2 <-> 1 is attempted (AT side taken)
    let err = store.create_pair(&acme, &customer("C-2", 1)).await.unwrap_err();
    // THEN it names the AT side and the existing pair, and C-2 was not written
    match err {
        StoreError::AlreadyMapped { side, existing } => {
            assert_eq!(side, Side::At);
            assert_eq!((existing.col_id.as_str(), existing.at_id), ("C-1", 1));
        }
        other => panic!("expected AlreadyMapped, got {other:?}"),
    }
    assert_eq!(
        store.get_by_col(&acme, MappingKind::Customer, "C-2").await.unwrap(),
        None
    );
    // WHEN C-1 <-> 2 is attempted (COL side taken) THEN AT 2 was not written
    let err = store.create_pair(&acme, &customer("C-1", 2)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyMapped { side: Side::Col, .. }),
        "{err:?}"
    );
    assert_eq!(store.get_by_at(&acme, MappingKind::Customer, 2).await.unwrap(), None);
    let page = MappingStore::list(&*store, &acme, MappingKind::Customer, None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}

pub async fn at_id_maps_to_one_col_id_and_back<S: TestStore>(store: Arc<S>) {
    let acme = tenant("acme");
    let doc = Mapping::new(MappingKind::Document, "Q-100", 77, t0())
        .with_data(json!({"quote_id": 5, "lines": {"1": 901}}))
        .with_source_hash("h1");
    let stored = store.create_pair(&acme, &doc).await.unwrap();
    let by_col = store
        .get_by_col(&acme, MappingKind::Document, "Q-100")
        .await
        .unwrap()
        .unwrap();
    let by_at = store
        .get_by_at(&acme, MappingKind::Document, 77)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_col, stored);
    assert_eq!(by_at, stored);
    assert_eq!(by_col.data["lines"]["1"], 901);
    // The same ids under another kind are a different mapping.
    store
        .create_pair(&acme, &Mapping::new(MappingKind::Contact, "Q-100", 77, t0()))
        .await
        .unwrap();
    assert_eq!(store.get_by_at(&acme, MappingKind::Product, 77).await.unwrap(), None);
}

pub async fn stale_version_update_fails<S: TestStore>(store: Arc<S>) {
    // GIVEN a pair at version 1, read by two writers
    let acme = tenant("acme");
    let v1 = store.create_pair(&acme, &customer("C-1", 1)).await.unwrap();
    // WHEN the first writer updates
    let mut first = v1.clone();
    first.data = json!({"name": "first"});
    first.source_hash = Some("hash-first".into());
    let v2 = store.update(&acme, &first).await.unwrap();
    assert_eq!(v2.version, 2);
    // THEN the second writer's update from version 1 is refused, not silently applied
    let mut second = v1.clone();
    second.data = json!({"name": "second"});
    match store.update(&acme, &second).await.unwrap_err() {
        StoreError::VersionConflict { expected, actual } => {
            assert_eq!((expected, actual), (Some(1), Some(2)));
        }
        other => panic!("expected VersionConflict, got {other:?}"),
    }
    for got in [
        store
            .get_by_col(&acme, MappingKind::Customer, "C-1")
            .await
            .unwrap()
            .unwrap(),
        store.get_by_at(&acme, MappingKind::Customer, 1).await.unwrap().unwrap(),
    ] {
        assert_eq!(got.version, 2);
        assert_eq!(got.data, json!({"name": "first"}));
        assert_eq!(got.source_hash.as_deref(), Some("hash-first"));
    }
    // Clearing the source hash works, and updating a pair that does not exist is NotFound.
    let v3 = store
        .update(
            &acme,
            &Mapping {
                source_hash: None,
                ..v2
            },
        )
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    let got = store.get_by_at(&acme, MappingKind::Customer, 1).await.unwrap().unwrap();
    assert_eq!((got.version, got.source_hash), (3, None));
    let missing = store.update(&acme, &customer("C-9", 9)).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound), "{missing:?}");
    assert!(
        StoreError::VersionConflict {
            expected: None,
            actual: None
        }
        .is_retryable()
    );
}

pub async fn delete_pair_checks_version_and_removes_both_sides<S: TestStore>(store: Arc<S>) {
    let acme = tenant("acme");
    let v1 = store.create_pair(&acme, &customer("C-1", 1)).await.unwrap();
    let v2 = store.update(&acme, &v1).await.unwrap();
    let stale = store.delete_pair(&acme, &v1).await.unwrap_err();
    assert!(
        matches!(stale, StoreError::VersionConflict { actual: Some(2), .. }),
        "{stale:?}"
    );
    assert!(
        store
            .get_by_at(&acme, MappingKind::Customer, 1)
            .await
            .unwrap()
            .is_some()
    );
    store.delete_pair(&acme, &v2).await.unwrap();
    assert_eq!(
        store.get_by_col(&acme, MappingKind::Customer, "C-1").await.unwrap(),
        None
    );
    assert_eq!(store.get_by_at(&acme, MappingKind::Customer, 1).await.unwrap(), None);
    assert!(matches!(store.delete_pair(&acme, &v2).await, Err(StoreError::NotFound)));
    // Both ids are free again, for new partners.
    store.create_pair(&acme, &customer("C-1", 2)).await.unwrap();
    store.create_pair(&acme, &customer("C-2", 1)).await.unwrap();
}

pub async fn batch_get_returns_existing_mappings_across_chunks<S: TestStore>(store: Arc<S>) {
    // GIVEN 120 mappings (more than one BatchGetItem request of 100 keys)
    let acme = tenant("acme");
    for i in 0..120 {
        store
            .create_pair(&acme, &customer(&format!("C-{i:03}"), i))
            .await
            .unwrap();
    }
    // WHEN asking for all of them, 10 unknown ids and some duplicates
    let mut ids: Vec<String> = (0..130).map(|i| format!("C-{i:03}")).collect();
    ids.extend(["C-001".to_owned(), "C-002".to_owned()]);
    let found = store
        .batch_get_by_col(&acme, MappingKind::Customer, &ids)
        .await
        .unwrap();
    // THEN each existing mapping comes back once
    let mut cols: Vec<_> = found.iter().map(|m| (m.col_id.clone(), m.at_id)).collect();
    cols.sort();
    let expected: Vec<_> = (0..120).map(|i| (format!("C-{i:03}"), i)).collect();
    assert_eq!(cols, expected);
    assert!(
        store
            .batch_get_by_col(&acme, MappingKind::Customer, &[])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn list_pages_in_col_id_order<S: TestStore>(store: Arc<S>) {
    let acme = tenant("acme");
    for (col, at) in [("C-3", 3), ("C-1", 1), ("C-5", 5), ("C-2", 2), ("C-4", 4)] {
        store.create_pair(&acme, &customer(col, at)).await.unwrap();
    }
    store
        .create_pair(&acme, &Mapping::new(MappingKind::Product, "SKU-1", 10, t0()))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = MappingStore::list(&*store, &acme, MappingKind::Customer, cursor.as_deref(), 2)
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|m| m.col_id));
        pages += 1;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not terminate");
    }
    assert_eq!(seen, ["C-1", "C-2", "C-3", "C-4", "C-5"]);
}

pub async fn tenant_b_cannot_see_tenant_a<S: TestStore>(store: Arc<S>) {
    // GIVEN tenant A's mapping, settings, audit, lease and run
    let (a, b) = (tenant("acme"), tenant("globex"));
    store.create_pair(&a, &customer("C-1", 1)).await.unwrap();
    store.put_settings(&a, &json!({"x": 1}), None, t0()).await.unwrap();
    store.append(&audit(&a, t0(), "export")).await.unwrap();
    store
        .acquire_lease(&a, "planner", "a-1", t0(), t0() + Duration::minutes(5))
        .await
        .unwrap();
    let run = StoredRunRecord {
        run_id: StoredRunRecord::new_id(t0()),
        data: json!({"tenant": "acme"}),
    };
    SyncStateStore::put_run(&*store, &a, &run).await.unwrap();
    // THEN tenant B sees none of it
    assert_eq!(store.get_by_col(&b, MappingKind::Customer, "C-1").await.unwrap(), None);
    assert_eq!(store.get_by_at(&b, MappingKind::Customer, 1).await.unwrap(), None);
    assert!(
        store
            .batch_get_by_col(&b, MappingKind::Customer, &["C-1".into()])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        MappingStore::list(&*store, &b, MappingKind::Customer, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(store.get_settings(&b).await.unwrap(), None);
    assert!(AuditLog::list(&*store, &b, None, 10).await.unwrap().items.is_empty());
    assert!(store.list_runs(&b, None, 10).await.unwrap().items.is_empty());
    // AND tenant B can map the same ids and take its own lease independently
    store.create_pair(&b, &customer("C-1", 1)).await.unwrap();
    store
        .acquire_lease(&b, "planner", "b-1", t0(), t0() + Duration::minutes(5))
        .await
        .unwrap();
    assert!(
        store.delete_pair(&b, &customer("C-1", 1)).await.is_err(),
        "version 0 is stale"
    );
    assert!(
        store
            .get_by_col(&a, MappingKind::Customer, "C-1")
            .await
            .unwrap()
            .is_some()
    );
}

fn audit(tenant: &TenantId, at: DateTime<Utc>, action: &str) -> AuditRecord {
    AuditRecord {
        tenant: tenant.clone(),
        at,
        action: action.to_owned(),
        actor: "tester".to_owned(),
        col_ids: vec!["C-1".to_owned()],
        at_ids: vec![1],
        changes: json!({"before": null, "after": {"name": action}}),
        outcome: AuditOutcome::Succeeded,
    }
}

pub async fn bulk_sync_directory_follows_the_settings<S: TestStore>(store: Arc<S>) {
    let on = json!({ "bulk_sync": { "enabled": true } });
    let off = json!({ "bulk_sync": { "enabled": false } });
    // GIVEN three tenants, two with bulk sync on (the directory is global: other tests' tenants
    // may share it on an external server, so only these are looked at)
    let suffix = format!("{:08x}", fastrand::u32(..));
    let [a, b, c] = ["a", "b", "c"].map(|n| tenant(&format!("dir-{n}-{suffix}")));
    let ours =
        |all: Vec<TenantId>| -> Vec<TenantId> { all.into_iter().filter(|t| [&a, &b, &c].contains(&t)).collect() };
    store.put_settings(&a, &on, None, t0()).await.unwrap();
    store.put_settings(&b, &off, None, t0()).await.unwrap();
    store.put_settings(&c, &on, None, t0()).await.unwrap();
    assert_eq!(ours(store.bulk_sync_tenants().await.unwrap()), [a.clone(), c.clone()]);
    // WHEN a turns it off and a stale write tries to turn b on
    store.put_settings(&a, &json!({}), Some(1), t0()).await.unwrap();
    let stale = store.put_settings(&b, &on, Some(7), t0()).await.unwrap_err();
    assert!(matches!(stale, StoreError::VersionConflict { .. }), "{stale:?}");
    // THEN only c is listed: the refused write changed neither the settings nor the directory
    assert_eq!(ours(store.bulk_sync_tenants().await.unwrap()), vec![c.clone()]);
    assert_eq!(store.get_settings(&b).await.unwrap().unwrap().doc, off);
}

pub async fn settings_are_versioned<S: TestStore>(store: Arc<S>) {
    let acme = tenant("acme");
    let now = t0();
    assert_eq!(store.put_settings(&acme, &json!({"v": 1}), None, now).await.unwrap(), 1);
    let again = store
        .put_settings(&acme, &json!({"v": 1}), None, t0())
        .await
        .unwrap_err();
    assert!(
        matches!(
            again,
            StoreError::VersionConflict {
                expected: None,
                actual: Some(1)
            }
        ),
        "{again:?}"
    );
    let later = now + Duration::seconds(1);
    assert_eq!(
        store
            .put_settings(&acme, &json!({"v": 2}), Some(1), later)
            .await
            .unwrap(),
        2
    );
    let stale = store
        .put_settings(&acme, &json!({"v": 3}), Some(1), t0())
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::VersionConflict {
                expected: Some(1),
                actual: Some(2)
            }
        ),
        "{stale:?}"
    );
    let got = store.get_settings(&acme).await.unwrap().unwrap();
    assert_eq!((got.version, got.doc), (2, json!({"v": 2})));
    assert_eq!(got.updated_at, later);
    let other = tenant("globex");
    let missing = store.put_settings(&other, &json!({}), Some(4), t0()).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::VersionConflict { actual: None, .. }),
        "{missing:?}"
    );
}

pub async fn audit_lists_newest_first<S: TestStore>(store: Arc<S>) {
    let acme = tenant("acme");
    let base = t0();
    for (i, action) in ["first", "second", "third"].into_iter().enumerate() {
        store
            .append(&audit(&acme, base + Duration::seconds(i as i64), action))
            .await
            .unwrap();
    }
    let page = AuditLog::list(&*store, &acme, None, 2).await.unwrap();
    let actions: Vec<_> = page.items.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["third", "second"]);
    assert_eq!(page.items[0], audit(&acme, base + Duration::seconds(2), "third"));
    let rest = AuditLog::list(&*store, &acme, page.next.as_deref(), 2).await.unwrap();
    let actions: Vec<_> = rest.items.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["first"]);
    assert_eq!(rest.next, None);
}

pub async fn lease_held_by_another_owner_is_refused_until_expiry<S: TestStore>(store: Arc<S>) {
    let acme = tenant("acme");
    let t = t0();
    let secs = Duration::seconds;
    // GIVEN worker A holds the planner lease until t+60
    let lease = store
        .acquire_lease(&acme, "planner", "A", t, t + secs(60))
        .await
        .unwrap();
    assert_eq!((lease.owner.as_str(), lease.until), ("A", t + secs(60)));
    // WHEN B tries at t+30 THEN it is refused, naming A
    match store
        .acquire_lease(&acme, "planner", "B", t + secs(30), t + secs(90))
        .await
    {
        Err(StoreError::LeaseHeld { owner, until }) => assert_eq!((owner.as_str(), until), ("A", t + secs(60))),
        other => panic!("expected LeaseHeld, got {other:?}"),
    }
    // AND B cannot release A's lease; A can extend it
    assert!(matches!(
        store.release_lease(&acme, "planner", "B").await,
        Err(StoreError::LeaseHeld { .. })
    ));
    store
        .acquire_lease(&acme, "planner", "A", t + secs(30), t + secs(120))
        .await
        .unwrap();
    assert!(
        store
            .acquire_lease(&acme, "planner", "B", t + secs(61), t + secs(200))
            .await
            .is_err()
    );
    // WHEN A's lease has expired THEN B takes it over, and A can no longer release it
    store
        .acquire_lease(&acme, "planner", "B", t + secs(121), t + secs(200))
        .await
        .unwrap();
    assert!(store.release_lease(&acme, "planner", "A").await.is_err());
    store.release_lease(&acme, "planner", "B").await.unwrap();
    store.release_lease(&acme, "planner", "B").await.unwrap();
    // AND once released anyone may take it immediately
    store
        .acquire_lease(&acme, "planner", "A", t + secs(122), t + secs(180))
        .await
        .unwrap();
    // Leases are per name.
    store
        .acquire_lease(&acme, "other", "B", t + secs(122), t + secs(180))
        .await
        .unwrap();
}

pub async fn call_slot_has_one_holder_until_released_or_expired<S: TestStore>(store: Arc<S>) {
    let (acme, other) = (tenant("acme"), tenant("other"));
    let t = t0();
    let secs = Duration::seconds;
    // GIVEN A holds slot 0 of the Companies bucket until t+40
    assert!(
        store
            .take_slot(&acme, "companies", 0, "A", t, t + secs(40))
            .await
            .unwrap()
    );
    // WHEN B asks for the same slot before then THEN it is refused; other slots, buckets and
    // tenants are free
    assert!(
        !store
            .take_slot(&acme, "companies", 0, "B", t + secs(1), t + secs(41))
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_slot(&acme, "companies", 0, "B", t + secs(40), t + secs(80))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_slot(&acme, "companies", 1, "B", t, t + secs(40))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_slot(&acme, "contacts", 0, "B", t, t + secs(40))
            .await
            .unwrap()
    );
    assert!(
        store
            .take_slot(&other, "companies", 0, "B", t, t + secs(40))
            .await
            .unwrap()
    );
    // AND B cannot free A's slot
    store.release_slot(&acme, "companies", 0, "B").await.unwrap();
    assert!(
        !store
            .take_slot(&acme, "companies", 0, "C", t + secs(2), t + secs(42))
            .await
            .unwrap()
    );
    // WHEN A's lease has ended THEN C takes the slot over, and A's late release leaves it with C
    assert!(
        store
            .take_slot(&acme, "companies", 0, "C", t + secs(41), t + secs(81))
            .await
            .unwrap()
    );
    store.release_slot(&acme, "companies", 0, "A").await.unwrap();
    assert!(
        !store
            .take_slot(&acme, "companies", 0, "D", t + secs(42), t + secs(82))
            .await
            .unwrap()
    );
    // AND once its holder releases it, the slot is free at once (releasing twice is harmless)
    store.release_slot(&acme, "companies", 0, "C").await.unwrap();
    store.release_slot(&acme, "companies", 0, "C").await.unwrap();
    assert!(
        store
            .take_slot(&acme, "companies", 0, "D", t + secs(43), t + secs(83))
            .await
            .unwrap()
    );
    store.release_slot(&acme, "companies", 9, "nobody").await.unwrap();
}

pub async fn concurrent_takes_of_one_call_slot_have_one_winner<S: TestStore>(store: Arc<S>) {
    // GIVEN 20 instances racing for slot 2 of one bucket
    let acme = tenant("acme");
    let t = t0();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (store, acme) = (store.clone(), acme.clone());
        tasks.spawn(async move {
            let owner = format!("i{i}");
            let won = store
                .take_slot(&acme, "quoteitems", 2, &owner, t, t + Duration::seconds(40))
                .await
                .unwrap();
            (owner, won)
        });
    }
    // WHEN all finish THEN exactly one holds it, and only that one's release frees it
    let winners: Vec<String> = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|(_, won)| *won)
        .map(|(owner, _)| owner)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let loser = if winners[0] == "i0" { "i1" } else { "i0" };
    store.release_slot(&acme, "quoteitems", 2, loser).await.unwrap();
    assert!(
        !store
            .take_slot(&acme, "quoteitems", 2, "late", t, t + Duration::seconds(40))
            .await
            .unwrap()
    );
    store.release_slot(&acme, "quoteitems", 2, &winners[0]).await.unwrap();
    assert!(
        store
            .take_slot(&acme, "quoteitems", 2, "late", t, t + Duration::seconds(40))
            .await
            .unwrap()
    );
}

pub async fn checkpoints_are_versioned_and_runs_listed_newest_first<S: TestStore>(store: Arc<S>) {
    let acme = tenant("acme");
    assert_eq!(store.get_checkpoint(&acme, "customers").await.unwrap(), None);
    let v1 = store
        .put_checkpoint(&acme, "customers", &json!({"since": "a"}), None, t0())
        .await
        .unwrap();
    let v2 = store
        .put_checkpoint(&acme, "customers", &json!({"since": "b"}), Some(v1), t0())
        .await
        .unwrap();
    assert_eq!((v1, v2), (1, 2));
    let stale = store
        .put_checkpoint(&acme, "customers", &json!({}), Some(v1), t0())
        .await;
    assert!(matches!(
        stale,
        Err(StoreError::VersionConflict { actual: Some(2), .. })
    ));
    let got = store.get_checkpoint(&acme, "customers").await.unwrap().unwrap();
    assert_eq!(got.doc, json!({"since": "b"}));
    assert_eq!(store.get_checkpoint(&acme, "documents").await.unwrap(), None);
    // A lease and a checkpoint of the same stream do not collide.
    store
        .acquire_lease(&acme, "customers", "A", t0(), t0() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        store.get_checkpoint(&acme, "customers").await.unwrap().unwrap().version,
        2
    );

    let ids: Vec<String> = (0..3)
        .map(|i| StoredRunRecord::new_id(t0() + Duration::seconds(i)))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let run = StoredRunRecord {
            run_id: id.clone(),
            data: json!({"n": i}),
        };
        SyncStateStore::put_run(&*store, &acme, &run).await.unwrap();
    }
    let updated = StoredRunRecord {
        run_id: ids[1].clone(),
        data: json!({"n": 1, "done": true}),
    };
    SyncStateStore::put_run(&*store, &acme, &updated).await.unwrap();
    assert_eq!(store.get_run(&acme, &ids[1]).await.unwrap(), Some(updated));
    assert_eq!(store.get_run(&acme, "nope").await.unwrap(), None);
    let first = store.list_runs(&acme, None, 2).await.unwrap();
    let got: Vec<_> = first.items.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(got, [ids[2].clone(), ids[1].clone()]);
    let rest = store.list_runs(&acme, first.next.as_deref(), 2).await.unwrap();
    let got: Vec<_> = rest.items.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(got, [ids[0].clone()]);
}

fn idempotency<S: TestStore>(store: &Arc<S>, clock: &Arc<ManualClock>) -> Idempotency {
    Idempotency::new(store.clone(), clock.clone(), "export-customer")
}

pub async fn idempotency_claim_complete_replay<S: TestStore>(store: Arc<S>) {
    // GIVEN a claimed and completed key
    let clock = Arc::new(ManualClock::at(t0()));
    let idem = idempotency(&store, &clock);
    let acme = tenant("acme");
    let payload = json!({"company": 42, "activity": "2026-11-01"});
    let deadline = t0() + Duration::seconds(30);
    let claim = idem.claim(&acme, "42|2026-11-01", &payload, deadline).await.unwrap();
    assert_eq!(claim.outcome, ClaimOutcome::Claimed);
    assert_eq!(claim.key, "export-customer#acme#42|2026-11-01");
    let response = json!({"status": 201, "body": {"at_id": 42, "col_id": "C-1"}});
    clock.advance(Duration::seconds(5));
    idem.complete(&claim.key, &response).await.unwrap();
    // WHEN the same request comes again (fields reordered) THEN the stored response is replayed
    clock.advance(Duration::minutes(10));
    let again = idem
        .claim(
            &acme,
            "42|2026-11-01",
            &json!({"activity": "2026-11-01", "company": 42}),
            clock.now() + Duration::seconds(30),
        )
        .await
        .unwrap();
    assert_eq!(again.outcome, ClaimOutcome::Replay(response.clone()));
    let record = store.get(&claim.key, clock.now()).await.unwrap().unwrap();
    assert_eq!(record.status, IdempotencyStatus::Complete);
    assert_eq!(record.response, Some(response));
    // Another tenant with the same caller key is a different key.
    let other = idem
        .claim(&tenant("globex"), "42|2026-11-01", &payload, deadline)
        .await
        .unwrap();
    assert_eq!(other.outcome, ClaimOutcome::Claimed);
}

pub async fn idempotency_concurrent_duplicate_is_in_progress<S: TestStore>(store: Arc<S>) {
    // GIVEN 20 concurrent invocations with the same key and payload
    let now = t0();
    let deadline = now + Duration::seconds(30);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.claim("fn#acme#k", "hash-1", now, deadline).await });
    }
    let mut claimed = 0;
    let mut in_progress = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task").unwrap() {
            ClaimOutcome::Claimed => claimed += 1,
            ClaimOutcome::InProgress { until } => {
                assert_eq!(until, deadline);
                in_progress += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // THEN one runs and the others are told to retry later
    assert_eq!((claimed, in_progress), (1, 19));
    // AND a later duplicate before the deadline still gets InProgress
    let later = store
        .claim("fn#acme#k", "hash-1", now + Duration::seconds(29), deadline)
        .await
        .unwrap();
    assert_eq!(later, ClaimOutcome::InProgress { until: deadline });
    assert!(later.is_retryable());
    assert!(!ClaimOutcome::PayloadMismatch.is_retryable());
}

pub async fn idempotency_different_payload_is_rejected<S: TestStore>(store: Arc<S>) {
    let clock = Arc::new(ManualClock::at(t0()));
    let idem = idempotency(&store, &clock);
    let acme = tenant("acme");
    let deadline = t0() + Duration::seconds(30);
    let first = idem.claim(&acme, "k", &json!({"amount": 1}), deadline).await.unwrap();
    assert_eq!(first.outcome, ClaimOutcome::Claimed);
    let tampered = idem.claim(&acme, "k", &json!({"amount": 2}), deadline).await.unwrap();
    assert_eq!(tampered.outcome, ClaimOutcome::PayloadMismatch);
    idem.complete(&first.key, &json!({"ok": true})).await.unwrap();
    let after = idem.claim(&acme, "k", &json!({"amount": 2}), deadline).await.unwrap();
    assert_eq!(after.outcome, ClaimOutcome::PayloadMismatch);
}

pub async fn idempotency_expired_in_progress_is_taken_over<S: TestStore>(store: Arc<S>) {
    // GIVEN a claim whose Lambda died before its 10 s deadline
    let clock = Arc::new(ManualClock::at(t0()));
    let idem = idempotency(&store, &clock);
    let acme = tenant("acme");
    let payload = json!({"doc": "Q-1"});
    let first = idem
        .claim(&acme, "Q-1", &payload, t0() + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(first.outcome, ClaimOutcome::Claimed);
    clock.advance(Duration::seconds(9));
    let early = idem
        .claim(&acme, "Q-1", &payload, clock.now() + Duration::seconds(10))
        .await
        .unwrap();
    assert!(matches!(early.outcome, ClaimOutcome::InProgress { .. }), "{early:?}");
    // WHEN a retry arrives after the deadline
    clock.advance(Duration::seconds(2));
    let retry = idem
        .claim(&acme, "Q-1", &payload, clock.now() + Duration::seconds(10))
        .await
        .unwrap();
    // THEN it takes the key over and can complete it
    assert_eq!(retry.outcome, ClaimOutcome::Claimed);
    idem.complete(&retry.key, &json!({"done": 1})).await.unwrap();
    let replay = idem
        .claim(&acme, "Q-1", &payload, clock.now() + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(replay.outcome, ClaimOutcome::Replay(json!({"done": 1})));
}

pub async fn idempotency_expired_completion_is_ignored<S: TestStore>(store: Arc<S>) {
    // GIVEN a completion kept for one hour (TTL deletion has not happened yet)
    let clock = Arc::new(ManualClock::at(t0()));
    let idem = idempotency(&store, &clock).with_expiry(Duration::hours(1));
    let acme = tenant("acme");
    let claim = idem
        .claim(&acme, "k", &json!(1), t0() + Duration::seconds(30))
        .await
        .unwrap();
    idem.complete(&claim.key, &json!("first")).await.unwrap();
    clock.advance(Duration::minutes(59));
    assert!(store.get(&claim.key, clock.now()).await.unwrap().is_some());
    // WHEN the hour has passed THEN reads ignore it and a new claim runs again
    clock.advance(Duration::minutes(2));
    assert_eq!(store.get(&claim.key, clock.now()).await.unwrap(), None);
    let again = idem
        .claim(&acme, "k", &json!(1), clock.now() + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(again.outcome, ClaimOutcome::Claimed);
}

pub async fn idempotency_release_lets_a_retry_run<S: TestStore>(store: Arc<S>) {
    let clock = Arc::new(ManualClock::at(t0()));
    let idem = idempotency(&store, &clock);
    let acme = tenant("acme");
    let deadline = t0() + Duration::seconds(30);
    // GIVEN a run that failed before any side effect and released its claim
    let claim = idem.claim(&acme, "k", &json!(1), deadline).await.unwrap();
    idem.release(&claim.key).await.unwrap();
    assert_eq!(store.get(&claim.key, clock.now()).await.unwrap(), None);
    // WHEN retried THEN it runs again
    let retry = idem.claim(&acme, "k", &json!(1), deadline).await.unwrap();
    assert_eq!(retry.outcome, ClaimOutcome::Claimed);
    // AND releasing a completed record keeps its response for replay
    idem.complete(&retry.key, &json!("done")).await.unwrap();
    idem.release(&retry.key).await.unwrap();
    let replay = idem.claim(&acme, "k", &json!(1), deadline).await.unwrap();
    assert_eq!(replay.outcome, ClaimOutcome::Replay(json!("done")));
    // Completing a key nobody claimed is refused.
    assert!(matches!(
        store.complete("fn#acme#never", &json!(1), deadline).await,
        Err(StoreError::NotFound)
    ));
    idem.release("fn#acme#never").await.unwrap();
}

pub async fn a_single_use_key_is_consumed_once<S: TestStore>(store: Arc<S>) {
    // GIVEN 20 concurrent submissions of one confirmation (valid for 10 minutes)
    let now = t0();
    let until = now + Duration::minutes(10);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.consume_once("confirmation#acme#n1", now, until).await });
    }
    let mut first = 0;
    while let Some(joined) = tasks.join_next().await {
        first += usize::from(joined.expect("task").unwrap());
    }
    // THEN exactly one consumed it
    assert_eq!(first, 1);
    // AND it stays used until its end, even long after any claim deadline, and is never released
    store.release("confirmation#acme#n1").await.unwrap();
    let late = now + Duration::minutes(9);
    assert!(!store.consume_once("confirmation#acme#n1", late, late).await.unwrap());
    // AND it reads back consumed until the use's answer is stored, then with that answer
    let record = store.get("confirmation#acme#n1", late).await.unwrap().unwrap();
    assert_eq!((record.status, record.response), (IdempotencyStatus::Consumed, None));
    store
        .complete("confirmation#acme#n1", &json!({"exported": 1}), until)
        .await
        .unwrap();
    let record = store.get("confirmation#acme#n1", late).await.unwrap().unwrap();
    assert_eq!(record.status, IdempotencyStatus::Complete);
    assert_eq!(record.response, Some(json!({"exported": 1})));
    assert!(!store.consume_once("confirmation#acme#n1", late, late).await.unwrap());
    // AND another key is independent, and an expired use may be consumed again
    assert!(store.consume_once("confirmation#acme#n2", now, until).await.unwrap());
    let after = until + Duration::seconds(2);
    assert!(
        store
            .consume_once("confirmation#acme#n1", after, after + Duration::minutes(10))
            .await
            .unwrap()
    );
}
