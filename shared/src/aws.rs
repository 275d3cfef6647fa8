//! The AWS SDK configuration: loaded once per instance, shared by the DynamoDB, Secrets Manager
//! and SQS clients.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

/// Loaded on first use, so a context whose stores and secrets are all local (tests, the local
/// stack) never resolves AWS credentials or region. Clones share the one load.
#[derive(Clone, Default)]
pub struct AwsSdk(Arc<OnceCell<SdkConfig>>);

impl AwsSdk {
    pub async fn config(&self) -> &SdkConfig {
        self.0
            .get_or_init(|| aws_config::load_defaults(BehaviorVersion::latest()))
            .await
    }
}
