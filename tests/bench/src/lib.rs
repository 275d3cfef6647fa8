//! The benchmark of issue 8: Autotask calls and latency per operation, cold start, peak memory,
//! bulk-sync throughput and binary size, printed as one table and written as JSON.
//! Run it with `infra/scripts/bench.sh [--quick]` (README, "Benchmarks").

pub mod args;
pub mod binary_size;
pub mod cold_start;
pub mod emulator;
pub mod lab;
pub mod report;
pub mod stats;
pub mod workspace;

use std::process::Command;

use args::Args;
use report::{Report, Section};
use workspace::{Workspace, WorkspaceError};

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
    std::fs::create_dir_all(&log_dir).map_err(|source| BenchError::Write { path: log_dir.display().to_string(), source })?;
    let mut report = Report {
        mode: if args.quick { "quick" } else { "full" },
        started_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        git_commit: git_commit(&ws),
        host: host_description(),
        rows: Vec::new(),
    };
    let needs_binaries = [Section::ColdStart, Section::PeakMemory, Section::BinarySize].into_iter().any(|s| args.wants(s));
    if needs_binaries {
        eprintln!("bench: building release binaries ({} functions + references)…", ws.functions.len());
        ws.build_release()?;
    }
    if args.wants(Section::ColdStart) {
        eprintln!("bench: cold starts…");
        let env = cold_start::StartEnv { env: function_env(&out_dir), log_dir: log_dir.clone() };
        report.extend(cold_start::run(&ws, &env, if args.quick { 3 } else { 15 }));
    }
    if args.wants(Section::BinarySize) {
        eprintln!("bench: binary sizes…");
        report.extend(binary_size::run_sizes(&ws, !args.quick));
    }
    let path = args.out.clone().unwrap_or_else(|| out_dir.join("results.json"));
    report.write_json(&path).map_err(|source| BenchError::Write { path: path.display().to_string(), source })?;
    eprintln!("bench: results written to {}", path.display());
    Ok(report)
}

/// What Lambda and the template give every function (tables, secrets, log settings); endpoints
/// are local and credentials dummies, as in the local stack.
fn function_env(out_dir: &std::path::Path) -> Vec<(String, String)> {
    [
        ("STAGE", "bench"),
        ("MAPPING_TABLE", "bench-mappings"),
        ("IDEMPOTENCY_TABLE", "bench-idempotency"),
        ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([("SECRETS_FILE".to_owned(), out_dir.join("secrets.json").display().to_string())])
    .collect()
}

fn git_commit(ws: &Workspace) -> Option<String> {
    let out = Command::new("git").current_dir(&ws.root).args(["rev-parse", "--short", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn host_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{} {}, {cores} cores, {cpu}", std::env::consts::OS, std::env::consts::ARCH)
}
