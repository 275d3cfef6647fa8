//! Tracing set-up shared by every binary. Honours `AWS_LAMBDA_LOG_LEVEL` (before `RUST_LOG`,
//! default INFO) and `AWS_LAMBDA_LOG_FORMAT=JSON` (set by SAM's `LoggingConfig`), as
//! `lambda_runtime`'s default subscriber does; colour codes only when stdout is a terminal, so
//! CloudWatch, CI logs and piped local output stay plain text.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
pub use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    init_with_default_level(LevelFilter::INFO);
}

/// As [`init`], with another level when the environment names none (the local demo shows only
/// errors: its deliberate unsigned call would otherwise print a warning).
pub fn init_with_default_level(default: LevelFilter) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| LevelFilter::from_str(&l).ok())
        .unwrap_or(default);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let collector = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        collector.json().init();
    } else {
        collector.init();
    }
}
