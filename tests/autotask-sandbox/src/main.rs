//! Serves the Autotask sandbox with the demo seed: `autotask-sandbox [port]` (default 8089).

use autotask_sandbox::{AutotaskSandbox, SandboxConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let port = std::env::args().nth(1).map(|p| p.parse()).transpose()?.unwrap_or(8089);
    let sandbox = AutotaskSandbox::start(SandboxConfig {
        port,
        demo_seed: true,
        ..SandboxConfig::default()
    })
    .await?;
    let c = sandbox.config();
    println!(
        "Autotask sandbox on {} (user {}, secret {}, integration code {})",
        sandbox.base_url(),
        c.username,
        c.secret,
        c.integration_code
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
