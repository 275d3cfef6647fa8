//! The in-process environment the operations run in: the Autotask sandbox (counters, injected
//! latency), the ChannelOnline sandbox over HTTP, the in-memory store and a tenant whose secrets
//! point at both sandboxes — the same `AppContext` → `TenantContext` wiring the functions use.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use autotask_sandbox::{AutotaskSandbox, RunningSandbox as AutotaskRunning, SandboxConfig as AutotaskConfig};
use channelonline_sandbox::{ChannelOnlineSandbox, RunningSandbox as ColRunning, SandboxConfig as ColConfig};
use shared::app::{AppContext, ClientFactories, Stores, TenantContext};
use shared::clock::{Clock, ManualClock};
use shared::config::{Config, SecretsConfig};
use shared::secret::SecretString;
use shared::secrets::file::FileSecretSource;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretSource, SigningKeysDocument};
use shared::store::dynamo::{DynamoStore, TableNames};
use shared::store::memory::MemoryStore;
use shared::tenant::TenantId;
use testkit::dynamo::EmbeddedDynamo;

pub const TENANT: &str = "bench";
pub const SIGNING_KEY: &str = "bench-signing-key-0123456789abcdef";
const MAPPING_TABLE: &str = "bench-mappings";
const IDEMPOTENCY_TABLE: &str = "bench-idempotency";

/// Where the lab keeps mappings, settings and idempotency records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// In-process (operations driven through the domain services).
    Memory,
    /// Embedded DynamoDB over HTTP, so real function binaries can share the lab's state.
    Dynamo,
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("autotask sandbox: {0}")]
    Autotask(String),
    #[error("channelonline sandbox: {0}")]
    ChannelOnline(String),
    #[error("wiring: {0}")]
    Wiring(String),
}

pub struct Lab {
    pub autotask: AutotaskRunning,
    pub col: ColRunning,
    /// Replaced by [`Lab::renew_clients`]: a metered operation starts with the empty client
    /// caches (zone, picklists) of a new function instance.
    app: std::sync::Mutex<AppContext>,
    /// The functions' clock: advanced to step past idempotency replay windows.
    pub clock: Arc<ManualClock>,
    pub tenant: TenantId,
    /// A licensed Autotask resource (owner of seeded companies).
    pub owner_resource_id: i64,
    pub dynamo: Option<EmbeddedDynamo>,
    secrets_file: std::path::PathBuf,
}

impl Lab {
    /// Fresh sandboxes and store; `secrets_file` is overwritten.
    pub async fn start(secrets_file: &Path, store: StoreKind) -> Result<Self, LabError> {
        // Both sandboxes start with their demo accounts (resources, billing codes, products,
        // the demo customers and the 120-line demo quote the operations build on).
        let at_config = AutotaskConfig {
            demo_seed: true,
            ..AutotaskConfig::default()
        };
        let autotask = AutotaskSandbox::start(at_config.clone())
            .await
            .map_err(|e| LabError::Autotask(e.to_string()))?;
        let col = ChannelOnlineSandbox::start(ColConfig {
            seed_demo: true,
            ..ColConfig::default()
        })
        .await
        .map_err(|e| LabError::ChannelOnline(e.to_string()))?;
        let tenant = TenantId::parse(TENANT).map_err(|e| LabError::Wiring(e.to_string()))?;

        let _ = std::fs::remove_file(secrets_file);
        let secrets: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(secrets_file));
        let col_login = col.credentials();
        let stored = async {
            secrets
                .store(
                    &tenant,
                    &AutotaskCredentials {
                        username: at_config.username.clone(),
                        secret: SecretString::new(at_config.secret.clone()),
                        integration_code: SecretString::new(at_config.integration_code.clone()),
                        impersonation_resource_id: None,
                    },
                )
                .await?;
            secrets
                .store(
                    &tenant,
                    &ChannelOnlineCredentials {
                        shortcut: col_login.shortcut,
                        email: col_login.email,
                        password: col_login.password,
                    },
                )
                .await?;
            secrets
                .store(&tenant, &SigningKeysDocument::current_only(SIGNING_KEY))
                .await
        };
        stored.await.map_err(|e| LabError::Wiring(e.to_string()))?;

