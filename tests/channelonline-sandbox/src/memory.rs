//! `MemoryChannelOnline`: the `ChannelOnline` port straight on the sandbox's state, for fast
//! domain tests. Same state model and rules as the XML endpoint (revisions, the document cap,
//! update-else-create, counters per request kind); no XML, no auth, no faults or pacing.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared::channelonline::protocol::RequestKind;
use shared::channelonline::window::{latest_revisions, list_split};
use shared::channelonline::*;

use crate::server::Shared;
use crate::state::{SandboxConfig, SandboxState};

#[derive(Clone)]
pub struct MemoryChannelOnline {
    shared: Arc<Shared>,
}

impl MemoryChannelOnline {
    /// A standalone account (demo-seeded when `config.seed_demo`).
    pub fn new(config: SandboxConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new(config)),
        }
    }

    pub(crate) fn on(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The account for seeding and inspection. Do not hold it across an `.await`.
    pub fn state(&self) -> std::sync::MutexGuard<'_, SandboxState> {
        self.shared.lock()
    }

    fn counted(&self, kind: RequestKind) -> std::sync::MutexGuard<'_, SandboxState> {
        let mut state = self.shared.lock();
        state.count(kind);
        state
    }
}

fn unknown_document(number: &str) -> ChannelOnlineError {
    ChannelOnlineError::DocumentNotFound {
        number: number.to_owned(),
    }
}

#[async_trait]
impl ChannelOnline for MemoryChannelOnline {
    async fn get_customer(&self, number: &str) -> Result<Customer, ChannelOnlineError> {
        let state = self.counted(RequestKind::ExportCustomers);
        state
            .find_customers(Some(number), None, None)
            .into_iter()
            .next()
            .ok_or_else(|| ChannelOnlineError::CustomerNotFound {
                number: number.to_owned(),
            })
    }

    async fn list_customers_modified_since(
        &self,
        since: DateTime<Utc>,
        page: PageRequest,
    ) -> Result<CustomerPage, ChannelOnlineError> {
        let all = self
            .counted(RequestKind::ExportCustomers)
            .find_customers(None, None, Some(since));
        let size = page.size.max(1) as usize;
        let skip = (page.number.max(1) as usize - 1).saturating_mul(size);
        Ok(CustomerPage {
            next: (all.len() > skip.saturating_add(size)).then_some(PageRequest {
                number: page.number + 1,
                size: page.size,
            }),
            customers: all.into_iter().skip(skip).take(size).collect(),
        })
    }

    async fn search_customers(&self, name: &str) -> Result<Vec<Customer>, ChannelOnlineError> {
        Ok(self
            .counted(RequestKind::ExportCustomers)
            .find_customers(None, Some(name), None))
    }

    async fn get_document(&self, number: &str) -> Result<Document, ChannelOnlineError> {
        let revisions = self.counted(RequestKind::ExportDocuments).revisions(number, None);
        latest_revisions(revisions)
            .into_iter()
            .max_by_key(|d| d.revision)
            .ok_or_else(|| unknown_document(number))
    }

    async fn list_documents_modified(&self, window: TimeWindow) -> Result<Vec<Document>, ChannelOnlineError> {
        let cap = self.shared.config.document_cap;
        let mut all = Vec::new();
        for doc_type in DocumentType::ALL {
            let docs = list_split(window, |w| {
                let found = self
                    .counted(RequestKind::ExportDocuments)
                    .modified_in_capped(Some(doc_type), w, cap);
                async move {
                    found.ok_or_else(|| ChannelOnlineError::TooManyDocuments {
                        message: format!("more than {cap} documents"),
                    })
                }
            })
            .await?;
            all.extend(docs);
        }
        Ok(latest_revisions(all))
    }

    async fn upsert_customer(&self, customer: &CustomerUpsert) -> Result<UpsertedCustomer, ChannelOnlineError> {
        Ok(self
            .counted(RequestKind::ImportCustomers)
            .upsert_customer(customer, Utc::now()))
    }

    async fn add_document_line(&self, document_number: &str, line: &NewLine) -> Result<AddedLine, ChannelOnlineError> {
        self.counted(RequestKind::AddDocumentLines)
            .add_line(document_number, line, Utc::now())
            .ok_or_else(|| unknown_document(document_number))
    }

    async fn set_document_custom_field(
        &self,
        document_number: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ChannelOnlineError> {
        self.counted(RequestKind::SetDocumentCustomFields)
            .set_custom_field(document_number, name, value, Utc::now())
            .map(|_| ())
            .ok_or_else(|| unknown_document(document_number))
    }
}
