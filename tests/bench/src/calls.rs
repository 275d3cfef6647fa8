//! Section 1: Autotask calls per operation (sandbox counters, no injected latency), each next
//! to the lower bound the operation needs and, where the issue sets one, its target.

use std::path::Path;

use crate::lab::{Lab, StoreKind};
use crate::operations::{Measured, Operation, Target};
use crate::report::{Row, Section, Verdict};

/// The operations measured, at full or quick size.
pub fn operations(quick: bool) -> Vec<Operation> {
    let (small, large) = ((20, 5), (120, 20));
    vec![
        Operation::NewCustomer,
        Operation::UnchangedCustomer,
        Operation::FirstQuote {
            lines: small.0,
            new_products: small.1,
        },
        Operation::FirstQuote {
            lines: large.0,
            new_products: large.1,
        },
        Operation::UnchangedQuote {
            lines: large.0,
            new_products: large.1,
        },
        Operation::OneLineChange {
            lines: large.0,
            new_products: large.1,
        },
        Operation::ImportByName,
        Operation::MapCustomers {
            size: if quick { 100 } else { 1000 },
        },
    ]
}

/// Runs `op` once in a fresh lab (its own sandboxes, store and secrets file under `dir`).
pub async fn run_fresh(op: &Operation, dir: &Path, run: usize, latency_ms: u64) -> Result<Measured, String> {
    let lab = Lab::start(&dir.join(format!("secrets-{run}.json")), StoreKind::Memory)
        .await
        .map_err(|e| e.to_string())?;
    op.run(&lab, std::time::Duration::from_millis(latency_ms)).await
}

pub async fn run(dir: &Path, quick: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, op) in operations(quick).iter().enumerate() {
        let name = op.name();
        match run_fresh(op, dir, i, 0).await {
            Ok(m) => rows.push(row(op, &m)),
            Err(e) => rows.push(Row::not_measured(Section::AutotaskCalls, name, e)),
        }
    }
    rows
}

fn row(op: &Operation, m: &Measured) -> Row {
    let c = &m.calls;
    let (lb, why) = op.lower_bound(m.companies);
    let (target, verdict, limit) = match op.target() {
        Target::Unchanged => (
            "target 0 writes, ≤ 3 reads".to_owned(),
            Verdict::against(c.writes == 0 && c.reads <= 3),
            None,
        ),
        Target::FirstExport { limit } => (
            format!("target ≤ n+k+8 = {limit}"),
            Verdict::against(c.total <= limit),
            Some(limit),
        ),
        Target::None => (String::new(), Verdict::Info, None),
    };
    let bound = if target.is_empty() {
        format!("lower bound {lb}: {why}")
    } else {
        format!("lower bound {lb}: {why}; {target}")
    };
    let mut row = Row::new(Section::AutotaskCalls, op.name())
        .measured(format!("{} calls ({} reads, {} writes)", c.total, c.reads, c.writes))
        .bound(bound)
        .verdict(verdict)
        .value("calls", c.total as f64)
        .value("reads", c.reads as f64)
        .value("writes", c.writes as f64)
        .value("lower_bound", lb as f64);
    if let Some(limit) = limit {
        row = row.value("target_max_calls", limit as f64);
    }
    for (endpoint, n) in &c.by_endpoint {
        row = row.value(&format!("calls.{endpoint}"), *n as f64);
    }
    row
}
