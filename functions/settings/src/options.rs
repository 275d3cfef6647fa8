//! What the setup screens' dropdowns offer, read from the tenant's live systems: every Autotask
//! side from Autotask (active resources, payment terms, shipping types, billing codes, the
//! product-category, company-type and opportunity picklists), the ChannelOnline side from the
//! values ChannelOnline's customers and recent documents use. Kept for a minute per tenant, so
//! moving between screens does not spend the hourly request budget again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::autotask::{
    BillingCode, Company, Filter, Opportunity, PaymentTerm, Product, Query, Resource, ShippingType, TenantClient,
};
use shared::channelonline::{ChannelOnline, PageRequest, TimeWindow};
use shared::sync::SyncError;
use shared::sync::documents::convert::sales_rep_key;
use shared::tenant::TenantId;
use shared::web::ApiError;

/// How long read options are reused.
const TTL: Duration = Duration::from_secs(60);
/// How far back ChannelOnline documents are read for the values they use.
const DOCUMENT_DAYS: i64 = 180;
/// Autotask's `licenseType` of API-only users, who cannot own records.
const API_USER_LICENSE: i64 = 7;

/// One dropdown entry: the value stored in the settings and what the admin reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    fn new(value: impl ToString, label: impl Into<String>) -> Self {
        Self {
            value: value.to_string(),
            label: label.into(),
        }
    }
}

/// The Autotask side of every mapping, from the tenant's instance.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AutotaskOptions {
    /// Active resources that can own records (name and e-mail).
    pub resources: Vec<Choice>,
    pub payment_terms: Vec<Choice>,
    pub shipping_types: Vec<Choice>,
    /// Active material (product) billing codes.
    pub billing_codes: Vec<Choice>,
    pub product_categories: Vec<Choice>,
    pub company_types: Vec<Choice>,
    pub opportunity_statuses: Vec<Choice>,
    pub opportunity_stages: Vec<Choice>,
}

/// The ChannelOnline side: what its customers and documents use (it has no list of them).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChannelOnlineValues {
    /// Sales reps, keyed as the export looks them up (`sales_rep_key`).
    pub sales_reps: Vec<Choice>,
    pub payment_terms: Vec<String>,
    pub shipping_types: Vec<String>,
    /// `(category, sub-category)` pairs as lines carry them.
    pub categories: Vec<(String, Option<String>)>,
}

struct Cached<T> {
    at: Instant,
    value: Arc<T>,
}

type Cache<T> = Mutex<HashMap<TenantId, Cached<T>>>;

fn cached<T>(cache: &Cache<T>, tenant: &TenantId) -> Option<Arc<T>> {
    let map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.get(tenant)
        .filter(|c| c.at.elapsed() < TTL)
        .map(|c| c.value.clone())
}

fn remember<T>(cache: &Cache<T>, tenant: &TenantId, value: T) -> Arc<T> {
    let value = Arc::new(value);
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, c| c.at.elapsed() < TTL);
    map.insert(
        tenant.clone(),
        Cached {
            at: Instant::now(),
            value: value.clone(),
        },
    );
    value
}

fn autotask_cache() -> &'static Cache<AutotaskOptions> {
    static CACHE: std::sync::OnceLock<Cache<AutotaskOptions>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn channelonline_cache() -> &'static Cache<ChannelOnlineValues> {
    static CACHE: std::sync::OnceLock<Cache<ChannelOnlineValues>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Forgets what was read for `tenant` (after its connection changed).
pub fn forget(tenant: &TenantId) {
    autotask_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(tenant);
    channelonline_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(tenant);
}

fn at_error(e: shared::autotask::AutotaskError) -> ApiError {
    ApiError::from(SyncError::from(e))
}

