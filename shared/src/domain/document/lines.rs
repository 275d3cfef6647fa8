//! Document lines → Autotask quote items (and the products that must exist first).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::input::{AutotaskItemKind, DocumentInput, DocumentLine, LineKind};
use super::opportunity::truncate;
use super::plan::{IdRef, Pending};
use super::quote::id_of;
use super::settings::DocumentSettings;

/// The line id under which the shipping item is tracked (COL line ids are numeric).
pub const SHIPPING_LINE_ID: &str = "#shipping";

/// The kinds of quote item the export writes. Autotask's `quoteItemType` codes for them differ
/// per instance and are not published, so they come from the tenant ([`QuoteItemTypes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum QuoteItemType {
    Product,
    Labor,
    Shipping,
    Service,
    ServiceBundle,
}

impl QuoteItemType {
    pub const ALL: [Self; 5] = [
        Self::Product,
        Self::Labor,
        Self::Shipping,
        Self::Service,
        Self::ServiceBundle,
    ];

    /// Its labels in the `quoteItemType` picklist, Autotask's own first (the PowerShell module
    /// spells the bundle "ServiceBundle"; labels compare case-insensitively).
    pub fn picklist_labels(self) -> &'static [&'static str] {
        match self {
            Self::Product => &["Product"],
            Self::Labor => &["Labor"],
            Self::Shipping => &["Shipping"],
            Self::Service => &["Service"],
            Self::ServiceBundle => &["Service Bundle", "ServiceBundle"],
        }
    }

    /// The one "item" field a quote item of this type sets.
    pub fn id_field(self) -> &'static str {
        match self {
            Self::Product => "productID",
            Self::Labor => "laborID",
            Self::Shipping => "shippingID",
            Self::Service => "serviceID",
            Self::ServiceBundle => "serviceBundleID",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Labor => "labor",
            Self::Shipping => "shipping",
            Self::Service => "service",
            Self::ServiceBundle => "service_bundle",
        }
    }

    /// The type of a quote item body, told by the one item field it sets.
    pub fn of_item(item: &Map<String, Value>) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| item.get(t.id_field()).is_some_and(|v| !v.is_null()))
    }

    pub fn for_autotask(kind: AutotaskItemKind) -> Self {
        match kind {
            AutotaskItemKind::Service => Self::Service,
            AutotaskItemKind::ServiceBundle => Self::ServiceBundle,
            AutotaskItemKind::Labor => Self::Labor,
        }
    }
}

/// The tenant's `quoteItemType` code of each type, matched by label in
/// `QuoteItems/entityInformation/fields`; types whose label the tenant lacks have none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteItemTypes {
    codes: BTreeMap<QuoteItemType, i64>,
    /// Every label the tenant lists, to show when one is missing.
    tenant_labels: Vec<String>,
}

impl QuoteItemTypes {
    /// `code_of(label)` looks a label up in the tenant's picklist; the first label that
    /// resolves gives the type's code.
    pub fn resolve(code_of: impl Fn(&str) -> Option<i64>, tenant_labels: Vec<String>) -> Self {
        let codes = QuoteItemType::ALL
            .into_iter()
            .filter_map(|t| t.picklist_labels().iter().find_map(|l| code_of(l)).map(|c| (t, c)))
            .collect();
        Self { codes, tenant_labels }
    }

    pub fn code(&self, item_type: QuoteItemType) -> Result<i64, MissingQuoteItemType> {
        self.codes.get(&item_type).copied().ok_or_else(|| MissingQuoteItemType {
            item_type,
            tenant_labels: self.tenant_labels.clone(),
        })
    }

    /// The type `code` stands for, if any.
    pub fn type_of(&self, code: i64) -> Option<QuoteItemType> {
        self.codes.iter().find(|(_, c)| **c == code).map(|(t, _)| *t)
    }
}

/// The document needs a quote item type the tenant's Autotask does not list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingQuoteItemType {
    pub item_type: QuoteItemType,
    pub tenant_labels: Vec<String>,
}

