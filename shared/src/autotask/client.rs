//! `AutotaskClient` (shared, cheap to clone) and `TenantClient` (one tenant's credentials).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::retry::{Jitter, RandomJitter, Repeatable, RetryClass, RetryPolicy, Retryable};
use crate::secret::SecretString;
use crate::tenant::TenantId;

use super::entities::{DeleteRoute, Entity, ThresholdInformation, WriteRoute};
use super::error::AutotaskError;
use super::limiter::{Limiter, SharedLimit};
use super::picklists::{DEFAULT_PICKLIST_TTL, EntityFields, FieldInformation, PicklistCache};
use super::query::Query;
use super::zone::{ZoneCache, ZoneInformation};

/// The public zone lookup host; any zone answers it.
pub const DEFAULT_ZONE_LOOKUP_URL: &str = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation";

/// One tenant's Autotask API user.
#[derive(Clone, Debug)]
pub struct ClientCredentials {
    pub username: String,
    pub secret: SecretString,
    /// The API tracking identifier (`ApiIntegrationCode`).
    pub integration_code: String,
    /// Sent as `ImpersonationResourceId` on writes when set.
    pub impersonation_resource_id: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Full URL of `…/v1.0/zoneInformation` (a sandbox serves its own).
    pub zone_lookup_url: String,
    /// Skip zone discovery and use this REST base (`…/ATServicesRest`).
    pub base_url_override: Option<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retry: RetryPolicy,
    /// Concurrent calls per tenant and endpoint (Autotask's thread limit is 3).
    pub max_in_flight: usize,
    /// Loop guard: most pages one query may follow.
    pub max_pages: usize,
    /// How long `entityInformation/fields` answers are reused per tenant and collection.
    pub picklist_ttl: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            zone_lookup_url: DEFAULT_ZONE_LOOKUP_URL.to_owned(),
            base_url_override: None,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_in_flight: 3,
            max_pages: 2_000,
            picklist_ttl: DEFAULT_PICKLIST_TTL,
        }
    }
}

impl ClientConfig {
    /// Zone discovery against a sandbox (or any host) serving `/atservicesrest/v1.0/zoneInformation`.
    pub fn with_zone_host(host_root: &str) -> Self {
        Self {
            zone_lookup_url: format!(
                "{}/atservicesrest/v1.0/zoneInformation",
                host_root.trim_end_matches('/')
            ),
            ..Self::default()
        }
    }
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    zones: ZoneCache,
    /// One zone lookup at a time, so a tenant's concurrent first calls share one answer.
    zone_lookup: tokio::sync::Mutex<()>,
    limiter: Limiter,
    picklists: PicklistCache,
    jitter: Arc<dyn Jitter>,
}

/// Shared by every tenant of a process (one connection pool, caches, limiter).
#[derive(Clone)]
pub struct AutotaskClient {
    inner: Arc<Inner>,
}

impl AutotaskClient {
    pub fn new(config: ClientConfig) -> Result<Self, AutotaskError> {
        Self::with_jitter(config, Arc::new(RandomJitter))
    }

    /// As `new`, with a deterministic jitter source for tests.
    pub fn with_jitter(config: ClientConfig, jitter: Arc<dyn Jitter>) -> Result<Self, AutotaskError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()
            .map_err(|e| AutotaskError::Transport {
                message: e.to_string(),
                timeout: false,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                limiter: Limiter::new(config.max_in_flight),
                picklists: PicklistCache::new(config.picklist_ttl),
                config,
                zones: ZoneCache::default(),
                zone_lookup: tokio::sync::Mutex::new(()),
                jitter,
            }),
        })
    }

    /// A handle for one tenant; cheap (two `Arc`s).
    pub fn for_tenant(&self, tenant: TenantId, credentials: ClientCredentials) -> TenantClient {
        TenantClient {
            inner: self.inner.clone(),
            tenant,
            creds: Arc::new(std::sync::RwLock::new(Arc::new(credentials))),
            refresh: None,
            deadline: None,
            shared_limit: None,
        }
    }
}

