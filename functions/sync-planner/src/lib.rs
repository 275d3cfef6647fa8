//! The planner's Lambda handler. EventBridge Scheduler (`ScheduleV2`) passes the schedule's
//! `Input` verbatim, so the event is our own [`ScheduleInput`], not the classic EventBridge
//! envelope (which this handler refuses, naming the shape it expects).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::app::AppContext;
use shared::config::{optional, parsed_or};
use shared::queue::WorkQueue;
use shared::queue::sqs::SqsQueue;
use shared::sync::bulk::{BudgetPolicy, PlanOutcome, Planner, PlannerConfig, TenantFeed, Trigger};
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
    Plan(#[from] shared::sync::bulk::PlanError),
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    #[error(transparent)]
    App(#[from] shared::app::AppError),
    #[error(transparent)]
    Queue(#[from] shared::queue::QueueError),
}

impl PlannerApp {
    pub async fn from_env() -> Result<Self, PlannerError> {
        let app = AppContext::from_env().await?;
        let queue: Arc<dyn WorkQueue> = Arc::new(SqsQueue::from_env().await?);
        let max_share_cap = parsed_or("SYNC_BUDGET_SHARE", BudgetPolicy::default().max_share)?;
        if optional("SYNC_QUEUE_URL").is_none() {
            tracing::warn!("SYNC_QUEUE_URL unset");
        }
        Ok(Self {
            app,
            queue,
            max_share_cap,
        })
    }
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
            ..PlannerConfig::default()
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

    fn fixture() -> &'static str {
        include_str!("../../../events/sync-planner.json")
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
    fn refuses_the_classic_eventbridge_envelope_and_bad_tenants() {
        let classic = r#"{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events",
            "account":"1","time":"2026-11-27T00:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#;
        assert!(serde_json::from_str::<ScheduleInput>(classic).is_err());
        assert!(serde_json::from_str::<ScheduleInput>(r#"{"tenant":"a/b"}"#).is_err());
    }
}
