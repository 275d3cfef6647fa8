//! The stack the customer-function tests run against: embedded DynamoDB, the Autotask and
//! ChannelOnline sandboxes, a secrets file for two tenants, and the real function binaries
//! under the Lambda Runtime API emulator.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autotask_sandbox::{AutotaskSandbox, RunningSandbox as AtSandbox, SandboxConfig as AtConfig};
use channelonline_sandbox::{ChannelOnlineSandbox, RunningSandbox as ColSandbox, SandboxConfig as ColConfig};
use serde_json::{Value, json};
use shared::channelonline::{Contact, Customer};
use shared::secret::SecretString;
use shared::secrets::file::FileSecretSource;
use shared::secrets::{AutotaskCredentials, ChannelOnlineCredentials, SecretSource, SigningKeysDocument};
use shared::store::SettingsStore;
use shared::store::dynamo::DynamoStore;
use shared::tenant::TenantId;
use testkit::dynamo::EmbeddedDynamo;
use testkit::function_url::{EventSpec, UrlResponse, event};
use testkit::lambda_runtime_api::{Outcome, invoke_binary};

pub const TENANT: &str = "acme-reseller";
pub const KEY: &str = "key-acme-reseller-0123456789abcdef";
pub const OTHER_TENANT: &str = "other-reseller";
pub const OTHER_KEY: &str = "key-other-reseller-0123456789abcdef";

pub struct CustomerStack {
    pub at: AtSandbox,
    pub col: ColSandbox,
    pub store: DynamoStore,
    pub owner_id: i64,
    env: Vec<(String, String)>,
    _dynamo: EmbeddedDynamo,
    _dir: tempfile::TempDir,
}