impl std::fmt::Display for MissingQuoteItemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let listed = match self.tenant_labels.as_slice() {
            [] => "no values".to_owned(),
            labels => labels.join(", "),
        };
        write!(
            f,
            "Autotask has no quote item type {:?} (its QuoteItems field quoteItemType lists: {listed}), so the document's {} lines cannot be added.",
            self.item_type.picklist_labels()[0],
            self.item_type.label().replace('_', " "),
        )
    }
}

impl std::error::Error for MissingQuoteItemType {}

/// The key a product line is looked up and mapped by: the manufacturer part number when the
/// line has one (it is the same at every supplier), else the supplier SKU.
pub fn product_key(sku: Option<&str>, part_number: Option<&str>) -> Option<String> {
    let clean = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_uppercase);
    clean(part_number)
        .map(|p| format!("mpn:{p}"))
        .or_else(|| clean(sku).map(|s| format!("sku:{s}")))
}

/// The values for the one batched Products query: `sku in […] or manufacturerProductName in […]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductLookup {
    pub skus: Vec<String>,
    pub part_numbers: Vec<String>,
}

impl ProductLookup {
    pub fn is_empty(&self) -> bool {
        self.skus.is_empty() && self.part_numbers.is_empty()
    }
}

/// Lookup values for the product lines whose key is not in `known` (already mapped by us).
pub fn product_lookup(doc: &DocumentInput, known: impl Fn(&str) -> bool) -> ProductLookup {
    let mut lookup = ProductLookup::default();
    let push = |list: &mut Vec<String>, v: Option<&String>| {
        if let Some(v) = v.map(|v| v.trim()).filter(|v| !v.is_empty())
            && !list.iter().any(|x| x.eq_ignore_ascii_case(v))
        {
            list.push(v.to_owned());
        }
    };
    for line in &doc.lines {
        if let LineKind::Product { sku, part_number, .. } = &line.kind {
            let Some(key) = product_key(sku.as_deref(), part_number.as_deref()) else {
                continue;
            };
            if known(&key) {
                continue;
            }
            push(&mut lookup.part_numbers, part_number.as_ref());
            // A product we created carries the part number as SKU when the line had no SKU.
            push(&mut lookup.skus, sku.as_ref().or(part_number.as_ref()));
        }
    }
    lookup
}

/// Autotask products known for this document: our mappings plus what the lookup returned.
#[derive(Clone, Debug, Default)]
pub struct ProductIndex {
    /// Product key → Autotask product id, from our Product mappings.
    pub mapped: std::collections::BTreeMap<String, i64>,
    /// Products returned by the batched query (`id`, `sku`, `manufacturerProductName`).
    pub found: Vec<Map<String, Value>>,
}

impl ProductIndex {
    /// Mapping first, then manufacturer part number, then SKU (active products preferred).
    pub fn find(&self, key: &str, sku: Option<&str>, part_number: Option<&str>) -> Option<i64> {
        if let Some(id) = self.mapped.get(key) {
            return Some(*id);
        }
        let field_is = |p: &Map<String, Value>, field: &str, want: Option<&str>| {
            let want = want.map(str::trim).filter(|w| !w.is_empty());
            let have = p.get(field).and_then(Value::as_str).map(str::trim);
            matches!((want, have), (Some(w), Some(h)) if w.eq_ignore_ascii_case(h))
        };
        let active_first = |mut hits: Vec<&Map<String, Value>>| {
            hits.sort_by_key(|p| p.get("isActive").and_then(Value::as_bool) == Some(false));
            hits.first().and_then(|p| id_of(p))
        };
        let by = |field: &str, want: Option<&str>| {
            active_first(self.found.iter().filter(|p| field_is(p, field, want)).collect())
        };
        by("manufacturerProductName", part_number)
            .or_else(|| by("sku", sku))
            .or_else(|| by("sku", part_number))
    }
}

