//! The planner speaks Autotask JSON (each step is a REST call with its body), so its writes go
//! through the client as raw records: the same routes, limiter, retry policy and error
//! classification as the typed entities, without re-typing each payload.

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::reconcile::{CreateMode, NaturalKey, RunContext, find_existing};
use crate::autotask::entities::{DeleteRoute, Entity, WriteRoute};
use crate::autotask::{AutotaskError, TenantClient};
use crate::domain::document::plan::{ApiCall, Method, PlanEntity};

/// What the raw record needs to know about its collection.
pub trait RawKind: Send + Sync + Unpin + 'static {
    const COLLECTION: &'static str;
    const MODEL: &'static str;
    const WRITE: WriteRoute;
    const DELETE: DeleteRoute;
    /// How a record whose create went unanswered is found again.
    const KEY: NaturalKey;
    /// The field holding the parent id of a child collection.
    const PARENT_FIELD: Option<&'static str> = None;
}

/// An Autotask record as a JSON object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawRecord<K: RawKind> {
    pub fields: Map<String, Value>,
    #[serde(skip)]
    kind: PhantomData<fn() -> K>,
}

impl<K: RawKind> RawRecord<K> {
    pub fn new(fields: Map<String, Value>) -> Self {
        Self {
            fields,
            kind: PhantomData,
        }
    }
}

fn as_id(v: Option<&Value>) -> Option<i64> {
    v.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
}

impl<K: RawKind> Entity for RawRecord<K> {
    const COLLECTION: &'static str = K::COLLECTION;
    const MODEL: &'static str = K::MODEL;
    const FIELDS: &'static [&'static str] = &["id"];
    const WRITE: WriteRoute = K::WRITE;
    const DELETE: DeleteRoute = K::DELETE;
    type Patch = RawRecord<K>;

    fn id(&self) -> Option<i64> {
        as_id(self.fields.get("id"))
    }

    fn parent_id(&self) -> Option<i64> {
        K::PARENT_FIELD.and_then(|f| as_id(self.fields.get(f)))
    }
}

macro_rules! raw_kind {
    ($name:ident, $coll:literal, $model:literal, $write:expr, $delete:expr, $key:expr $(, $parent:literal)?) => {
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name;
        impl RawKind for $name {
            const COLLECTION: &'static str = $coll;
            const MODEL: &'static str = $model;
            const WRITE: WriteRoute = $write;
            const DELETE: DeleteRoute = $delete;
            const KEY: NaturalKey = $key;
            $(const PARENT_FIELD: Option<&'static str> = Some($parent);)?
        }
    };
}

raw_kind!(
    Opportunities,
    "Opportunities",
    "OpportunityModel",
    WriteRoute::Root { create: true },
    DeleteRoute::Never,
    NaturalKey::Opportunity
);
raw_kind!(
    QuoteLocations,
    "QuoteLocations",
    "QuoteLocationModel",
    WriteRoute::Root { create: true },
    DeleteRoute::Never,
    NaturalKey::QuoteLocation
);
raw_kind!(
    Products,
    "Products",
    "ProductModel",
    WriteRoute::Root { create: true },
    DeleteRoute::Never,
    NaturalKey::Product
);
raw_kind!(
    Quotes,
    "Quotes",
    "QuoteModel",
    WriteRoute::Root { create: true },
    DeleteRoute::Never,
    NaturalKey::Quote
);
raw_kind!(
    QuoteItems,
    "QuoteItems",
    "QuoteItemModel",
    WriteRoute::Child {
        parent: "Quotes",
        segment: "Items"
    },
    DeleteRoute::Child,
    NaturalKey::QuoteItem,
    "quoteID"
);

/// Runs one planned call whose placeholders are already resolved; returns the record id.
/// Creates go through `create_once` with the record's natural key (see `reconcile`).
pub async fn execute(
    client: &TenantClient,
    call: &ApiCall,
    parent: Option<i64>,
    body: Option<Value>,
    run: &RunContext,
) -> Result<i64, AutotaskError> {
    let mut fields = match body {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    match (call.entity, call.method) {
        (PlanEntity::Opportunities, m) => write::<Opportunities>(client, m, fields, None, call.id, run).await,
        (PlanEntity::QuoteLocations, m) => write::<QuoteLocations>(client, m, fields, None, call.id, run).await,
        (PlanEntity::Products, m) => write::<Products>(client, m, fields, None, call.id, run).await,
        (PlanEntity::Quotes, m) => write::<Quotes>(client, m, fields, None, call.id, run).await,
        (PlanEntity::QuoteItems, m) => {
            let parent = parent.ok_or_else(|| AutotaskError::Unsupported("a quote item needs its quote".into()))?;
            if m == Method::Post {
                fields.insert("quoteID".into(), Value::from(parent));
            }
            write::<QuoteItems>(client, m, fields, Some(parent), call.id, run).await
        }
    }
}

async fn write<K: RawKind>(
    client: &TenantClient,
    method: Method,
    fields: Map<String, Value>,
    parent: Option<i64>,
    id: Option<i64>,
    run: &RunContext,
) -> Result<i64, AutotaskError> {
    let record = RawRecord::<K>::new(fields);
    match (method, parent) {
        (Method::Post, _) => {
            let fields = &record.fields;
            let find = move || find_existing(client, K::KEY, fields, run);
            match run.creates {
                CreateMode::LookUpAfterUnanswered => Ok(client.create_once(&record, find).await?.id),
                CreateMode::Deferred => client.create_unreconciled(&record).await,
                CreateMode::LookUpFirst => match find().await? {
                    Some(id) => Ok(id),
                    None => Ok(client.create_once(&record, find).await?.id),
                },
            }
        }
        (Method::Patch, None) => client.update::<RawRecord<K>>(&record).await,
        (Method::Patch, Some(parent)) => client.update_child::<RawRecord<K>>(parent, &record).await,
        (Method::Delete, Some(parent)) => {
            let id = id.ok_or_else(|| AutotaskError::Unsupported("a delete needs the record id".into()))?;
            client.delete_child::<RawRecord<K>>(parent, id).await
        }
        (Method::Delete, None) => {
            let id = id.ok_or_else(|| AutotaskError::Unsupported("a delete needs the record id".into()))?;
            client.delete::<RawRecord<K>>(id).await
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn raw_records_serialise_as_the_bare_object_and_name_their_parent() {
        let item = RawRecord::<QuoteItems>::new(json!({"id": 4, "quoteID": "12"}).as_object().cloned().unwrap());
        assert_eq!(serde_json::to_value(&item).unwrap(), json!({"id": 4, "quoteID": "12"}));
        assert_eq!(item.id(), Some(4));
        assert_eq!(item.parent_id(), Some(12));
        let back: RawRecord<QuoteItems> = serde_json::from_value(json!({"id": 9})).unwrap();
        assert_eq!(back.id(), Some(9));
        assert_eq!(RawRecord::<Quotes>::new(Map::new()).parent_id(), None);
    }
}
