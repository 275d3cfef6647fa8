//! Planning the export of a ChannelOnline document (quote or sales order) to Autotask.
//!
//! Everything here is pure: it takes what was read from ChannelOnline, our mappings and
//! settings, and what exists in Autotask, and returns a [`Plan`] listing each Autotask call with
//! its payload. The dry run answers with that plan; the executor in `shared::sync::documents`
//! runs it. Ids of records the plan itself creates are [`Pending`] references, resolved by the
//! executor as the creates return.

pub mod diff;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod input;
pub mod lines;
pub mod opportunity;
pub mod plan;
pub mod planner;
pub mod preconditions;
pub mod quote;
pub mod record;
pub mod settings;

pub use input::{
    AutotaskIdentity, AutotaskItemKind, DocumentAddress, DocumentInput, DocumentKind, DocumentLine, LineKind,
};
pub use plan::{ApiCall, Pending, Plan, Step, StepKind};
pub use planner::{AutotaskState, ExportRequest, PlanError, PlanInput, plan_export};
pub use preconditions::{Ready, Unmet, check_preconditions};
pub use record::{ExportRecord, LineRecord, LineState};
pub use settings::{DocumentOpportunityDefaults, DocumentSettings};
