//! ChannelOnline records as the integration sees them: free of XML, ready for mapping to Autotask.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A postal address (ship-to, bill-to, sold-to, account address).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub company_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    /// State or province abbreviation (e.g. `IL`).
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
}

/// A person on a customer account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// COL contact id (the mapping key for Autotask contacts).
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    /// Autotask requires a work phone; COL substitutes 555-555-5555 when it is missing.
    pub work_phone: Option<String>,
    pub mobile: Option<String>,
}

/// A COL representative (sales rep or account manager).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesRep {
    /// COL user id when the payload carries one; otherwise the email is the key.
    pub id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// A customer account with its contacts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// System-generated COL Customer ID.
    pub customer_id: String,
    /// User-visible Customer Number (the mapping key; often the ERP key).
    pub number: String,
    pub company_name: String,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub contacts: Vec<Contact>,
    pub sales_rep: Option<SalesRep>,
    /// Payment terms of the account (e.g. "Net 30").
    pub terms: Option<String>,
    pub modified_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DocumentType {
    Quote,
    SalesOrder,
}

impl DocumentType {
    pub const ALL: [DocumentType; 2] = [DocumentType::Quote, DocumentType::SalesOrder];
}

/// Which kind of item a line is. Service, bundle and labor lines come from Autotask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductType {
    Hardware,
    Software,
    Service,
    ServiceBundle,
    Labor,
    /// Any other value COL sends, kept verbatim.
    Other(String),
}

/// The Autotask item a service / service bundle / labor line stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AutotaskItemKind {
    Service,
    ServiceBundle,
    /// An Autotask billing code (work type) sold as labor.
    Labor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AutotaskItemRef {
    pub kind: AutotaskItemKind,
    pub id: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLine {
    /// COL line item id (stable across revisions; the quote-item mapping key).
    pub line_id: String,
    /// Position on the document (1-based).
    pub order: u32,
    pub product_type: ProductType,
    /// Set on lines placed from Autotask (service, bundle, labor).
    pub autotask: Option<AutotaskItemRef>,
    pub manufacturer: Option<String>,
    pub part_number: Option<String>,
    /// Supplier SKU of the selected supplier product.
    pub sku: Option<String>,
    pub description: Option<String>,
    pub description2: Option<String>,
    pub category: Option<String>,
    pub sub_category: Option<String>,
    pub price: Option<Decimal>,
    pub cost: Option<Decimal>,
    pub quantity: Decimal,
    pub taxable: bool,
}

/// The customer a document belongs to (number is the mapping key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentCustomer {
    pub number: String,
    pub company_name: Option<String>,
}

/// The contact a document is addressed to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentContact {
    pub id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub item_cost: Option<Decimal>,
    pub sub_total: Option<Decimal>,
    pub tax: Option<Decimal>,
    pub shipping_handling: Option<Decimal>,
    pub misc: Option<Decimal>,
    pub total: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Internal, External or Shipping.
    pub kind: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub name: String,
    pub value: String,
}

/// A quote or sales order at its latest revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Stable across revisions.
    pub document_id: String,
    pub number: String,
    pub revision: u32,
    pub doc_type: DocumentType,
    pub status: Option<String>,
    pub deleted: bool,
    pub description: Option<String>,
    pub customer: DocumentCustomer,
    pub contact: Option<DocumentContact>,
    pub sales_rep: Option<SalesRep>,
    /// Required by COL's own Autotask export; `None` means "not selected on the document".
    pub payment_terms: Option<String>,
    /// Delivery method (shipping type), sent to Autotask with the quote.
    pub delivery_method: Option<String>,
    pub po_number: Option<String>,
    pub ship_to: Option<Address>,
    pub bill_to: Option<Address>,
    pub sold_to: Option<Address>,
    pub lines: Vec<DocumentLine>,
    pub totals: Totals,
    pub notes: Vec<Note>,
    pub expires_on: Option<NaiveDate>,
    pub custom_fields: Vec<CustomField>,
    pub created_at: Option<DateTime<Utc>>,
    pub modified_at: Option<DateTime<Utc>>,
}

impl Document {
    pub fn custom_field(&self, name: &str) -> Option<&str> {
        self.custom_fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }
}

/// A half-open time window `[after, before)` of modification events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub after: DateTime<Utc>,
    pub before: DateTime<Utc>,
}

/// One page of a customer listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// 1-based.
    pub number: u32,
    pub size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { number: 1, size: 200 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    /// The next page to ask for, `None` on the last page.
    pub next: Option<PageRequest>,
}

/// A contact to create or update on a customer (import from Autotask).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactUpsert {
    /// Existing COL contact id to update; `None` matches by email, else creates.
    pub id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub work_phone: Option<String>,
    pub mobile: Option<String>,
}

/// A customer to create or update, with only the contacts the user chose.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerUpsert {
    /// Existing Customer Number to update; `None` creates (COL assigns the number).
    pub number: Option<String>,
    pub company_name: String,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub sales_rep_email: Option<String>,
    pub terms: Option<String>,
    pub contacts: Vec<ContactUpsert>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertedContact {
    pub contact_id: String,
    pub email: Option<String>,
    pub created: bool,
}

/// The COL ids after an upsert, in the order the contacts were sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertedCustomer {
    pub customer_id: String,
    pub number: String,
    pub created: bool,
    pub contacts: Vec<UpsertedContact>,
}

/// A line placed on a document from Autotask (service, bundle or labor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLine {
    pub autotask: AutotaskItemRef,
    pub part_number: Option<String>,
    pub description: String,
    pub description2: Option<String>,
    pub category: Option<String>,
    pub sub_category: Option<String>,
    pub price: Decimal,
    pub cost: Option<Decimal>,
    pub quantity: Decimal,
    pub taxable: bool,
}

/// Where the new line landed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedLine {
    pub line_id: String,
    pub order: u32,
    /// The document revision that now holds the line.
    pub revision: u32,
}
