//! Section 4: peak RSS (VmHWM) of the real release binaries on large quotes. The lab runs on the
//! embedded DynamoDB so the binary, started under the timed emulator with the lab's environment,
//! sees the customer mapping the (unmetered) setup wrote, and talks to both sandboxes over HTTP.

use std::path::Path;
use std::time::Duration;

use testkit::function_url::{EventSpec, event};

use crate::emulator::{self, Answer, Launch};
use crate::lab::{Lab, SIGNING_KEY, StoreKind, TENANT};
use crate::operations::{change_one_line, export_quote, seed_quote};
use crate::report::{Row, Section, Verdict};
use crate::workspace::Workspace;
use shared::sync::bulk::{RunId, RunLedger, RunRecord, Stream, Trigger, WorkItem};

/// Target: well inside a 128 MB Lambda.
pub const TARGET_MIB: f64 = 40.0;
const TIMEOUT: Duration = Duration::from_secs(120);

/// The quote sizes measured (lines, new products).
pub fn sizes(quick: bool) -> Vec<(usize, usize)> {
    if quick {
        vec![(120, 20)]
    } else {
        vec![(120, 20), (500, 50)]
    }
}

pub async fn run(ws: &Workspace, dir: &Path, quick: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for (lines, new_products) in sizes(quick) {
        for package in ["export-document", "sync-worker"] {
            let subject = format!("{package}, {lines}-line quote");
            let measured = match ws.function(package) {
                None => Err(format!("no functions/{package} crate yet")),
                Some(f) if package == "sync-worker" => worker_peak(ws, &f.binary, dir, lines, new_products).await,
                Some(f) => export_document_peak(ws, &f.binary, dir, lines, new_products).await,
            };
            rows.push(match measured {
                Ok(kib) => memory_row(subject, kib),
                Err(e) => Row::not_measured(Section::PeakMemory, subject, e),
            });
        }
    }
    rows
}

pub fn memory_row(subject: String, kib: u64) -> Row {
    let mib = kib as f64 / 1024.0;
    Row::new(Section::PeakMemory, subject)
        .measured(format!("{mib:.1} MiB peak RSS"))
        .bound(format!("≤ {TARGET_MIB:.0} MiB (Lambda: 128 MB)"))
        .verdict(Verdict::against(mib <= TARGET_MIB))
        .value("peak_rss_kib", kib as f64)
}

async fn export_document_peak(
    ws: &Workspace,
    binary: &str,
    dir: &Path,
    lines: usize,
    new_products: usize,
) -> Result<u64, String> {
    let lab = Lab::start(&dir.join(format!("secrets-mem-{lines}.json")), StoreKind::Dynamo)
        .await
        .map_err(|e| e.to_string())?;
    let number = seed_quote(&lab, lines, new_products).await?;
    let body = serde_json::json!({ "document_number": number }).to_string();
    let now = chrono::Utc::now().timestamp();
    let ev = event(&EventSpec {
        audience: "export-document",
        method: "POST",
        path: "/",
        query: "",
        body: &body,
        signer: Some((TENANT, SIGNING_KEY, now)),
        headers: &[],
    });
    let answer = invoke(ws, &lab, binary, dir, lines, ev.to_string()).await?;
    check_http_answer(&answer.0)?;
    Ok(answer.1)
}

/// The worker re-exporting the same quote (exported once by the button, one line changed since):
/// one SQS message with the planner's work item, as the event source delivers it.
async fn worker_peak(
    ws: &Workspace,
    binary: &str,
    dir: &Path,
    lines: usize,
    new_products: usize,
) -> Result<u64, String> {
    let lab = Lab::start(&dir.join(format!("secrets-worker-{lines}.json")), StoreKind::Dynamo)
        .await
        .map_err(|e| e.to_string())?;
    let number = seed_quote(&lab, lines, new_products).await?;
    export_quote(&lab, &number).await?;
    change_one_line(&lab, &number)?;
    let ctx = lab.context().await.map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    let run_id = RunId::new(now);
    let ledger = RunLedger::new(ctx.sync_state.clone(), ctx.clock.clone());
    ledger
        .put(&RunRecord::new(
            ctx.tenant.clone(),
            run_id.clone(),
            Trigger::Manual,
            now,
        ))
        .await
        .map_err(|e| e.to_string())?;
    let item = WorkItem::new(ctx.tenant.clone(), run_id, Stream::ColDocuments, &number, now);
    let ev = serde_json::json!({ "Records": [{
        "messageId": "bench-1", "receiptHandle": "bench-receipt-1", "body": item.to_body(),
        "attributes": { "ApproximateReceiveCount": "1", "SentTimestamp": now.timestamp_millis().to_string() },
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-sync", "awsRegion": "us-east-1"
    }]});
    let (answer, kib) = invoke(ws, &lab, binary, dir, lines, ev.to_string()).await?;
    let Answer::Response(body) = &answer else {
        return Err(format!("invocation error: {answer:?}"));
    };
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if v["batchItemFailures"].as_array().is_some_and(|f| !f.is_empty()) {
        return Err(format!("the item failed: {}; see the log", shorten(body)));
    }
    let record = ledger.get(&ctx.tenant, &item.run_id).await.map_err(|e| e.to_string())?;
    match record.map(|r| (r.counts.done, r.failures)) {
        Some((1, _)) => Ok(kib),
        Some((_, failures)) => Err(format!("the item was not done: {}", shorten(&format!("{failures:?}")))),
        None => Err("the run record vanished".into()),
    }
}

/// Runs the real binary once with the lab's environment; the answer and the peak RSS in KiB.
async fn invoke(
    ws: &Workspace,
    lab: &Lab,
    binary: &str,
    dir: &Path,
    lines: usize,
    event: String,
) -> Result<(Answer, u64), String> {
    let launch = Launch {
        name: binary.to_owned(),
        program: ws.release_binary(binary),
        args: vec![],
        env: lab.function_env(),
        log: emulator::log_path(&dir.join("logs"), &format!("memory-{binary}-{lines}")),
    };
    let outcome = tokio::task::spawn_blocking(move || emulator::invoke_once(&launch, &event, TIMEOUT))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let kib = outcome
        .peak_rss_kib
        .ok_or_else(|| "no /proc status for the process".to_owned())?;
    Ok((outcome.answer, kib))
}

/// The run only counts if the export succeeded (a 4xx/5xx answer is a broken setup, not a figure).
fn check_http_answer(answer: &Answer) -> Result<(), String> {
    let Answer::Response(envelope) = answer else {
        return Err(format!("invocation error: {answer:?}"));
    };
    let v: serde_json::Value = serde_json::from_str(envelope).map_err(|e| format!("answer is not JSON: {e}"))?;
    match v["statusCode"].as_u64() {
        Some(200..=299) => Ok(()),
        other => Err(format!(
            "answered {other:?}: {}",
            shorten(v["body"].as_str().unwrap_or_default())
        )),
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(200).collect()
}
