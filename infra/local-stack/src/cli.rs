//! Command line:
//! - `serve` (default): keeps the stack up until Ctrl-C, with the demo tenant's settings seeded
//!   (when it has none) and a freshly signed link printed for each screen and button;
//!   `serve --for-cargo-lambda FILE` also writes the environment the real function binaries need
//!   under `cargo lambda watch --env-file FILE`;
//! - `demo`: starts the stack on a free port, runs the signed demo calls, prints what landed, exits;
//! - `sync`: runs one bulk sync of the demo tenant on demand and prints its run record;
//! - `links [--base URL]`: prints fresh signed links for a running `serve` (or, with
//!   `--base http://127.0.0.1:9000/lambda-url`, for `cargo lambda watch`).
//!
//! Environment: `LOCAL_STACK_DIR` (default `.local`), `LOCAL_STACK_LISTEN` (default `127.0.0.1:9000`).

use std::fmt::Write as _;
use std::path::PathBuf;

use shared::secrets::SecretSource;
use shared::secrets::file::FileSecretSource;
use shared::tenant::TenantId;

use crate::seed::DEMO_TENANT;
use crate::{LocalStack, StackOptions, demo, functions, links, sync};

/// What the command line asked for.
#[derive(Debug, PartialEq)]
enum Mode {
    Serve { cargo_lambda_env: Option<PathBuf> },
    Demo,
    Sync,
    Links { base: Option<String> },
}

fn parse(args: &[String]) -> Result<Mode, String> {
    let mut rest = args.iter().skip(1);
    let mode = match args.first().map(String::as_str).unwrap_or("serve") {
        "serve" => match (rest.next().map(String::as_str), rest.next()) {
            (None, _) => Mode::Serve { cargo_lambda_env: None },
            (Some("--for-cargo-lambda"), Some(file)) => Mode::Serve {
                cargo_lambda_env: Some(file.into()),
            },
            _ => return Err("use `local-stack serve [--for-cargo-lambda ENV_FILE]`".into()),
        },
        "demo" => Mode::Demo,
        "sync" => Mode::Sync,
        "links" => match (rest.next().map(String::as_str), rest.next()) {
            (None, _) => Mode::Links { base: None },
            (Some("--base"), Some(base)) => Mode::Links {
                base: Some(base.clone()),
            },
            _ => return Err("use `local-stack links [--base URL]`".into()),
        },
        other => {
            return Err(format!(
                "unknown mode {other:?}: use `local-stack serve`, `demo`, `sync` or `links`"
            ));
        }
    };
    if rest.next().is_some() {
        return Err(format!("too many arguments: {}", args.join(" ")));
    }
    Ok(mode)
}

pub async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let mode = parse(args)?;
    let mut options = StackOptions::default();
    if let Some(dir) = std::env::var_os("LOCAL_STACK_DIR") {
        options.dir = dir.into();
    }
    if let Ok(listen) = std::env::var("LOCAL_STACK_LISTEN") {
        options.listen = listen.parse()?;
    }
    if let Mode::Links { base } = &mode {
        let base = base.clone().unwrap_or_else(|| format!("http://{}", options.listen));
        print!(
            "{}",
            links_from_secrets_file(&options.dir.join("secrets.json"), &base).await?
        );
        return Ok(());
    }
    if matches!(mode, Mode::Demo | Mode::Sync) {
        // The demo must not clash with a `serve` that is already running.
        options.listen.set_port(0);
    }
    let stack = LocalStack::start(&options).await?;
    println!("{}", banner(&stack));
    match mode {
        Mode::Sync => {
            let result = sync::run(&stack).await;
            stack.stop().await;
            println!("{}", serde_json::to_string_pretty(&result?)?);
            return Ok(());
        }
        Mode::Demo => {
            let report = demo::run(&stack).await?;
            println!("{}", report.lines);
            println!(
                "Settings as read back:\n{}",
                serde_json::to_string_pretty(&report.read_back["settings"])?
            );
            println!("{}", next_steps());
        }
        Mode::Serve { cargo_lambda_env } => {
            println!("{}", seed_demo_settings(&stack).await?);
            if let Some(file) = cargo_lambda_env {
                std::fs::write(&file, cargo_lambda_env_file(&stack))?;
                println!(
                    "Environment for the real binaries written to {} (run `cargo lambda watch --env-file {}`).\n",
                    file.display(),
                    file.display()
                );
            }
            let base = format!("http://{}", stack.addr);
            println!("Open these in a browser (signed now, valid 5 minutes; `local-stack links` prints new ones):");
            print!("{}", links_from_secrets_file(&stack.secrets_file, &base).await?);
            println!("\nServing until Ctrl-C or SIGTERM.");
            shutdown_signal().await?;
        }
        Mode::Links { .. } => unreachable!("answered before the stack starts"),
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
    writeln!(out, "  Autotask : {} (sandbox)", stack.autotask.rest_base()).ok();
    writeln!(out, "  COL      : {} (sandbox)", stack.channelonline.base_url()).ok();
    for (name, _) in functions::all() {
        writeln!(out, "  Function : {name:<19} {}/", stack.url(name)).ok();
    }
    out
}

