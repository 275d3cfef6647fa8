//! The one quote of the opportunity: whose it is, its fields and its three QuoteLocations.

use chrono::{Days, NaiveDate};
use serde_json::{Map, Value, json};

use super::input::{DocumentAddress, DocumentInput};
use super::opportunity::{DEFAULT_CLOSE_DAYS, at_date, truncate};
use super::plan::LocationRole;
use super::preconditions::Ready;
use super::record::ExportRecord;

/// Autotask limits quote names to 100 characters.
pub const QUOTE_NAME_MAX: usize = 100;

/// The opportunity already has a quote that another document or a person made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("opportunity {opportunity_id} already has quote {quote_id} ({name:?}) that this document did not create")]
pub struct ForeignQuote {
    pub opportunity_id: i64,
    pub quote_id: i64,
    pub name: String,
}

/// Finds this document's quote among the opportunity's quotes: the one the last export recorded,
/// or one carrying the document number as external number (a create whose answer was lost).
/// Any other quote breaks the one-quote-per-opportunity rule.
pub fn choose_quote<'a>(
    opportunity_id: i64,
    quotes: &'a [Map<String, Value>],
    previous: Option<&ExportRecord>,
    document_number: &str,
) -> Result<Option<&'a Map<String, Value>>, ForeignQuote> {
    let recorded = previous
        .filter(|r| r.opportunity_id == opportunity_id)
        .and_then(|r| r.quote_id);
    let is_ours = |q: &Map<String, Value>| {
        id_of(q) == recorded
            || q.get("externalQuoteNumber").and_then(Value::as_str).map(str::trim) == Some(document_number)
    };
    if let Some(foreign) = quotes.iter().find(|q| !is_ours(q)) {
        return Err(ForeignQuote {
            opportunity_id,
            quote_id: id_of(foreign).unwrap_or_default(),
            name: foreign
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        });
    }
    Ok(quotes.iter().find(|q| is_ours(q)))
}

pub fn id_of(record: &Map<String, Value>) -> Option<i64> {
    record
        .get("id")
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
}

/// The address each QuoteLocation gets: sold-to falls back to bill-to, ship-to and bill-to to
/// each other, so a document with one address still fills all three.
pub fn location_address(doc: &DocumentInput, role: LocationRole) -> DocumentAddress {
    let bill = doc.bill_to.as_ref();
    let ship = doc.ship_to.as_ref();
    let chosen = match role {
        LocationRole::BillTo => bill.or(ship),
        LocationRole::ShipTo => ship.or(bill),
        LocationRole::SoldTo => doc.sold_to.as_ref().or(bill).or(ship),
    };
    chosen.cloned().unwrap_or_default()
}

/// QuoteLocation fields (Autotask keeps no country or company name on them).
pub fn location_body(address: &DocumentAddress) -> Map<String, Value> {
    let field = |v: &Option<String>, max: usize| match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => json!(truncate(s, max)),
        None => Value::Null,
    };
    let mut map = Map::new();
    map.insert("address1".into(), field(&address.address1, 50));
    map.insert("address2".into(), field(&address.address2, 50));
    map.insert("city".into(), field(&address.city, 50));
    map.insert("state".into(), field(&address.state, 50));
    map.insert("postalCode".into(), field(&address.postal_code, 20));
    map
}

