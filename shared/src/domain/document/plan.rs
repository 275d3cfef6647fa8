//! The plan: each Autotask call the export makes, in order, with its payload.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

/// Which of the quote's three addresses a QuoteLocation holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationRole {
    BillTo,
    ShipTo,
    SoldTo,
}

impl LocationRole {
    pub const ALL: [Self; 3] = [Self::BillTo, Self::ShipTo, Self::SoldTo];

    pub fn tag(self) -> &'static str {
        match self {
            Self::BillTo => "bill_to",
            Self::ShipTo => "ship_to",
            Self::SoldTo => "sold_to",
        }
    }

    /// The Quotes field that references this location.
    pub fn quote_field(self) -> &'static str {
        match self {
            Self::BillTo => "billToLocationID",
            Self::ShipTo => "shipToLocationID",
            Self::SoldTo => "soldToLocationID",
        }
    }
}

/// A record this plan creates, whose id is known only once the create returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pending {
    Opportunity,
    Quote,
    Location(LocationRole),
    /// A product created for the lines with this lookup key.
    Product(String),
}

impl Pending {
    pub fn name(&self) -> String {
        match self {
            Self::Opportunity => "opportunity".into(),
            Self::Quote => "quote".into(),
            Self::Location(role) => format!("location.{}", role.tag()),
            Self::Product(key) => format!("product:{key}"),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "opportunity" => Some(Self::Opportunity),
            "quote" => Some(Self::Quote),
            _ => {
                if let Some(key) = name.strip_prefix("product:") {
                    return Some(Self::Product(key.to_owned()));
                }
                let tag = name.strip_prefix("location.")?;
                LocationRole::ALL
                    .into_iter()
                    .find(|r| r.tag() == tag)
                    .map(Self::Location)
            }
        }
    }

    /// How a payload refers to it: an object, so no user text can ever be mistaken for one.
    pub fn placeholder(&self) -> Value {
        json!({ "$ref": self.name() })
    }
}

/// An id that is either known or produced by an earlier step of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdRef {
    Id(i64),
    Pending(Pending),
}

impl IdRef {
    pub fn to_value(&self) -> Value {
        match self {
            Self::Id(id) => json!(id),
            Self::Pending(p) => p.placeholder(),
        }
    }

    pub fn resolve(&self, ids: &ResolvedIds) -> Result<i64, Pending> {
        match self {
            Self::Id(id) => Ok(*id),
            Self::Pending(p) => ids.get(p).ok_or_else(|| p.clone()),
        }
    }
}

impl Serialize for IdRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// Ids returned by the creates executed so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedIds(BTreeMap<Pending, i64>);

impl ResolvedIds {
    pub fn insert(&mut self, pending: Pending, id: i64) {
        self.0.insert(pending, id);
    }

    pub fn get(&self, pending: &Pending) -> Option<i64> {
        self.0.get(pending).copied()
    }

    /// Replaces every `{"$ref": …}` in `body` by its id; names the first one not yet known.
    pub fn resolve_body(&self, body: &mut Value) -> Result<(), Pending> {
        match body {
            Value::Object(map) => {
                if let Some(pending) = as_placeholder(map) {
                    *body = json!(self.get(&pending).ok_or(pending)?);
                    return Ok(());
                }
                map.values_mut().try_for_each(|v| self.resolve_body(v))
            }
            Value::Array(items) => items.iter_mut().try_for_each(|v| self.resolve_body(v)),
            _ => Ok(()),
        }
    }
}

fn as_placeholder(map: &Map<String, Value>) -> Option<Pending> {
    if map.len() != 1 {
        return None;
    }
    map.get("$ref").and_then(Value::as_str).and_then(Pending::parse)
}

/// The Autotask collections the export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum PlanEntity {
    Opportunities,
    QuoteLocations,
    Products,
    Quotes,
    /// Written under `/Quotes/{quoteId}/Items`.
    QuoteItems,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Post,
    Patch,
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        })
    }
}

/// One Autotask REST call.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiCall {
    pub method: Method,
    pub entity: PlanEntity,
    /// The quote a QuoteItems call is written under.
    pub parent: Option<IdRef>,
    /// The record a DELETE removes.
    pub id: Option<i64>,
    pub body: Option<Value>,
}

impl ApiCall {
    pub fn post(entity: PlanEntity, body: Value) -> Self {
        Self {
            method: Method::Post,
            entity,
            parent: None,
            id: None,
            body: Some(body),
        }
    }

    pub fn patch(entity: PlanEntity, body: Value) -> Self {
        Self {
            method: Method::Patch,
            entity,
            parent: None,
            id: None,
            body: Some(body),
        }
    }

    pub fn under_quote(mut self, quote: IdRef) -> Self {
        self.parent = Some(quote);
        self
    }

