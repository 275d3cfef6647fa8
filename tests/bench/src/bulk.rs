//! Section 5: bulk-sync throughput — 10,000 mapped companies, 1% changed, Autotask answering
//! after the injected latency: items per second against the bound that Autotask's 3 concurrent
//! calls per endpoint set, and Autotask calls used against 25 + changed.

use std::path::Path;

use crate::report::{Row, Section};
use crate::workspace::Workspace;

pub async fn run(_ws: &Workspace, _dir: &Path, _quick: bool, _latency_ms: u64) -> Vec<Row> {
    vec![Row::not_measured(
        Section::BulkThroughput,
        "bulk sync, 10,000 mapped companies, 1% changed",
        "the sync worker (shared::sync::bulk, branch bulksync) is not on main yet",
    )]
}