/// The body of `POST /Products` for a line whose product Autotask does not have yet.
pub fn new_product_body(line: &DocumentLine, settings: &DocumentSettings, billing_code: i64) -> Value {
    let LineKind::Product {
        sku,
        part_number,
        manufacturer,
        category,
        sub_category,
    } = &line.kind
    else {
        unreachable!("only product lines create products")
    };
    let text = |v: Option<&String>, max: usize| match v.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(s) => json!(truncate(s, max)),
        None => Value::Null,
    };
    json!({
        "name": truncate(&line.name, 100),
        "description": text(line.description.as_ref(), 2000),
        "sku": text(sku.as_ref().or(part_number.as_ref()), 50),
        "manufacturerName": text(manufacturer.as_ref(), 100),
        "manufacturerProductName": text(part_number.as_ref(), 50),
        "productCategory": settings.category(category.as_deref(), sub_category.as_deref()),
        "productBillingCodeID": billing_code,
        "unitPrice": line.unit_price,
        "unitCost": line.unit_cost,
        "isActive": true,
        "isSerialized": false,
    })
}

/// A quote item the document wants, in document order.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredItem {
    pub line_id: String,
    pub item_type: QuoteItemType,
    /// The tenant's `quoteItemType` code for `item_type`.
    pub type_code: i64,
    /// What the item references: a known id or a product this plan creates.
    pub reference: IdRef,
    /// Item fields without the reference (compared with what Autotask has).
    pub fields: Map<String, Value>,
    pub hash: String,
}

impl DesiredItem {
    /// The full body of `POST /Quotes/{id}/Items`.
    pub fn create_body(&self) -> Value {
        let mut body = self.fields.clone();
        body.insert(self.item_type.id_field().into(), self.reference.to_value());
        Value::Object(body)
    }

    /// True when `existing` is a quote item of the same type pointing at the same record.
    pub fn same_reference(&self, existing: &Map<String, Value>) -> bool {
        let same_type = existing.get("quoteItemType").and_then(as_i64) == Some(self.type_code);
        let same_ref = match &self.reference {
            IdRef::Id(id) => existing.get(self.item_type.id_field()).and_then(as_i64) == Some(*id),
            IdRef::Pending(_) => false,
        };
        same_type && same_ref
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Quote item fields shared by every type. Discounts are zero: COL prices are net prices.
pub fn item_fields(
    type_code: i64,
    name: &str,
    description: Option<&str>,
    qty: f64,
    price: f64,
    cost: f64,
    taxable: bool,
) -> Map<String, Value> {
    let description = description
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| truncate(d, 2000));
    let mut map = Map::new();
    map.insert("quoteItemType".into(), json!(type_code));
    map.insert("name".into(), json!(truncate(name, 100)));
    map.insert("description".into(), description.map_or(Value::Null, Value::String));
    map.insert("quantity".into(), json!(qty));
    map.insert("unitPrice".into(), json!(price));
    map.insert("unitCost".into(), json!(cost));
    map.insert("isTaxable".into(), json!(taxable));
    map.insert("isOptional".into(), json!(false));
    map.insert("unitDiscount".into(), json!(0.0));
    map.insert("percentageDiscount".into(), json!(0.0));
    map.insert("lineDiscount".into(), json!(0.0));
    map
}

/// Content hash of a document line as exported (kept per line in the document mapping).
pub fn line_hash(line: &DocumentLine) -> String {
    hash_value(&serde_json::to_value(line).expect("line serialises"))
}

pub fn hash_value(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    hex::encode(&digest[..12])
}

/// The shipping item: one per document when it charges shipping and a shipping type is mapped.
pub fn shipping_item(
    doc: &DocumentInput,
    shipping_type_id: Option<i64>,
    types: &QuoteItemTypes,
) -> Result<Option<DesiredItem>, MissingQuoteItemType> {
    let Some(id) = shipping_type_id.filter(|_| doc.shipping_charge > 0.0) else {
        return Ok(None);
    };
    let name = doc
        .shipping_method
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Shipping");
    let type_code = types.code(QuoteItemType::Shipping)?;
    let fields = item_fields(type_code, name, None, 1.0, doc.shipping_charge, 0.0, false);
    Ok(Some(DesiredItem {
        line_id: SHIPPING_LINE_ID.into(),
        item_type: QuoteItemType::Shipping,
        type_code,
        reference: IdRef::Id(id),
        hash: hash_value(&json!({ "shipping": id, "charge": doc.shipping_charge, "name": name })),
        fields,
    }))
}

/// Why a line cannot become a quote item (reported for that line only).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineProblem {
    pub line_id: String,
    pub code: &'static str,
    pub message: String,
}