    /// The REST path, with `{$ref:name}` where the parent id is not known yet.
    pub fn path(&self) -> String {
        let parent = |p: &Option<IdRef>| match p {
            Some(IdRef::Id(id)) => id.to_string(),
            Some(IdRef::Pending(p)) => format!("{{$ref:{}}}", p.name()),
            None => "{missing}".into(),
        };
        let base = match self.entity {
            PlanEntity::Opportunities => "/V1.0/Opportunities".to_owned(),
            PlanEntity::QuoteLocations => "/V1.0/QuoteLocations".to_owned(),
            PlanEntity::Products => "/V1.0/Products".to_owned(),
            PlanEntity::Quotes => "/V1.0/Quotes".to_owned(),
            PlanEntity::QuoteItems => format!("/V1.0/Quotes/{}/Items", parent(&self.parent)),
        };
        match self.id {
            Some(id) => format!("{base}/{id}"),
            None => base,
        }
    }
}

impl Serialize for ApiCall {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = json!({ "method": self.method, "path": self.path() });
        if let Some(body) = &self.body {
            v["body"] = body.clone();
        }
        v.serialize(s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    CreateOpportunity,
    UpdateOpportunity,
    CreateLocation,
    UpdateLocation,
    CreateProduct,
    CreateQuote,
    UpdateQuote,
    DeleteItem,
    UpdateItem,
    CreateItem,
}

impl StepKind {
    pub fn is_item(self) -> bool {
        matches!(self, Self::DeleteItem | Self::UpdateItem | Self::CreateItem)
    }
}

/// One call of the plan and why it is made.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub kind: StepKind,
    pub summary: String,
    /// The document line (item steps) or the lines sharing a new product (product creates).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub line_ids: Vec<String>,
    /// The record this create produces, so later steps can reference it.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_pending")]
    pub creates: Option<Pending>,
    pub call: ApiCall,
}

fn ser_pending<S: Serializer>(p: &Option<Pending>, s: S) -> Result<S::Ok, S::Error> {
    p.as_ref().map(Pending::name).serialize(s)
}

/// What the export will do to each document line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineAction {
    Unchanged,
    Create,
    Update,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinePlan {
    pub line_id: String,
    pub item_type: &'static str,
    pub action: LineAction,
    /// The existing quote item, when there is one.
    pub item_id: Option<i64>,
    /// Hash of the quote item the line becomes (stored per line in the document mapping).
    pub hash: String,
    /// Product lines: the lookup key and the Autotask product (`None` while it is to be created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<i64>,
}

/// How the opportunity was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpportunitySource {
    Given,
    CustomField,
    PreviousExport,
    New,
}

/// The full answer of a dry run, and what the executor runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub document_number: String,
    pub opportunity_source: OpportunitySource,
    pub opportunity: IdRef,
    pub quote: IdRef,
    pub lines: Vec<LinePlan>,
    /// Lines that cannot be exported as they are, each with what to do.
    pub refused: Vec<super::lines::LineProblem>,
    pub steps: Vec<Step>,
}

impl Plan {
    /// True when Autotask already matches the document: nothing will be written.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn count(&self, kind: StepKind) -> usize {
        self.steps.iter().filter(|s| s.kind == kind).count()
    }

    pub fn item_writes(&self) -> usize {
        self.steps.iter().filter(|s| s.kind.is_item()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_names_round_trip() {
        for p in [
            Pending::Opportunity,
            Pending::Quote,
            Pending::Location(LocationRole::SoldTo),
            Pending::Product("mpn:C9200-24T".into()),
        ] {
            assert_eq!(Pending::parse(&p.name()), Some(p));
        }
        assert_eq!(Pending::parse("location.nowhere"), None);
    }

    #[test]
    fn resolving_replaces_placeholders_and_leaves_user_text_alone() {
        let mut ids = ResolvedIds::default();
        ids.insert(Pending::Quote, 77);
        let mut body = json!({ "quoteID": Pending::Quote.placeholder(), "name": "{\"$ref\":\"quote\"}", "n": [Pending::Quote.placeholder()] });
        ids.resolve_body(&mut body).unwrap();
        assert_eq!(
            body,
            json!({ "quoteID": 77, "name": "{\"$ref\":\"quote\"}", "n": [77] })
        );

        let mut missing = json!({ "productID": Pending::Product("sku:A".into()).placeholder() });
        assert_eq!(ids.resolve_body(&mut missing), Err(Pending::Product("sku:A".into())));
    }

    #[test]
    fn item_paths_name_the_parent_quote() {
        let call = ApiCall::post(PlanEntity::QuoteItems, json!({})).under_quote(IdRef::Pending(Pending::Quote));
        assert_eq!(call.path(), "/V1.0/Quotes/{$ref:quote}/Items");
        let delete = ApiCall {
            method: Method::Delete,
            entity: PlanEntity::QuoteItems,
            parent: Some(IdRef::Id(5)),
            id: Some(9),
            body: None,
        };
        assert_eq!(delete.path(), "/V1.0/Quotes/5/Items/9");
        assert_eq!(
            serde_json::to_value(&delete).unwrap(),
            json!({"method": "DELETE", "path": "/V1.0/Quotes/5/Items/9"})
        );
    }
}
