//! The port the integration actions code against; `XmlChannelOnline` is the adapter.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::ChannelOnlineError;
use super::types::{
    AddedLine, Customer, CustomerPage, CustomerUpsert, Document, NewLine, PageRequest, TimeWindow, UpsertedCustomer,
};

#[async_trait]
pub trait ChannelOnline: Send + Sync {
    /// A customer by Customer Number, with contacts. Unknown number: `CustomerNotFound`.
    async fn get_customer(&self, number: &str) -> Result<Customer, ChannelOnlineError>;

    /// Customers modified at or after `since`, one page at a time (bulk sync, matching).
    async fn list_customers_modified_since(
        &self,
        since: DateTime<Utc>,
        page: PageRequest,
    ) -> Result<CustomerPage, ChannelOnlineError>;

    /// Customers whose company name contains `name` (case-insensitive).
    async fn search_customers(&self, name: &str) -> Result<Vec<Customer>, ChannelOnlineError>;

    /// A quote or sales order by number at its latest revision. Unknown: `DocumentNotFound`.
    async fn get_document(&self, number: &str) -> Result<Document, ChannelOnlineError>;

    /// Every quote and sales order modified in `window`, latest revision each, no duplicates.
    /// Splits the window whenever COL answers 507 (more than 500 documents).
    async fn list_documents_modified(&self, window: TimeWindow) -> Result<Vec<Document>, ChannelOnlineError>;

    /// Creates or updates a customer with the chosen contacts; returns the COL ids.
    async fn upsert_customer(&self, customer: &CustomerUpsert) -> Result<UpsertedCustomer, ChannelOnlineError>;

    /// Appends an Autotask service / bundle / labor line to a document.
    async fn add_document_line(&self, document_number: &str, line: &NewLine) -> Result<AddedLine, ChannelOnlineError>;

    /// Sets a document-level custom field (e.g. the attached Autotask opportunity).
    async fn set_document_custom_field(
        &self,
        document_number: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ChannelOnlineError>;
}
