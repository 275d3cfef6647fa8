//! Tracing set-up shared by every binary. Honours `AWS_LAMBDA_LOG_LEVEL`, `RUST_LOG` and
//! `AWS_LAMBDA_LOG_FORMAT=JSON` (set by SAM's `LoggingConfig`).

pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
