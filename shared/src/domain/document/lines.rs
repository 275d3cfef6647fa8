//! Document lines → Autotask quote items (and the products that must exist first).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::input::{AutotaskItemKind, DocumentInput, DocumentLine, LineKind};
use super::opportunity::truncate;
use super::plan::{IdRef, Pending};
use super::quote::id_of;
use super::settings::DocumentSettings;

/// The line id under which the shipping item is tracked (COL line ids are numeric).
pub const SHIPPING_LINE_ID: &str = "#shipping";

/// Autotask `quoteItemType` picklist values (reference §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteItemType {
    Product,
    Labor,
    Shipping,
    Service,
    ServiceBundle,
}

impl QuoteItemType {
    pub fn code(self) -> i64 {
        match self {
            Self::Product => 1,
            Self::Labor => 3,
            Self::Shipping => 6,
            Self::Service => 11,
            Self::ServiceBundle => 12,
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

    pub fn for_autotask(kind: AutotaskItemKind) -> Self {
        match kind {
            AutotaskItemKind::Service => Self::Service,
            AutotaskItemKind::ServiceBundle => Self::ServiceBundle,
            AutotaskItemKind::Labor => Self::Labor,
        }
    }
}

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
        let same_type = existing.get("quoteItemType").and_then(as_i64) == Some(self.item_type.code());
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
    item_type: QuoteItemType,
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
    map.insert("quoteItemType".into(), json!(item_type.code()));
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
pub fn shipping_item(doc: &DocumentInput, shipping_type_id: Option<i64>) -> Option<DesiredItem> {
    let id = shipping_type_id?;
    if doc.shipping_charge <= 0.0 {
        return None;
    }
    let name = doc
        .shipping_method
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Shipping");
    let fields = item_fields(
        QuoteItemType::Shipping,
        name,
        None,
        1.0,
        doc.shipping_charge,
        0.0,
        false,
    );
    Some(DesiredItem {
        line_id: SHIPPING_LINE_ID.into(),
        item_type: QuoteItemType::Shipping,
        reference: IdRef::Id(id),
        hash: hash_value(&json!({ "shipping": id, "charge": doc.shipping_charge, "name": name })),
        fields,
    })
}

/// Why a line cannot become a quote item (reported for that line only).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LineProblem {
    pub line_id: String,
    pub code: &'static str,
    pub message: String,
}

/// The quote item a line becomes; `product` gives the Autotask product (or a pending create).
pub fn desired_item(line: &DocumentLine, product: Option<IdRef>) -> Result<DesiredItem, LineProblem> {
    let (item_type, reference) = match (&line.kind, product) {
        (LineKind::Autotask(identity), _) => (QuoteItemType::for_autotask(identity.kind), IdRef::Id(identity.id)),
        (LineKind::Product { .. }, Some(product)) => (QuoteItemType::Product, product),
        (LineKind::Product { .. }, None) => {
            return Err(LineProblem {
                line_id: line.line_id.clone(),
                code: "product_key_missing",
                message: format!(
                    "Line \"{}\" has neither a manufacturer part number nor a SKU, so its Autotask product cannot be found or created. Add one to the line.",
                    line.name
                ),
            });
        }
    };
    let fields = item_fields(
        item_type,
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
        for (kind, item_type, field) in [
            (AutotaskItemKind::Service, 11, "serviceID"),
            (AutotaskItemKind::ServiceBundle, 12, "serviceBundleID"),
            (AutotaskItemKind::Labor, 3, "laborID"),
        ] {
            line.kind = LineKind::Autotask(AutotaskIdentity { kind, id: 77 });
            let body = desired_item(&line, None).unwrap().create_body();
            assert_eq!(body["quoteItemType"], item_type);
            assert_eq!(body[field], 77);
        }
    }

    #[test]
    fn a_product_line_without_key_is_a_line_problem() {
        let problem = desired_item(&product_line("5", None, None), None).unwrap_err();
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
        let item = shipping_item(&doc, Some(9)).unwrap();
        assert_eq!(item.create_body()["shippingID"], 9);
        assert_eq!(item.create_body()["quoteItemType"], 6);
        assert_eq!(item.create_body()["unitPrice"], json!(25.0));
        assert!(shipping_item(&doc, None).is_none());
        doc.shipping_charge = 0.0;
        assert!(shipping_item(&doc, Some(9)).is_none());
    }
}