/// What one HTTP call targets.
enum Target {
    /// A path under the REST base, e.g. `/V1.0/Companies/query`.
    Path(String),
    /// An absolute URL Autotask handed out (`nextPageUrl`).
    Url(String),
}

struct ApiRequest<'a> {
    method: Method,
    /// Thread-limit bucket: the collection name.
    endpoint: &'a str,
    target: Target,
    body: Option<&'a Value>,
    write: bool,
    /// A create: a failure after the request was sent is told as `Ambiguous`.
    creates: bool,
}

/// One tenant's view of Autotask. Clone freely.
#[derive(Clone)]
pub struct TenantClient {
    inner: Arc<Inner>,
    tenant: TenantId,
    /// Replaced once by `refresh` after a 401 (the secret may have been rotated).
    creds: Arc<std::sync::RwLock<Arc<ClientCredentials>>>,
    refresh: Option<Arc<dyn CredentialSource>>,
    deadline: Option<Instant>,
    /// Tenant-wide call slots shared with every other instance (see `limiter`).
    shared_limit: Option<Arc<SharedLimit>>,
}

/// Where a tenant client re-reads its credentials after Autotask refused them (401), bypassing
/// any cache.
pub trait CredentialSource: Send + Sync {
    fn fresh(&self) -> futures_util::future::BoxFuture<'_, Option<ClientCredentials>>;
}

