//! What the planner reads: the Autotask budget and, per stream, which entities changed in a
//! time window. `TenantFeed` reads the tenant's Autotask and ChannelOnline; tests use fakes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::budget::ThresholdInfo;
use super::stream::Stream;
use super::window::Window;

/// One changed entity as the planner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub entity_id: String,
    pub modified_at: DateTime<Utc>,
}

/// One page of changes; `next` is the cursor of the following page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// ChannelOnline answers 507 for windows with more than 500 documents.
    #[error("more than 500 documents changed in the window")]
    TooManyDocuments,
    #[error("{stream} could not be read: {message}")]
    Unavailable { stream: Stream, message: String },
}

#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// `GET ThresholdInformation` (one Autotask call).
    async fn threshold(&self) -> Result<ThresholdInfo, FeedError>;

    /// One page of `stream`'s changes in `window`, from `cursor` (`None`: the first page).
    /// For Autotask streams each call is exactly one Autotask request.
    async fn changes(&self, stream: Stream, window: Window, cursor: Option<String>) -> Result<ChangePage, FeedError>;

    /// Autotask requests this feed has made.
    fn autotask_calls(&self) -> u64;
}
