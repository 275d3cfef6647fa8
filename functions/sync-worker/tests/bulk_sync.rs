//! The bulk sync end to end on the real clients: the Autotask sandbox over HTTP (validation,
//! paging, call counters), the ChannelOnline sandbox, the in-memory store, the in-process queue
//! with its dead-letter queue, the planner and the worker's handlers exactly as deployed.

use std::sync::Arc;

use async_trait::async_trait;
use autotask_sandbox::{AutotaskSandbox, RunningSandbox, SandboxConfig};
use channelonline_sandbox::MemoryChannelOnline;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use shared::app::TenantContext;
use shared::autotask::{AutotaskClient, ClientConfig, ClientCredentials};
use shared::channelonline::protocol::RequestKind;
use shared::channelonline::{Address, Customer};
use shared::clock::{Clock, ManualClock};
use shared::domain::mapping::{Mapping, MappingKind};
use shared::domain::settings::{FieldOwner, TenantSettings};
use shared::queue::{InProcessQueue, QueueConfig};
use shared::secret::SecretString;
use shared::store::memory::MemoryStore;
use shared::store::{AuditLog, MappingStore, SyncStateStore};
use shared::sync::bulk::{
    HandlerFactory, ItemError, ItemHandler, PlannerConfig, RunRecord, Stream, TenantItemHandler,
    pair_sync::customer_values, run_on_demand,
};
use shared::tenant::TenantId;

struct Env {
    at: RunningSandbox,
    col: Arc<MemoryChannelOnline>,
    store: Arc<MemoryStore>,
    ctx: TenantContext,
    clock: Arc<ManualClock>,
    queue: Arc<InProcessQueue>,
}

fn at_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn customer(number: &str, name: &str, phone: &str, modified: DateTime<Utc>) -> Customer {
    Customer {
        customer_id: format!("id-{number}"),
        number: number.into(),
        company_name: name.into(),
        phone: Some(phone.into()),
        address: Some(Address {
            line1: Some("1 Main St".into()),
            city: Some("Austin".into()),
            state: Some("TX".into()),
            postal_code: Some("78701".into()),
            ..Address::default()
        }),
        modified_at: Some(modified),
        ..Customer::default()
    }
}

async fn env(settings: TenantSettings) -> Env {
    env_at(
        settings,
        DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z").unwrap().to_utc(),
    )
    .await
}

/// The environment with the run's clock at `now` (the sandbox stamps its writes with real time).
async fn env_at(settings: TenantSettings, now: DateTime<Utc>) -> Env {
    let at = AutotaskSandbox::start(SandboxConfig::default()).await.unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    let client = AutotaskClient::new(ClientConfig::with_zone_host(&at.base_url()))
        .unwrap()
        .for_tenant(
            tenant.clone(),
            ClientCredentials {
                username: at.config().username.clone(),
                secret: SecretString::new(at.config().secret.clone()),
                integration_code: at.config().integration_code.clone(),
                impersonation_resource_id: None,
            },
        );
    let col = Arc::new(MemoryChannelOnline::new(channelonline_sandbox::SandboxConfig::default()));
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::at(now));
    let queue = Arc::new(InProcessQueue::new(QueueConfig::default(), clock.clone()));
    let ctx = TenantContext {
        tenant,
        settings,
        settings_version: None,
        autotask: client,
        channelonline: col.clone(),
        mappings: store.clone(),
        settings_store: store.clone(),
        audit: store.clone(),
        sync_state: store.clone(),
        idempotency_store: store.clone(),
        clock: clock.clone(),
        actor: "sync-worker".into(),
        deadline: now + shared::app::DEFAULT_BUDGET,
    };
    Env {
        at,
        col,
        store,
        ctx,
        clock,
        queue,
    }
}

