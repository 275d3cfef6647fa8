//! The sandbox's data: records per collection (ordered by id, as Autotask returns them),
//! picklists, the hourly request counter, and seeding helpers for tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::meta::Schema;

/// `licenseType` picklist value of API-only users in the seeded picklists.
pub const API_USER_LICENSE: i64 = 7;

#[derive(Debug)]
pub(crate) struct Data {
    pub records: HashMap<String, BTreeMap<i64, Map<String, Value>>>,
    /// (collection lower-case, field lower-case) -> [(value, label)]
    pub picklists: HashMap<(String, String), Vec<(String, String)>>,
    /// collection lower-case -> the entity's UDF definitions (Autotask's `Field` model).
    pub udfs: HashMap<String, Vec<Value>>,
    pub next_id: i64,
    pub next_quote_number: i64,
    pub window_start: Instant,
    pub window_count: u64,
}

/// Shared sandbox state; cheap to clone.
#[derive(Clone)]
pub struct SandboxState {
    pub(crate) schema: Arc<Schema>,
    pub(crate) data: Arc<Mutex<Data>>,
    api_user_resource_id: i64,
}

impl SandboxState {
    pub(crate) fn new(schema: Arc<Schema>, api_username: &str) -> Self {
        let state = Self {
            schema,
            data: Arc::new(Mutex::new(Data {
                records: HashMap::new(),
                picklists: HashMap::new(),
                udfs: HashMap::new(),
                next_id: 29_682_001,
                next_quote_number: 1001,
                window_start: Instant::now(),
                window_count: 0,
            })),
            api_user_resource_id: 0,
        };
        state.set_picklist(
            "Resources",
            "licenseType",
            &[(1, "Professional"), (API_USER_LICENSE, "API User")],
        );
        let id = state.insert(
            "Resources",
            json!({"firstName": "API", "lastName": "User", "userName": api_username, "email": api_username,
                   "isActive": true, "licenseType": API_USER_LICENSE, "resourceType": "Employee"}),
        );
        Self {
            api_user_resource_id: id,
            ..state
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Resource the API user is (creator of everything written through the API).
    pub fn api_user_resource_id(&self) -> i64 {
        self.api_user_resource_id
    }

    /// Stores a record as-is (no validation) and returns its id (`id` in `record` is kept if set).
    pub fn insert(&self, collection: &str, record: Value) -> i64 {
        let mut d = self.lock();
        insert_locked(&mut d, &self.canonical(collection), record)
    }

    pub fn get(&self, collection: &str, id: i64) -> Option<Value> {
        self.lock()
            .records
            .get(&self.canonical(collection))?
            .get(&id)
            .cloned()
            .map(Value::Object)
    }

    pub fn all(&self, collection: &str) -> Vec<Value> {
        self.lock()
            .records
            .get(&self.canonical(collection))
            .map(|m| m.values().cloned().map(Value::Object).collect())
            .unwrap_or_default()
    }

    pub fn count(&self, collection: &str) -> usize {
        self.lock()
            .records
            .get(&self.canonical(collection))
            .map_or(0, BTreeMap::len)
    }

    /// Replaces the picklist of `collection.field` with `(value, label)` pairs.
    pub fn set_picklist(&self, collection: &str, field: &str, values: &[(i64, &str)]) {
        let key = (collection.to_ascii_lowercase(), field.to_ascii_lowercase());
        let list = values.iter().map(|(v, l)| (v.to_string(), (*l).to_owned())).collect();
        self.lock().picklists.insert(key, list);
    }

    /// Replaces the user-defined fields of `collection`. Each definition needs a `name`; the
    /// other keys of Autotask's `Field` model default to a writable, queryable string UDF.
    pub fn set_user_defined_fields(&self, collection: &str, fields: &[Value]) {
        let defs = fields.iter().map(udf_definition).collect();
        self.lock().udfs.insert(collection.to_ascii_lowercase(), defs);
    }

    /// What `GET /V1.0/{C}/entityInformation/userDefinedFields` lists (empty when none seeded).
    pub fn user_defined_fields(&self, collection: &str) -> Vec<Value> {
        udfs_in(&self.lock(), collection).to_vec()
    }

    /// The picklist of `collection.field`; Quote `shippingType`/`paymentTerm` list the
    /// ShippingTypes/PaymentTerms rows (their values are those ids).
    pub fn picklist(&self, collection: &str, field: &str) -> Option<Vec<(String, String)>> {
        picklist_in(&self.lock(), collection, field)
    }

    /// Calls counted in the current hour (what ThresholdInformation reports).
    pub fn requests_this_hour(&self) -> u64 {
        let d = self.lock();
        if d.window_start.elapsed() >= Duration::from_secs(3600) {
            0
        } else {
            d.window_count
        }
    }

    /// Counts one call against the hourly budget; returns the count including this call.
    pub(crate) fn count_request(&self) -> u64 {
        let mut d = self.lock();
        if d.window_start.elapsed() >= Duration::from_secs(3600) {
            d.window_start = Instant::now();
            d.window_count = 0;
        }
        d.window_count += 1;
        d.window_count
    }

    /// Sets the hourly counter (to test the 10,000 limit without 10,000 calls).
    pub fn set_requests_this_hour(&self, n: u64) {
        let mut d = self.lock();
        d.window_start = Instant::now();
        d.window_count = n;
    }

    fn canonical(&self, collection: &str) -> String {
        self.schema
            .entity(collection)
            .map_or_else(|| collection.to_owned(), |e| e.collection.clone())
    }

    // ---- seeding helpers (no validation: they model data that already exists in Autotask) ----

    /// An active resource; `api_only` makes it an API user (cannot own records).
    pub fn add_resource(&self, first: &str, last: &str, email: &str, api_only: bool) -> i64 {
        let license = if api_only { API_USER_LICENSE } else { 1 };
        self.insert(
            "Resources",
            json!({"firstName": first, "lastName": last, "email": email, "userName": email,
                   "isActive": true, "licenseType": license, "resourceType": "Employee"}),
        )
    }

    pub fn add_company(&self, name: &str, owner_resource_id: i64) -> i64 {
        self.insert(
            "Companies",
            json!({"companyName": name, "companyType": 1, "ownerResourceID": owner_resource_id,
                   "phone": "555-0100", "isActive": true, "createDate": now()}),
        )
    }

    pub fn add_contact(&self, company_id: i64, first: &str, last: &str, email: &str) -> i64 {
        self.insert(
            "Contacts",
            json!({"companyID": company_id, "firstName": first, "lastName": last,
                   "emailAddress": email, "isActive": 1, "createDate": now()}),
        )
    }

    pub fn add_billing_code(&self, name: &str, billing_code_type: i64) -> i64 {
        self.insert(
            "BillingCodes",
            json!({"name": name, "billingCodeType": billing_code_type, "isActive": true, "unitCost": 0.0, "unitPrice": 0.0}),
        )
    }

    pub fn add_product(&self, name: &str, sku: &str, billing_code_id: i64, unit_price: f64) -> i64 {
        self.insert(
            "Products",
            json!({"name": name, "sku": sku, "isActive": true, "isSerialized": false,
                   "productBillingCodeID": billing_code_id, "unitPrice": unit_price}),
        )
    }

    pub fn add_service(&self, name: &str, billing_code_id: i64, period_type: i64, unit_price: f64) -> i64 {
        self.insert(
            "Services",
            json!({"name": name, "billingCodeID": billing_code_id, "periodType": period_type,
                   "unitPrice": unit_price, "isActive": true}),
        )
    }

    pub fn add_service_bundle(&self, name: &str, billing_code_id: i64, period_type: i64) -> i64 {
        self.insert(
            "ServiceBundles",
            json!({"name": name, "billingCodeID": billing_code_id, "periodType": period_type, "isActive": true}),
        )
    }

    pub fn add_role(&self, name: &str, hourly_rate: f64) -> i64 {
        self.insert(
            "Roles",
            json!({"name": name, "hourlyRate": hourly_rate, "isActive": true}),
        )
    }

    pub fn add_shipping_type(&self, name: &str) -> i64 {
        self.insert("ShippingTypes", json!({"name": name, "isActive": true}))
    }

    pub fn add_payment_term(&self, name: &str, due_in_days: i64) -> i64 {
        self.insert(
            "PaymentTerms",
            json!({"name": name, "isActive": true, "paymentDueInDays": due_in_days}),
        )
    }

    pub fn add_opportunity(&self, company_id: i64, owner_resource_id: i64, title: &str) -> i64 {
        self.insert(
            "Opportunities",
            json!({"title": title, "companyID": company_id, "ownerResourceID": owner_resource_id,
                   "status": 1, "stage": 1, "probability": 50, "amount": 0.0, "cost": 0.0,
                   "projectedCloseDate": now(), "startDate": now(), "useQuoteTotals": true, "createDate": now()}),
        )
    }

    /// Loads a fixture: `{"picklists": {"Companies": {"companyType": [[1, "Customer"], …]}},
    /// "userDefinedFields": {"Companies": [{"name": "Customer Ranking"}, …]},
    /// "records": {"Resources": [{…}], …}}`. Records keep their `id` when given.
    pub fn load_fixture(&self, fixture: &Value) {
        if let Some(udfs) = fixture.get("userDefinedFields").and_then(Value::as_object) {
            for (collection, defs) in udfs {
                let defs = defs.as_array().cloned().unwrap_or_default();
                self.set_user_defined_fields(collection, &defs);
            }
        }
        if let Some(pl) = fixture.get("picklists").and_then(Value::as_object) {
            for (collection, fields) in pl {
                for (field, values) in fields.as_object().into_iter().flatten() {
                    let pairs: Vec<(i64, String)> = values
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| Some((p.get(0)?.as_i64()?, p.get(1)?.as_str()?.to_owned())))
                        .collect();
                    let refs: Vec<(i64, &str)> = pairs.iter().map(|(v, l)| (*v, l.as_str())).collect();
                    self.set_picklist(collection, field, &refs);
                }
            }
        }
        if let Some(recs) = fixture.get("records").and_then(Value::as_object) {
            for (collection, rows) in recs {
                for row in rows.as_array().into_iter().flatten() {
                    self.insert(collection, row.clone());
                }
            }
        }
    }

    /// The demo data (`fixtures/demo.json`): picklists, resources (one API-only), billing codes,
    /// roles, shipping types, payment terms, products, services, bundles, companies with contacts
    /// and opportunities.
    pub fn seed_demo(&self) {
        let fixture: Value =
            serde_json::from_str(include_str!("../fixtures/demo.json")).expect("demo fixture is valid JSON");
        self.load_fixture(&fixture);
    }
}

/// As [`SandboxState::picklist`], for callers that already hold the data lock.
pub(crate) fn picklist_in(d: &Data, collection: &str, field: &str) -> Option<Vec<(String, String)>> {
    let (c, f) = (collection.to_ascii_lowercase(), field.to_ascii_lowercase());
    let source = match (c.as_str(), f.as_str()) {
        ("quotes", "shippingtype") => Some("ShippingTypes"),
        ("quotes", "paymentterm") => Some("PaymentTerms"),
        _ => None,
    };
    if let Some(source) = source {
        let rows = d.records.get(source).into_iter().flat_map(|m| m.values());
        return Some(
            rows.map(|r| {
                (
                    r["id"].to_string(),
                    r.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
                )
            })
            .collect(),
        );
    }
    d.picklists.get(&(c, f)).cloned()
}

/// As [`SandboxState::user_defined_fields`], for callers that already hold the data lock.
pub(crate) fn udfs_in<'a>(d: &'a Data, collection: &str) -> &'a [Value] {
    d.udfs.get(&collection.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
}

fn udf_definition(seed: &Value) -> Value {
    let mut def = json!({
        "name": "", "label": "", "type": "string", "length": 100, "description": "",
        "isRequired": false, "isReadOnly": false, "isQueryable": true, "isReference": false,
        "referenceEntityType": "", "isPickList": false, "picklistValues": null,
        "picklistParentValueField": "", "defaultValue": null, "isSupportedWebhookField": false,
    });
    for (k, v) in seed.as_object().into_iter().flatten() {
        def[k] = v.clone();
    }
    if def["label"] == "" {
        def["label"] = def["name"].clone();
    }
    def
}

pub(crate) fn insert_locked(d: &mut Data, collection: &str, record: Value) -> i64 {
    let mut obj = match record {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    let id = match obj.get("id").and_then(Value::as_i64) {
        Some(id) if id > 0 => {
            d.next_id = d.next_id.max(id + 1);
            id
        }
        _ => {
            let id = d.next_id;
            d.next_id += 1;
            id
        }
    };
    obj.insert("id".into(), json!(id));
    d.records.entry(collection.to_owned()).or_default().insert(id, obj);
    id
}

/// Now in Autotask's wire format (UTC, milliseconds, `Z`).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
