//! Which opportunity the document goes to, and the fields of one we create.

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

use super::input::DocumentInput;
use super::plan::OpportunitySource;
use super::preconditions::Ready;
use super::record::ExportRecord;

/// A new opportunity's close date when the document has no expiry.
pub const DEFAULT_CLOSE_DAYS: u64 = 30;
/// Autotask limits opportunity titles to 128 characters and quote names to 100.
pub const TITLE_MAX: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpportunityChoice {
    Existing { id: i64, source: OpportunitySource },
    New,
}

/// The custom field holds something that is not an opportunity id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the document field names opportunity {0:?}, which is not an Autotask opportunity id")]
pub struct BadOpportunityField(pub String);

/// Given id, else the document's custom field, else the previous export, else a new one.
pub fn choose_opportunity(
    given: Option<i64>,
    doc: &DocumentInput,
    previous: Option<&ExportRecord>,
) -> Result<OpportunityChoice, BadOpportunityField> {
    if let Some(id) = given {
        return Ok(OpportunityChoice::Existing {
            id,
            source: OpportunitySource::Given,
        });
    }
    if let Some(raw) = doc
        .opportunity_field
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        let id = parse_opportunity_field(raw).ok_or_else(|| BadOpportunityField(raw.to_owned()))?;
        return Ok(OpportunityChoice::Existing {
            id,
            source: OpportunitySource::CustomField,
        });
    }
    Ok(match previous {
        Some(record) => OpportunityChoice::Existing {
            id: record.opportunity_id,
            source: OpportunitySource::PreviousExport,
        },
        None => OpportunityChoice::New,
    })
}

/// Accepts `12345`, `#12345` and `12345 - Title` (how the picker writes the field).
pub fn parse_opportunity_field(raw: &str) -> Option<i64> {
    let digits: String = raw
        .trim()
        .trim_start_matches('#')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|id| *id > 0)
}

/// What the picker writes into the document's custom field for an opportunity.
pub fn opportunity_field_value(id: i64, title: &str) -> String {
    format!("{id} - {title}")
}