/// A ChannelOnline customer for tests: `contacts` are (id, first, last, email, phone).
pub fn customer(
    number: &str,
    name: &str,
    phone: Option<&str>,
    contacts: &[(&str, &str, &str, &str, Option<&str>)],
) -> Customer {
    Customer {
        customer_id: format!("id-{number}"),
        number: number.into(),
        company_name: name.into(),
        phone: phone.map(str::to_owned),
        contacts: contacts
            .iter()
            .map(|(id, first, last, email, phone)| Contact {
                id: (*id).into(),
                first_name: (*first).into(),
                last_name: (*last).into(),
                email: (!email.is_empty()).then(|| (*email).to_owned()),
                work_phone: phone.map(str::to_owned),
                mobile: None,
            })
            .collect(),
        modified_at: Some(chrono::Utc::now()),
        ..Customer::default()
    }
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

impl CustomerStack {
    /// Both tenants are set up alike (own keys, same sandboxes); only `TENANT` has settings
    /// naming a company type and owner, so creates for `OTHER_TENANT` would be refused.
    pub async fn start() -> Self {
        let dynamo = EmbeddedDynamo::start().await.expect("start DynamoDB");
        let store = dynamo.store().await;
        let at = AutotaskSandbox::start(AtConfig::default())
            .await
            .expect("start Autotask sandbox");
        at.state()
            .set_picklist("Companies", "companyType", &[(1, "Customer"), (3, "Prospect")]);
        let owner_id = at
            .state()
            .add_resource("Olivia", "Owner", "olivia@reseller.example", false);
        let col = ChannelOnlineSandbox::start(ColConfig {
            seed_demo: false,
            ..ColConfig::default()
        })
        .await
        .expect("start ChannelOnline sandbox");

        let dir = tempfile::tempdir().unwrap();
        let secrets_file = dir.path().join("secrets.json");
        let secrets: Arc<dyn SecretSource> = Arc::new(FileSecretSource::new(&secrets_file));
        let atc = at.config().clone();
        let colc = col.config().clone();
        for (tenant, key) in [(TENANT, KEY), (OTHER_TENANT, OTHER_KEY)] {
            let t = TenantId::parse(tenant).unwrap();
            secrets
                .store(&t, &SigningKeysDocument::current_only(key))
                .await
                .unwrap();
            let creds = AutotaskCredentials {
                username: atc.username.clone(),
                secret: SecretString::new(atc.secret.clone()),
                integration_code: SecretString::new(atc.integration_code.clone()),
                impersonation_resource_id: None,
            };
            secrets.store(&t, &creds).await.unwrap();
            let creds = ChannelOnlineCredentials {
                shortcut: colc.shortcut.clone(),
                email: colc.email.clone(),
                password: SecretString::new(colc.password.clone()),
            };
            secrets.store(&t, &creds).await.unwrap();
        }
        let settings =
            json!({ "field_mappings": { "new_company": { "company_type_id": 1, "owner_resource_id": owner_id } } });
        store
            .put_settings(&TenantId::parse(TENANT).unwrap(), &settings, None, chrono::Utc::now())
            .await
            .unwrap();

        let env = vec![
            ("MAPPING_TABLE".into(), store.tables().mappings.clone()),
            ("IDEMPOTENCY_TABLE".into(), store.tables().idempotency.clone()),
            ("DYNAMODB_ENDPOINT".into(), dynamo.endpoint().to_owned()),
            ("SECRETS_FILE".into(), secrets_file.display().to_string()),
            ("AUTOTASK_ZONE_URL".into(), at.zone_lookup_url()),
            ("AUTOTASK_READ_TIMEOUT_MS".into(), "1000".into()),
            ("CHANNELONLINE_URL".into(), col.base_url()),
            ("CHANNELONLINE_USER_AGENT".into(), colc.user_agent.clone()),
            ("CHANNELONLINE_PAUSE_MS".into(), "0".into()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        Self {
            at,
            col,
            store,
            owner_id,
            env,
            _dynamo: dynamo,
            _dir: dir,
        }
    }

    /// The functions' environment, plus `extra` (e.g. the queue of the bulk-sync tests).
    pub fn env_with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        env
    }

    pub fn add_customer(&self, c: Customer) {
        self.col.state().insert_customer(c);
    }

    /// Calls function `binary` as tenant `TENANT`.
    pub async fn call(&self, binary: &str, method: &str, path: &str, query: &str, body: &str) -> UrlResponse {
        self.call_as(binary, (TENANT, KEY), method, path, query, body, &[])
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn call_as(
        &self,
        binary: &str,
        (tenant, key): (&str, &str),
        method: &str,
        path: &str,
        query: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> UrlResponse {
        let spec = EventSpec {
            audience: binary,
            method,
            path,
            query,
            body,
            signer: Some((tenant, key, now())),
            headers,
        };
        self.invoke(binary, event(&spec)).await
    }

    pub async fn export(&self, number: &str) -> UrlResponse {
        let body = json!({ "customer_number": number }).to_string();
        self.call("export-customer", "POST", "/", "", &body).await
    }

    /// Runs the binary on one event, off the async runtime so the in-process servers keep serving.
    pub async fn invoke(&self, binary: &str, ev: Value) -> UrlResponse {
        let name = binary.to_owned();
        let path: PathBuf = tokio::task::spawn_blocking(move || crate::function_binary(&name))
            .await
            .unwrap();
        let env = self.env.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            invoke_binary(&path, &ev.to_string(), &env, Duration::from_secs(60))
        })
        .await
        .unwrap();
        match outcome {
            Outcome::Response(envelope) => UrlResponse::from_envelope(&envelope),
            other => panic!("{binary} did not answer: {other:?}"),
        }
    }

    /// Autotask companies whose name is `name` (ignoring case).
    pub fn companies_named(&self, name: &str) -> Vec<Value> {
        self.at
            .state()
            .all("Companies")
            .into_iter()
            .filter(|c| c["companyName"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .collect()
    }

    pub fn contacts_of(&self, company_id: i64) -> Vec<Value> {
        self.at
            .state()
            .all("Contacts")
            .into_iter()
            .filter(|c| c["companyID"].as_i64() == Some(company_id))
            .collect()
    }
}
