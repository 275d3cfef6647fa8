//! What the planner needs from a ChannelOnline document, independent of the XML adapter.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The ChannelOnline document types; only quotes and sales orders can be exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Quote,
    SalesOrder,
    /// Invoices, purchase orders, RMAs…: shown in the refusal message by their COL name.
    Other(String),
}

impl DocumentKind {
    /// Parses the COL spelling (`Quote`, `SalesOrder`, `Sales Order`), case-insensitively.
    pub fn parse(raw: &str) -> Self {
        let squashed: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '_').collect();
        match squashed.to_ascii_lowercase().as_str() {
            "quote" => Self::Quote,
            "salesorder" => Self::SalesOrder,
            _ => Self::Other(raw.trim().to_owned()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Self::Quote => "Quote",
            Self::SalesOrder => "Sales Order",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A postal address as the document carries it (bill-to, ship-to, sold-to).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentAddress {
    pub company_name: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
}

/// The document contact: our mapping key and the email used to map it when no mapping exists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRef {
    pub col_id: String,
    pub email: Option<String>,
}

/// A ChannelOnline quote or sales order, re-read from ChannelOnline for each export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentInput {
    pub number: String,
    pub doc_type: DocumentKind,
    pub customer_number: String,
    pub contact: Option<ContactRef>,
    pub sales_rep_id: Option<String>,
    /// Payment terms as named on the document (e.g. "Net 30").
    pub payment_terms: Option<String>,
    /// Delivery method / carrier as named on the document.
    pub shipping_method: Option<String>,
    /// Shipping and handling charged on the document.
    pub shipping_charge: f64,
    pub description: Option<String>,
    pub po_number: Option<String>,
    pub created: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub bill_to: Option<DocumentAddress>,
    pub ship_to: Option<DocumentAddress>,
    /// The customer's own address; bill-to stands in when the document has none.
    pub sold_to: Option<DocumentAddress>,
    /// Value of the document-level custom field that names an Autotask opportunity.
    pub opportunity_field: Option<String>,
    /// Lines in document order.
    pub lines: Vec<DocumentLine>,
}

/// One line of the document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentLine {
    /// ChannelOnline's line id: stable across revisions, the key of per-line state.
    pub line_id: String,
    pub kind: LineKind,
    pub name: String,
    pub description: Option<String>,
    pub quantity: f64,
    pub unit_price: f64,
    pub unit_cost: f64,
    pub taxable: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineKind {
    /// A catalog product: found in Autotask by SKU / manufacturer part number, else created.
    Product {
        sku: Option<String>,
        part_number: Option<String>,
        manufacturer: Option<String>,
        category: Option<String>,
        sub_category: Option<String>,
    },
    /// A service, service bundle or labor line placed on the document from Autotask.
    Autotask(AutotaskIdentity),
}

/// The Autotask item a line came from (added by query-services; the COL adapter keeps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AutotaskIdentity {
    pub kind: AutotaskItemKind,
    pub id: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutotaskItemKind {
    Service,
    ServiceBundle,
    /// A role (labor rate): quote items reference roles through `laborID`.
    Labor,
}

impl AutotaskItemKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Service => "Service",
            Self::ServiceBundle => "Service bundle",
            Self::Labor => "Labor",
        }
    }
}

impl DocumentInput {
    /// The title used for a new opportunity and for the quote: custom name, else "<type> <number>".
    pub fn title(&self, custom_name: Option<&str>) -> String {
        match custom_name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => format!("{} {}", self.doc_type.label(), self.number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_types_parse_col_spellings() {
        assert_eq!(DocumentKind::parse("Quote"), DocumentKind::Quote);
        assert_eq!(DocumentKind::parse("SalesOrder"), DocumentKind::SalesOrder);
        assert_eq!(DocumentKind::parse("sales order"), DocumentKind::SalesOrder);
        assert_eq!(DocumentKind::parse(" Invoice "), DocumentKind::Other("Invoice".into()));
    }
}
