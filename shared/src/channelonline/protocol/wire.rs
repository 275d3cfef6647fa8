//! Serde shapes of the XML elements, shared by the client (serialize requests, read responses)
//! and the sandbox (read requests, serialize responses). Element and attribute names follow the
//! observed `export_documents_*` shapes; elements marked DESIGNED are not in public material.
//!
//! Every optional element is skipped when absent, so a round trip through the sandbox keeps
//! "missing" distinct from "empty".

use std::fmt;

use serde::{Deserialize, Serialize};

/// `<authentication>`: observed (shortcut, email, password, registered user agent).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Authentication {
    #[serde(default)]
    pub shortcut: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
    #[serde(rename = "userAgent", default)]
    pub user_agent: UserAgent,
}

impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authentication")
            .field("shortcut", &self.shortcut)
            .field("email", &self.email)
            .field("password", &"***")
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserAgent {
    #[serde(rename = "@version", default)]
    pub version: String,
    #[serde(rename = "$text", default)]
    pub name: String,
}

/// Only the authentication of any request (the sandbox checks it before dispatching).
#[derive(Debug, Deserialize)]
pub struct AuthOnly {
    #[serde(default)]
    pub authentication: Authentication,
}

// ---------------------------------------------------------------- export_documents (OBSERVED)

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportDocumentsRequest {
    #[serde(rename = "@schemaVersion")]
    pub schema_version: String,
    pub authentication: Authentication,
    pub options: ExportDocumentsOptions,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDocumentsOptions {
    /// "Quote" or "Sales Order".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    #[serde(default)]
    pub only_checked: bool,
    #[serde(default)]
    pub only_unexported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_in_range: Option<EventInRange>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventInRange {
    /// `created` or `modified`.
    pub event_type: String,
    /// ISO-8601 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExportDocumentsResponse {
    #[serde(rename = "@version", default)]
    pub version: String,
    #[serde(default)]
    pub documents: WireDocuments,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireDocuments {
    #[serde(rename = "document", default, skip_serializing_if = "Vec::is_empty")]
    pub document: Vec<WireDocument>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireDocument {
    #[serde(rename = "@documentId", default)]
    pub document_id: String,
    #[serde(rename = "@documentNumber", default)]
    pub document_number: String,
    /// `Quote` or `SalesOrder`.
    #[serde(rename = "@documentType", default)]
    pub document_type: String,
    #[serde(rename = "@revisionNumber", default, skip_serializing_if = "Option::is_none")]
    pub revision_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// INFERRED: COL documents have expiration dates; element name not observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<WireEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<WireDocumentCustomer>,
    /// INFERRED: the document contact; element name not observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<WirePerson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_person: Option<WirePerson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_manager: Option<WirePerson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<WirePayment>,
    /// INFERRED: COL "Delivery Methods"; element name not observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<WireAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_to: Option<WireAddress>,
    /// INFERRED: by analogy with shipTo / billTo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sold_to: Option<WireAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub note: Vec<WireNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_item_cost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_total: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_handling: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misc_amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_list: Option<WireItemList>,
    /// INFERRED: document-level custom fields (named in prose, not in the parser).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<WireCustomFields>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireEvent {
    /// `created`, `ordered` or `modified`.
    #[serde(rename = "@type", default)]
    pub kind: String,
    #[serde(rename = "@when", default)]
    pub when: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<WirePerson>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePerson {
    /// INFERRED: a COL user / contact id attribute.
    #[serde(rename = "@id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireDocumentCustomer {
    #[serde(rename = "@customerNumber", default)]
    pub customer_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<WireTerms>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_profile: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireTerms {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WirePayment {
    #[serde(rename = "PONumber", skip_serializing_if = "Option::is_none")]
    pub po_number: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<WireState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireState {
    #[serde(rename = "@abbreviation", default, skip_serializing_if = "Option::is_none")]
    pub abbreviation: Option<String>,
    #[serde(rename = "$text", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireNote {
    #[serde(rename = "@type", default)]
    pub kind: String,
    #[serde(rename = "$text", default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireItemList {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product: Vec<WireProduct>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireProduct {
    #[serde(rename = "@lineItemId", default)]
    pub line_item_id: String,
    #[serde(rename = "@lineItemNumber", default, skip_serializing_if = "Option::is_none")]
    pub line_item_number: Option<String>,
    #[serde(rename = "@lineOrder", default, skip_serializing_if = "Option::is_none")]
    pub line_order: Option<String>,
    #[serde(rename = "@productType", default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// DESIGNED: the Autotask identity of service / bundle / labor lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autotask_item: Option<WireAutotaskItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<WireManufacturer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taxable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<WireQuantity>,
    #[serde(rename = "supplierProduct", default, skip_serializing_if = "Vec::is_empty")]
    pub supplier_product: Vec<WireSupplierProduct>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WireAutotaskItem {
    /// `Service`, `ServiceBundle` or `Labor`.
    #[serde(rename = "@type", default)]
    pub kind: String,
    #[serde(rename = "@id", default)]
    pub id: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireManufacturer {
    #[serde(rename = "@manufacturerId", default, skip_serializing_if = "Option::is_none")]
    pub manufacturer_id: Option<String>,
    #[serde(rename = "$text", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireQuantity {
    #[serde(rename = "@cancelled", default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<String>,
    #[serde(rename = "$text", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireSupplierProduct {
    #[serde(rename = "@selected", default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<WireSupplier>,
    #[serde(rename = "SKU", skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireSupplier {
    #[serde(rename = "@accountNumber", default, skip_serializing_if = "Option::is_none")]
    pub account_number: Option<String>,
    #[serde(rename = "$text", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireCustomFields {
    #[serde(rename = "customField", default, skip_serializing_if = "Vec::is_empty")]
    pub custom_field: Vec<WireCustomField>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WireCustomField {
    #[serde(rename = "@name", default)]
    pub name: String,
    #[serde(rename = "$text", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

// ---------------------------------------------------------------- export_customers (DESIGNED)

/// DESIGNED: `export_customers_request` in the conventions of `export_documents_request`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportCustomersRequest {
    #[serde(rename = "@schemaVersion")]
    pub schema_version: String,
    pub authentication: Authentication,
    pub options: ExportCustomersOptions,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportCustomersOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name_contains: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_in_range: Option<EventInRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<WirePage>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct WirePage {
    #[serde(rename = "@number", default)]
    pub number: u32,
    #[serde(rename = "@size", default)]
    pub size: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExportCustomersResponse {
    #[serde(rename = "@version", default)]
    pub version: String,
    #[serde(default)]
    pub customers: WireCustomers,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireCustomers {
    #[serde(rename = "@morePages", default, skip_serializing_if = "Option::is_none")]
    pub more_pages: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer: Vec<WireCustomer>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireCustomer {
    #[serde(rename = "@customerId", default)]
    pub customer_id: String,
    #[serde(rename = "@customerNumber", default)]
    pub customer_number: String,
    #[serde(rename = "@modified", default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<WireAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_person: Option<WirePerson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<WireTerms>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<WireContacts>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WireContacts {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<WireContact>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireContact {
    #[serde(rename = "@contactId", default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
}

// ---------------------------------------------------------------- import_customers (DESIGNED)

/// DESIGNED: `import_customers_request`, modelled on COL's documented account-import actions
/// (`update` = update else create).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportCustomersRequest {
    #[serde(rename = "@schemaVersion")]
    pub schema_version: String,
    pub authentication: Authentication,
    pub customers: ImportCustomers,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportCustomers {
    #[serde(default)]
    pub customer: Vec<ImportCustomer>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportCustomer {
    /// `create` or `update` (update else create).
    #[serde(rename = "@action", default)]
    pub action: String,
    #[serde(rename = "@customerNumber", default, skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<String>,
    #[serde(default)]
    pub company_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<WireAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_person_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<WireTerms>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<WireContacts>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportCustomersResponse {
    #[serde(rename = "@version", default)]
    pub version: String,
    #[serde(default)]
    pub customer: Vec<ImportedCustomer>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportedCustomer {
    #[serde(rename = "@customerId", default)]
    pub customer_id: String,
    #[serde(rename = "@customerNumber", default)]
    pub customer_number: String,
    #[serde(rename = "@created", default)]
    pub created: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<ImportedContact>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImportedContact {
    #[serde(rename = "@contactId", default)]
    pub contact_id: String,
    #[serde(rename = "@email", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "@created", default)]
    pub created: bool,
}

// ---------------------------------------------------------------- document writes (DESIGNED)

/// DESIGNED: `add_document_lines_request` appends lines to the latest revision.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddDocumentLinesRequest {
    #[serde(rename = "@schemaVersion")]
    pub schema_version: String,
    pub authentication: Authentication,
    pub document_number: String,
    pub item_list: WireItemList,
}

/// DESIGNED: `set_document_custom_fields_request`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetDocumentCustomFieldsRequest {
    #[serde(rename = "@schemaVersion")]
    pub schema_version: String,
    pub authentication: Authentication,
    pub document_number: String,
    pub custom_fields: WireCustomFields,
}

/// DESIGNED: the answer to both document writes: the revision that now holds the change and,
/// for added lines, their ids and positions.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DocumentWriteResponse {
    #[serde(rename = "@version", default)]
    pub version: String,
    #[serde(default)]
    pub document: WrittenDocument,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WrittenDocument {
    #[serde(rename = "@documentNumber", default)]
    pub document_number: String,
    #[serde(rename = "@revisionNumber", default)]
    pub revision_number: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line: Vec<WrittenLine>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WrittenLine {
    #[serde(rename = "@lineItemId", default)]
    pub line_item_id: String,
    #[serde(rename = "@lineOrder", default)]
    pub line_order: u32,
}