/// A mapped pair in sync as of the last run: same values both sides, stored as the snapshot.
async fn seed_pair(e: &Env, owner: i64, i: usize, at_phone: &str, at_changed: DateTime<Utc>) -> (String, i64) {
    let old = e.clock.now() - Duration::days(2);
    let number = format!("C{i:04}");
    let name = format!("Company {i:04}");
    let col = customer(&number, &name, "512-555-0000", old);
    let at_id = e.at.state().insert(
        "Companies",
        json!({"companyName": name, "companyType": 1, "ownerResourceID": owner, "phone": at_phone,
               "address1": "1 Main St", "city": "Austin", "state": "TX", "postalCode": "78701",
               "isActive": true, "createDate": at_time(old), "lastActivityDate": at_time(at_changed)}),
    );
    let mut mapping = Mapping::new(MappingKind::Customer, &number, at_id, old);
    mapping.data = json!({ "synced": customer_values(&col) });
    e.col.state().insert_customer(col);
    e.store.create_pair(&e.ctx.tenant, &mapping).await.unwrap();
    (number, at_id)
}

async fn set_checkpoints(e: &Env, at: DateTime<Utc>) {
    for s in Stream::ALL {
        let doc = json!({ "stream": s, "watermark": at });
        e.store
            .put_checkpoint(&e.ctx.tenant, s.as_str(), &doc, None, e.clock.now())
            .await
            .unwrap();
    }
}

struct Handlers(TenantContext);

