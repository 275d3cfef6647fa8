//! The planner's Lambda handler. EventBridge Scheduler (`ScheduleV2`) passes the schedule's
//! `Input` verbatim, so the event is our own [`PlannerInput`], not the classic EventBridge
//! envelope (which this handler refuses, naming the shape it expects).
//!
//! The one schedule sends `{"dispatch":"enabled_tenants"}`: the planner lists the tenants whose
//! settings turn bulk sync on and plans each in turn, each under its own lease, so turning a
//! tenant on or off is a settings change, never a deploy. `{"tenant":"<id>"}` plans one tenant
//! (an operator's on-demand run with `"trigger":"manual"`).

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::queue::WorkQueue;
use shared::queue::sqs::SqsQueue;
use shared::sync::bulk::{BudgetPolicy, PlanOutcome, Planner, PlannerConfig, RunLedger, TenantFeed, Trigger};
use shared::tenant::TenantId;

/// The schedule's `Input`: `{"tenant":"<id>"}`; `"trigger":"manual"` runs even when the
/// tenant's scheduled sync is turned off (an on-demand run).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub tenant: TenantId,
    #[serde(default = "scheduled")]
    pub trigger: Trigger,
}

fn scheduled() -> Trigger {
    Trigger::Schedule
}

/// The one schedule's `Input`: `{"dispatch":"enabled_tenants"}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchInput {
    pub dispatch: DispatchScope,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchScope {
    /// Every tenant whose settings say `bulk_sync.enabled`.
    EnabledTenants,
}

/// What the planner accepts: the dispatcher's input (it has `dispatch`) or one tenant's. Chosen
/// by that key, so a wrong event is refused with the error of the shape it resembles.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub enum PlannerInput {
    Dispatch(DispatchInput),
    Tenant(ScheduleInput),
}

impl TryFrom<Value> for PlannerInput {
    type Error = serde_json::Error;

    fn try_from(v: Value) -> Result<Self, Self::Error> {
        if v.get("dispatch").is_some() {
            serde_json::from_value(v).map(PlannerInput::Dispatch)
        } else {
            serde_json::from_value(v).map(PlannerInput::Tenant)
        }
    }
}

/// Planning time kept for each tenant the dispatcher starts: with less than this left before
/// the invocation's deadline, the remaining tenants wait for the next schedule (they go first
/// then: tenants are taken oldest last run first).
pub const TENANT_PLANNING_RESERVE: Duration = Duration::seconds(30);