/// Amount and cost of the document: the sum of its lines plus the shipping charge.
pub fn totals(doc: &DocumentInput) -> (f64, f64) {
    let amount: f64 = doc.lines.iter().map(|l| l.quantity * l.unit_price).sum::<f64>() + doc.shipping_charge;
    let cost: f64 = doc.lines.iter().map(|l| l.quantity * l.unit_cost).sum();
    (round2(amount), round2(cost))
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Autotask date-only fields are date-times at midnight UTC.
pub fn at_date(d: NaiveDate) -> String {
    format!("{}T00:00:00Z", d.format("%Y-%m-%d"))
}

/// The document's expiry, else `today` + 30 days.
pub fn close_date(doc: &DocumentInput, today: NaiveDate) -> NaiveDate {
    doc.expires.unwrap_or_else(|| today + Days::new(DEFAULT_CLOSE_DAYS))
}

pub fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The body of `POST /Opportunities` (every field Autotask requires on create).
pub fn new_opportunity_body(doc: &DocumentInput, ready: &Ready, title: &str, today: NaiveDate) -> Value {
    let (amount, cost) = totals(doc);
    json!({
        "title": truncate(title, TITLE_MAX),
        "companyID": ready.company_id,
        "contactID": ready.contact_id,
        "ownerResourceID": ready.owner_resource_id,
        "status": ready.defaults.status,
        "stage": ready.defaults.stage,
        "probability": ready.defaults.probability,
        "amount": amount,
        "cost": cost,
        "projectedCloseDate": at_date(close_date(doc, today)),
        "startDate": at_date(today),
        "useQuoteTotals": true,
        "description": doc.description.as_deref().map(|d| truncate(d, 8000)),
    })
}

/// Fields kept in line with the document on re-export of an opportunity this document created;
/// status, stage and the rest belong to the sales team once the opportunity exists.
pub fn tracked_opportunity_fields(doc: &DocumentInput) -> serde_json::Map<String, Value> {
    let (amount, cost) = totals(doc);
    let mut map = serde_json::Map::new();
    map.insert("amount".into(), json!(amount));
    map.insert("cost".into(), json!(cost));
    map
}

#[cfg(test)]
mod tests {
    use super::super::input::{DocumentKind, DocumentLine, LineKind};
    use super::super::settings::DocumentOpportunityDefaults;
    use super::*;

    fn doc() -> DocumentInput {
        let line = |id: &str, qty: f64, price: f64, cost: f64| DocumentLine {
            line_id: id.into(),
            kind: LineKind::Product {
                sku: None,
                part_number: Some(id.into()),
                manufacturer: None,
                category: None,
                sub_category: None,
            },
            name: id.into(),
            description: None,
            quantity: qty,
            unit_price: price,
            unit_cost: cost,
            taxable: true,
        };
        DocumentInput {
            number: "Q7".into(),
            doc_type: DocumentKind::Quote,
            customer_number: "C1".into(),
            contact: None,
            sales_rep_id: None,
            payment_terms: None,
            shipping_method: None,
            shipping_charge: 12.5,
            description: None,
            po_number: None,
            created: None,
            expires: None,
            bill_to: None,
            ship_to: None,
            sold_to: None,
            opportunity_field: None,
            lines: vec![line("A", 2.0, 10.0, 6.0), line("B", 3.0, 0.333, 0.1)],
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    #[test]
    fn choice_order_is_given_then_field_then_previous_then_new() {
        let mut d = doc();
        let previous = ExportRecord {
            opportunity_id: 3,
            ..ExportRecord::default()
        };
        assert_eq!(choose_opportunity(None, &d, None).unwrap(), OpportunityChoice::New);
        assert_eq!(
            choose_opportunity(None, &d, Some(&previous)).unwrap(),
            OpportunityChoice::Existing {
                id: 3,
                source: OpportunitySource::PreviousExport
            }
        );
        d.opportunity_field = Some("2 - Firewall refresh".into());
        assert_eq!(
            choose_opportunity(None, &d, Some(&previous)).unwrap(),
            OpportunityChoice::Existing {
                id: 2,
                source: OpportunitySource::CustomField
            }
        );
        assert_eq!(
            choose_opportunity(Some(1), &d, Some(&previous)).unwrap(),
            OpportunityChoice::Existing {
                id: 1,
                source: OpportunitySource::Given
            }
        );
        d.opportunity_field = Some("Firewall refresh".into());
        assert_eq!(
            choose_opportunity(None, &d, None),
            Err(BadOpportunityField("Firewall refresh".into()))
        );
    }

    #[test]
    fn field_values_written_by_the_picker_parse_back() {
        assert_eq!(
            parse_opportunity_field(&opportunity_field_value(42, "New site")),
            Some(42)
        );
        assert_eq!(parse_opportunity_field("#17"), Some(17));
        assert_eq!(parse_opportunity_field("0"), None);
    }

    #[test]
    fn new_opportunity_has_every_required_field_from_document_and_settings() {
        let ready = Ready {
            company_id: 10,
            contact_id: 20,
            owner_resource_id: 30,
            payment_term_id: 1,
            shipping_type_id: None,
            defaults: DocumentOpportunityDefaults {
                status: 1,
                stage: 4,
                probability: 60,
            },
        };
        let body = new_opportunity_body(&doc(), &ready, &doc().title(None), today());
        assert_eq!(body["title"], "Quote Q7");
        assert_eq!(body["amount"], json!(33.5)); // 20 + 0.999 + 12.5 shipping
        assert_eq!(body["cost"], json!(12.3));
        assert_eq!(body["projectedCloseDate"], "2026-12-27T00:00:00Z");
        assert_eq!(body["startDate"], "2026-11-27T00:00:00Z");
        assert_eq!(
            (
                body["status"].clone(),
                body["stage"].clone(),
                body["probability"].clone()
            ),
            (json!(1), json!(4), json!(60))
        );
        assert_eq!(body["useQuoteTotals"], true);
        assert_eq!(body["ownerResourceID"], 30);

        let mut expiring = doc();
        expiring.expires = NaiveDate::from_ymd_opt(2027, 1, 15);
        let body = new_opportunity_body(&expiring, &ready, "Custom", today());
        assert_eq!(body["projectedCloseDate"], "2027-01-15T00:00:00Z");
        assert_eq!(body["title"], "Custom");
    }
}