#[async_trait]
impl HandlerFactory for Handlers {
    async fn for_tenant(
        &self,
        _: &TenantId,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<Arc<dyn ItemHandler>, ItemError> {
        Ok(Arc::new(TenantItemHandler { ctx: self.0.clone() }))
    }
}

async fn run_once(e: &Env) -> RunRecord {
    run_on_demand(
        &e.ctx,
        &Handlers(e.ctx.clone()),
        e.queue.clone(),
        PlannerConfig::default(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_changed_of_1200_mapped_companies_make_exactly_thirty_updates() {
    // GIVEN 1,200 mapped pairs in sync, 30 of whose Autotask phones changed after the checkpoint
    let e = env(TenantSettings::default()).await;
    let owner = e.at.state().add_resource("Sam", "Seller", "sam@reseller.test", false);
    let checkpoint = e.clock.now() - Duration::hours(1);
    let mut changed = Vec::new();
    for i in 0..1_200 {
        if i % 40 == 7 {
            let pair = seed_pair(
                &e,
                owner,
                i,
                &format!("512-555-{i:04}"),
                e.clock.now() - Duration::minutes(10),
            )
            .await;
            changed.push(pair);
        } else {
            seed_pair(&e, owner, i, "512-555-0000", e.clock.now() - Duration::days(2)).await;
        }
    }
    assert_eq!(changed.len(), 30);
    set_checkpoints(&e, checkpoint).await;
    e.at.counters().reset();
    let col_upserts_before = e.col.state().calls(RequestKind::ImportCustomers);

    // WHEN the scheduled run plans and the worker drains the queue
    let run = run_once(&e).await;

    // THEN 30 items were planned and done, each one ChannelOnline update of the phone
    assert_eq!(run.counts.planned, 30, "{}", run.to_view());
    assert_eq!(
        (run.counts.done, run.counts.skipped, run.counts.failed),
        (30, 0, 0),
        "{:?}",
        run.failures.first()
    );
    assert_eq!(
        e.col.state().calls(RequestKind::ImportCustomers) - col_upserts_before,
        30
    );
    for (number, at_id) in &changed {
        let phone = e.col.state().customer(number).unwrap().phone.clone();
        assert_eq!(
            phone,
            e.at.state().get("Companies", *at_id).unwrap()["phone"]
                .as_str()
                .map(str::to_owned)
        );
    }
    // AND no write reached Autotask: one company query page (POST …/query, no create), one
    // contact page, the threshold, then one GET per changed company
    let counters = e.at.counters();
    assert_eq!(
        counters.calls("PATCH", "Companies") + counters.calls("PUT", "Companies"),
        0
    );
    assert_eq!(counters.calls("POST", "Companies"), 1);
    assert_eq!(counters.reads("Companies"), 30);
    let total = counters.total();
    println!(
        "measured Autotask calls for 1,200 mapped / 30 changed: {:?}",
        counters.snapshot()
    );
    // zone discovery (not budgeted) + threshold + company page + contact page + 30 GETs
    assert_eq!(total, 1 + 1 + 1 + 1 + 30, "{:?}", counters.snapshot());
    assert_eq!(run.autotask_calls.total(), total - 1);
    assert!(run.stop_reason.is_none());
    assert!(e.queue.is_empty() && e.queue.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_changed_on_both_sides_follows_the_owner_setting_and_is_audited() {
    // GIVEN ChannelOnline owns `phone`; both sides changed it, Autotask more recently
    let mut settings = TenantSettings::default();
    settings
        .bulk_sync
        .field_owners
        .insert("phone".into(), FieldOwner::ChannelOnline);
    let e = env(settings).await;
    let owner = e.at.state().add_resource("Sam", "Seller", "sam@reseller.test", false);
    let (number, at_id) = seed_pair(&e, owner, 1, "512-555-9999", e.clock.now() - Duration::minutes(5)).await;
    {
        let mut col = e.col.state();
        let mut c = col.customer(&number).unwrap().clone();
        c.phone = Some("512-555-1111".into());
        c.modified_at = Some(e.clock.now() - Duration::minutes(20));
        col.insert_customer(c);
    }
    set_checkpoints(&e, e.clock.now() - Duration::hours(1)).await;
    e.at.counters().reset();

    // WHEN the run plans both changes (one per side) and the worker applies them
    let run = run_once(&e).await;

    // THEN ChannelOnline's phone wins in Autotask (one PATCH), once, despite being older
    assert_eq!(
        e.at.state().get("Companies", at_id).unwrap()["phone"],
        Value::String("512-555-1111".into())
    );
    assert_eq!(e.at.counters().calls("PATCH", "Companies"), 1);
    assert_eq!(run.counts.planned, 2);
    assert_eq!((run.counts.done, run.counts.skipped), (1, 1), "{}", run.to_view());
    // AND the audit trail names the field, the rule and both values
    let audit = AuditLog::list(e.store.as_ref(), &e.ctx.tenant, None, 10).await.unwrap();
    let rec = audit
        .items
        .iter()
        .find(|r| r.action == "bulk-sync.customer")
        .expect("audited");
    assert_eq!(rec.at_ids, vec![at_id]);
    let conflict = &rec.changes["field_conflicts"][0];
    assert_eq!(conflict["field"], "phone");
    assert_eq!(conflict["rule"], "owner");
    assert_eq!(conflict["winner"], "channelonline");
    assert_eq!(conflict["owner_overrode_most_recent"], true);
    assert_eq!(conflict["autotask"], "512-555-9999");
    // AND the stored snapshot now matches both sides, so the next run writes nothing
    let m = e
        .store
        .get_by_col(&e.ctx.tenant, MappingKind::Customer, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.data["synced"]["phone"], "512-555-1111");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_the_budget_share_the_run_stops_keeps_checkpoints_and_says_why() {
    // GIVEN other integrations already used 60 % of the tenant's hourly Autotask budget
    let e = env(TenantSettings::default()).await;
    let owner = e.at.state().add_resource("Sam", "Seller", "sam@reseller.test", false);
    seed_pair(&e, owner, 1, "512-555-7777", e.clock.now() - Duration::minutes(10)).await;
    let checkpoint = e.clock.now() - Duration::hours(1);
    set_checkpoints(&e, checkpoint).await;
    e.at.state().set_requests_this_hour(6_000);
    e.at.counters().reset();
    // WHEN a run starts
    let run = run_once(&e).await;
    // THEN it read only ThresholdInformation, planned nothing, kept every checkpoint
    assert_eq!(e.at.counters().calls("GET", "ThresholdInformation"), 1);
    assert_eq!(e.at.counters().calls("POST", "Companies"), 0);
    assert_eq!(run.counts.planned, 0);
    let view = run.to_view();
    assert_eq!(view["stop_reason"]["kind"], "budget", "{view}");
    assert!(view["stop_reason"]["message"].as_str().unwrap().contains("next run"));
    for s in Stream::ALL {
        let cp = e
            .store
            .get_checkpoint(&e.ctx.tenant, s.as_str())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cp.doc["watermark"], json!(checkpoint), "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_unmapped_customer_is_proposed_not_created_unless_the_setting_says_create() {
    for create in [false, true] {
        // GIVEN a ChannelOnline customer changed after the checkpoint with no Autotask mapping
        let mut settings = TenantSettings::default();
        settings.bulk_sync.create_unmapped_customers = create;
        let e = env(settings).await;
        let owner = e.at.state().add_resource("Sam", "Seller", "sam@reseller.test", false);
        let mut ctx = e.ctx.clone();
        ctx.settings.field_mappings.new_company.company_type_id = Some(1);
        ctx.settings.field_mappings.new_company.owner_resource_id = Some(owner);
        let e = Env { ctx, ..e };
        let fresh = customer(
            "N0001",
            "Brand New LLC",
            "512-555-3333",
            e.clock.now() - Duration::minutes(5),
        );
        e.col.state().insert_customer(fresh);
        set_checkpoints(&e, e.clock.now() - Duration::hours(1)).await;
        e.at.counters().reset();
        // WHEN a run syncs it
        let run = run_once(&e).await;
        assert_eq!(run.counts.planned, 1, "{}", run.to_view());
        let companies = e.at.counters().calls("POST", "Companies");
        if create {
            // THEN with "create" the export-customer service creates and maps the company
            assert_eq!(run.counts.done, 1, "{}", run.to_view());
            let m = e
                .store
                .get_by_col(&e.ctx.tenant, MappingKind::Customer, "N0001")
                .await
                .unwrap();
            assert!(m.is_some(), "mapped after the create");
        } else {
            // THEN by default nothing is created: it is left for Map Customers
            assert_eq!(run.counts.skipped, 1);
            // (POSTs on Companies are queries here: the planner's page and the proposal's look-up)
            assert_eq!(companies, 2, "the planner's query page and the candidate look-up");
            assert!(e.at.state().all("Companies").is_empty(), "nothing created");
            assert!(
                e.store
                    .get_by_col(&e.ctx.tenant, MappingKind::Customer, "N0001")
                    .await
                    .unwrap()
                    .is_none()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_products_own_company_write_comes_back_once_through_the_feed_and_writes_nothing() {
    // GIVEN a pair in sync whose ChannelOnline phone then changed, and the run's clock at real
    // time (Autotask stamps lastActivityDate on every write, so the product's PATCH is a change)
    let e = env_at(TenantSettings::default(), Utc::now()).await;
    let owner = e.at.state().add_resource("Sam", "Seller", "sam@reseller.test", false);
    let (number, at_id) = seed_pair(&e, owner, 1, "512-555-0000", e.clock.now() - Duration::days(2)).await;
    {
        let mut col = e.col.state();
        let mut c = col.customer(&number).unwrap().clone();
        c.phone = Some("512-555-4242".into());
        c.modified_at = Some(e.clock.now() - Duration::minutes(5));
        col.insert_customer(c);
    }
    set_checkpoints(&e, e.clock.now() - Duration::hours(1)).await;
    e.at.counters().reset();
    let col_upserts = || e.col.state().calls(RequestKind::ImportCustomers);
    let patches = || e.at.counters().calls("PATCH", "Companies") + e.at.counters().calls("PUT", "Companies");

    // WHEN the first run syncs the ChannelOnline change to Autotask
    let first = run_once(&e).await;
    assert_eq!(
        (first.counts.planned, first.counts.failed),
        (1, 0),
        "{}",
        first.to_view()
    );
    assert_eq!(patches(), 1);
    let written = e.at.state().get("Companies", at_id).unwrap();
    assert_eq!(written["phone"], "512-555-4242");
    let stamped: DateTime<Utc> = written["lastActivityDate"].as_str().unwrap().parse().unwrap();
    assert!(stamped >= e.clock.now(), "the PATCH moved lastActivityDate");
    let upserts_after_first = col_upserts();

    // AND the next run (10 minutes later) reads that write back from the Autotask feed
    e.clock.advance(Duration::minutes(10));
    let second = run_once(&e).await;

    // THEN it is planned once, found in sync, and nothing is written to either side
    assert_eq!(
        (second.counts.planned, second.counts.failed),
        (1, 0),
        "{}",
        second.to_view()
    );
    assert_eq!(patches(), 1, "no second PATCH");
    assert_eq!(col_upserts(), upserts_after_first, "no ChannelOnline write");
    assert_eq!(
        e.at.state().get("Companies", at_id).unwrap()["lastActivityDate"],
        written["lastActivityDate"],
        "Autotask was not touched again"
    );

    // AND the run after that finds nothing at all: the loop is closed
    e.clock.advance(Duration::minutes(10));
    let third = run_once(&e).await;
    assert_eq!(third.counts.planned, 0, "{}", third.to_view());
    assert_eq!(patches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_the_product_created_comes_back_once_through_the_feed_and_writes_nothing() {
    // GIVEN "create unmapped customers" and a new ChannelOnline customer, the clock at real time
    let mut settings = TenantSettings::default();
    settings.bulk_sync.create_unmapped_customers = true;
    let e = env_at(settings, Utc::now()).await;
    let owner = e.at.state().add_resource("Sam", "Seller", "sam@reseller.test", false);
    let mut ctx = e.ctx.clone();
    ctx.settings.field_mappings.new_company.company_type_id = Some(1);
    ctx.settings.field_mappings.new_company.owner_resource_id = Some(owner);
    let e = Env { ctx, ..e };
    e.col.state().insert_customer(customer(
        "N0002",
        "Fresh Start LLC",
        "512-555-6060",
        e.clock.now() - Duration::minutes(5),
    ));
    set_checkpoints(&e, e.clock.now() - Duration::hours(1)).await;
    e.at.counters().reset();

    // WHEN the first run creates and maps the company
    let first = run_once(&e).await;
    assert_eq!((first.counts.done, first.counts.failed), (1, 0), "{}", first.to_view());
    let mapping = e
        .store
        .get_by_col(&e.ctx.tenant, MappingKind::Customer, "N0002")
        .await
        .unwrap()
        .expect("mapped");
    let created = e.at.state().get("Companies", mapping.at_id).unwrap();
    let patches = || e.at.counters().calls("PATCH", "Companies") + e.at.counters().calls("PUT", "Companies");
    let (patches_first, upserts_first) = (patches(), e.col.state().calls(RequestKind::ImportCustomers));

    // AND the next run reads the new company back from the Autotask feed
    e.clock.advance(Duration::minutes(10));
    let second = run_once(&e).await;

    // THEN it finds the pair in sync and writes nothing to either side
    assert_eq!(second.counts.failed, 0, "{}", second.to_view());
    assert!(
        second.counts.planned >= 1,
        "the create is in the feed: {}",
        second.to_view()
    );
    assert_eq!(patches(), patches_first, "no PATCH of the company just created");
    assert_eq!(e.col.state().calls(RequestKind::ImportCustomers), upserts_first);
    assert_eq!(
        e.at.state().get("Companies", mapping.at_id).unwrap()["lastActivityDate"],
        created["lastActivityDate"]
    );
    // AND the run after that has nothing to do
    e.clock.advance(Duration::minutes(10));
    assert_eq!(run_once(&e).await.counts.planned, 0);
}