/// The demo tenant's settings as the demo writes them, unless the tenant already has some
/// (an admin's own choices survive a restart).
async fn seed_demo_settings(stack: &LocalStack) -> Result<String, demo::DemoError> {
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    let keys = demo::demo_keys(stack).await?;
    match demo::stored_settings_version(stack, &tenant, &keys.current).await? {
        Some(version) => Ok(format!("Demo tenant settings kept (version {version}).")),
        None => {
            let written = demo::seed_settings(stack, &tenant, &keys.current).await?;
            Ok(format!(
                "Demo tenant settings written (version {}).",
                written["version"]
            ))
        }
    }
}

async fn links_from_secrets_file(file: &std::path::Path, base: &str) -> Result<String, Box<dyn std::error::Error>> {
    if !file.exists() {
        return Err(format!("{} does not exist: start `local-stack serve` first", file.display()).into());
    }
    let tenant = TenantId::parse(DEMO_TENANT).expect("valid demo tenant");
    let source: &dyn SecretSource = &FileSecretSource::new(file);
    let keys = source
        .signing_keys(&tenant)
        .await?
        .ok_or_else(|| format!("{} holds no signing keys for the demo tenant", file.display()))?;
    let now = chrono::Utc::now().timestamp();
    Ok(links::render(&links::signed_links(base, &tenant, &keys.current, now)))
}

/// `KEY=VALUE` lines for `cargo lambda watch --env-file`: the same tables, secrets file and
/// sandboxes the in-process functions use, so the real binaries see the same data.
pub fn cargo_lambda_env_file(stack: &LocalStack) -> String {
    let secrets = std::fs::canonicalize(&stack.secrets_file).unwrap_or_else(|_| stack.secrets_file.clone());
    let col = stack.channelonline.config();
    [
        ("MAPPING_TABLE", crate::stack::MAPPING_TABLE.to_owned()),
        ("IDEMPOTENCY_TABLE", crate::stack::IDEMPOTENCY_TABLE.to_owned()),
        ("DYNAMODB_ENDPOINT", stack.dynamo.endpoint.clone()),
        ("SECRETS_FILE", secrets.display().to_string()),
        ("AUTOTASK_ZONE_URL", stack.autotask.zone_lookup_url()),
        ("CHANNELONLINE_URL", stack.channelonline.base_url()),
        ("CHANNELONLINE_USER_AGENT", col.user_agent.clone()),
        ("CHANNELONLINE_PAUSE_MS", "0".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={v}\n"))
    .collect()
}

fn next_steps() -> String {
    "Next:\n  \
     cargo run -p local-stack -- serve   # keep the stack up; prints a signed link to every screen and button\n  \
     cargo run -p local-stack -- sync    # one bulk-sync run of the demo tenant\n  \
     README.md, \"Run the real binaries locally\": the same stack under `cargo lambda watch`"
        .to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn modes_and_their_options_are_parsed_and_mistakes_refused() {
        assert_eq!(parse(&[]).unwrap(), Mode::Serve { cargo_lambda_env: None });
        assert_eq!(
            parse(&args("serve --for-cargo-lambda .local/env")).unwrap(),
            Mode::Serve {
                cargo_lambda_env: Some(".local/env".into())
            }
        );
        assert_eq!(
            parse(&args("links --base http://x/lambda-url")).unwrap(),
            Mode::Links {
                base: Some("http://x/lambda-url".into())
            }
        );
        assert!(parse(&args("serve --for-cargo-lambda")).is_err());
        assert!(parse(&args("demo extra")).is_err());
        assert!(parse(&args("deploy")).unwrap_err().contains("unknown mode"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_seeds_settings_once_and_writes_the_cargo_lambda_environment() {
        let dir = tempfile::tempdir().unwrap();
        let options = StackOptions {
            dir: dir.path().join(".local"),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ..StackOptions::default()
        };
        let stack = LocalStack::start(&options).await.unwrap();
        assert_eq!(
            seed_demo_settings(&stack).await.unwrap(),
            "Demo tenant settings written (version 1)."
        );
        // A restart (or an admin's own save) keeps what is stored.
        assert_eq!(
            seed_demo_settings(&stack).await.unwrap(),
            "Demo tenant settings kept (version 1)."
        );
        let env = cargo_lambda_env_file(&stack);
        assert!(
            env.contains(&format!("DYNAMODB_ENDPOINT={}\n", stack.dynamo.endpoint)),
            "{env}"
        );
        assert!(
            env.contains(&format!("AUTOTASK_ZONE_URL={}\n", stack.autotask.zone_lookup_url())),
            "{env}"
        );
        assert!(
            env.lines()
                .all(|l| l.split_once('=').is_some_and(|(k, v)| !k.is_empty() && !v.is_empty()))
        );
        let links = links_from_secrets_file(&stack.secrets_file, "http://127.0.0.1:1")
            .await
            .unwrap();
        assert_eq!(links.matches("http://127.0.0.1:1/").count(), 10, "{links}");
        stack.stop().await;
    }
}