        let clock = Arc::new(ManualClock::at(chrono::Utc::now()));
        let (stores, dynamo) = match store {
            StoreKind::Memory => (Stores::all(Arc::new(MemoryStore::new())), None),
            StoreKind::Dynamo => {
                let server = EmbeddedDynamo::start()
                    .await
                    .map_err(|e| LabError::Wiring(e.to_string()))?;
                let tables = TableNames {
                    mappings: MAPPING_TABLE.into(),
                    idempotency: IDEMPOTENCY_TABLE.into(),
                };
                let store = DynamoStore::new(server.client().await, tables);
                store
                    .create_tables()
                    .await
                    .map_err(|e| LabError::Wiring(format!("create tables: {e}")))?;
                (Stores::all(Arc::new(store)), Some(server))
            }
        };
        let config = Config {
            mapping_table: MAPPING_TABLE.into(),
            idempotency_table: IDEMPOTENCY_TABLE.into(),
            signature_window_secs: 300,
            secrets: SecretsConfig::File(secrets_file.to_owned()),
            secrets_cache_ttl_secs: 300,
            endpoints: shared::config::Endpoints {
                dynamodb: dynamo.as_ref().map(|d| d.endpoint().to_owned()),
                ..Default::default()
            },
            queues: Default::default(),
            clients: Default::default(),
            links: Default::default(),
        };
        let clients = ClientFactories::for_sandboxes(&autotask.base_url(), &col.base_url(), &col.config().user_agent)
            .map_err(|e| LabError::Wiring(e.to_string()))?;
        let app = AppContext::new(config, clock.clone() as Arc<dyn Clock>, secrets, stores).with_clients(clients);
        // Autotask refuses the API user as an owner: take the demo companies' owner.
        let owner_resource_id = autotask
            .state()
            .all("Companies")
            .iter()
            .find_map(|c| c["ownerResourceID"].as_i64())
            .ok_or_else(|| LabError::Autotask("the demo seed has no company owner".into()))?;
        let settings = tenant_settings(&autotask, &col, owner_resource_id)?;
        app.settings
            .put_settings(&tenant, &settings, None, clock.now())
            .await
            .map_err(|e| LabError::Wiring(format!("settings: {e}")))?;
        Ok(Self {
            autotask,
            col,
            app: std::sync::Mutex::new(app),
            clock,
            tenant,
            owner_resource_id,
            dynamo,
            secrets_file: secrets_file.to_owned(),
        })
    }

    /// The environment a real function binary needs to work on this lab's state
    /// (`StoreKind::Dynamo` only: the tables live in the embedded server).
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("MAPPING_TABLE", MAPPING_TABLE.to_owned()),
            ("IDEMPOTENCY_TABLE", IDEMPOTENCY_TABLE.to_owned()),
            ("SECRETS_FILE", self.secrets_file.display().to_string()),
            ("AUTOTASK_ZONE_URL", self.autotask.zone_lookup_url()),
            ("CHANNELONLINE_URL", self.col.base_url()),
            ("CHANNELONLINE_PAUSE_MS", "0".to_owned()),
            ("CHANNELONLINE_USER_AGENT", self.col.config().user_agent.clone()),
            ("AWS_ACCESS_KEY_ID", "bench".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "bench".to_owned()),
        ];
        if let Some(d) = &self.dynamo {
            env.push(("DYNAMODB_ENDPOINT", d.endpoint().to_owned()));
        }
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The tenant's context, as a function builds it per call.
    pub async fn context(&self) -> Result<TenantContext, LabError> {
        let app = self.app.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // A long budget: the benchmark times whole runs, not one Lambda invocation.
        let deadline = app.clock.now() + chrono::Duration::minutes(15);
        app.tenant(&self.tenant, deadline)
            .await
            .map_err(|e| LabError::Wiring(format!("{e:?}")))
    }

    /// The functions' context (for handler factories that build tenants themselves).
    pub fn app(&self) -> AppContext {
        self.app.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// New Autotask and ChannelOnline clients, as a new function instance has.
    pub fn renew_clients(&self) -> Result<(), LabError> {
        let clients = ClientFactories::for_sandboxes(
            &self.autotask.base_url(),
            &self.col.base_url(),
            &self.col.config().user_agent,
        )
        .map_err(|e| LabError::Wiring(e.to_string()))?;
        let mut app = self.app.lock().unwrap_or_else(|p| p.into_inner());
        *app = app.clone().with_clients(clients);
        Ok(())
    }

    /// Autotask answers every call after `latency` (0 = as fast as it can).
    pub fn set_latency(&self, latency: Duration) {
        self.autotask.counters().set_latency(latency);
    }

    /// Steps the functions' clock past replay windows (a later click, not a retry).
    pub fn advance_clock(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// Starts counting Autotask calls from now.
    pub fn meter(&self) -> Meter {
        Meter {
            calls: self.calls_now(),
            records: self.records_now(),
        }
    }

    fn calls_now(&self) -> BTreeMap<String, u64> {
        self.autotask.counters().snapshot().calls.into_iter().collect()
    }

    fn records_now(&self) -> BTreeMap<&'static str, usize> {
        COLLECTIONS
            .iter()
            .map(|c| (*c, self.autotask.state().count(c)))
            .collect()
    }

    /// The calls made since `meter` was taken.
    pub fn calls_since(&self, meter: &Meter) -> CallCount {
        let now = self.calls_now();
        let records = self.records_now();
        let mut count = CallCount::default();
        for (key, n) in &now {
            let n = n - meter.calls.get(key).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let (method, endpoint) = key.split_once(' ').unwrap_or(("", key.as_str()));
            if endpoint == "zoneInformation" {
                count.zone_lookups += n; // once per cold start and API user, not per operation
                continue;
            }
            count.by_endpoint.insert(key.clone(), n);
            count.total += n;
            let writes = match method {
                "GET" => 0,
                "POST" => match COLLECTIONS.iter().find(|c| **c == endpoint) {
                    // POST is both query and create: the creates are the records that appeared.
                    Some(c) => {
                        let grown = records[c].saturating_sub(meter.records[c]) as u64;
                        let deleted = now.get(&format!("DELETE {endpoint}")).copied().unwrap_or(0)
                            - meter.calls.get(&format!("DELETE {endpoint}")).copied().unwrap_or(0);
                        (grown + deleted).min(n)
                    }
                    None => n, // an endpoint outside the list: counted as writes (upper bound)
                },
                _ => n,
            };
            count.writes += writes;
            count.reads += n - writes;
        }
        count
    }
}

