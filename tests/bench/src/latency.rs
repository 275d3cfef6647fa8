//! Section 2: wall time per operation with Autotask answering every call after an injected
//! delay, p50 and p95 over repeated runs. Next to it: what the same calls would take one after
//! another, and with all three threads per endpoint busy — the effect of batching and parallel
//! reads within Autotask's limit.

use std::path::Path;

use crate::calls::{operations, run_fresh};
use crate::report::{Row, Section, Verdict};
use crate::stats::{millis, percentile};

pub async fn run(dir: &Path, quick: bool, latency_ms: u64, runs: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, op) in operations(quick).iter().enumerate() {
        let mut samples = Vec::new();
        let mut calls = 0;
        let mut failure = None;
        for r in 0..runs {
            match run_fresh(op, dir, 1000 + i * 100 + r, latency_ms).await {
                Ok(m) => {
                    samples.push(millis(m.elapsed));
                    calls = m.calls.total;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let (Some(p50), Some(p95)) = (percentile(&samples, 50.0), percentile(&samples, 95.0)) else {
            rows.push(Row::not_measured(
                Section::Latency,
                op.name(),
                failure.unwrap_or_else(|| "no runs".into()),
            ));
            continue;
        };
        let sequential = calls as f64 * latency_ms as f64;
        let three_wide = sequential / 3.0;
        rows.push(
            Row::new(Section::Latency, op.name())
                .measured(format!(
                    "p50 {} p95 {} (n={}, {calls} calls)",
                    ms(p50),
                    ms(p95),
                    samples.len()
                ))
                .bound(format!(
                    "{latency_ms} ms/call: one by one {}, 3 in flight {}",
                    ms(sequential),
                    ms(three_wide)
                ))
                .verdict(Verdict::Info)
                .value("p50_ms", p50)
                .value("p95_ms", p95)
                .value("runs", samples.len() as f64)
                .value("calls", calls as f64)
                .value("injected_latency_ms", latency_ms as f64)
                .value("sequential_ms", sequential)
                .value("three_in_flight_ms", three_wide),
        );
    }
    rows
}

fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{v:.0} ms")
    }
}
