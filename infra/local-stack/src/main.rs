//! The local stack binary: `local-stack serve` (default) or `local-stack demo`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    local_stack::cli::run(&args).await
}