/// The settings a tenant saves before exporting: new-company defaults, the demo quote's sales
/// rep, payment terms and delivery method mapped to the Autotask demo's records, product and
/// opportunity defaults from the Autotask demo's picklists.
fn tenant_settings(autotask: &AutotaskRunning, col: &ColRunning, owner: i64) -> Result<serde_json::Value, LabError> {
    let at = autotask.state();
    let first_id = |collection: &str| at.all(collection).first().and_then(|r| r["id"].as_i64());
    // The value labelled `label`, else the first one.
    let pick = |collection: &str, field: &str, label: &str| -> Option<i64> {
        let values = at.picklist(collection, field)?;
        let found = values.iter().find(|(_, l)| l == label).or(values.first())?;
        found.0.parse().ok()
    };
    let billing_code = at
        .all("Products")
        .first()
        .and_then(|p| p["productBillingCodeID"].as_i64());
    let col = col.state();
    let quote = col
        .document(TEMPLATE_QUOTE)
        .ok_or_else(|| LabError::ChannelOnline("demo quote missing".into()))?;
    let missing = || LabError::Autotask("the demo seed lacks payment terms, shipping types or picklists".into());
    let value_maps = |col_value: &Option<String>, at_id: Option<i64>| -> Result<Vec<serde_json::Value>, LabError> {
        let at_id = at_id.ok_or_else(missing)?;
        Ok(col_value
            .iter()
            .map(|v| serde_json::json!({ "col": v, "at_id": at_id }))
            .collect())
    };
    let payment_terms = value_maps(&quote.payment_terms, first_id("PaymentTerms"))?;
    let shipping_types = value_maps(&quote.delivery_method, first_id("ShippingTypes"))?;
    let reps: Vec<serde_json::Value> = quote
        .sales_rep
        .iter()
        .filter_map(|r| r.id.clone())
        .map(|id| serde_json::json!({ "col_sales_rep_id": id, "at_resource_id": owner }))
        .collect();
    let opportunity = serde_json::json!({
        "status_id": pick("Opportunities", "status", "Active").ok_or_else(missing)?,
        "stage_id": pick("Opportunities", "stage", "Proposal").ok_or_else(missing)?,
        "probability": 50,
    });
    Ok(serde_json::json!({
        "sales_reps": reps,
        "field_mappings": {
            "new_company": { "company_type_id": 1, "owner_resource_id": owner },
            "payment_terms": payment_terms,
            "shipping_types": shipping_types,
            "default_product_category_id": pick("Products", "productCategory", "Network").ok_or_else(missing)?,
            "default_billing_code_id": billing_code.ok_or_else(missing)?,
            "quote_opportunity": opportunity,
            "sales_order_opportunity": opportunity,
        },
    }))
}

/// The demo quote whose header the benchmark quotes copy.
pub const TEMPLATE_QUOTE: &str = "Q100045";

/// Counters at the start of an operation.
pub struct Meter {
    calls: BTreeMap<String, u64>,
    records: BTreeMap<&'static str, usize>,
}

/// Autotask calls of one operation. Reads are GETs and query/count POSTs; writes are creates
/// (POSTs that added a record), PATCH, PUT and DELETE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallCount {
    pub total: u64,
    pub reads: u64,
    pub writes: u64,
    pub zone_lookups: u64,
    pub by_endpoint: BTreeMap<String, u64>,
}

/// Collections the operations touch (autotask-rest-api.md §3) whose record counts tell creates
/// from queries.
const COLLECTIONS: &[&str] = &[
    "Companies",
    "CompanyLocations",
    "Contacts",
    "Opportunities",
    "Quotes",
    "QuoteLocations",
    "QuoteItems",
    "Products",
    "ProductVendors",
    "Services",
    "ServiceBundles",
    "Resources",
    "BillingCodes",
    "ShippingTypes",
    "PaymentTerms",
    "Countries",
];
