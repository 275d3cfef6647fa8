//! Section 5: bulk-sync throughput — N mapped companies, 1% changed in Autotask since the last
//! checkpoint, Autotask answering after the injected latency. The planner and the worker run
//! in-process as deployed (`shared::sync::bulk`: planner → queue → 2 workers, the template's
//! ScalingConfig), each worker sequential. Reported: changed items per second in the worker
//! phase against the bound 3 concurrent calls per endpoint set, and Autotask calls used against
//! 25 + changed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use shared::channelonline::{Address, Customer};
use shared::domain::mapping::{Mapping, MappingKind};
use shared::queue::{InProcessQueue, QueueConfig};
use shared::sync::bulk::pair_sync::customer_values;
use shared::sync::bulk::{
    PlanOutcome, Planner, PlannerConfig, RunLedger, Stream, TenantFeed, TenantHandlers, Trigger, Worker, drain_visible,
};

use crate::lab::{CallCount, Lab, StoreKind};
use crate::report::{Row, Section, Verdict};
use crate::stats::millis;

/// Workers the template lets run at once (SyncWorkerFunction ScalingConfig).
const WORKERS: usize = 2;
const TARGET_SHARE: f64 = 0.8;

pub async fn run(dir: &Path, quick: bool, latency_ms: u64) -> Vec<Row> {
    let (mapped, changed) = if quick { (1_000, 10) } else { (10_000, 100) };
    let subject = format!("bulk sync, {mapped} mapped companies, {changed} changed");
    match measure(dir, mapped, changed, latency_ms).await {
        Ok(m) => rows(&subject, &m, latency_ms),
        Err(e) => vec![Row::not_measured(Section::BulkThroughput, subject, e)],
    }
}

struct BulkRun {
    changed: u64,
    done: u64,
    planning: CallCount,
    items: CallCount,
    planning_time: Duration,
    worker_time: Duration,
}

async fn measure(dir: &Path, mapped: usize, changed: usize, latency_ms: u64) -> Result<BulkRun, String> {
    let lab = Lab::start(&dir.join("secrets-bulk.json"), StoreKind::Memory)
        .await
        .map_err(|e| e.to_string())?;
    let ctx = lab.context().await.map_err(|e| e.to_string())?;
    let now = ctx.clock.now();
    seed_pairs(&lab, &ctx, mapped, changed, now).await?;
    for stream in Stream::ALL {
        let doc = json!({ "stream": stream, "watermark": now - chrono::Duration::hours(1) });
        ctx.sync_state
            .put_checkpoint(&ctx.tenant, stream.as_str(), &doc, None, now)
            .await
            .map_err(|e| e.to_string())?;
    }

    // Fresh clients, as a scheduled run's new function instances have; latency from here on.
    lab.renew_clients().map_err(|e| e.to_string())?;
    let ctx = lab.context().await.map_err(|e| e.to_string())?;
    let queue = Arc::new(InProcessQueue::new(QueueConfig::default(), ctx.clock.clone()));
    let planner = Planner {
        sync_state: ctx.sync_state.clone(),
        queue: queue.clone(),
        clock: ctx.clock.clone(),
        config: PlannerConfig::default(),
    };
    let feed = TenantFeed::new(ctx.autotask.clone(), ctx.channelonline.clone());
    lab.set_latency(Duration::from_millis(latency_ms));

    let meter = lab.meter();
    let started = Instant::now();
    let run = match planner
        .plan(&ctx.tenant, Trigger::Manual, &feed)
        .await
        .map_err(|e| e.to_string())?
    {
        PlanOutcome::Planned(run) => run,
        PlanOutcome::LeaseHeld { owner, .. } => return Err(format!("planner lease held by {owner}")),
    };
    let planning_time = started.elapsed();
    let planning = lab.calls_since(&meter);

    let meter = lab.meter();
    let started = Instant::now();
    let handlers = TenantHandlers {
        app: lab.app(),
        actor: "sync-worker".into(),
    };
    let worker = Worker {
        idempotency: ctx.idempotency_store.clone(),
        ledger: RunLedger::new(ctx.sync_state.clone(), ctx.clock.clone()),
        clock: ctx.clock.clone(),
        max_receive_count: queue.config().max_receive_count,
        record_ttl: chrono::Duration::days(4),
    };
    let deadline = ctx.clock.now() + chrono::Duration::seconds(60);
    let drain = || {
        drain_visible(queue.as_ref(), |event| {
            let (worker, handlers) = (&worker, &handlers);
            async move { Ok(worker.process(event, handlers, deadline).await.0) }
        })
    };
    let drains: Vec<_> = (0..WORKERS).map(|_| drain()).collect();
    for report in futures_util::future::join_all(drains).await {
        report.map_err(|e| e.to_string())?;
    }
    let worker_time = started.elapsed();
    let items = lab.calls_since(&meter);
    lab.set_latency(Duration::ZERO);

    let record = worker
        .ledger
        .get(&ctx.tenant, &run.run_id)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or(*run);
    if record.counts.planned as usize != changed {
        return Err(format!(
            "planned {} items for {changed} changed companies",
            record.counts.planned
        ));
    }
    Ok(BulkRun {
        changed: changed as u64,
        done: record.counts.done as u64,
        planning,
        items,
        planning_time,
        worker_time,
    })
}