/// Quote fields that follow the document on every export. Dates are included only when the
/// document carries them, so re-exporting on another day changes nothing.
pub fn tracked_quote_fields(doc: &DocumentInput, ready: &Ready, name: &str) -> Map<String, Value> {
    let text = |v: &Option<String>, max: usize| match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => json!(truncate(s, max)),
        None => Value::Null,
    };
    let mut map = Map::new();
    map.insert("name".into(), json!(truncate(name, QUOTE_NAME_MAX)));
    map.insert("description".into(), text(&doc.description, 2000));
    map.insert("contactID".into(), json!(ready.contact_id));
    map.insert("paymentTerm".into(), json!(ready.payment_term_id));
    map.insert(
        "shippingType".into(),
        ready.shipping_type_id.map_or(Value::Null, |id| json!(id)),
    );
    map.insert("externalQuoteNumber".into(), json!(truncate(&doc.number, 50)));
    map.insert("purchaseOrderNumber".into(), text(&doc.po_number, 50));
    if let Some(created) = doc.created {
        map.insert("effectiveDate".into(), json!(at_date(created)));
    }
    if let Some(expires) = doc.expires {
        map.insert("expirationDate".into(), json!(at_date(expires)));
    } else if let Some(created) = doc.created {
        map.insert(
            "expirationDate".into(),
            json!(at_date(created + Days::new(DEFAULT_CLOSE_DAYS))),
        );
    }
    map
}

/// The body of `POST /Quotes`: the tracked fields plus what is set once on create.
/// `opportunity` and `locations` are ids or plan placeholders.
pub fn new_quote_body(
    doc: &DocumentInput,
    ready: &Ready,
    name: &str,
    today: NaiveDate,
    opportunity: Value,
    locations: [Value; 3],
) -> Value {
    let mut map = tracked_quote_fields(doc, ready, name);
    let effective = doc.created.unwrap_or(today);
    map.entry("effectiveDate").or_insert_with(|| json!(at_date(effective)));
    map.entry("expirationDate").or_insert_with(|| {
        json!(at_date(
            doc.expires.unwrap_or(effective + Days::new(DEFAULT_CLOSE_DAYS))
        ))
    });
    map.insert("opportunityID".into(), opportunity);
    map.insert("companyID".into(), json!(ready.company_id));
    map.insert("primaryQuote".into(), json!(true));
    for (role, id) in LocationRole::ALL.into_iter().zip(locations) {
        map.insert(role.quote_field().into(), id);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(id: i64, external: Option<&str>) -> Map<String, Value> {
        json!({ "id": id, "name": format!("Q{id}"), "externalQuoteNumber": external })
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn our_quote_is_found_by_record_or_external_number() {
        let record = ExportRecord {
            opportunity_id: 1,
            quote_id: Some(50),
            ..ExportRecord::default()
        };
        let quotes = [quote(50, None)];
        assert_eq!(
            choose_quote(1, &quotes, Some(&record), "Q9").unwrap().and_then(id_of),
            Some(50)
        );
        let quotes = [quote(51, Some("Q9"))];
        assert_eq!(choose_quote(1, &quotes, None, "Q9").unwrap().and_then(id_of), Some(51));
        assert_eq!(choose_quote(1, &[], Some(&record), "Q9").unwrap(), None);
    }

    #[test]
    fn any_other_quote_is_foreign() {
        let err = choose_quote(1, &[quote(60, Some("Q8"))], None, "Q9").unwrap_err();
        assert_eq!(
            err,
            ForeignQuote {
                opportunity_id: 1,
                quote_id: 60,
                name: "Q60".into()
            }
        );
        // our recorded quote id on another opportunity does not make this one ours
        let record = ExportRecord {
            opportunity_id: 2,
            quote_id: Some(60),
            ..ExportRecord::default()
        };
        assert!(choose_quote(1, &[quote(60, None)], Some(&record), "Q9").is_err());
    }

    #[test]
    fn locations_fall_back_so_all_three_are_filled() {
        let bill = DocumentAddress {
            address1: Some("1 Main St".into()),
            city: Some("Springfield".into()),
            ..DocumentAddress::default()
        };
        let doc = DocumentInput {
            bill_to: Some(bill.clone()),
            ..super::super::fixtures::doc()
        };
        for role in LocationRole::ALL {
            assert_eq!(location_address(&doc, role), bill);
        }
        let body = location_body(&bill);
        assert_eq!(body["address1"], "1 Main St");
        assert_eq!(body["postalCode"], Value::Null);
    }
}