/// The Autotask options of `tenant`, read at most once a minute.
pub async fn autotask(at: &TenantClient, tenant: &TenantId) -> Result<Arc<AutotaskOptions>, ApiError> {
    if let Some(options) = cached(autotask_cache(), tenant) {
        return Ok(options);
    }
    let active = Query::filter(vec![Filter::eq("isActive", true)]);
    let people = active
        .clone()
        .include_fields(["firstName", "lastName", "email", "licenseType"]);
    let names = active.clone().include_fields(["name"]);
    let codes = active.include_fields(["name", "billingCodeType"]);
    let (resources, terms, shipping, codes) = tokio::try_join!(
        at.query::<Resource>(&people),
        at.query::<PaymentTerm>(&names),
        at.query::<ShippingType>(&names),
        at.query::<BillingCode>(&codes),
    )
    .map_err(at_error)?;
    let (products, companies, opportunities) = tokio::try_join!(
        at.fields::<Product>(),
        at.fields::<Company>(),
        at.fields::<Opportunity>()
    )
    .map_err(at_error)?;
    let picklist = |fields: &shared::autotask::EntityFields, name: &str| -> Vec<Choice> {
        fields
            .field(name)
            .and_then(|f| f.picklist_values.as_ref())
            .map(|values| {
                values
                    .iter()
                    .filter(|v| v.is_active)
                    .map(|v| Choice::new(&v.value, v.label.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let options = AutotaskOptions {
        resources: resources
            .into_iter()
            .filter(|r| r.license_type != Some(API_USER_LICENSE))
            .filter_map(|r| Some(Choice::new(r.id?, resource_label(&r))))
            .collect(),
        payment_terms: named(terms.into_iter().map(|t| (t.id, t.name))),
        shipping_types: named(shipping.into_iter().map(|t| (t.id, t.name))),
        billing_codes: named(
            codes
                .into_iter()
                .filter(|c| c.billing_code_type.is_none_or(|t| t == MATERIAL_BILLING_CODE))
                .map(|c| (c.id, c.name)),
        ),
        product_categories: picklist(&products, "productCategory"),
        company_types: picklist(&companies, "companyType"),
        opportunity_statuses: picklist(&opportunities, "status"),
        opportunity_stages: picklist(&opportunities, "stage"),
    };
    Ok(remember(autotask_cache(), tenant, options))
}

/// Autotask's `billingCodeType` of material (product) billing codes.
const MATERIAL_BILLING_CODE: i64 = 2;

fn named(rows: impl Iterator<Item = (Option<i64>, Option<String>)>) -> Vec<Choice> {
    let mut out: Vec<Choice> = rows
        .filter_map(|(id, name)| {
            Some(Choice::new(
                id?,
                name.unwrap_or_else(|| format!("#{}", id.unwrap_or(0))),
            ))
        })
        .collect();
    out.sort_by_key(|c| c.label.to_lowercase());
    out
}

fn resource_label(r: &Resource) -> String {
    person_label(r.first_name.as_deref(), r.last_name.as_deref(), r.email.as_deref())
}

/// `First Last <e-mail>`, leaving out what is missing.
fn person_label(first: Option<&str>, last: Option<&str>, email: Option<&str>) -> String {
    let name = [first, last]
        .into_iter()
        .flatten()
        .filter(|n| !n.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match email.filter(|e| !e.trim().is_empty()) {
        Some(email) if name.is_empty() => email.to_owned(),
        Some(email) => format!("{name} <{email}>"),
        None => name,
    }
}

/// The values ChannelOnline uses for `tenant`, read at most once a minute: sales reps and terms
/// from every customer, terms, shipping types, categories and reps from recent documents.
pub async fn channelonline(
    col: &dyn ChannelOnline,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> Result<Arc<ChannelOnlineValues>, ApiError> {
    if let Some(values) = cached(channelonline_cache(), tenant) {
        return Ok(values);
    }
    let col_error = |e| ApiError::from(SyncError::ChannelOnline(e));
    let mut reps = BTreeMap::new();
    let mut terms = BTreeSet::new();
    let mut page = Some(PageRequest { number: 1, size: 200 });
    while let Some(p) = page {
        let got = col
            .list_customers_modified_since(DateTime::<Utc>::UNIX_EPOCH, p)
            .await
            .map_err(col_error)?;
        for customer in &got.customers {
            add_rep(&mut reps, customer.sales_rep.as_ref());
            terms.extend(customer.terms.clone().filter(|t| !t.trim().is_empty()));
        }
        page = got.next;
    }
    let window = TimeWindow {
        after: now - chrono::Duration::days(DOCUMENT_DAYS),
        before: now,
    };
    let documents = col.list_documents_modified(window).await.map_err(col_error)?;
    let (mut shipping, mut categories) = (BTreeSet::new(), BTreeSet::new());
    for doc in &documents {
        add_rep(&mut reps, doc.sales_rep.as_ref());
        terms.extend(doc.payment_terms.clone().filter(|t| !t.trim().is_empty()));
        shipping.extend(doc.delivery_method.clone().filter(|t| !t.trim().is_empty()));
        for line in &doc.lines {
            if let Some(category) = line.category.clone().filter(|c| !c.trim().is_empty()) {
                categories.insert((category, line.sub_category.clone().filter(|s| !s.trim().is_empty())));
            }
        }
    }
    let values = ChannelOnlineValues {
        sales_reps: reps.into_values().collect(),
        payment_terms: terms.into_iter().collect(),
        shipping_types: shipping.into_iter().collect(),
        categories: categories.into_iter().collect(),
    };
    Ok(remember(channelonline_cache(), tenant, values))
}

fn add_rep(reps: &mut BTreeMap<String, Choice>, rep: Option<&shared::channelonline::SalesRep>) {
    let Some(rep) = rep else { return };
    let Some(key) = sales_rep_key(rep) else { return };
    let label = person_label(
        rep.first_name.as_deref(),
        rep.last_name.as_deref(),
        rep.email.as_deref(),
    );
    reps.entry(key.to_lowercase()).or_insert(Choice::new(key, label));
}
