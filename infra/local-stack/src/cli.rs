//! Command line: `serve` (default) keeps the stack up until Ctrl-C; `demo` starts it on a free
//! port, runs the signed settings demo, prints the result and exits (0 on success); `sync`
//! runs one bulk sync of the demo tenant on demand and prints its run record.
//!
//! Environment: `LOCAL_STACK_DIR` (default `.local`), `LOCAL_STACK_LISTEN` (default `127.0.0.1:9000`).

use std::fmt::Write as _;

use crate::functions;
use crate::seed::DEMO_TENANT;
use crate::{LocalStack, StackOptions, demo, sync};

pub async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let mode = args.first().map(String::as_str).unwrap_or("serve");
    if !matches!(mode, "serve" | "demo" | "sync") {
        return Err(format!("unknown mode {mode:?}: use `local-stack serve`, `demo` or `sync`").into());
    }
    let mut options = StackOptions::default();
    if let Some(dir) = std::env::var_os("LOCAL_STACK_DIR") {
        options.dir = dir.into();
    }
    if let Ok(listen) = std::env::var("LOCAL_STACK_LISTEN") {
        options.listen = listen.parse()?;
    }
    if mode != "serve" {
        // The demo must not clash with a `serve` that is already running.
        options.listen.set_port(0);
    }
    let stack = LocalStack::start(&options).await?;
    println!("{}", banner(&stack));
    if mode == "sync" {
        let result = sync::run(&stack).await;
        stack.stop().await;
        println!("{}", serde_json::to_string_pretty(&result?)?);
        return Ok(());
    }
    if mode == "demo" {
        let report = demo::run(&stack).await?;
        println!("{}", report.lines);
        println!(
            "Settings as read back:\n{}",
            serde_json::to_string_pretty(&report.read_back["settings"])?
        );
    } else {
        println!("Serving until Ctrl-C or SIGTERM.");
        shutdown_signal().await?;
    }
    stack.stop().await;
    Ok(())
}

pub fn banner(stack: &LocalStack) -> String {
    let mut out = String::new();
    writeln!(out, "Local stack up (no AWS, no Docker).").ok();
    writeln!(
        out,
        "  DynamoDB : {} (file {})",
        stack.dynamo.endpoint,
        stack.db_file.display()
    )
    .ok();
    let seeded = if stack.seeded_now {
        ", demo tenant created now"
    } else {
        ""
    };
    writeln!(out, "  Secrets  : {}{seeded}", stack.secrets_file.display()).ok();
    writeln!(out, "  Tenant   : {DEMO_TENANT}").ok();
    for (name, _) in functions::all() {
        writeln!(out, "  Function : {name:<10} {}/", stack.url(name)).ok();
    }
    out
}

/// Ctrl-C or SIGTERM: either stops the server gracefully so the database file is checkpointed.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
