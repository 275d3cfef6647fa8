//! Entity metadata, derived at start-up from the two references (not hand-written):
//! field names and types from Kaseya's swagger (`definitions/<Model>`), allowed verbs per route
//! from its `paths`, and required / read-only / queryable / reference / picklist flags from
//! Appendix A of `autotask-rest-api.md` (live `entityInformation/fields` captures).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot parse the swagger: {0}")]
    Swagger(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldMeta {
    pub name: String,
    /// `string`, `integer`, `long`, `double`, `boolean`, `datetime` or `udf`.
    pub data_type: String,
    pub length: Option<i64>,
    pub required: bool,
    pub read_only: bool,
    pub queryable: bool,
    /// Target collection of a reference field.
    pub reference: Option<String>,
    pub picklist: bool,
}

impl FieldMeta {
    /// Required and read-only: accepted on create, ignored afterwards.
    pub fn create_only(&self) -> bool {
        self.required && self.read_only
    }
}

/// Where writes to a collection are allowed (verbs as listed by the swagger, upper case).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Routes {
    /// `/V1.0/{C}`: POST/PATCH/PUT.
    pub root: Vec<String>,
    /// `/V1.0/{C}/{id}`: GET/DELETE.
    pub item: Vec<String>,
    /// Parent route `/V1.0/{parent}/{parentId}/{segment}` and its verbs.
    pub child: Option<ChildRoute>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChildRoute {
    pub parent: String,
    pub segment: String,
    /// The field that holds the parent id (`companyID`, `quoteID`).
    pub parent_field: String,
    pub verbs: Vec<String>,
    pub item_verbs: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct EntityMeta {
    pub collection: String,
    pub fields: Vec<FieldMeta>,
    pub has_udfs: bool,
    pub routes: Routes,
}

impl EntityMeta {
    /// Case-insensitive field lookup (Autotask binds names case-insensitively).
    pub fn field(&self, name: &str) -> Option<&FieldMeta> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// Child route: (parent collection, segment, parent id field).
type ChildSpec = (&'static str, &'static str, &'static str);

/// (collection, swagger model, child route)
const COLLECTIONS: &[(&str, &str, Option<ChildSpec>)] = &[
    ("Companies", "CompanyModel", None),
    (
        "CompanyLocations",
        "CompanyLocationModel",
        Some(("Companies", "Locations", "companyID")),
    ),
    ("Contacts", "ContactModel", Some(("Companies", "Contacts", "companyID"))),
    ("Opportunities", "OpportunityModel", None),
    ("Quotes", "QuoteModel", None),
    ("QuoteLocations", "QuoteLocationModel", None),
    ("QuoteItems", "QuoteItemModel", Some(("Quotes", "Items", "quoteID"))),
    ("Products", "ProductModel", None),
    ("Services", "ServiceModel", None),
    ("ServiceBundles", "ServiceBundleModel", None),
    ("BillingCodes", "BillingCodeModel", None),
    ("Roles", "RoleModel", None),
    ("Resources", "ResourceModel", None),
    ("ShippingTypes", "ShippingTypeModel", None),
    ("PaymentTerms", "PaymentTermModel", None),
];

#[derive(Clone, Debug)]
pub struct Schema {
    entities: HashMap<String, EntityMeta>,
}

impl Schema {
    /// Reads `autotask-swagger.json` and `autotask-rest-api.md` from `reference_dir`.
    pub fn load(reference_dir: &Path) -> Result<Self, MetaError> {
        let read = |name: &str| {
            let path = reference_dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| MetaError::Read { path, source })
        };
        let swagger: Value =
            serde_json::from_str(&read("autotask-swagger.json")?).map_err(|e| MetaError::Swagger(e.to_string()))?;
        let tables = appendix_a(&read("autotask-rest-api.md")?);
        let mut entities = HashMap::new();
        for (collection, model, child) in COLLECTIONS {
            let props = swagger
                .pointer(&format!("/definitions/{model}/properties"))
                .and_then(Value::as_object)
                .ok_or_else(|| MetaError::Swagger(format!("no definition {model}")))?;
            let table = tables.get(*collection);
            let mut fields = Vec::new();
            let mut has_udfs = false;
            for (name, schema) in props {
                if name == "userDefinedFields" {
                    has_udfs = true;
                    continue;
                }
                let row = table.and_then(|t| t.get(name.as_str()));
                let is_id = name == "id";
                fields.push(FieldMeta {
                    name: name.clone(),
                    data_type: swagger_type(schema),
                    length: row.and_then(|r| r.length),
                    required: !is_id && row.is_some_and(|r| r.required),
                    read_only: is_id || row.is_some_and(|r| r.read_only),
                    queryable: row.is_none_or(|r| r.queryable),
                    reference: row.and_then(|r| r.reference.clone()),
                    picklist: row.is_some_and(|r| r.picklist),
                });
            }
            let verbs = |path: String| -> Vec<String> {
                swagger
                    .pointer(&format!("/paths/{}", path.replace('~', "~0").replace('/', "~1")))
                    .and_then(Value::as_object)
                    .map(|o| o.keys().map(|k| k.to_ascii_uppercase()).collect())
                    .unwrap_or_default()
            };
            let routes = Routes {
                root: verbs(format!("/V1.0/{collection}")),
                item: verbs(format!("/V1.0/{collection}/{{id}}")),
                child: child.map(|(parent, segment, parent_field)| ChildRoute {
                    parent: parent.to_string(),
                    segment: segment.to_string(),
                    parent_field: parent_field.to_string(),
                    verbs: verbs(format!("/V1.0/{parent}/{{parentId}}/{segment}")),
                    item_verbs: verbs(format!("/V1.0/{parent}/{{parentId}}/{segment}/{{id}}")),
                }),
            };
            entities.insert(
                collection.to_ascii_lowercase(),
                EntityMeta {
                    collection: collection.to_string(),
                    fields,
                    has_udfs,
                    routes,
                },
            );
        }
        Ok(Self { entities })
    }

    pub fn entity(&self, collection: &str) -> Option<&EntityMeta> {
        self.entities.get(&collection.to_ascii_lowercase())
    }

    /// The child collection written under `/{parent}/{id}/{segment}`.
    pub fn child(&self, parent: &str, segment: &str) -> Option<&EntityMeta> {
        self.entities.values().find(|e| {
            e.routes
                .child
                .as_ref()
                .is_some_and(|c| c.parent.eq_ignore_ascii_case(parent) && c.segment.eq_ignore_ascii_case(segment))
        })
    }

    pub fn collections(&self) -> impl Iterator<Item = &EntityMeta> {
        self.entities.values()
    }
}

fn swagger_type(schema: &Value) -> String {
    let t = schema.get("type").and_then(Value::as_str).unwrap_or("string");
    let f = schema.get("format").and_then(Value::as_str).unwrap_or("");
    match (t, f) {
        ("integer", "int64") => "long",
        ("integer", _) => "integer",
        ("number", _) => "double",
        ("boolean", _) => "boolean",
        ("string", "date-time") => "datetime",
        ("array", _) => "array",
        _ => "string",
    }
    .to_owned()
}

#[derive(Clone, Debug, Default)]
struct Row {
    length: Option<i64>,
    required: bool,
    read_only: bool,
    queryable: bool,
    reference: Option<String>,
    picklist: bool,
}

/// Parses the `#### <Collection> — field table` sections of Appendix A.
fn appendix_a(md: &str) -> HashMap<String, HashMap<String, Row>> {
    let mut out: HashMap<String, HashMap<String, Row>> = HashMap::new();
    let Some(start) = md.find("## Appendix A") else {
        return out;
    };
    let mut current: Option<String> = None;
    for line in md[start..].lines() {
        if let Some(h) = line.strip_prefix("#### ") {
            current = h.split(" — ").next().map(|s| s.trim().to_owned());
            continue;
        }
        let Some(coll) = &current else { continue };
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 8 || !cells[0].starts_with('`') {
            continue;
        }
        let name = cells[0].trim_matches('`').to_owned();
        let length = cells[1]
            .split_once('(')
            .and_then(|(_, l)| l.trim_end_matches(')').parse().ok());
        let (req_rest, req_soap, ro) = (cells[2], cells[3], cells[4]);
        let row = Row {
            length,
            // "?" = no signal in the REST capture: fall back to the SOAP capture.
            required: req_rest == "Y" || (req_rest == "?" && req_soap == "Y"),
            read_only: ro == "Y",
            queryable: !cells[7].contains("not queryable"),
            reference: Some(cells[5].to_owned()).filter(|r| !r.is_empty()),
            picklist: cells[6] == "PL",
        };
        out.entry(coll.clone()).or_default().insert(name, row);
    }
    out
}

/// `<workspace>/../shared/reference`, the team's reference folder.
pub fn default_reference_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("AUTOTASK_REFERENCE_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference")
}
