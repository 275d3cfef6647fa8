//! The planner's feed over a tenant's real sources: Autotask companies (by `lastActivityDate`)
//! contacts (by `lastModifiedDate`), opportunities (by `lastActivity`) and quotes (by
//! `lastActivityDate`), each page one `POST …/query` with `includeFields` and an
//! id cursor; ChannelOnline customers (modified since, paged) and documents (modified window).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};

use super::budget::ThresholdInfo;
use super::feed::{Change, ChangeFeed, ChangePage, FeedError};
use super::stream::Stream;
use super::window::Window;
use crate::autotask::{
    AtDateTime, AutotaskError, Company, Contact, Entity, Filter, Opportunity, Query, Quote, TenantClient,
};
use crate::channelonline::{ChannelOnline, ChannelOnlineError, PageRequest, TimeWindow};

/// Autotask's page size (and the most ids worth one call).
pub const AT_PAGE: usize = 500;

pub struct TenantFeed {
    autotask: TenantClient,
    channelonline: Arc<dyn ChannelOnline>,
    calls: AtomicU64,
}

impl TenantFeed {
    pub fn new(autotask: TenantClient, channelonline: Arc<dyn ChannelOnline>) -> Self {
        Self {
            autotask,
            channelonline,
            calls: AtomicU64::new(0),
        }
    }

    async fn autotask_page<E: Entity>(
        &self,
        stream: Stream,
        date_field: &str,
        modified: impl Fn(&E) -> Option<AtDateTime>,
        window: Window,
        cursor: Option<String>,
    ) -> Result<ChangePage, FeedError> {
        let after_id: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let query = Query::filter(vec![
            Filter::gte(date_field, at_time(window.from)),
            Filter::lt(date_field, at_time(window.to)),
            Filter::gt("id", after_id),
        ])
        .include_fields(["id", date_field]);
        self.calls.fetch_add(1, Ordering::Relaxed);
        // One page: at most one page's worth makes one call.
        let rows: Vec<E> = self
            .autotask
            .query_at_most::<E>(&query, AT_PAGE)
            .await
            .map_err(|e| at_unavailable(stream, e))?;
        let full = rows.len() == AT_PAGE;
        let last_id = rows.iter().filter_map(Entity::id).max();
        let changes = rows
            .iter()
            .filter_map(|r| {
                Some(Change {
                    entity_id: r.id()?.to_string(),
                    modified_at: modified(r)?.0,
                })
            })
            .collect();
        Ok(ChangePage {
            changes,
            next: full.then_some(last_id).flatten().map(|id| id.to_string()),
        })
    }
}

fn at_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn at_unavailable(stream: Stream, e: AutotaskError) -> FeedError {
    FeedError::Unavailable {
        stream,
        message: e.to_string(),
    }
}

fn col_unavailable(stream: Stream, e: ChannelOnlineError) -> FeedError {
    match e {
        ChannelOnlineError::TooManyDocuments { .. } => FeedError::TooManyDocuments,
        e => FeedError::Unavailable {
            stream,
            message: e.to_string(),
        },
    }
}

#[async_trait]
impl ChangeFeed for TenantFeed {
    async fn threshold(&self) -> Result<ThresholdInfo, FeedError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.autotask
            .threshold_information()
            .await
            .map_err(|e| at_unavailable(Stream::AtCompanies, e))
    }

    async fn changes(&self, stream: Stream, window: Window, cursor: Option<String>) -> Result<ChangePage, FeedError> {
        match stream {
            Stream::AtCompanies => {
                self.autotask_page::<Company>(stream, "lastActivityDate", |c| c.last_activity_date, window, cursor)
                    .await
            }
            Stream::AtContacts => {
                self.autotask_page::<Contact>(stream, "lastModifiedDate", |c| c.last_modified_date, window, cursor)
                    .await
            }
            Stream::AtOpportunities => {
                self.autotask_page::<Opportunity>(stream, "lastActivity", |o| o.last_activity, window, cursor)
                    .await
            }
            Stream::AtQuotes => {
                self.autotask_page::<Quote>(stream, "lastActivityDate", |q| q.last_activity_date, window, cursor)
                    .await
            }
            Stream::ColCustomers => {
                let page = match cursor.and_then(|c| c.parse().ok()) {
                    Some(number) => PageRequest {
                        number,
                        ..PageRequest::default()
                    },
                    None => PageRequest::default(),
                };
                let got = self
                    .channelonline
                    .list_customers_modified_since(window.from, page)
                    .await
                    .map_err(|e| col_unavailable(stream, e))?;
                let changes = got
                    .customers
                    .into_iter()
                    .filter_map(|c| {
                        let at = c.modified_at?;
                        window.contains(at).then_some(Change {
                            entity_id: c.number,
                            modified_at: at,
                        })
                    })
                    .collect();
                Ok(ChangePage {
                    changes,
                    next: got.next.map(|p| p.number.to_string()),
                })
            }
            Stream::ColDocuments => {
                let docs = self
                    .channelonline
                    .list_documents_modified(TimeWindow {
                        after: window.from,
                        before: window.to,
                    })
                    .await
                    .map_err(|e| col_unavailable(stream, e))?;
                let changes = docs
                    .into_iter()
                    .filter_map(|d| {
                        Some(Change {
                            entity_id: d.number,
                            modified_at: d.modified_at?,
                        })
                    })
                    .collect();
                Ok(ChangePage { changes, next: None })
            }
        }
    }

    fn autotask_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}
