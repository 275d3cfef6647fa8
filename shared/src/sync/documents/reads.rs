//! The Autotask and store reads an export needs, batched and run side by side.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::autotask::query::MAX_OR_CONDITIONS;
use crate::autotask::{
    AutotaskError, Contact, Filter, Opportunity, Product, Query, Quote, QuoteItem, QuoteLocation, TenantClient,
};
use crate::domain::document::DocumentInput;
use crate::domain::document::input::LineKind;
use crate::domain::document::lines::{ProductIndex, ProductLookup, product_key, product_lookup};
use crate::domain::document::plan::LocationRole;
use crate::domain::mapping::MappingKind;
use crate::store::MappingStore;
use crate::sync::SyncError;
use crate::tenant::TenantId;

/// A typed Autotask record as the JSON object the planner diffs against.
pub fn to_map<T: Serialize>(record: &T) -> Map<String, Value> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// The chosen opportunity and its quotes (two calls on two endpoints, in parallel).
pub async fn opportunity_and_quotes(
    at: &TenantClient,
    id: i64,
) -> Result<(Option<Map<String, Value>>, Vec<Map<String, Value>>), AutotaskError> {
    let quotes_query = Query::filter(vec![Filter::eq("opportunityID", id)]);
    let (opportunity, quotes) = tokio::join!(at.get::<Opportunity>(id), at.query::<Quote>(&quotes_query));
    Ok((opportunity?.as_ref().map(to_map), quotes?.iter().map(to_map).collect()))
}

/// The items and the three locations of our quote (two endpoints, in parallel).
pub async fn quote_contents(
    at: &TenantClient,
    quote: &Map<String, Value>,
) -> Result<(Vec<Map<String, Value>>, Vec<Map<String, Value>>), AutotaskError> {
    let quote_id = quote.get("id").and_then(Value::as_i64).unwrap_or_default();
    let location_ids: Vec<i64> = LocationRole::ALL
        .iter()
        .filter_map(|r| quote.get(r.quote_field()).and_then(Value::as_i64))
        .collect();
    let items_query = Query::filter(vec![Filter::eq("quoteID", quote_id)]);
    let locations_query = Query::filter(vec![Filter::is_in("id", location_ids.clone())]);
    let (items, locations) = tokio::join!(at.query::<QuoteItem>(&items_query), async {
        if location_ids.is_empty() {
            Ok(Vec::new())
        } else {
            at.query::<QuoteLocation>(&locations_query).await
        }
    });
    Ok((
        items?.iter().map(to_map).collect(),
        locations?.iter().map(to_map).collect(),
    ))
}

/// Product keys of the document's product lines.
pub fn product_keys(doc: &DocumentInput) -> Vec<String> {
    let mut keys: Vec<String> = doc
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            LineKind::Product { sku, part_number, .. } => product_key(sku.as_deref(), part_number.as_deref()),
            LineKind::Autotask(_) => None,
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Our Product mappings first; one batched Autotask query (`includeFields`) for the rest.
pub async fn product_index(
    at: &TenantClient,
    mappings: &dyn MappingStore,
    tenant: &TenantId,
    doc: &DocumentInput,
) -> Result<ProductIndex, SyncError> {
    let keys = product_keys(doc);
    let mapped: BTreeMap<String, i64> = if keys.is_empty() {
        BTreeMap::new()
    } else {
        mappings
            .batch_get_by_col(tenant, MappingKind::Product, &keys)
            .await?
            .into_iter()
            .map(|m| (m.col_id, m.at_id))
            .collect()
    };
    let lookup = product_lookup(doc, |k| mapped.contains_key(k));
    let mut found = Vec::new();
    for query in product_queries(&lookup) {
        found.extend(at.query::<Product>(&query).await?.iter().map(to_map));
    }
    Ok(ProductIndex { mapped, found })
}

/// `sku in […] or manufacturerProductName in […]`, split so no query exceeds 500 OR conditions
/// (one query for any document of up to 249 product lines).
pub fn product_queries(lookup: &ProductLookup) -> Vec<Query> {
    // Two IN lists joined by one OR: (n + n + 1) conditions must stay within the limit.
    let half = (MAX_OR_CONDITIONS - 1) / 2;
    let chunks = lookup.skus.len().max(lookup.part_numbers.len()).div_ceil(half);
    (0..chunks)
        .map(|i| {
            let slice = |v: &[String]| v.iter().skip(i * half).take(half).cloned().collect::<Vec<_>>();
            let mut branches = Vec::new();
            let skus = slice(&lookup.skus);
            let parts = slice(&lookup.part_numbers);
            if !skus.is_empty() {
                branches.push(Filter::is_in("sku", skus));
            }
            if !parts.is_empty() {
                branches.push(Filter::is_in("manufacturerProductName", parts));
            }
            Query::filter(vec![Filter::or(branches)]).include_fields([
                "id",
                "sku",
                "manufacturerProductName",
                "isActive",
            ])
        })
        .collect()
}

/// The Autotask contact of `company_id` with this email, when exactly one matches.
pub async fn contact_by_email(at: &TenantClient, company_id: i64, email: &str) -> Result<Option<i64>, AutotaskError> {
    let query = Query::filter(vec![
        Filter::eq("companyID", company_id),
        Filter::eq("emailAddress", email.trim()),
    ])
    .include_fields(["id", "companyID", "emailAddress"]);
    let contacts = at.query::<Contact>(&query).await?;
    Ok(match contacts.as_slice() {
        [only] => only.id,
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_queries_stay_within_the_or_limit() {
        let many = |p: &str, n: usize| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        let small = ProductLookup {
            skus: many("S", 120),
            part_numbers: many("P", 120),
        };
        assert_eq!(product_queries(&small).len(), 1);
        let big = ProductLookup {
            skus: many("S", 600),
            part_numbers: many("P", 10),
        };
        let queries = product_queries(&big);
        assert_eq!(queries.len(), 3);
        assert!(
            queries
                .iter()
                .all(|q| q.filter.iter().map(Filter::or_conditions).sum::<usize>() <= MAX_OR_CONDITIONS)
        );
        assert!(product_queries(&ProductLookup::default()).is_empty());
    }
}
