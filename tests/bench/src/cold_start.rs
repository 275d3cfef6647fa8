//! Section 3: process start to first answer of each function binary under the timed emulator,
//! median of several starts, next to a minimal Rust function and a Python function that imports
//! boto3 and requests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::emulator::{self, Answer, Invocation, Launch};
use crate::report::{Row, Section, Verdict};
use crate::stats::{median, millis, percentile};
use crate::workspace::Workspace;

/// Target for our functions (DESIGN §6, issue 8).
pub const TARGET_MS: f64 = 30.0;
const TIMEOUT: Duration = Duration::from_secs(30);

/// What every start is given: the environment (tables, secrets file, endpoints) and where logs go.
#[derive(Clone, Debug)]
pub struct StartEnv {
    pub env: Vec<(String, String)>,
    pub log_dir: PathBuf,
}

/// The event a function's first start answers: the repository fixture (`events/<crate>.json`,
/// signed long ago, so button functions answer 401 without calling Autotask or ChannelOnline)
/// or, for the worker, an empty SQS batch (init plus one trivial answer, like the references).
pub fn cold_event(root: &Path, package: &str) -> String {
    if package == "sync-worker" {
        return r#"{"Records":[]}"#.to_owned();
    }
    std::fs::read_to_string(root.join("events").join(format!("{package}.json")))
        .unwrap_or_else(|_| FUNCTION_URL_GET.to_owned())
}

/// An unsigned function-URL GET (answered 401 by any button function).
const FUNCTION_URL_GET: &str = r#"{"version":"2.0","routeKey":"$default","rawPath":"/","rawQueryString":"",
"headers":{"host":"bench.lambda-url.us-east-1.on.aws","accept":"application/json"},
"requestContext":{"accountId":"anonymous","apiId":"bench","domainName":"bench.lambda-url.us-east-1.on.aws",
"domainPrefix":"bench","http":{"method":"GET","path":"/","protocol":"HTTP/1.1","sourceIp":"203.0.113.10",
"userAgent":"bench"},"requestId":"bench","routeKey":"$default","stage":"$default","time":"27/Nov/2025:08:00:00 +0000",
"timeEpoch":1764230400000},"isBase64Encoded":false}"#;

/// Starts one binary `starts` times (after one unmeasured start that warms the page cache).
pub fn measure(launch: &Launch, event: &str, starts: usize) -> Result<Vec<Invocation>, emulator::EmulatorError> {
    emulator::invoke_once(launch, event, TIMEOUT)?;
    (0..starts)
        .map(|_| emulator::invoke_once(launch, event, TIMEOUT))
        .collect()
}

struct Sampled {
    median_ms: f64,
    p95_ms: f64,
    peak_rss_kib: Option<u64>,
    answer: &'static str,
}

fn summarise(runs: &[Invocation]) -> Option<Sampled> {
    let ms: Vec<f64> = runs.iter().map(|r| millis(r.first_answer)).collect();
    Some(Sampled {
        median_ms: median(&ms)?,
        p95_ms: percentile(&ms, 95.0)?,
        peak_rss_kib: runs.iter().filter_map(|r| r.peak_rss_kib).max(),
        answer: match runs.last().map(|r| &r.answer) {
            Some(Answer::Response(_)) => "response",
            _ => "invocation error",
        },
    })
}

/// The reference functions and every function crate of the workspace, one row each.
pub fn run(ws: &Workspace, env: &StartEnv, starts: usize) -> Vec<Row> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let rust_ref = launch(env, "minimal-lambda", ws.release_binary("minimal-lambda"), vec![]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/python_function.py");
    let py_ref = launch(
        env,
        "python-boto3-requests",
        python.clone().into(),
        vec![script.display().to_string()],
    );
    let echo = r#"{"ping":true}"#;

    let mut rows = Vec::new();
    let mut refs = Vec::new();
    for (label, l) in [
        ("reference: minimal Rust (lambda_runtime)", &rust_ref),
        ("reference: Python 3 + boto3 + requests", &py_ref),
    ] {
        let row = Row::new(Section::ColdStart, label);
        match measure(l, echo, starts).map(|runs| summarise(&runs)) {
            Ok(Some(s)) => {
                refs.push(format!("{} {:.0} ms", short(label), s.median_ms));
                rows.push(with_sample(row, &s, starts).bound(reference_note(l, &python)));
            }
            Ok(None) => rows.push(Row::not_measured(Section::ColdStart, label, "no samples")),
            Err(e) => rows.push(Row::not_measured(Section::ColdStart, label, e.to_string())),
        }
    }
    let refs = refs.join(", ");

    if ws.functions.is_empty() {
        rows.push(Row::not_measured(
            Section::ColdStart,
            "function binaries",
            "no crate under functions/ yet",
        ));
    }
    for f in &ws.functions {
        let l = launch(env, &f.binary, ws.release_binary(&f.binary), vec![]);
        let row = Row::new(Section::ColdStart, &f.binary);
        match measure(&l, &cold_event(&ws.root, &f.package), starts).map(|runs| summarise(&runs)) {
            Ok(Some(s)) => rows.push(
                with_sample(row, &s, starts)
                    .bound(format!("≤ {TARGET_MS:.0} ms ({refs})"))
                    .verdict(Verdict::against(s.median_ms <= TARGET_MS)),
            ),
            Ok(None) => rows.push(Row::not_measured(Section::ColdStart, &f.binary, "no samples")),
            Err(e) => rows.push(Row::not_measured(Section::ColdStart, &f.binary, e.to_string())),
        }
    }
    rows
}

fn with_sample(row: Row, s: &Sampled, starts: usize) -> Row {
    let mut row = row
        .measured(format!(
            "median {:.1} ms (p95 {:.1}, n={starts}, {})",
            s.median_ms, s.p95_ms, s.answer
        ))
        .value("median_ms", s.median_ms)
        .value("p95_ms", s.p95_ms)
        .value("starts", starts as f64);
    if let Some(kib) = s.peak_rss_kib {
        row = row.value("peak_rss_kib", kib as f64);
    }
    row
}

fn short(label: &str) -> &str {
    if label.contains("Python") {
        "Python+boto3"
    } else {
        "minimal Rust"
    }
}

fn reference_note(l: &Launch, python: &str) -> String {
    if l.program == Path::new(python) {
        let version = Command::new(python)
            .args([
                "-c",
                "import sys, boto3, requests; print(sys.version.split()[0], boto3.__version__, requests.__version__)",
            ])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        format!("reference (python, boto3, requests: {version})")
    } else {
        "reference (release build, same emulator)".to_owned()
    }
}

fn launch(env: &StartEnv, name: &str, program: PathBuf, args: Vec<String>) -> Launch {
    Launch {
        name: name.to_owned(),
        program,
        args,
        env: env.env.clone(),
        log: emulator::log_path(&env.log_dir, &format!("cold-{name}")),
    }
}
