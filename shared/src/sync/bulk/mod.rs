//! Scheduled bulk sync: what the planner enqueues, how the worker reports, and the pure rules
//! both follow (checkpoints, time windows, the Autotask budget, per-field owners).
//!
//! Shape on AWS: EventBridge Scheduler → `sync-planner` → SQS → `sync-worker` (partial batch
//! failures). The rules here have no AWS, HTTP or Lambda types so they are tested directly.

pub mod batch_response;
pub mod budget;
pub mod checkpoint;
pub mod contact_sync;
pub mod drain;
pub mod feed;
pub mod field_owner;
pub mod handler;
pub mod ledger;
pub mod on_demand;
pub mod pair_sync;
pub mod planner;
#[cfg(test)]
mod planner_tests;
pub mod run_record;
pub mod status_back;
pub mod stream;
pub mod tenant_feed;
pub mod window;
pub mod work_item;
pub mod worker;
#[cfg(test)]
mod worker_tests;

pub use batch_response::BatchFailures;
pub use budget::{BudgetMeter, BudgetPolicy, BudgetStop, BudgetVerdict, ThresholdInfo};
pub use checkpoint::{Checkpoint, advance_checkpoint};
pub use drain::{DrainReport, drain_visible};
pub use feed::{Change, ChangeFeed, ChangePage, FeedError};
pub use field_owner::{FieldDecision, FieldOwnership, Resolution, ResolutionRule, Side, SideState, resolve_fields};
pub use handler::{TenantHandlers, TenantItemHandler};
pub use ledger::RunLedger;
pub use on_demand::{OnDemandError, run_on_demand};
pub use pair_sync::{PairSync, sync_pair};
pub use planner::{BulkPlanError, PLANNER_LEASE, PlanOutcome, Planner, PlannerConfig};
pub use run_record::{Counts, ItemFailure, ItemOutcome, RunId, RunRecord, RunStatus, StopReason, StreamPlan, Trigger};
pub use stream::Stream;
pub use tenant_feed::TenantFeed;
pub use window::Window;
pub use work_item::WorkItem;
pub use worker::{
    BatchSummary, Handled, HandledItem, HandlerFactory, ItemError, ItemHandler, WORKER_FUNCTION, Worker, sqs_event,
};
