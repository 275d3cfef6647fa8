//! Serves the ChannelOnline sandbox with the demo account: `channelonline-sandbox [PORT]`.

use channelonline_sandbox::{ChannelOnlineSandbox, SandboxConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::args().nth(1) {
        Some(p) => p.parse::<u16>().map_err(|e| format!("PORT must be a number: {e}"))?,
        None => 8090,
    };
    let sandbox = ChannelOnlineSandbox::start(SandboxConfig {
        port,
        ..SandboxConfig::default()
    })
    .await?;
    let c = sandbox.credentials();
    println!(
        "ChannelOnline sandbox on {}/REQUEST (shortcut {}, email {}, user agent {})",
        sandbox.base_url(),
        c.shortcut,
        c.email,
        c.user_agent
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