/// Mapped pairs in sync as of the last run (same values both sides, stored as the snapshot);
/// every `mapped / changed`-th Autotask company got a new phone after the checkpoint.
async fn seed_pairs(
    lab: &Lab,
    ctx: &shared::app::TenantContext,
    mapped: usize,
    changed: usize,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let old = now - chrono::Duration::days(2);
    let every = mapped / changed.max(1);
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    for i in 0..mapped {
        let is_changed = i % every == every / 2 && i / every < changed;
        let number = format!("BK{i:05}");
        let name = format!("Bulk Company {i:05}");
        let customer = Customer {
            customer_id: format!("id-{number}"),
            number: number.clone(),
            company_name: name.clone(),
            phone: Some("512-555-0000".into()),
            address: Some(Address {
                line1: Some("1 Main St".into()),
                city: Some("Austin".into()),
                state: Some("TX".into()),
                postal_code: Some("78701".into()),
                ..Address::default()
            }),
            modified_at: Some(old),
            ..Customer::default()
        };
        let (phone, touched) = if is_changed {
            (format!("512-555-{i:04}"), now - chrono::Duration::minutes(10))
        } else {
            ("512-555-0000".to_owned(), old)
        };
        let at_id = lab.autotask.state().insert(
            "Companies",
            json!({"companyName": name, "companyType": 1, "ownerResourceID": lab.owner_resource_id, "phone": phone,
                   "address1": "1 Main St", "city": "Austin", "state": "TX", "postalCode": "78701",
                   "isActive": true, "createDate": stamp(old), "lastActivityDate": stamp(touched)}),
        );
        let mut mapping = Mapping::new(MappingKind::Customer, &number, at_id, old);
        mapping.data = json!({ "synced": customer_values(&customer) });
        lab.col.state().insert_customer(customer);
        ctx.mappings
            .create_pair(&ctx.tenant, &mapping)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn rows(subject: &str, m: &BulkRun, latency_ms: u64) -> Vec<Row> {
    // The bound: the worker phase's calls spread 3 in flight on every endpoint at the latency.
    let busiest = m.items.by_endpoint.values().max().copied().unwrap_or(0);
    let bound_secs = busiest as f64 * latency_ms as f64 / 1000.0 / 3.0;
    let secs = m.worker_time.as_secs_f64();
    let rate = m.done as f64 / secs;
    let bound_rate = if bound_secs > 0.0 {
        m.changed as f64 / bound_secs
    } else {
        f64::INFINITY
    };
    let share = rate / bound_rate;
    let budget = 25 + m.changed;
    let used = m.planning.total + m.items.total;
    vec![
        Row::new(Section::BulkThroughput, format!("{subject}: throughput"))
            .measured(format!(
                "{rate:.1} items/s = {:.0}% of bound ({} done in {:.1} s by {WORKERS} workers; planning {:.1} s)",
                share * 100.0,
                m.done,
                secs,
                m.planning_time.as_secs_f64()
            ))
            .bound(format!(
                "3 in flight per endpoint at {latency_ms} ms: {bound_rate:.1} items/s; target ≥ {:.0}%",
                TARGET_SHARE * 100.0
            ))
            .verdict(Verdict::against(share >= TARGET_SHARE))
            .value("items_per_s", rate)
            .value("bound_items_per_s", bound_rate)
            .value("share_of_bound", share)
            .value("worker_ms", millis(m.worker_time))
            .value("planning_ms", millis(m.planning_time))
            .value("done", m.done as f64)
            .value("workers", WORKERS as f64),
        Row::new(Section::BulkThroughput, format!("{subject}: Autotask calls"))
            .measured(format!(
                "{used} calls (planning {}, items {}; {} writes)",
                m.planning.total,
                m.items.total,
                m.planning.writes + m.items.writes
            ))
            .bound(format!("≤ 25 + changed = {budget}"))
            .verdict(Verdict::against(used <= budget))
            .value("calls", used as f64)
            .value("planning_calls", m.planning.total as f64)
            .value("item_calls", m.items.total as f64)
            .value("budget", budget as f64),
    ]
}