pub struct PlannerApp {
    pub app: AppContext,
    pub queue: Arc<dyn WorkQueue>,
    /// Deployment-wide cap on the budget share (`SYNC_BUDGET_SHARE`); a tenant's setting can
    /// only lower it.
    pub max_share_cap: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    #[error("{message}{}", fix.as_ref().map(|f| format!(" — {f}")).unwrap_or_default())]
    Tenant { message: String, fix: Option<String> },
    #[error(transparent)]
    Plan(#[from] shared::sync::bulk::BulkPlanError),
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    #[error(transparent)]
    App(#[from] shared::app::AppError),
    #[error(transparent)]
    Queue(#[from] shared::queue::QueueError),
    #[error("the tenants with bulk sync on could not be listed: {0}")]
    Store(#[from] shared::store::StoreError),
}

impl PlannerApp {
    pub async fn from_env() -> Result<Self, PlannerError> {
        let app = AppContext::from_env().await?;
        let queues = &app.config.queues;
        let url = queues.sync_queue_url.as_deref();
        let queue: Arc<dyn WorkQueue> =
            Arc::new(SqsQueue::configured(&app.aws, &app.config.endpoints, "SYNC_QUEUE_URL", url).await?);
        let max_share_cap = queues.sync_budget_share.unwrap_or(BudgetPolicy::default().max_share);
        Ok(Self {
            app,
            queue,
            max_share_cap,
        })
    }
}

/// Answers one invocation: the dispatcher's summary or one tenant's run record.
pub async fn handle_input(app: &PlannerApp, input: PlannerInput, deadline: SystemTime) -> Result<Value, PlannerError> {
    match input {
        PlannerInput::Dispatch(DispatchInput {
            dispatch: DispatchScope::EnabledTenants,
        }) => dispatch(app, deadline.into()).await,
        PlannerInput::Tenant(input) => handle(app, input, deadline.into()).await,
    }
}

/// Plans every enabled tenant in turn, oldest last run first. One tenant's failure is reported
/// and does not stop the others; the invocation fails only when the tenants cannot be listed.
pub async fn dispatch(app: &PlannerApp, deadline: DateTime<Utc>) -> Result<Value, PlannerError> {
    let tenants = app.app.settings.bulk_sync_tenants().await?;
    let ledger = RunLedger::new(app.app.sync_state.clone(), app.app.clock.clone());
    let mut ordered = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        // An unreadable run history only loses the tenant its place in the order.
        let last = match ledger.list(&tenant, None, 1).await {
            Ok(page) => page.items.first().map(|r| r.started_at),
            Err(_) => None,
        };
        ordered.push((last, tenant));
    }
    ordered.sort();
    let mut results = Vec::with_capacity(ordered.len());
    for (_, tenant) in ordered {
        if deadline - app.app.clock.now() < TENANT_PLANNING_RESERVE {
            results.push(json!({ "tenant": tenant, "status": "deferred",
                "message": "Not started: too little time left in this invocation; it goes first next time." }));
            continue;
        }
        let input = ScheduleInput {
            tenant: tenant.clone(),
            trigger: Trigger::Schedule,
        };
        results.push(match handle(app, input, deadline).await {
            Ok(run) => run,
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "planning failed");
                json!({ "tenant": tenant, "status": "failed", "message": e.to_string() })
            }
        });
    }
    Ok(json!({ "status": "dispatched", "tenants": results }))
}

/// Plans one run for the input's tenant and answers the run record (or why nothing ran);
/// `deadline` is the invocation's.
pub async fn handle(app: &PlannerApp, input: ScheduleInput, deadline: DateTime<Utc>) -> Result<Value, PlannerError> {
    let ctx = app
        .app
        .tenant(&input.tenant, deadline)
        .await
        .map_err(|e| PlannerError::Tenant {
            message: e.message,
            fix: e.fix,
        })?;
    let options = &ctx.settings.bulk_sync;
    if input.trigger == Trigger::Schedule && !options.enabled {
        tracing::info!(tenant = %input.tenant, "scheduled bulk sync is turned off");
        return Ok(json!({ "status": "disabled", "tenant": input.tenant,
            "message": "Bulk sync is turned off in the settings (bulk_sync.enabled)." }));
    }
    let planner = Planner {
        sync_state: ctx.sync_state.clone(),
        queue: app.queue.clone(),
        clock: ctx.clock.clone(),
        config: PlannerConfig {
            budget: BudgetPolicy {
                max_share: options.budget_share.min(app.max_share_cap),
            },
            ..PlannerConfig::default().for_options(options)
        },
    };
    let feed = TenantFeed::new(ctx.autotask.clone(), ctx.channelonline.clone());
    Ok(match planner.plan(&input.tenant, input.trigger, &feed).await? {
        PlanOutcome::LeaseHeld { owner, until } => json!({
            "status": "lease_held", "tenant": input.tenant, "held_by": owner, "until": until,
            "message": "Another bulk sync of this tenant is planning; this one did nothing.",
        }),
        PlanOutcome::Planned(record) => record.to_view(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::app::Stores;
    use shared::clock::ManualClock;
    use shared::config::{Config, SecretsConfig};
    use shared::queue::{InProcessQueue, QueueConfig};
    use shared::secrets::file::FileSecretSource;
    use shared::store::memory::MemoryStore;
    use shared::store::{SettingsStore, SyncStateStore};
    use shared::sync::bulk::{RunId, RunRecord};

    /// Tenants `a` and `b` with bulk sync on (`a` ran an hour ago, `b` never), `c` off; no
    /// credentials anywhere, so each planning attempt fails at the tenant's secrets.
    async fn app() -> (PlannerApp, DateTime<Utc>) {
        let now = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z").unwrap().to_utc();
        let store = Arc::new(MemoryStore::new());
        for (t, on) in [("a", true), ("b", true), ("c", false)] {
            let doc = json!({ "bulk_sync": { "enabled": on } });
            store
                .put_settings(&TenantId::parse(t).unwrap(), &doc, None, now)
                .await
                .unwrap();
        }
        let a = TenantId::parse("a").unwrap();
        let started = now - Duration::hours(1);
        let run = RunRecord::new(a.clone(), RunId::new(started), Trigger::Schedule, started);
        let stored = shared::store::StoredRunRecord {
            run_id: run.run_id.to_string(),
            data: serde_json::to_value(&run).unwrap(),
        };
        store.put_run(&a, &stored).await.unwrap();
        let path = std::env::temp_dir().join(format!("no-secrets-{:016x}.json", fastrand::u64(..)));
        let config = Config {
            mapping_table: "mappings".into(),
            idempotency_table: "idempotency".into(),
            signature_window_secs: 300,
            secrets: SecretsConfig::File(path.clone()),
            secrets_cache_ttl_secs: 300,
            endpoints: shared::config::Endpoints::default(),
            queues: Default::default(),
            clients: Default::default(),
            links: Default::default(),
        };
        let clock = Arc::new(ManualClock::at(now));
        let app = AppContext::new(
            config,
            clock.clone(),
            Arc::new(FileSecretSource::new(path)),
            Stores::all(store),
        );
        let queue = Arc::new(InProcessQueue::new(QueueConfig::default(), clock));
        (
            PlannerApp {
                app,
                queue,
                max_share_cap: 0.5,
            },
            now,
        )
    }

    #[tokio::test]
    async fn dispatch_plans_every_enabled_tenant_oldest_run_first_and_one_failure_stops_none() {
        let (app, now) = app().await;
        let out = dispatch(&app, now + Duration::seconds(120)).await.unwrap();
        let tenants = out["tenants"].as_array().unwrap();
        let order: Vec<&str> = tenants.iter().map(|t| t["tenant"].as_str().unwrap()).collect();
        assert_eq!(order, ["b", "a"], "{out}");
        assert!(tenants.iter().all(|t| t["status"] == "failed"), "{out}");
    }

    #[tokio::test]
    async fn dispatch_defers_the_tenants_it_has_no_time_left_for() {
        let (app, now) = app().await;
        let out = dispatch(&app, now + Duration::seconds(10)).await.unwrap();
        let statuses: Vec<&str> = out["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["deferred", "deferred"], "{out}");
    }

    fn fixture() -> &'static str {
        include_str!("../../../events/sync-planner-tenant.json")
    }

    #[test]
    fn accepts_the_scheduler_input_fixture() {
        let input: ScheduleInput = serde_json::from_str(fixture()).unwrap();
        assert_eq!(input.tenant.as_str(), "demo");
        assert_eq!(input.trigger, Trigger::Schedule);
        let manual: ScheduleInput = serde_json::from_str(r#"{"tenant":"demo","trigger":"manual"}"#).unwrap();
        assert_eq!(manual.trigger, Trigger::Manual);
    }

    #[test]
    fn the_one_schedule_input_dispatches_and_a_tenant_input_plans_one() {
        let dispatch: PlannerInput = serde_json::from_str(include_str!("../../../events/sync-planner.json")).unwrap();
        assert_eq!(
            dispatch,
            PlannerInput::Dispatch(DispatchInput {
                dispatch: DispatchScope::EnabledTenants
            })
        );
        let tenant: PlannerInput = serde_json::from_str(fixture()).unwrap();
        assert!(matches!(tenant, PlannerInput::Tenant(t) if t.tenant.as_str() == "demo"));
        // Each shape keeps its own refusals.
        let err = serde_json::from_str::<PlannerInput>(r#"{"dispatch":"everyone"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        let err =
            serde_json::from_str::<PlannerInput>(r#"{"dispatch":"enabled_tenants","tenant":"demo"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let classic = r#"{"version":"0","detail-type":"Scheduled Event","detail":{}}"#;
        let err = serde_json::from_str::<PlannerInput>(classic).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn refuses_the_classic_eventbridge_envelope_and_bad_tenants() {
        let classic = r#"{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events",
            "account":"1","time":"2026-11-27T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#;
        assert!(serde_json::from_str::<ScheduleInput>(classic).is_err());
        assert!(serde_json::from_str::<ScheduleInput>(r#"{"tenant":"a/b"}"#).is_err());
    }
}
