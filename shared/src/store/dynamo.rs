//! DynamoDB adapter for every store port. Key layout: see [`super::keys`].
//!
//! Items are converted by hand (a few attributes each; JSON payloads are stored as strings), so
//! no extra serde layer is needed. Conditions read the old item from the failure itself
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`) instead of a second read.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

use crate::aws::AwsSdk;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, Delete, KeySchemaElement, KeyType,
    KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, Update,
};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::error::StoreError;
use super::keys::{self, PK, SK};
use super::ports::*;
use crate::domain::mapping::{Mapping, MappingKind, Side};
use crate::domain::settings::bulk_sync_enabled;
use crate::idempotency::{ClaimOutcome, IdempotencyRecord, IdempotencyStatus, IdempotencyStore};
use crate::tenant::TenantId;

type Item = HashMap<String, AttributeValue>;

/// Attribute names (besides the keys `pk`/`sk`).
pub mod attr {
    pub const KIND: &str = "kind";
    pub const COL_ID: &str = "col_id";
    pub const AT_ID: &str = "at_id";
    pub const VERSION: &str = "version";
    pub const SOURCE_HASH: &str = "source_hash";
    pub const DATA: &str = "data";
    pub const UPDATED_AT: &str = "updated_at";
    pub const DOC: &str = "doc";
    pub const RECORD: &str = "record";
    pub const OWNER: &str = "owner";
    pub const LEASE_UNTIL: &str = "lease_until";
    /// Idempotency table.
    pub const ID: &str = "id";
    pub const STATUS: &str = "status";
    pub const EXPIRATION: &str = "expiration";
    pub const IN_PROGRESS_EXPIRY: &str = "in_progress_expiry";
    pub const VALIDATION: &str = "validation";
}

const STATUS_IN_PROGRESS: &str = "INPROGRESS";
const STATUS_COMPLETE: &str = "COMPLETE";
const STATUS_CONSUMED: &str = "CONSUMED";
/// BatchGetItem accepts at most 100 keys per request.
const BATCH_GET_MAX: usize = 100;
/// Rounds of retrying `UnprocessedKeys` before reporting the store as unavailable.
const BATCH_GET_ROUNDS: u32 = 8;

/// Builds a client: for a local emulator at `endpoint` when set ([`local_client`]), else from
/// the shared SDK configuration (Lambda role, region from the environment).
pub async fn client(sdk: &AwsSdk, endpoint: Option<&str>) -> Client {
    match endpoint {
        Some(url) => local_client(url),
        None => Client::new(sdk.config().await),
    }
}

/// A client for a local emulator: static dummy credentials and us-east-1.
pub fn local_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "static-local"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

#[derive(Clone, Debug)]
pub struct TableNames {
    /// Mappings, settings, audit, sync state (`MAPPING_TABLE`).
    pub mappings: String,
    /// Idempotency records with TTL (`IDEMPOTENCY_TABLE`).
    pub idempotency: String,
}

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        Self { client, tables }
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Creates both tables (on-demand; TTL on the idempotency table's `expiration`) for tests
    /// and the local stack; tables that already exist are left as they are. On AWS the SAM
    /// template creates them with the same schema.
    pub async fn create_tables(&self) -> StoreResult<()> {
        // Listed first so an existing table is not an error response (and a warning in the log).
        let existing = self.existing_tables().await?;
        if !existing.contains(&self.tables.mappings) {
            let mapping = self
                .client
                .create_table()
                .table_name(&self.tables.mappings)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attr_def(PK)?)
                .attribute_definitions(attr_def(SK)?)
                .key_schema(key_elem(PK, KeyType::Hash)?)
                .key_schema(key_elem(SK, KeyType::Range)?)
                .send()
                .await;
            ignore_existing(mapping.map(|_| ()))?;
        }
        if existing.contains(&self.tables.idempotency) {
            return Ok(());
        }
        let idempotency = self
            .client
            .create_table()
            .table_name(&self.tables.idempotency)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def(attr::ID)?)
            .key_schema(key_elem(attr::ID, KeyType::Hash)?)
            .send()
            .await;
        let created = idempotency.is_ok();
        ignore_existing(idempotency.map(|_| ()))?;
        if created {
            let ttl = TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(attr::EXPIRATION)
                .build()
                .map_err(build_error)?;
            self.client
                .update_time_to_live()
                .table_name(&self.tables.idempotency)
                .time_to_live_specification(ttl)
                .send()
                .await
                .map_err(sdk_error)?;
        }
        Ok(())
    }

    /// The names of every table the endpoint has (all pages of ListTables).
    pub async fn existing_tables(&self) -> StoreResult<Vec<String>> {
        let mut names = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page = self
                .client
                .list_tables()
                .set_exclusive_start_table_name(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            names.extend(page.table_names.unwrap_or_default());
            match page.last_evaluated_table_name {
                Some(last) => start = Some(last),
                None => return Ok(names),
            }
        }
    }

    async fn get_item(&self, table: &str, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    /// Puts `item` unless a live one holds its key: no item there, or its `until_attr` is before
    /// `now` (in the attribute's own unit). `false` when a live item won.
    async fn put_unless_live(
        &self,
        table: &str,
        item: Item,
        key_attr: &str,
        until_attr: &str,
        now: AttributeValue,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#key) OR #until < :now")
            .expression_attribute_names("#key", key_attr)
            .expression_attribute_names("#until", until_attr)
            .expression_attribute_values(":now", now)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if is_conditional_failure(&err) => Ok(false),
            Err(err) => Err(sdk_error(err)),
        }
    }

    /// Conditional put of a versioned document (settings, checkpoints).
    async fn put_versioned(
        &self,
        pk: String,
        sk: &str,
        doc: &Value,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let version = expected.unwrap_or(0) + 1;
        let item = HashMap::from([
            (PK.to_owned(), s(pk)),
            (SK.to_owned(), s(sk)),
            (attr::DOC.to_owned(), s(doc.to_string())),
            (attr::VERSION.to_owned(), n(version)),
            (attr::UPDATED_AT.to_owned(), s(now.to_rfc3339())),
        ]);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.mappings)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", attr::VERSION)
                .expression_attribute_values(":expected", n(v)),
        };
        match put.send().await {
            Ok(_) => Ok(version),
            Err(err) if is_conditional_failure(&err) => Err(StoreError::VersionConflict {
                expected,
                actual: conditional_old_item(&err)
                    .map(|old| get_n(&old, attr::VERSION))
                    .transpose()?,
            }),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn get_versioned(&self, pk: String, sk: &str) -> StoreResult<Option<VersionedDoc>> {
        let Some(item) = self.get_item(&self.tables.mappings, key(pk, sk)).await? else {
            return Ok(None);
        };
        Ok(Some(VersionedDoc {
            version: get_n(&item, attr::VERSION)?,
            doc: get_json(&item, attr::DOC)?,
            updated_at: get_time(&item, attr::UPDATED_AT)?,
        }))
    }

    /// Query one partition: `(items, next cursor)`, the cursor being the last sort key with
    /// `strip` removed.
    async fn query_page(
        &self,
        pk: String,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
        newest_first: bool,
    ) -> StoreResult<(Vec<Item>, Option<String>)> {
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.mappings)
            .limit(limit.max(1) as i32)
            .scan_index_forward(!newest_first)
            .expression_attribute_values(":pk", s(pk.clone()));
        query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        if let Some(c) = cursor {
            query = query.set_exclusive_start_key(Some(key(pk, &format!("{prefix}{c}"))));
        }
        let out = query.send().await.map_err(sdk_error)?;
        let next = match out.last_evaluated_key() {
            Some(k) => {
                let sk = get_s(k, SK)?;
                Some(sk.strip_prefix(prefix).unwrap_or(sk).to_owned())
            }
            None => None,
        };
        Ok((out.items.unwrap_or_default(), next))
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), SdkError<TransactWriteItemsError>> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
    }
}

// ---- mappings ----

fn mapping_item(tenant: &TenantId, m: &Mapping, sk: String, version: u64) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), s(keys::mapping_pk(tenant, m.kind))),
        (SK.to_owned(), s(sk)),
        (attr::KIND.to_owned(), s(m.kind.key_name())),
        (attr::COL_ID.to_owned(), s(m.col_id.clone())),
        (attr::AT_ID.to_owned(), n(m.at_id)),
        (attr::VERSION.to_owned(), n(version)),
        (attr::DATA.to_owned(), s(m.data.to_string())),
        (attr::UPDATED_AT.to_owned(), s(m.updated_at.to_rfc3339())),
    ]);
    if let Some(hash) = &m.source_hash {
        item.insert(attr::SOURCE_HASH.to_owned(), s(hash.clone()));
    }
    item
}

fn mapping_from_item(item: &Item) -> StoreResult<Mapping> {
    let kind_name = get_s(item, attr::KIND)?;
    Ok(Mapping {
        kind: MappingKind::from_key_name(kind_name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown mapping kind {kind_name:?}")))?,
        col_id: get_s(item, attr::COL_ID)?.to_owned(),
        at_id: get_n(item, attr::AT_ID)?,
        version: get_n(item, attr::VERSION)?,
        source_hash: item.get(attr::SOURCE_HASH).and_then(|v| v.as_s().ok()).cloned(),
        data: get_json(item, attr::DATA)?,
        updated_at: get_time(item, attr::UPDATED_AT)?,
    })
}

/// The two keys of a pair, COL side first (the order of the transaction items).
fn pair_keys(tenant: &TenantId, m: &Mapping) -> [Item; 2] {
    let pk = keys::mapping_pk(tenant, m.kind);
    [
        key(pk.clone(), &keys::mapping_col_sk(&m.col_id)),
        key(pk, &keys::mapping_at_sk(m.at_id)),
    ]
}

/// Why a version-checked transaction on a pair was cancelled, from the old items.
fn pair_failure(expected: &Mapping, reasons: &[CancellationReason]) -> StoreResult<StoreError> {
    for reason in reasons {
        if reason.code() != Some("ConditionalCheckFailed") {
            continue;
        }
        let Some(old) = reason.item() else {
            return Ok(StoreError::NotFound);
        };
        let old = mapping_from_item(old)?;
        if old.col_id != expected.col_id || old.at_id != expected.at_id {
            return Ok(StoreError::NotFound);
        }
        return Ok(StoreError::VersionConflict {
            expected: Some(expected.version),
            actual: Some(old.version),
        });
    }
    Ok(StoreError::NotFound)
}

fn pair_condition_values(m: &Mapping) -> Item {
    HashMap::from([
        (":expected".to_owned(), n(m.version)),
        (":col".to_owned(), s(m.col_id.clone())),
        (":at".to_owned(), n(m.at_id)),
    ])
}

fn pair_condition_names() -> HashMap<String, String> {
    HashMap::from([
        ("#v".to_owned(), attr::VERSION.to_owned()),
        ("#c".to_owned(), attr::COL_ID.to_owned()),
        ("#a".to_owned(), attr::AT_ID.to_owned()),
    ])
}

const PAIR_CONDITION: &str = "#v = :expected AND #c = :col AND #a = :at";

#[async_trait]
impl MappingStore for DynamoStore {
    async fn get_by_col(&self, tenant: &TenantId, kind: MappingKind, col_id: &str) -> StoreResult<Option<Mapping>> {
        let k = key(keys::mapping_pk(tenant, kind), &keys::mapping_col_sk(col_id));
        self.get_item(&self.tables.mappings, k)
            .await?
            .map(|i| mapping_from_item(&i))
            .transpose()
    }

    async fn get_by_at(&self, tenant: &TenantId, kind: MappingKind, at_id: i64) -> StoreResult<Option<Mapping>> {
        let k = key(keys::mapping_pk(tenant, kind), &keys::mapping_at_sk(at_id));
        self.get_item(&self.tables.mappings, k)
            .await?
            .map(|i| mapping_from_item(&i))
            .transpose()
    }

    async fn batch_get_by_col(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        col_ids: &[String],
    ) -> StoreResult<Vec<Mapping>> {
        let mut unique: Vec<&String> = Vec::with_capacity(col_ids.len());
        let mut seen = std::collections::HashSet::new();
        unique.extend(col_ids.iter().filter(|id| seen.insert(id.as_str())));
        let pk = keys::mapping_pk(tenant, kind);
        let mut found = Vec::new();
        for chunk in unique.chunks(BATCH_GET_MAX) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| key(pk.clone(), &keys::mapping_col_sk(id)))
                .collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?,
            );
            let mut round = 0;
            while let Some(request) = pending.take() {
                if round == BATCH_GET_ROUNDS {
                    return Err(StoreError::Unavailable(
                        "BatchGetItem kept returning unprocessed keys".into(),
                    ));
                }
                if round > 0 {
                    // Unprocessed keys mean throttling: back off before asking again.
                    tokio::time::sleep(StdDuration::from_millis(25 << round.min(6))).await;
                }
                round += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.mappings, request)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                if let Some(items) = out.responses.as_ref().and_then(|r| r.get(&self.tables.mappings)) {
                    for item in items {
                        found.push(mapping_from_item(item)?);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.tables.mappings))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        Ok(found)
    }

    async fn create_pair(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<Mapping> {
        let stored = Mapping {
            version: 1,
            ..mapping.clone()
        };
        let side = |sk: String| -> StoreResult<TransactWriteItem> {
            let put = Put::builder()
                .table_name(&self.tables.mappings)
                .set_item(Some(mapping_item(tenant, &stored, sk, 1)))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(build_error)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let items = vec![
            side(keys::mapping_col_sk(&mapping.col_id))?,
            side(keys::mapping_at_sk(mapping.at_id))?,
        ];
        let err = match self.transact(items).await {
            Ok(()) => return Ok(stored),
            Err(err) => err,
        };
        let Some(reasons) = cancellation_reasons(&err) else {
            return Err(sdk_error(err));
        };
        for (side, reason) in [Side::Col, Side::At].into_iter().zip(reasons) {
            if reason.code() != Some("ConditionalCheckFailed") {
                continue;
            }
            let existing = match reason.item() {
                Some(item) => mapping_from_item(item)?,
                // An emulator that omits ALL_OLD: read the side that blocked us.
                None => {
                    let found = match side {
                        Side::Col => self.get_by_col(tenant, mapping.kind, &mapping.col_id).await?,
                        Side::At => self.get_by_at(tenant, mapping.kind, mapping.at_id).await?,
                    };
                    found.ok_or_else(|| StoreError::Unavailable("mapping changed during create; retry".into()))?
                }
            };
            return Err(StoreError::AlreadyMapped {
                side,
                existing: Box::new(existing),
            });
        }
        Err(cancelled_error(reasons))
    }

    async fn update(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<Mapping> {
        let mut set = "SET #v = #v + :one, #d = :data, #u = :updated".to_owned();
        let mut names = pair_condition_names();
        names.insert("#d".into(), attr::DATA.into());
        names.insert("#u".into(), attr::UPDATED_AT.into());
        names.insert("#h".into(), attr::SOURCE_HASH.into());
        let mut values = pair_condition_values(mapping);
        values.insert(":one".into(), n(1));
        values.insert(":data".into(), s(mapping.data.to_string()));
        values.insert(":updated".into(), s(mapping.updated_at.to_rfc3339()));
        match &mapping.source_hash {
            Some(hash) => {
                set.push_str(", #h = :hash");
                values.insert(":hash".into(), s(hash.clone()));
            }
            None => set.push_str(" REMOVE #h"),
        }
        let mut items = Vec::with_capacity(2);
        for k in pair_keys(tenant, mapping) {
            let update = Update::builder()
                .table_name(&self.tables.mappings)
                .set_key(Some(k))
                .update_expression(&set)
                .condition_expression(PAIR_CONDITION)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(Mapping {
                version: mapping.version + 1,
                ..mapping.clone()
            }),
            Err(err) => match cancellation_reasons(&err) {
                Some(reasons) if has_condition_failure(reasons) => Err(pair_failure(mapping, reasons)?),
                Some(reasons) => Err(cancelled_error(reasons)),
                None => Err(sdk_error(err)),
            },
        }
    }

    async fn delete_pair(&self, tenant: &TenantId, mapping: &Mapping) -> StoreResult<()> {
        let mut items = Vec::with_capacity(2);
        for k in pair_keys(tenant, mapping) {
            let delete = Delete::builder()
                .table_name(&self.tables.mappings)
                .set_key(Some(k))
                .condition_expression(PAIR_CONDITION)
                .set_expression_attribute_names(Some(pair_condition_names()))
                .set_expression_attribute_values(Some(pair_condition_values(mapping)))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(err) => match cancellation_reasons(&err) {
                Some(reasons) if has_condition_failure(reasons) => Err(pair_failure(mapping, reasons)?),
                Some(reasons) => Err(cancelled_error(reasons)),
                None => Err(sdk_error(err)),
            },
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: MappingKind,
        cursor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<Mapping>> {
        let (items, next) = self
            .query_page(keys::mapping_pk(tenant, kind), keys::COL_PREFIX, cursor, limit, false)
            .await?;
        Ok(Page {
            items: items.iter().map(mapping_from_item).collect::<StoreResult<_>>()?,
            next,
        })
    }
}

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn get_settings(&self, tenant: &TenantId) -> StoreResult<Option<VersionedDoc>> {
        self.get_versioned(keys::settings_pk(tenant), keys::SETTINGS_SK).await
    }

    async fn put_settings(
        &self,
        tenant: &TenantId,
        doc: &Value,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        // The settings and the tenant's bulk-sync directory entry change together or not at all.
        let version = expected.unwrap_or(0) + 1;
        let item = HashMap::from([
            (PK.to_owned(), s(keys::settings_pk(tenant))),
            (SK.to_owned(), s(keys::SETTINGS_SK)),
            (attr::DOC.to_owned(), s(doc.to_string())),
            (attr::VERSION.to_owned(), n(version)),
            (attr::UPDATED_AT.to_owned(), s(now.to_rfc3339())),
        ]);
        let put = Put::builder()
            .table_name(&self.tables.mappings)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", attr::VERSION)
                .expression_attribute_values(":expected", n(v)),
        }
        .build()
        .map_err(build_error)?;
        let entry = key(keys::BULK_SYNC_DIRECTORY_PK.to_owned(), tenant.as_str());
        let directory = if bulk_sync_enabled(doc) {
            let put = Put::builder()
                .table_name(&self.tables.mappings)
                .set_item(Some(entry))
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().put(put).build()
        } else {
            let delete = Delete::builder()
                .table_name(&self.tables.mappings)
                .set_key(Some(entry))
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().delete(delete).build()
        };
        let items = vec![TransactWriteItem::builder().put(put).build(), directory];
        match self.transact(items).await {
            Ok(()) => Ok(version),
            Err(err) => match cancellation_reasons(&err) {
                Some(reasons) if reasons.first().and_then(|r| r.code()) == Some("ConditionalCheckFailed") => {
                    Err(StoreError::VersionConflict {
                        expected,
                        actual: reasons[0].item().map(|old| get_n(old, attr::VERSION)).transpose()?,
                    })
                }
                Some(reasons) => Err(cancelled_error(reasons)),
                None => Err(sdk_error(err)),
            },
        }
    }

    async fn bulk_sync_tenants(&self) -> StoreResult<Vec<TenantId>> {
        let mut tenants = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (items, next) = self
                .query_page(
                    keys::BULK_SYNC_DIRECTORY_PK.to_owned(),
                    "",
                    cursor.as_deref(),
                    1000,
                    false,
                )
                .await?;
            for item in &items {
                let id = get_s(item, SK)?;
                tenants.push(
                    TenantId::parse(id)
                        .map_err(|e| StoreError::Corrupt(format!("bulk-sync directory entry {id:?}: {e}")))?,
                );
            }
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(tenants),
            }
        }
    }
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn append(&self, record: &AuditRecord) -> StoreResult<()> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let item = HashMap::from([
            (PK.to_owned(), s(keys::audit_pk(&record.tenant))),
            (SK.to_owned(), s(keys::audit_sk(record.at))),
            (attr::RECORD.to_owned(), s(json)),
        ]);
        self.client
            .put_item()
            .table_name(&self.tables.mappings)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn list(&self, tenant: &TenantId, cursor: Option<&str>, limit: u32) -> StoreResult<Page<AuditRecord>> {
        let (items, next) = self.query_page(keys::audit_pk(tenant), "", cursor, limit, true).await?;
        let items = items
            .iter()
            .map(|i| serde_json::from_str(get_s(i, attr::RECORD)?).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next })
    }
}

#[async_trait]
impl SyncStateStore for DynamoStore {
    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Lease> {
        let item = HashMap::from([
            (PK.to_owned(), s(keys::sync_pk(tenant, name))),
            (SK.to_owned(), s(keys::LEASE_SK)),
            (attr::OWNER.to_owned(), s(owner)),
            (attr::LEASE_UNTIL.to_owned(), n(until.timestamp_millis())),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.mappings)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #lu < :now OR #o = :owner")
            .expression_attribute_names("#lu", attr::LEASE_UNTIL)
            .expression_attribute_names("#o", attr::OWNER)
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":owner", s(owner))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Lease {
                name: name.to_owned(),
                owner: owner.to_owned(),
                until: from_millis(until.timestamp_millis()),
            }),
            Err(err) => Err(match conditional_old_item(&err) {
                Some(old) => lease_held(&old)?,
                None => sdk_error(err),
            }),
        }
    }

    async fn release_lease(&self, tenant: &TenantId, name: &str, owner: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.mappings)
            .set_key(Some(key(keys::sync_pk(tenant, name), keys::LEASE_SK)))
            .condition_expression("attribute_not_exists(pk) OR #o = :owner")
            .expression_attribute_names("#o", attr::OWNER)
            .expression_attribute_values(":owner", s(owner))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => Err(match conditional_old_item(&err) {
                Some(old) => lease_held(&old)?,
                None => sdk_error(err),
            }),
        }
    }

    async fn get_checkpoint(&self, tenant: &TenantId, stream: &str) -> StoreResult<Option<VersionedDoc>> {
        self.get_versioned(keys::sync_pk(tenant, stream), keys::CHECKPOINT_SK)
            .await
    }

    async fn put_checkpoint(
        &self,
        tenant: &TenantId,
        stream: &str,
        doc: &Value,
        expected: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.put_versioned(keys::sync_pk(tenant, stream), keys::CHECKPOINT_SK, doc, expected, now)
            .await
    }

    async fn put_run(&self, tenant: &TenantId, run: &StoredRunRecord) -> StoreResult<()> {
        let item = HashMap::from([
            (PK.to_owned(), s(keys::runs_pk(tenant))),
            (SK.to_owned(), s(keys::run_sk(&run.run_id))),
            (attr::DATA.to_owned(), s(run.data.to_string())),
        ]);
        self.client
            .put_item()
            .table_name(&self.tables.mappings)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> StoreResult<Option<StoredRunRecord>> {
        let k = key(keys::runs_pk(tenant), &keys::run_sk(run_id));
        let Some(item) = self.get_item(&self.tables.mappings, k).await? else {
            return Ok(None);
        };
        Ok(Some(StoredRunRecord {
            run_id: run_id.to_owned(),
            data: get_json(&item, attr::DATA)?,
        }))
    }

    async fn list_runs(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: u32,
    ) -> StoreResult<Page<StoredRunRecord>> {
        let (items, next) = self
            .query_page(keys::runs_pk(tenant), keys::RUN_PREFIX, cursor, limit, true)
            .await?;
        let items = items
            .iter()
            .map(|i| {
                let sk = get_s(i, SK)?;
                Ok(StoredRunRecord {
                    run_id: sk.strip_prefix(keys::RUN_PREFIX).unwrap_or(sk).to_owned(),
                    data: get_json(i, attr::DATA)?,
                })
            })
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next })
    }
}

#[async_trait]
impl SlotStore for DynamoStore {
    async fn take_slot(
        &self,
        tenant: &TenantId,
        bucket: &str,
        slot: u32,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let item = HashMap::from([
            (PK.to_owned(), s(keys::slots_pk(tenant, bucket))),
            (SK.to_owned(), s(keys::slot_sk(slot))),
            (attr::OWNER.to_owned(), s(owner)),
            (attr::LEASE_UNTIL.to_owned(), n(until.timestamp_millis())),
        ]);
        self.put_unless_live(
            &self.tables.mappings,
            item,
            PK,
            attr::LEASE_UNTIL,
            n(now.timestamp_millis()),
        )
        .await
    }

    async fn release_slot(&self, tenant: &TenantId, bucket: &str, slot: u32, owner: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.mappings)
            .set_key(Some(key(keys::slots_pk(tenant, bucket), &keys::slot_sk(slot))))
            .condition_expression("#o = :owner")
            .expression_attribute_names("#o", attr::OWNER)
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Gone, or taken over after our lease ended: either way no longer ours to free.
            Err(err) if is_conditional_failure(&err) => Ok(()),
            Err(err) => Err(sdk_error(err)),
        }
    }
}

fn lease_held(old: &Item) -> StoreResult<StoreError> {
    Ok(StoreError::LeaseHeld {
        owner: get_s(old, attr::OWNER)?.to_owned(),
        until: from_millis(get_n(old, attr::LEASE_UNTIL)?),
    })
}

// ---- idempotency ----

fn idempotency_from_item(item: &Item) -> StoreResult<IdempotencyRecord> {
    let status = match get_s(item, attr::STATUS)? {
        STATUS_IN_PROGRESS => IdempotencyStatus::InProgress,
        STATUS_COMPLETE => IdempotencyStatus::Complete,
        STATUS_CONSUMED => IdempotencyStatus::Consumed,
        other => return Err(StoreError::Corrupt(format!("unknown idempotency status {other:?}"))),
    };
    Ok(IdempotencyRecord {
        key: get_s(item, attr::ID)?.to_owned(),
        status,
        payload_hash: get_s(item, attr::VALIDATION)?.to_owned(),
        expires_at: from_secs(get_n(item, attr::EXPIRATION)?),
        in_progress_until: from_millis(get_n(item, attr::IN_PROGRESS_EXPIRY)?),
        response: item.get(attr::DATA).map(|_| get_json(item, attr::DATA)).transpose()?,
    })
}

fn id_key(key: &str) -> Item {
    HashMap::from([(attr::ID.to_owned(), s(key))])
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        in_progress_until: DateTime<Utc>,
    ) -> StoreResult<ClaimOutcome> {
        let item = HashMap::from([
            (attr::ID.to_owned(), s(key)),
            (attr::STATUS.to_owned(), s(STATUS_IN_PROGRESS)),
            (attr::EXPIRATION.to_owned(), n(keys::epoch_secs_ceil(in_progress_until))),
            (
                attr::IN_PROGRESS_EXPIRY.to_owned(),
                n(in_progress_until.timestamp_millis()),
            ),
            (attr::VALIDATION.to_owned(), s(payload_hash)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.idempotency)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#id) OR #exp < :now OR (#st = :inprogress AND #ipe < :now_ms)")
            .expression_attribute_names("#id", attr::ID)
            .expression_attribute_names("#exp", attr::EXPIRATION)
            .expression_attribute_names("#st", attr::STATUS)
            .expression_attribute_names("#ipe", attr::IN_PROGRESS_EXPIRY)
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
            .expression_attribute_values(":inprogress", s(STATUS_IN_PROGRESS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(err) => match conditional_old_item(&err) {
                Some(old) => Ok(idempotency_from_item(&old)?.outcome_for(payload_hash)),
                // The condition failed but the emulator returned no old item: read it.
                None if is_conditional_failure(&err) => match self.get(key, now).await? {
                    Some(record) => Ok(record.outcome_for(payload_hash)),
                    None => Err(StoreError::Unavailable(
                        "idempotency record changed during claim".into(),
                    )),
                },
                None => Err(sdk_error(err)),
            },
        }
    }

    async fn complete(&self, key: &str, response: &Value, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.idempotency)
            .set_key(Some(id_key(key)))
            .update_expression("SET #st = :complete, #d = :data, #exp = :exp")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#id", attr::ID)
            .expression_attribute_names("#st", attr::STATUS)
            .expression_attribute_names("#d", attr::DATA)
            .expression_attribute_names("#exp", attr::EXPIRATION)
            .expression_attribute_values(":complete", s(STATUS_COMPLETE))
            .expression_attribute_values(":data", s(response.to_string()))
            .expression_attribute_values(":exp", n(keys::epoch_secs_ceil(expires_at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_conditional_failure(&err) => Err(StoreError::NotFound),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn release(&self, key: &str) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.idempotency)
            .set_key(Some(id_key(key)))
            .condition_expression("#st = :inprogress")
            .expression_attribute_names("#st", attr::STATUS)
            .expression_attribute_values(":inprogress", s(STATUS_IN_PROGRESS))
            .send()
            .await;
        match result {
            // A completed or already-missing record stays as it is.
            Err(err) if !is_conditional_failure(&err) => Err(sdk_error(err)),
            _ => Ok(()),
        }
    }

    async fn get(&self, key: &str, now: DateTime<Utc>) -> StoreResult<Option<IdempotencyRecord>> {
        let Some(item) = self.get_item(&self.tables.idempotency, id_key(key)).await? else {
            return Ok(None);
        };
        let record = idempotency_from_item(&item)?;
        Ok(record.is_live(now).then_some(record))
    }

    async fn consume_once(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> StoreResult<bool> {
        let item = HashMap::from([
            (attr::ID.to_owned(), s(key)),
            (attr::STATUS.to_owned(), s(STATUS_CONSUMED)),
            (attr::EXPIRATION.to_owned(), n(keys::epoch_secs_ceil(until))),
            (attr::IN_PROGRESS_EXPIRY.to_owned(), n(until.timestamp_millis())),
            (attr::VALIDATION.to_owned(), s("")),
        ]);
        self.put_unless_live(
            &self.tables.idempotency,
            item,
            attr::ID,
            attr::EXPIRATION,
            n(now.timestamp()),
        )
        .await
    }
}

// ---- item and error helpers ----

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn get_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!("attribute {name} missing or not a string"))),
    }
}

fn get_n<T: FromStr>(item: &Item, name: &str) -> StoreResult<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not a valid number: {v}"))),
        _ => Err(StoreError::Corrupt(format!("attribute {name} missing or not a number"))),
    }
}

fn get_json(item: &Item, name: &str) -> StoreResult<Value> {
    serde_json::from_str(get_s(item, name)?).map_err(|e| StoreError::Corrupt(format!("attribute {name}: {e}")))
}

fn get_time(item: &Item, name: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(get_s(item, name)?)
        .map(|t| t.to_utc())
        .map_err(|e| StoreError::Corrupt(format!("attribute {name}: {e}")))
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn from_secs(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn attr_def(name: &str) -> StoreResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

fn key_elem(name: &str, key_type: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("invalid request: {err}"))
}

fn ignore_existing<E, R>(result: Result<(), SdkError<E, R>>) -> StoreResult<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Err(err) if err.code() == Some("ResourceInUseException") => Ok(()),
        other => other.map_err(sdk_error),
    }
}

fn is_conditional_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.code() == Some("ConditionalCheckFailedException")
}

/// The old item returned with a failed condition of a single-item write.
fn conditional_old_item<E, R>(err: &SdkError<E, R>) -> Option<Item>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    let service = err.as_service_error()?;
    let source: &(dyn std::error::Error + 'static) = service;
    // Every single-item operation wraps the same exception type; find it in the error chain.
    let mut current = Some(source);
    while let Some(e) = current {
        if let Some(ccf) = e.downcast_ref::<ConditionalCheckFailedException>() {
            return ccf.item.clone();
        }
        current = e.source();
    }
    None
}

fn cancellation_reasons(err: &SdkError<TransactWriteItemsError>) -> Option<&[CancellationReason]> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(e.cancellation_reasons()),
        _ => None,
    }
}

fn has_condition_failure(reasons: &[CancellationReason]) -> bool {
    reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
}

/// A transaction cancelled for reasons other than our conditions (conflict, throttling).
fn cancelled_error(reasons: &[CancellationReason]) -> StoreError {
    let codes: Vec<&str> = reasons
        .iter()
        .filter_map(|r| r.code())
        .filter(|c| *c != "None")
        .collect();
    let message = format!("transaction cancelled: {}", codes.join(", "));
    if codes
        .iter()
        .any(|c| matches!(*c, "TransactionConflict" | "ThrottlingError"))
    {
        StoreError::Unavailable(message)
    } else {
        StoreError::Backend(message)
    }
}

const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => err.code().is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        _ => false,
    };
    let message = DisplayErrorContext(&err).to_string();
    if retryable {
        StoreError::Unavailable(message)
    } else {
        StoreError::Backend(message)
    }
}
