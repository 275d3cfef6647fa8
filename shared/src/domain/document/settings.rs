//! The slice of the tenant settings that document export reads (field mappings and defaults).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::input::DocumentKind;

/// Status, stage and probability given to an opportunity created for one document type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentOpportunityDefaults {
    pub status: i64,
    pub stage: i64,
    pub probability: i64,
}

/// Name keys of the maps are matched trimmed and case-insensitively (see [`lookup`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentSettings {
    /// COL payment terms name → Autotask PaymentTerms id.
    pub payment_terms: BTreeMap<String, i64>,
    /// COL delivery method → Autotask ShippingTypes id.
    pub shipping_types: BTreeMap<String, i64>,
    pub default_shipping_type: Option<i64>,
    /// `"Category/Sub-category"` or `"Category"` → Autotask product category picklist value.
    pub categories: BTreeMap<String, i64>,
    pub default_category: Option<i64>,
    /// Billing code given to the products this integration creates (Products require one).
    pub default_billing_code: Option<i64>,
    pub quote_defaults: Option<DocumentOpportunityDefaults>,
    pub sales_order_defaults: Option<DocumentOpportunityDefaults>,
    /// Name of the COL document-level custom field that holds the Autotask opportunity id.
    pub opportunity_field_name: Option<String>,
}

impl DocumentSettings {
    pub fn opportunity_defaults(&self, doc_type: &DocumentKind) -> Option<DocumentOpportunityDefaults> {
        match doc_type {
            DocumentKind::Quote => self.quote_defaults,
            DocumentKind::SalesOrder => self.sales_order_defaults,
            DocumentKind::Other(_) => None,
        }
    }

    pub fn payment_term(&self, name: &str) -> Option<i64> {
        lookup(&self.payment_terms, name)
    }

    pub fn shipping_type(&self, name: &str) -> Option<i64> {
        lookup(&self.shipping_types, name)
    }

    /// Sub-category first ("Networking/Switches"), then the category alone, then the default.
    pub fn category(&self, category: Option<&str>, sub_category: Option<&str>) -> Option<i64> {
        let category = category.map(str::trim).filter(|c| !c.is_empty());
        let sub = sub_category.map(str::trim).filter(|c| !c.is_empty());
        let specific = match (category, sub) {
            (Some(c), Some(s)) => lookup(&self.categories, &format!("{c}/{s}")),
            _ => None,
        };
        specific
            .or_else(|| category.and_then(|c| lookup(&self.categories, c)))
            .or(self.default_category)
    }
}

/// Looks a name up ignoring case and surrounding whitespace (also around a `/` separator).
pub fn lookup(map: &BTreeMap<String, i64>, name: &str) -> Option<i64> {
    let wanted = normalise(name);
    if wanted.is_empty() {
        return None;
    }
    map.iter().find(|(k, _)| normalise(k) == wanted).map(|(_, v)| *v)
}

fn normalise(name: &str) -> String {
    name.split('/')
        .map(|part| part.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DocumentSettings {
        DocumentSettings {
            categories: BTreeMap::from([("Networking / Switches".into(), 7), ("Networking".into(), 5)]),
            default_category: Some(1),
            payment_terms: BTreeMap::from([("Net 30".into(), 3)]),
            ..DocumentSettings::default()
        }
    }

    #[test]
    fn category_prefers_sub_category_then_category_then_default() {
        let s = settings();
        assert_eq!(s.category(Some("networking"), Some("switches")), Some(7));
        assert_eq!(s.category(Some("Networking"), Some("Routers")), Some(5));
        assert_eq!(s.category(Some("Storage"), None), Some(1));
        assert_eq!(s.category(None, None), Some(1));
    }

    #[test]
    fn names_match_ignoring_case_and_spaces() {
        let s = settings();
        assert_eq!(s.payment_term("  NET 30 "), Some(3));
        assert_eq!(s.payment_term("Net 60"), None);
        assert_eq!(s.payment_term(""), None);
    }
}