#[derive(serde::Deserialize)]
struct ItemEnvelope<T> {
    item: Option<T>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountEnvelope {
    query_count: u64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemIdEnvelope {
    item_id: Value,
}

#[derive(serde::Deserialize)]
struct FieldsEnvelope {
    fields: Vec<FieldInformation>,
}

impl TenantClient {
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// After a 401 the credentials are re-read once from `source` before the refusal is final.
    pub fn with_credential_source(mut self, source: Arc<dyn CredentialSource>) -> Self {
        self.refresh = Some(source);
        self
    }

    fn creds(&self) -> Arc<ClientCredentials> {
        self.creds.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-reads the credentials; true when they changed (worth one more try).
    async fn refresh_credentials(&self) -> bool {
        let Some(source) = &self.refresh else {
            return false;
        };
        let Some(fresh) = source.fresh().await else {
            return false;
        };
        let current = self.creds();
        let changed = fresh.username != current.username
            || fresh.secret.expose() != current.secret.expose()
            || fresh.integration_code != current.integration_code;
        if changed {
            *self.creds.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        }
        changed
    }

    /// Retries never sleep past this instant (the Lambda deadline).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Every call also holds one of the tenant's `limit.slots` store slots of its endpoint, so
    /// all instances together stay within Autotask's concurrent-call limit.
    pub fn with_shared_limit(mut self, limit: SharedLimit) -> Self {
        self.shared_limit = Some(Arc::new(limit));
        self
    }

    /// Calls this tenant may have in flight per endpoint (what parallel writes should aim for).
    pub fn max_in_flight(&self) -> usize {
        self.inner.limiter.limit(self.shared_limit.as_deref())
    }

    /// How long a call slot is leased: a few seconds past the longest a call can take, so a
    /// slot outlives its call but a vanished holder's slot frees itself soon after.
    fn slot_lease(&self) -> Duration {
        self.inner.config.connect_timeout + self.inner.config.read_timeout + SLOT_LEASE_MARGIN
    }

    pub(crate) fn max_pages(&self) -> usize {
        self.inner.config.max_pages
    }

    /// The REST base for this tenant (`…/ATServicesRest`), from the override or zone discovery.
    pub async fn base_url(&self) -> Result<String, AutotaskError> {
        if let Some(base) = &self.inner.config.base_url_override {
            return Ok(base.trim_end_matches('/').to_owned());
        }
        Ok(self.zone().await?.rest_base())
    }

    /// The Autotask page of an opportunity, for result pages; `None` when the web address is
    /// unknown (an override host that is not Autotask's, a failed zone lookup).
    pub async fn opportunity_page(&self, opportunity_id: i64) -> Option<String> {
        Some(super::zone::opportunity_page(&self.web_base().await?, opportunity_id))
    }

    /// The tenant's Autotask web address (`https://wwN.autotask.net/`), for links into
    /// Autotask's own pages; `None` when it is unknown.
    pub async fn web_base(&self) -> Option<String> {
        match &self.inner.config.base_url_override {
            Some(base) => super::zone::web_base_of(base),
            None => self.zone().await.ok()?.web_base(),
        }
    }

    /// The tenant's zone, looked up once per tenant and API user (one lookup at a time).
    async fn zone(&self) -> Result<ZoneInformation, AutotaskError> {
        let creds = self.creds();
        if let Some(zone) = self.inner.zones.get(&self.tenant, &creds.username) {
            return Ok(zone);
        }
        let _one_lookup = self.inner.zone_lookup.lock().await;
        if let Some(zone) = self.inner.zones.get(&self.tenant, &creds.username) {
            return Ok(zone);
        }
        let zone = self.zone_information().await?;
        self.inner.zones.put(&self.tenant, &creds.username, zone.clone());
        Ok(zone)
    }

    /// Asks the zone lookup host where this API user lives (no credentials are sent).
    pub async fn zone_information(&self) -> Result<ZoneInformation, AutotaskError> {
        let mut url = url::Url::parse(&self.inner.config.zone_lookup_url)
            .map_err(|e| AutotaskError::InvalidResponse(format!("zone lookup URL: {e}")))?;
        let username = self.creds().username.clone();
        url.query_pairs_mut().append_pair("user", &username);
        let resp = self.inner.http.get(url).send().await.map_err(transport)?;
        let status = resp.status();
        let body = resp.text().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_str(&body)
                .map_err(|e| AutotaskError::InvalidResponse(format!("zoneInformation: {e}")));
        }
        let messages = super::error::error_messages(&body);
        if messages.iter().any(|m| {
            m.to_ascii_lowercase()
                .contains("zone information could not be determined")
        }) {
            return Err(AutotaskError::UnknownUser { username, messages });
        }
        Err(AutotaskError::from_response(status, None, &body, "zoneInformation"))
    }

    /// All records matching `query`, following every page (and every `in` split).
    pub async fn query<E: Entity>(&self, query: &Query) -> Result<Vec<E>, AutotaskError> {
        use futures_util::TryStreamExt;
        self.query_stream::<E>(query.clone()).try_collect().await
    }

    /// At most `limit` records matching `query`, in id order. `maxRecords` is a page size, not a
    /// cap (Autotask answers the next page through `nextPageUrl`): pages of up to `limit`
    /// (≤ 500) are read only until `limit` records have arrived.
    pub async fn query_at_most<E: Entity>(&self, query: &Query, limit: usize) -> Result<Vec<E>, AutotaskError> {
        use futures_util::{StreamExt, TryStreamExt};
        if limit == 0 {
            return Ok(Vec::new());
        }
        let page = limit.min(super::query::MAX_RECORDS as usize) as u32;
        self.query_stream::<E>(query.clone().max_records(page))
            .take(limit)
            .try_collect()
            .await
    }

    /// The first match, if any.
    pub async fn query_one<E: Entity>(&self, query: &Query) -> Result<Option<E>, AutotaskError> {
        let q = query.clone().max_records(1);
        Ok(self.query_page::<E>(&q, None).await?.0.into_iter().next())
    }

    /// `POST /V1.0/{C}/query/count`, summed over `in` splits.
    pub async fn count<E: Entity>(&self, query: &Query) -> Result<u64, AutotaskError> {
        let mut total = 0;
        for part in query.split()? {
            let body = serde_json::to_value(&part).map_err(invalid)?;
            let c: CountEnvelope = self
                .call(ApiRequest {
                    method: Method::POST,
                    endpoint: E::COLLECTION,
                    target: Target::Path(format!("/V1.0/{}/query/count", E::COLLECTION)),
                    body: Some(&body),
                    write: false,
                    creates: false,
                })
                .await?;
            total += c.query_count;
        }
        Ok(total)
    }

    /// One page: `next` is the `nextPageUrl` of the previous page (POSTed with the same body).
    pub(crate) async fn query_page<E: Entity>(
        &self,
        part: &Query,
        next: Option<&str>,
    ) -> Result<(Vec<E>, Option<String>), AutotaskError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page<T> {
            items: Vec<T>,
            page_details: Option<PageDetails>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct PageDetails {
            next_page_url: Option<String>,
        }
        let body = serde_json::to_value(part).map_err(invalid)?;
        let target = match next {
            Some(url) => Target::Url(url.to_owned()),
            None => Target::Path(format!("/V1.0/{}/query", E::COLLECTION)),
        };
        let page: Page<E> = self
            .call(ApiRequest {
                method: Method::POST,
                endpoint: E::COLLECTION,
                target,
                body: Some(&body),
                write: false,
                creates: false,
            })
            .await?;
        let next = page
            .page_details
            .and_then(|p| p.next_page_url)
            .filter(|u| !u.is_empty());
        Ok((page.items, next))
    }

    /// `GET /V1.0/{C}/{id}`; `None` when Autotask answers 404 or `{"item": null}`.
    pub async fn get<E: Entity>(&self, id: i64) -> Result<Option<E>, AutotaskError> {
        let r: Result<ItemEnvelope<E>, _> = self
            .call(ApiRequest {
                method: Method::GET,
                endpoint: E::COLLECTION,
                target: Target::Path(format!("/V1.0/{}/{id}", E::COLLECTION)),
                body: None,
                write: false,
                creates: false,
            })
            .await;
        match r {
            Ok(env) => Ok(env.item),
            Err(AutotaskError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The only way to create a record: sends the create once; when its outcome is ambiguous
    /// (sent, but no id came back) looks the record up by its natural key with `find_existing`
    /// and returns the id found, and only when nothing is there sends the create again (at most
    /// [`CREATE_ATTEMPTS`] times). Refusals and failures before sending are returned as they are
    /// (429 and thread-limit refusals are retried inside, as nothing was applied).
    pub async fn create_once<E, F, Fut>(&self, entity: &E, mut find_existing: F) -> Result<Created, AutotaskError>
    where
        E: Entity,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<i64>, AutotaskError>>,
    {
        let mut attempt = 1;
        loop {
            let err = match self.create(entity).await {
                Ok(id) => return Ok(Created { id, wrote: true }),
                Err(e) => e,
            };
            if err.retry_class() != RetryClass::Ambiguous {
                return Err(err);
            }
            tracing::warn!(attempt, collection = E::COLLECTION, error = %err, "create unconfirmed; looking it up before any resend");
            match find_existing().await {
                Ok(Some(id)) => return Ok(Created { id, wrote: false }),
                Ok(None) if attempt < CREATE_ATTEMPTS => attempt += 1,
                Ok(None) => return Err(err),
                Err(lookup) => {
                    // Still unknown: the caller tells the user to try again; that attempt reconciles.
                    tracing::warn!(error = %lookup, "reconcile look-up failed");
                    return Err(err);
                }
            }
        }
    }

    /// Sends the create once and tells an unanswered one as `Ambiguous`, without looking it up:
    /// for creates of look-alike records made side by side, where one's look-up could take
    /// another's record until all have settled. The caller then looks each unanswered record up
    /// by its natural key before sending it again (`create_once` otherwise).
    pub async fn create_unreconciled<E: Entity>(&self, entity: &E) -> Result<i64, AutotaskError> {
        self.create(entity).await
    }

    /// One create. Child entities (Contacts, QuoteItems) are POSTed under their parent, taken
    /// from the entity (`companyID`, `quoteID`). Private: callers go through `create_once` (or
    /// `create_unreconciled`, which reconciles later).
    async fn create<E: Entity>(&self, entity: &E) -> Result<i64, AutotaskError> {
        let path = match E::WRITE {
            WriteRoute::Root { create: true } => format!("/V1.0/{}", E::COLLECTION),
            WriteRoute::Child { parent, segment } => {
                let pid = entity.parent_id().ok_or_else(|| {
                    AutotaskError::Unsupported(format!("{} must name its parent {parent} to be created", E::COLLECTION))
                })?;
                format!("/V1.0/{parent}/{pid}/{segment}")
            }
            _ => {
                return Err(AutotaskError::Unsupported(format!(
                    "Autotask does not allow creating {}",
                    E::COLLECTION
                )));
            }
        };
        self.write(E::COLLECTION, Method::POST, path, entity, true).await
    }

    /// Sparse update: `PATCH /V1.0/{C}` with `id` in the body (never `/{C}/{id}`: 405).
    pub async fn update<E: Entity>(&self, patch: &E::Patch) -> Result<i64, AutotaskError> {
        match E::WRITE {
            WriteRoute::Root { .. } => {
                self.write(
                    E::COLLECTION,
                    Method::PATCH,
                    format!("/V1.0/{}", E::COLLECTION),
                    patch,
                    false,
                )
                .await
            }
            WriteRoute::Child { .. } => Err(AutotaskError::Unsupported(format!(
                "{} are updated under their parent: use update_child",
                E::COLLECTION
            ))),
            WriteRoute::ReadOnly => Err(AutotaskError::Unsupported(format!(
                "{} are read-only in Autotask",
                E::COLLECTION
            ))),
        }
    }

    /// Sparse update of a child entity: `PATCH /V1.0/{Parent}/{parentId}/{Child}` with `id` in the body.
    pub async fn update_child<E: Entity>(&self, parent_id: i64, patch: &E::Patch) -> Result<i64, AutotaskError> {
        match E::WRITE {
            WriteRoute::Child { parent, segment } => {
                self.write(
                    E::COLLECTION,
                    Method::PATCH,
                    format!("/V1.0/{parent}/{parent_id}/{segment}"),
                    patch,
                    false,
                )
                .await
            }
            _ => Err(AutotaskError::Unsupported(format!(
                "{} is not a child entity: use update",
                E::COLLECTION
            ))),
        }
    }

    /// `DELETE /V1.0/{C}/{id}`, only where Autotask allows it (ServiceBundles).
    pub async fn delete<E: Entity>(&self, id: i64) -> Result<i64, AutotaskError> {
        if E::DELETE != DeleteRoute::Root {
            return Err(AutotaskError::Unsupported(format!(
                "Autotask does not allow deleting {} at the root",
                E::COLLECTION
            )));
        }
        self.delete_at(E::COLLECTION, format!("/V1.0/{}/{id}", E::COLLECTION), id)
            .await
    }

    /// `DELETE /V1.0/{Parent}/{parentId}/{Child}/{id}` (Contacts, QuoteItems).
    pub async fn delete_child<E: Entity>(&self, parent_id: i64, id: i64) -> Result<i64, AutotaskError> {
        match (E::DELETE, E::WRITE) {
            (DeleteRoute::Child, WriteRoute::Child { parent, segment }) => {
                self.delete_at(E::COLLECTION, format!("/V1.0/{parent}/{parent_id}/{segment}/{id}"), id)
                    .await
            }
            _ => Err(AutotaskError::Unsupported(format!(
                "Autotask does not allow deleting {}",
                E::COLLECTION
            ))),
        }
    }

    /// Field metadata and picklists of `E`, cached per tenant for `ClientConfig::picklist_ttl`.
    pub async fn fields<E: Entity>(&self) -> Result<Arc<EntityFields>, AutotaskError> {
        if let Some(f) = self.inner.picklists.get(&self.tenant, E::COLLECTION) {
            return Ok(f);
        }
        let env: FieldsEnvelope = self
            .call(ApiRequest {
                method: Method::GET,
                endpoint: E::COLLECTION,
                target: Target::Path(format!("/V1.0/{}/entityInformation/fields", E::COLLECTION)),
                body: None,
                write: false,
                creates: false,
            })
            .await?;
        let fields = Arc::new(EntityFields(env.fields));
        self.inner.picklists.put(&self.tenant, E::COLLECTION, fields.clone());
        Ok(fields)
    }

    /// The numeric value of the picklist entry labelled `label` on `E.field` (e.g.
    /// `picklist_id::<Company>("companyType", "Customer")`).
    pub async fn picklist_id<E: Entity>(&self, field: &str, label: &str) -> Result<i64, AutotaskError> {
        let fields = self.fields::<E>().await?;
        let err = || AutotaskError::PicklistLabel {
            entity: E::COLLECTION.to_owned(),
            field: field.to_owned(),
            label: label.to_owned(),
        };
        fields.picklist_code(field, label).ok_or_else(err)
    }

    /// Reads `E`'s fields again, bypassing the cache (Autotask refused a value taken from it).
    pub async fn refresh_fields<E: Entity>(&self) -> Result<Arc<EntityFields>, AutotaskError> {
        self.inner.picklists.forget(&self.tenant, E::COLLECTION);
        self.fields::<E>().await
    }

    /// True when `E`'s fields are cached: [`Self::fields`] will make no call.
    pub fn fields_cached<E: Entity>(&self) -> bool {
        self.inner.picklists.get(&self.tenant, E::COLLECTION).is_some()
    }

    /// Forgets this tenant's cached picklists.
    pub fn forget_picklists(&self) {
        self.inner.picklists.forget_tenant(&self.tenant);
    }

    /// `GET /V1.0/ThresholdInformation`: the hourly budget and its use (this call counts too).
    pub async fn threshold_information(&self) -> Result<ThresholdInformation, AutotaskError> {
        self.call(ApiRequest {
            method: Method::GET,
            endpoint: "ThresholdInformation",
            target: Target::Path("/V1.0/ThresholdInformation".to_owned()),
            body: None,
            write: false,
            creates: false,
        })
        .await
    }

    async fn write<B: Serialize>(
        &self,
        endpoint: &str,
        method: Method,
        path: String,
        body: &B,
        creates: bool,
    ) -> Result<i64, AutotaskError> {
        let body = serde_json::to_value(body).map_err(invalid)?;
        let env: ItemIdEnvelope = self
            .call(ApiRequest {
                method,
                endpoint,
                target: Target::Path(path),
                body: Some(&body),
                write: true,
                creates,
            })
            .await?;
        item_id(&env.item_id)
    }

    /// A delete is done when the record is gone, whoever removed it (a repeat after a lost
    /// answer finds nothing: 404, or Autotask's 500 "No matching records found").
    async fn delete_at(&self, endpoint: &str, path: String, id: i64) -> Result<i64, AutotaskError> {
        let r: Result<ItemIdEnvelope, _> = self
            .call(ApiRequest {
                method: Method::DELETE,
                endpoint,
                target: Target::Path(path),
                body: None,
                write: true,
                creates: false,
            })
            .await;
        match r {
            Ok(env) => item_id(&env.item_id),
            Err(AutotaskError::NotFound { .. }) => Ok(id),
            Err(AutotaskError::Validation { messages, .. })
                if messages
                    .iter()
                    .any(|m| m.to_ascii_lowercase().contains("no matching records found")) =>
            {
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    /// One logical call: the shared retry policy around attempts; a 401 re-resolves the zone
    /// once, then re-reads the credentials once (a rotated secret) before it is final.
    async fn call<T: DeserializeOwned>(&self, call: ApiRequest<'_>) -> Result<T, AutotaskError> {
        let policy = &self.inner.config.retry;
        let (mut zone_refreshed, mut creds_refreshed) = (false, false);
        loop {
            let r = policy
                .run(Repeatable::Yes, self.deadline, self.inner.jitter.as_ref(), |_| {
                    self.attempt::<T>(&call)
                })
                .await
                .map_err(AutotaskError::from);
            if !matches!(r, Err(AutotaskError::Authentication { .. })) {
                return r;
            }
            if !zone_refreshed && self.inner.config.base_url_override.is_none() {
                tracing::info!(tenant = %self.tenant.as_str(), "Autotask answered 401; re-resolving the zone once");
                self.inner.zones.forget(&self.tenant, &self.creds().username);
                zone_refreshed = true;
                continue;
            }
            if creds_refreshed {
                return r;
            }
            creds_refreshed = true;
            let previous_user = self.creds().username.clone();
            if !self.refresh_credentials().await {
                return r;
            }
            tracing::info!(tenant = %self.tenant.as_str(), "Autotask answered 401; trying once more with re-read credentials");
            self.inner.zones.forget(&self.tenant, &previous_user);
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &ApiRequest<'_>) -> Result<T, AutotaskError> {
        let base = self.base_url().await?;
        let url = match &call.target {
            Target::Path(p) => format!("{base}{p}"),
            Target::Url(u) => {
                // Credentials go only to the tenant's own zone host.
                if !same_origin(u, &base) {
                    return Err(AutotaskError::InvalidResponse(format!(
                        "nextPageUrl {u} is not on the zone host"
                    )));
                }
                u.clone()
            }
        };
        let permit = self
            .inner
            .limiter
            .acquire(
                &self.tenant,
                call.endpoint,
                self.shared_limit.as_deref(),
                self.slot_lease(),
                self.deadline,
            )
            .await?;
        let result = self.send(call, &url).await;
        permit.release().await;
        result
    }

    /// One HTTP exchange within a held call slot, the answer read and classified. It ends before
    /// the deadline (the time a slot took to get is already spent).
    async fn send<T: DeserializeOwned>(&self, call: &ApiRequest<'_>, url: &str) -> Result<T, AutotaskError> {
        let Some(timeout) = crate::http::request_timeout(self.inner.config.read_timeout, self.deadline) else {
            return Err(told(call, out_of_time(), false));
        };
        let creds = self.creds();
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), url)
            .timeout(timeout)
            .header("ApiIntegrationCode", &creds.integration_code)
            .header("UserName", &creds.username)
            .header("Secret", creds.secret.expose());
        if call.write
            && let Some(rid) = creds.impersonation_resource_id
        {
            req = req.header("ImpersonationResourceId", rid.to_string());
        }
        if let Some(body) = call.body {
            req = req.json(body);
        }
        let started = Instant::now();
        let resp = req.send().await.map_err(|e| {
            let sent = !e.is_connect();
            told(call, transport(e), sent)
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.map_err(|e| told(call, transport(e), true))?;
        tracing::debug!(
            method = %call.method,
            endpoint = call.endpoint,
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "autotask call"
        );
        if !status.is_success() {
            let mut err = AutotaskError::from_response(status, retry_after, &text, &path_of(url));
            if let AutotaskError::MethodNotAllowed { method, .. } = &mut err {
                *method = call.method.to_string();
            }
            if status != StatusCode::NOT_FOUND {
                tracing::warn!(endpoint = call.endpoint, status = status.as_u16(), error = %err, "autotask call failed");
            }
            return Err(told(call, err, true));
        }
        // A 200 may still carry errors[] (seen in the wild): treat as a refusal.
        if let Ok(v) = serde_json::from_str::<Value>(&text)
            && v.get("errors").and_then(Value::as_array).is_some_and(|e| !e.is_empty())
            && v.get("items").is_none()
            && v.get("item").is_none()
            && v.get("itemId").is_none()
        {
            return Err(AutotaskError::from_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                &text,
                &path_of(url),
            ));
        }
        serde_json::from_str(&text).map_err(|e| {
            told(
                call,
                AutotaskError::InvalidResponse(format!("{}: {e}", path_of(url))),
                true,
            )
        })
    }
}

/// A record `create_once` produced or found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    pub id: i64,
    /// False when the look-up found the record an earlier, unanswered create had made.
    pub wrote: bool,
}

/// How much longer than a call's timeouts its call slot is leased.
const SLOT_LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Most times `create_once` sends one record's create.
pub const CREATE_ATTEMPTS: u32 = 3;

/// A failed create is told as `Ambiguous` when it may have been applied.
fn told(call: &ApiRequest<'_>, err: AutotaskError, sent: bool) -> AutotaskError {
    if call.creates {
        err.of_create(call.endpoint, sent)
    } else {
        err
    }
}

fn same_origin(url: &str, base: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

fn path_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| url.to_owned())
}

fn item_id(v: &Value) -> Result<i64, AutotaskError> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| AutotaskError::InvalidResponse(format!("itemId {v} is not an id")))
}

fn transport(e: reqwest::Error) -> AutotaskError {
    let timeout = e.is_timeout();
    AutotaskError::Transport {
        message: e.without_url().to_string(),
        timeout,
    }
}

/// The deadline leaves no time for another request: transient, nothing was sent.
fn out_of_time() -> AutotaskError {
    AutotaskError::Transport {
        message: "no time left before the function's deadline".into(),
        timeout: true,
    }
}

fn invalid(e: serde_json::Error) -> AutotaskError {
    AutotaskError::InvalidResponse(e.to_string())
}

/// Every request `TenantClient` builds for `E`, as (method, swagger path template); the contract
/// test checks each against Kaseya's swagger. Keep in step with the methods above.
pub fn request_templates<E: Entity>() -> Vec<(Method, String)> {
    let c = E::COLLECTION;
    let mut out = vec![
        (Method::POST, format!("/V1.0/{c}/query")),
        (Method::POST, format!("/V1.0/{c}/query/count")),
        (Method::GET, format!("/V1.0/{c}/{{id}}")),
        (Method::GET, format!("/V1.0/{c}/entityInformation/fields")),
    ];
    match E::WRITE {
        WriteRoute::ReadOnly => {}
        WriteRoute::Root { create } => {
            if create {
                out.push((Method::POST, format!("/V1.0/{c}")));
            }
            out.push((Method::PATCH, format!("/V1.0/{c}")));
        }
        WriteRoute::Child { parent, segment } => {
            out.push((Method::POST, format!("/V1.0/{parent}/{{parentId}}/{segment}")));
            out.push((Method::PATCH, format!("/V1.0/{parent}/{{parentId}}/{segment}")));
        }
    }
    match (E::DELETE, E::WRITE) {
        (DeleteRoute::Root, _) => out.push((Method::DELETE, format!("/V1.0/{c}/{{id}}"))),
        (DeleteRoute::Child, WriteRoute::Child { parent, segment }) => {
            out.push((Method::DELETE, format!("/V1.0/{parent}/{{parentId}}/{segment}/{{id}}")))
        }
        _ => {}
    }
    out
}

/// Requests not tied to one entity.
pub fn global_request_templates() -> Vec<(Method, String)> {
    vec![
        (Method::GET, "/V1.0/ThresholdInformation".to_owned()),
        (Method::GET, "/V1.0/ZoneInformation".to_owned()),
    ]
}
