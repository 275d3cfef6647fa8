//! The benchmark of issue 8: Autotask calls and latency per operation, cold start, peak memory,
//! bulk-sync throughput and binary size, printed as one table and written as JSON.
//! Run it with `infra/scripts/bench.sh [--quick]` (README, "Benchmarks").

pub mod args;
pub mod binary_size;
pub mod bulk;
pub mod calls;
pub mod cold_start;
pub mod emulator;
pub mod lab;
pub mod latency;
pub mod limiter;
pub mod memory;
pub mod operations;
pub mod report;
pub mod stats;
pub mod workspace;

use std::process::Command;

use args::Args;
use report::{Report, Section};
use workspace::{Workspace, WorkspaceError};

/// Delay the Autotask sandbox adds to every call in the latency and bulk sections (a real zone).
pub const LATENCY_MS: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Runs the wanted sections and returns the report (already written as JSON).
pub async fn run(args: &Args) -> Result<Report, BenchError> {
    let ws = Workspace::discover()?;
    let out_dir = ws.output_dir();
    let log_dir = out_dir.join("logs");
    std::fs::create_dir_all(&log_dir).map_err(|source| BenchError::Write {
        path: log_dir.display().to_string(),
        source,
    })?;
    let mut report = Report {
        mode: if args.quick { "quick" } else { "full" },
        started_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        git_commit: git_commit(&ws),
        host: host_description(),
        rows: Vec::new(),
    };
    let needs_binaries = [Section::ColdStart, Section::PeakMemory, Section::BinarySize]
        .into_iter()
        .any(|s| args.wants(s));
    if needs_binaries {
        eprintln!(
            "bench: building release binaries ({} functions + references)…",
            ws.functions.len()
        );
        ws.build_release()?;
    }
    let lab_dir = out_dir.join("lab");
    std::fs::create_dir_all(lab_dir.join("logs")).map_err(|source| BenchError::Write {
        path: lab_dir.display().to_string(),
        source,
    })?;
    if args.wants(Section::AutotaskCalls) {
        eprintln!("bench: Autotask calls per operation…");
        report.extend(calls::run(&lab_dir, args.quick).await);
    }
    if args.wants(Section::Latency) {
        let runs = if args.quick { 2 } else { 10 };
        eprintln!("bench: latency per operation ({runs} runs each, {LATENCY_MS} ms per Autotask call)…");
        report.extend(latency::run(&lab_dir, args.quick, LATENCY_MS, runs).await);
    }
    if args.wants(Section::ColdStart) {
        eprintln!("bench: cold starts…");
        report.extend(cold_starts(&ws, &lab_dir, &log_dir, if args.quick { 3 } else { 15 }).await);
    }
    if args.wants(Section::PeakMemory) {
        eprintln!("bench: peak memory…");
        report.extend(memory::run(&ws, &lab_dir, args.quick).await);
    }
    if args.wants(Section::BulkThroughput) {
        eprintln!("bench: bulk sync throughput…");
        report.extend(bulk::run(&lab_dir, args.quick, LATENCY_MS).await);
    }
    if args.wants(Section::BinarySize) {
        eprintln!("bench: binary sizes…");
        report.extend(binary_size::run_sizes(&ws, !args.quick));
    }
    if args.wants(Section::Limiter) {
        eprintln!("bench: tenant-wide limiter cost…");
        report.extend(limiter::run(args.quick).await);
    }
    let path = args.out.clone().unwrap_or_else(|| out_dir.join("results.json"));
    report.write_json(&path).map_err(|source| BenchError::Write {
        path: path.display().to_string(),
        source,
    })?;
    eprintln!("bench: results written to {}", path.display());
    Ok(report)
}

/// Cold starts see a working environment (embedded DynamoDB, both sandboxes, a secrets file),
/// so no function waits on a refused connection; the emulator blocks, so it runs off the runtime.
async fn cold_starts(
    ws: &Workspace,
    lab_dir: &std::path::Path,
    log_dir: &std::path::Path,
    starts: usize,
) -> Vec<report::Row> {
    let lab = match lab::Lab::start(&lab_dir.join("secrets-cold.json"), lab::StoreKind::Dynamo).await {
        Ok(lab) => lab,
        Err(e) => {
            return vec![report::Row::not_measured(
                Section::ColdStart,
                "all functions",
                format!("lab: {e}"),
            )];
        }
    };
    let mut env = lab.function_env();
    env.extend(LAMBDA_ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env = cold_start::StartEnv {
        env,
        log_dir: log_dir.to_owned(),
    };
    let ws = ws.clone();
    let rows = tokio::task::spawn_blocking(move || cold_start::run(&ws, &env, starts)).await;
    drop(lab);
    rows.unwrap_or_else(|e| {
        vec![report::Row::not_measured(
            Section::ColdStart,
            "all functions",
            e.to_string(),
        )]
    })
}

/// What Lambda sets from the template (logging config, the queue URLs; the queues are never
/// reached: the planner's first answer is for a tenant without secrets, the steps get no message).
const LAMBDA_ENV: &[(&str, &str)] = &[
    ("STAGE", "bench"),
    ("SYNC_QUEUE_URL", "http://127.0.0.1:9/123456789012/bench-sync"),
    (
        "MAP_CUSTOMERS_QUEUE_URL",
        "http://127.0.0.1:9/123456789012/bench-map-customers",
    ),
    ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
];

fn git_commit(ws: &Workspace) -> Option<String> {
    let out = Command::new("git")
        .current_dir(&ws.root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn host_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!(
        "{} {}, {cores} cores, {cpu}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