/// What a line's quote item is and references; `product` gives the Autotask product (or a
/// pending create).
pub fn line_reference(line: &DocumentLine, product: Option<IdRef>) -> Result<(QuoteItemType, IdRef), LineProblem> {
    match (&line.kind, product) {
        (LineKind::Autotask(identity), _) => Ok((QuoteItemType::for_autotask(identity.kind), IdRef::Id(identity.id))),
        (LineKind::Product { .. }, Some(product)) => Ok((QuoteItemType::Product, product)),
        (LineKind::Product { .. }, None) => Err(LineProblem {
            line_id: line.line_id.clone(),
            code: "product_key_missing",
            message: format!(
                "Line \"{}\" has neither a manufacturer part number nor a SKU, so its Autotask product cannot be found or created. Add one to the line.",
                line.name
            ),
        }),
    }
}

/// The quote item a line becomes, with the tenant's code for its type.
pub fn desired_item(
    line: &DocumentLine,
    item_type: QuoteItemType,
    reference: IdRef,
    types: &QuoteItemTypes,
) -> Result<DesiredItem, MissingQuoteItemType> {
    let type_code = types.code(item_type)?;
    let fields = item_fields(
        type_code,
        &line.name,
        line.description.as_deref(),
        line.quantity,
        line.unit_price,
        line.unit_cost,
        line.taxable,
    );
    Ok(DesiredItem {
        line_id: line.line_id.clone(),
        item_type,
        type_code,
        reference,
        fields,
        hash: line_hash(line),
    })
}

