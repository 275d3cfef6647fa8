//! The local stack binary: `local-stack serve` (default), `demo`, `sync` or `links`.

use shared::telemetry::{self, LevelFilter};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quiet = args.first().is_some_and(|mode| mode == "demo" || mode == "links");
    telemetry::init_with_default_level(if quiet { LevelFilter::ERROR } else { LevelFilter::INFO });
    local_stack::cli::run(&args).await
}
