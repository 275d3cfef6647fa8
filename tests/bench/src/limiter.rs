//! Section 7: what the tenant-wide Autotask limiter costs. Autotask calls through the real client
//! against the Autotask sandbox (answering at once, so the difference is the limiter's), with the
//! call slots in an embedded DynamoDB (the same `DynamoStore` the functions use): one caller one
//! call after another without and with the slots, then two instances of 3 callers each competing
//! for the 3 slots while Autotask answers after a delay. Store calls are counted at the port.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use autotask_sandbox::{AutotaskSandbox, RunningSandbox, SandboxConfig};
use chrono::{DateTime, Utc};
use shared::autotask::{AutotaskClient, ClientConfig, ClientCredentials, SharedLimit, TenantClient};
use shared::clock::SystemClock;
use shared::secret::SecretString;
use shared::store::dynamo::{DynamoStore, TableNames};
use shared::store::{SlotStore, StoreResult};
use shared::tenant::TenantId;
use testkit::dynamo::EmbeddedDynamo;

use crate::report::{Row, Section, Verdict};
use crate::stats::{millis, percentile};

/// Counts the store calls the limiter makes.
struct Counting {
    inner: DynamoStore,
    takes: AtomicU64,
    refused: AtomicU64,
    releases: AtomicU64,
}

impl Counting {
    fn total(&self) -> u64 {
        self.takes.load(Ordering::Relaxed) + self.releases.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl SlotStore for Counting {
    async fn take_slot(
        &self,
        tenant: &TenantId,
        bucket: &str,
        slot: u32,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.takes.fetch_add(1, Ordering::Relaxed);
        let taken = self.inner.take_slot(tenant, bucket, slot, owner, now, until).await?;
        if !taken {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        Ok(taken)
    }

    async fn release_slot(&self, tenant: &TenantId, bucket: &str, slot: u32, owner: &str) -> StoreResult<()> {
        self.releases.fetch_add(1, Ordering::Relaxed);
        self.inner.release_slot(tenant, bucket, slot, owner).await
    }
}

pub async fn run(quick: bool) -> Vec<Row> {
    match measure(if quick { 50 } else { 300 }).await {
        Ok(rows) => rows,
        Err(e) => vec![Row::not_measured(Section::Limiter, "tenant-wide limiter", e)],
    }
}

fn client(at: &RunningSandbox, tenant: &TenantId) -> Result<TenantClient, String> {
    let sandbox = at.config();
    let client = AutotaskClient::new(ClientConfig::with_zone_host(&at.base_url())).map_err(|e| e.to_string())?;
    Ok(client.for_tenant(
        tenant.clone(),
        ClientCredentials {
            username: sandbox.username.clone(),
            secret: SecretString::new(sandbox.secret.clone()),
            integration_code: sandbox.integration_code.clone(),
            impersonation_resource_id: None,
        },
    ))
}

/// Per-call wall times of `calls` sequential Autotask reads.
async fn sequential(at: &TenantClient, calls: usize) -> Result<Vec<f64>, String> {
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        at.threshold_information().await.map_err(|e| e.to_string())?;
        samples.push(millis(started.elapsed()));
    }
    Ok(samples)
}

async fn measure(calls: usize) -> Result<Vec<Row>, String> {
    let at = AutotaskSandbox::start(SandboxConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let dynamo = EmbeddedDynamo::start().await.map_err(|e| e.to_string())?;
    let store = DynamoStore::new(
        dynamo.client().await,
        TableNames {
            mappings: "bench-limiter".into(),
            idempotency: "bench-limiter-idempotency".into(),
        },
    );
    store.create_tables().await.map_err(|e| e.to_string())?;
    let slots = Arc::new(Counting {
        inner: store,
        takes: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        releases: AtomicU64::new(0),
    });
    let tenant = TenantId::parse("bench").map_err(|e| e.to_string())?;
    let limit = SharedLimit {
        store: slots.clone(),
        clock: Arc::new(SystemClock),
        slots: 3,
    };

    // One caller: the same reads without and with the slots (the zone lookup warmed first).
    let plain = client(&at, &tenant)?;
    let limited = client(&at, &tenant)?.with_shared_limit(limit.clone());
    sequential(&plain, 3).await?;
    sequential(&limited, 3).await?;
    let before = slots.total();
    let without = sequential(&plain, calls).await?;
    let with = sequential(&limited, calls).await?;
    let per_call = (slots.total() - before) as f64 / calls as f64;
    let (p50_without, p50_with) = (
        percentile(&without, 50.0).unwrap_or(0.0),
        percentile(&with, 50.0).unwrap_or(0.0),
    );
    let p95_with = percentile(&with, 95.0).unwrap_or(0.0);
    let mut rows = vec![
        Row::new(Section::Limiter, format!("one caller, {calls} calls"))
            .measured(format!(
                "{per_call:.2} store calls per Autotask call; p50 {p50_with:.2} ms with slots vs {p50_without:.2} ms without (+{:.2} ms), p95 {p95_with:.2} ms",
                p50_with - p50_without
            ))
            .bound("2 store calls (take + release) per Autotask call")
            .verdict(Verdict::against(per_call <= 2.0))
            .value("store_calls_per_call", per_call)
            .value("p50_with_ms", p50_with)
            .value("p50_without_ms", p50_without)
            .value("added_p50_ms", p50_with - p50_without)
            .value("p95_with_ms", p95_with),
    ];

    // Two instances, 3 callers each, competing for 3 slots; Autotask answers after 20 ms.
    at.counters().reset();
    at.counters().set_latency(Duration::from_millis(20));
    let instances = [
        client(&at, &tenant)?.with_shared_limit(limit.clone()),
        client(&at, &tenant)?.with_shared_limit(limit.clone()),
    ];
    let per_caller = calls / 6;
    let (before, refused_before) = (slots.total(), slots.refused.load(Ordering::Relaxed));
    let started = Instant::now();
    let callers = instances
        .iter()
        .flat_map(|c| (0..3).map(move |_| sequential(c, per_caller)));
    for result in futures_util::future::join_all(callers).await {
        result?;
    }
    let elapsed = millis(started.elapsed());
    let made = (per_caller * 6) as f64;
    let per_call = (slots.total() - before) as f64 / made;
    let refused = (slots.refused.load(Ordering::Relaxed) - refused_before) as f64 / made;
    let peak = at.counters().peak_in_flight("ThresholdInformation");
    let refusals = at.counters().thread_limit_refusals();
    let bound_ms = made * 20.0 / 3.0;
    rows.push(
        Row::new(Section::Limiter, format!("2 instances x 3 callers, {} calls at 20 ms", made as u64))
            .measured(format!(
                "{per_call:.2} store calls per Autotask call ({refused:.2} refused takes); Autotask peak {peak} in flight, {refusals} thread-limit refusals; {elapsed:.0} ms ({:.0}% of the 3-in-flight bound {bound_ms:.0} ms)",
                100.0 * bound_ms / elapsed
            ))
            .bound("≤ 3 in flight, 0 refusals")
            .verdict(Verdict::against(peak <= 3 && refusals == 0))
            .value("store_calls_per_call", per_call)
            .value("refused_takes_per_call", refused)
            .value("peak_in_flight", peak as f64)
            .value("thread_limit_refusals", refusals as f64)
            .value("elapsed_ms", elapsed)
            .value("three_in_flight_ms", bound_ms),
    );
    Ok(rows)
}
