//! The natural key of each record the document export creates, and the query that finds it
//! again after a create whose answer never came (the only time these queries run). The README
//! table "Natural keys" says why each key is safe.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::raw::{Opportunities, QuoteItems, QuoteLocations, Quotes, RawKind, RawRecord};
use super::reads::product_queries;
use crate::autotask::{AutotaskError, Filter, Product, Query, TenantClient};
use crate::domain::document::diff::changed_fields;
use crate::domain::document::lines::{ProductIndex, ProductLookup, product_key};
use crate::domain::document::plan::LocationRole;
use crate::domain::document::quote::id_of;

/// How far Autotask's clock may be behind ours when comparing `createDate`.
const CLOCK_SKEW: Duration = Duration::minutes(10);

/// Which natural key a collection's records are found by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NaturalKey {
    /// `companyID` + `title` + `createDate` after the export began (no external id exists).
    Opportunity,
    /// `opportunityID` + `externalQuoteNumber` (= the ChannelOnline document number).
    Quote,
    /// The five address fields, on a location no quote references and this run does not hold.
    QuoteLocation,
    /// The product key: `manufacturerProductName` (part number), else `sku`.
    Product,
    /// `quoteID` + every field of the item, on an item this run does not hold.
    QuoteItem,
}

/// What one export run knows when it reconciles.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// When the run started (by our clock).
    pub started: DateTime<Utc>,
    /// Ids this run already holds (items and locations it created or adopted): never adopted twice.
    pub taken: BTreeSet<i64>,
    /// How a create whose answer may be lost is handled.
    pub creates: CreateMode,
}

/// When a create's natural-key look-up runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CreateMode {
    /// `create_once`: right after an unanswered create.
    #[default]
    LookUpAfterUnanswered,
    /// Sent once beside look-alike creates; an unanswered one is told as it is (`Ambiguous`) and
    /// looked up only once every create beside it has settled (see [`CreateMode::LookUpFirst`]).
    Deferred,
    /// An earlier send went unanswered: look the record up first, then `create_once` if it is
    /// not there.
    LookUpFirst,
}