/// Pending reference for the product created for `key`.
pub fn pending_product(key: &str) -> IdRef {
    IdRef::Pending(Pending::Product(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::item_types;
    use super::super::input::AutotaskIdentity;
    use super::*;

    fn product_line(id: &str, sku: Option<&str>, mpn: Option<&str>) -> DocumentLine {
        DocumentLine {
            line_id: id.into(),
            kind: LineKind::Product {
                sku: sku.map(Into::into),
                part_number: mpn.map(Into::into),
                manufacturer: Some("Cisco".into()),
                category: Some("Networking".into()),
                sub_category: Some("Switches".into()),
            },
            name: format!("Item {id}"),
            description: None,
            quantity: 2.0,
            unit_price: 100.0,
            unit_cost: 80.0,
            taxable: true,
        }
    }

    #[test]
    fn product_keys_prefer_part_number_then_sku() {
        assert_eq!(
            product_key(Some("ING-1"), Some(" c9200-24t ")).as_deref(),
            Some("mpn:C9200-24T")
        );
        assert_eq!(product_key(Some("ING-1"), Some("")).as_deref(), Some("sku:ING-1"));
        assert_eq!(product_key(None, None), None);
    }

    #[test]
    fn lookup_skips_mapped_keys_and_deduplicates() {
        let mut doc = super::super::fixtures::doc();
        doc.lines = vec![
            product_line("1", Some("S1"), Some("P1")),
            product_line("2", Some("s1"), Some("p1")),
            product_line("3", None, Some("P3")),
            product_line("4", Some("S4"), Some("P4")),
        ];
        let lookup = product_lookup(&doc, |key| key == "mpn:P4");
        assert_eq!(lookup.part_numbers, ["P1", "P3"]);
        assert_eq!(lookup.skus, ["S1", "P3"]);
    }

    #[test]
    fn index_matches_mapping_then_part_number_then_sku_preferring_active() {
        let found = |v: Value| v.as_object().cloned().unwrap();
        let index = ProductIndex {
            mapped: [("mpn:M".to_string(), 1)].into(),
            found: vec![
                found(json!({"id": 2, "sku": "X", "manufacturerProductName": "P", "isActive": false})),
                found(json!({"id": 3, "sku": "Y", "manufacturerProductName": "p", "isActive": true})),
                found(json!({"id": 4, "sku": "S", "manufacturerProductName": null})),
            ],
        };
        assert_eq!(index.find("mpn:M", None, Some("M")), Some(1));
        assert_eq!(index.find("mpn:P", None, Some("P")), Some(3));
        assert_eq!(index.find("sku:S", Some("S"), None), Some(4));
        assert_eq!(index.find("mpn:Q", Some("Q"), Some("Q")), None);
    }

    #[test]
    fn autotask_lines_keep_their_identity_and_type() {
        let mut line = product_line("9", None, None);
        for (kind, code, field) in [
            (AutotaskItemKind::Service, 111, "serviceID"),
            (AutotaskItemKind::ServiceBundle, 112, "serviceBundleID"),
            (AutotaskItemKind::Labor, 103, "laborID"),
        ] {
            line.kind = LineKind::Autotask(AutotaskIdentity { kind, id: 77 });
            let (item_type, reference) = line_reference(&line, None).unwrap();
            let body = desired_item(&line, item_type, reference, &item_types())
                .unwrap()
                .create_body();
            assert_eq!(body["quoteItemType"], code);
            assert_eq!(body[field], 77);
        }
    }

    #[test]
    fn a_product_line_without_key_is_a_line_problem() {
        let problem = line_reference(&product_line("5", None, None), None).unwrap_err();
        assert_eq!(problem.code, "product_key_missing");
        assert_eq!(problem.line_id, "5");
    }

    #[test]
    fn new_products_carry_manufacturer_category_and_billing_code() {
        let settings = DocumentSettings {
            categories: [("Networking/Switches".to_string(), 7)].into(),
            default_category: Some(1),
            ..DocumentSettings::default()
        };
        let body = new_product_body(&product_line("1", None, Some("C9200")), &settings, 55);
        assert_eq!(body["manufacturerName"], "Cisco");
        assert_eq!(body["manufacturerProductName"], "C9200");
        assert_eq!(body["sku"], "C9200");
        assert_eq!(body["productCategory"], 7);
        assert_eq!(body["productBillingCodeID"], 55);
        assert_eq!(body["isActive"], true);
    }

    #[test]
    fn shipping_item_only_with_charge_and_type() {
        let mut doc = super::super::fixtures::doc();
        doc.shipping_charge = 25.0;
        let types = item_types();
        let item = shipping_item(&doc, Some(9), &types).unwrap().unwrap();
        assert_eq!(item.create_body()["shippingID"], 9);
        assert_eq!(item.create_body()["quoteItemType"], 106);
        assert_eq!(item.create_body()["unitPrice"], json!(25.0));
        assert!(shipping_item(&doc, None, &types).unwrap().is_none());
        doc.shipping_charge = 0.0;
        assert!(shipping_item(&doc, Some(9), &types).unwrap().is_none());
    }

    #[test]
    fn item_type_codes_come_from_the_tenant_labels() {
        let picklist = [("PRODUCT", 7), ("ServiceBundle", 40), ("Cost", 2)];
        let labels = picklist.iter().map(|(l, _)| (*l).to_owned()).collect();
        let types = QuoteItemTypes::resolve(
            |label| {
                picklist
                    .iter()
                    .find(|(l, _)| l.eq_ignore_ascii_case(label))
                    .map(|(_, c)| *c)
            },
            labels,
        );
        assert_eq!(types.code(QuoteItemType::Product), Ok(7));
        assert_eq!(types.code(QuoteItemType::ServiceBundle), Ok(40));
        assert_eq!(types.type_of(40), Some(QuoteItemType::ServiceBundle));
        assert_eq!(types.type_of(2), None, "Cost is not a type the export writes");
        let missing = types.code(QuoteItemType::Labor).unwrap_err();
        assert_eq!(missing.item_type, QuoteItemType::Labor);
        let message = missing.to_string();
        assert!(message.contains("\"Labor\""), "{message}");
        assert!(message.contains("PRODUCT, ServiceBundle, Cost"), "{message}");
    }

    #[test]
    fn a_shipping_charge_needs_the_tenant_shipping_type() {
        let mut doc = super::super::fixtures::doc();
        doc.shipping_charge = 25.0;
        let types = QuoteItemTypes::resolve(|l| (l == "Product").then_some(1), vec!["Product".into()]);
        let missing = shipping_item(&doc, Some(9), &types).unwrap_err();
        assert_eq!(missing.item_type, QuoteItemType::Shipping);
        doc.shipping_charge = 0.0;
        assert_eq!(shipping_item(&doc, Some(9), &types), Ok(None));
    }
}