/// The record `fields` describes, if an unanswered create already made it.
pub async fn find_existing(
    at: &TenantClient,
    key: NaturalKey,
    fields: &Map<String, Value>,
    run: &RunContext,
) -> Result<Option<i64>, AutotaskError> {
    match key {
        NaturalKey::Opportunity => opportunity(at, fields, run.started).await,
        NaturalKey::Quote => quote(at, fields).await,
        NaturalKey::QuoteLocation => location(at, fields, &run.taken).await,
        NaturalKey::Product => product(at, fields).await,
        NaturalKey::QuoteItem => item(at, fields, &run.taken).await,
    }
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

async fn raw<K: RawKind>(at: &TenantClient, q: Query) -> Result<Vec<Map<String, Value>>, AutotaskError> {
    Ok(at
        .query::<RawRecord<K>>(&q)
        .await?
        .into_iter()
        .map(|r| r.fields)
        .collect())
}

fn newest(records: &[Map<String, Value>]) -> Option<i64> {
    records.iter().filter_map(id_of).max()
}

async fn opportunity(
    at: &TenantClient,
    fields: &Map<String, Value>,
    started: DateTime<Utc>,
) -> Result<Option<i64>, AutotaskError> {
    let (Some(company), Some(title)) = (fields.get("companyID").and_then(Value::as_i64), text(fields, "title")) else {
        return Ok(None);
    };
    let since = (started - CLOCK_SKEW).to_rfc3339_opts(SecondsFormat::Secs, true);
    let q = Query::filter(vec![
        Filter::eq("companyID", company),
        Filter::eq("title", title),
        Filter::gte("createDate", since),
    ])
    .include_fields(["id", "companyID", "title", "createDate"]);
    Ok(newest(&raw::<Opportunities>(at, q).await?))
}

async fn quote(at: &TenantClient, fields: &Map<String, Value>) -> Result<Option<i64>, AutotaskError> {
    let (Some(opportunity), Some(number)) = (
        fields.get("opportunityID").and_then(Value::as_i64),
        text(fields, "externalQuoteNumber"),
    ) else {
        return Ok(None);
    };
    let q = Query::filter(vec![
        Filter::eq("opportunityID", opportunity),
        Filter::eq("externalQuoteNumber", number),
    ])
    .include_fields(["id", "opportunityID", "externalQuoteNumber"]);
    Ok(newest(&raw::<Quotes>(at, q).await?))
}

const ADDRESS_FIELDS: [&str; 5] = ["address1", "address2", "city", "state", "postalCode"];

async fn location(
    at: &TenantClient,
    fields: &Map<String, Value>,
    taken: &BTreeSet<i64>,
) -> Result<Option<i64>, AutotaskError> {
    let address: Map<String, Value> = ADDRESS_FIELDS
        .iter()
        .map(|f| (f.to_string(), fields.get(*f).cloned().unwrap_or(Value::Null)))
        .collect();
    let mut filter: Vec<Filter> = ADDRESS_FIELDS
        .iter()
        .filter_map(|f| text(fields, f).map(|v| Filter::eq(f, v)))
        .collect();
    if filter.is_empty() {
        filter.push(Filter::not_exist("address1"));
    }
    let q = Query::filter(filter);
    let free: Vec<i64> = raw::<QuoteLocations>(at, q)
        .await?
        .iter()
        .filter(|l| changed_fields(&address, l).is_empty())
        .filter_map(id_of)
        .filter(|id| !taken.contains(id))
        .collect();
    if free.is_empty() {
        return Ok(None);
    }
    // A location a quote already uses belongs to that quote, whatever its address.
    let used = Query::filter(vec![Filter::or(
        LocationRole::ALL
            .iter()
            .map(|r| Filter::is_in(r.quote_field(), free.clone()))
            .collect(),
    )])
    .include_fields(LocationRole::ALL.iter().map(|r| r.quote_field()).chain(["id"]));
    let referenced: BTreeSet<i64> = raw::<Quotes>(at, used)
        .await?
        .iter()
        .flat_map(|q| LocationRole::ALL.map(|r| q.get(r.quote_field()).and_then(Value::as_i64)))
        .flatten()
        .collect();
    Ok(free.into_iter().filter(|id| !referenced.contains(id)).max())
}

async fn product(at: &TenantClient, fields: &Map<String, Value>) -> Result<Option<i64>, AutotaskError> {
    let sku = text(fields, "sku");
    let part_number = text(fields, "manufacturerProductName");
    let Some(key) = product_key(sku, part_number) else {
        return Ok(None);
    };
    let lookup = ProductLookup {
        skus: sku.map(str::to_owned).into_iter().collect(),
        part_numbers: part_number.map(str::to_owned).into_iter().collect(),
    };
    let mut found = Vec::new();
    for q in product_queries(&lookup) {
        found.extend(at.query::<Product>(&q).await?.iter().map(super::reads::to_map));
    }
    let index = ProductIndex {
        found,
        ..ProductIndex::default()
    };
    Ok(index.find(&key, sku, part_number))
}

async fn item(
    at: &TenantClient,
    fields: &Map<String, Value>,
    taken: &BTreeSet<i64>,
) -> Result<Option<i64>, AutotaskError> {
    let Some(quote) = fields.get("quoteID").and_then(Value::as_i64) else {
        return Ok(None);
    };
    let q = Query::filter(vec![Filter::eq("quoteID", quote)]);
    Ok(raw::<QuoteItems>(at, q)
        .await?
        .into_iter()
        .filter(|i| id_of(i).is_some_and(|id| !taken.contains(&id)))
        .filter(|i| changed_fields(fields, i).is_empty())
        .filter_map(|i| id_of(&i))
        .min())
}
