//! The mapping screens' content: the guide's "SalesRep Mapping" and "Miscellaneous Field
//! Mapping" as flat fields (`rep.<key>`, `pay.<term>`, `quote.status` …) built from the saved
//! settings and the live options, and the settings a submitted form makes, with each refusal
//! named at its field. Leaving a row empty leaves it unmapped ("map one or two for testing").

use std::collections::BTreeMap;

use shared::domain::settings::{CategoryMapping, FieldMappings, SalesRepMapping, TenantSettings, ValueMapping};

use shared::sync::documents::convert::DEFAULT_SHIPPING_KEY;

use crate::options::{AutotaskOptions, ChannelOnlineValues, Choice};
use crate::screens::{Field, Group, Input};

/// A screen made of flat fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    SalesReps,
    FieldMapping,
}

/// Refusals by field name.
pub type FieldErrors = BTreeMap<String, String>;

const NOT_MAPPED: &str = "— not mapped —";
const NOT_SET: &str = "— not set —";
/// The free-entry row of each value list: a ChannelOnline value typed by hand.
const ANOTHER: &str = "+";

impl Section {
    pub fn route(self) -> &'static str {
        match self {
            Section::SalesReps => "/sales-reps",
            Section::FieldMapping => "/field-mapping",
        }
    }

    /// The confirmation token's action.
    pub fn action(self) -> &'static str {
        match self {
            Section::SalesReps => "sales-reps",
            Section::FieldMapping => "field-mapping",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Section::SalesReps => "Sales rep mapping",
            Section::FieldMapping => "Field mapping",
        }
    }

    pub fn audit_action(self) -> &'static str {
        match self {
            Section::SalesReps => "settings.sales-reps",
            Section::FieldMapping => "settings.field-mapping",
        }
    }

    pub fn groups(self, s: &TenantSettings, at: &AutotaskOptions, col: &ChannelOnlineValues) -> Vec<Group> {
        match self {
            Section::SalesReps => sales_rep_groups(s, at, col),
            Section::FieldMapping => field_mapping_groups(s, at, col),
        }
    }

    /// The settings with this section replaced by the submitted `values`. A value must be one
    /// Autotask offers, or the one already saved (kept even when Autotask stopped offering it).
    pub fn apply(
        self,
        s: &TenantSettings,
        at: &AutotaskOptions,
        values: &BTreeMap<String, String>,
    ) -> Result<TenantSettings, FieldErrors> {
        let current = flat(&self.groups(s, at, &ChannelOnlineValues::default()));
        let mut next = s.clone();
        let mut errors = FieldErrors::new();
        match self {
            Section::SalesReps => next.sales_reps = sales_reps_of(values, at, &current, &mut errors),
            Section::FieldMapping => {
                next.field_mappings = field_mappings_of(values, at, &current, &mut errors);
                next.opportunity_custom_field = text(values, "custom_field");
                next.bulk_sync.enabled = switch(values, "sync.enabled", &mut errors);
                next.bulk_sync.status_field_name = text(values, "sync.status_field");
                next.bulk_sync.approval_field_name = text(values, "sync.approval_field");
                next.bulk_sync.import_new_contacts = switch(values, "sync.import_contacts", &mut errors);
            }
        }
        if errors.is_empty()
            && let Err(e) = next.validate()
        {
            errors.insert(String::new(), e.to_string());
        }
        if errors.is_empty() { Ok(next) } else { Err(errors) }
    }
}

/// Every field's value by name.
pub fn flat(groups: &[Group]) -> BTreeMap<String, String> {
    groups
        .iter()
        .flat_map(|g| &g.fields)
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}

fn pick(choices: &[Choice]) -> Input {
    Input::Select {
        choices: choices.to_vec(),
        empty: NOT_MAPPED,
    }
}

fn optional(choices: &[Choice]) -> Input {
    Input::Select {
        choices: choices.to_vec(),
        empty: NOT_SET,
    }
}

fn id_text(id: Option<i64>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

fn sales_rep_groups(s: &TenantSettings, at: &AutotaskOptions, col: &ChannelOnlineValues) -> Vec<Group> {
    let mut reps: Vec<Choice> = col.sales_reps.clone();
    for m in &s.sales_reps {
        if !reps.iter().any(|r| r.value.eq_ignore_ascii_case(&m.col_sales_rep_id)) {
            reps.push(Choice {
                value: m.col_sales_rep_id.clone(),
                label: format!("{} (mapped; not on a current ChannelOnline record)", m.col_sales_rep_id),
            });
        }
    }
    let fields = reps
        .iter()
        .map(|rep| {
            let mapped = s
                .sales_reps
                .iter()
                .find(|m| m.col_sales_rep_id.eq_ignore_ascii_case(&rep.value))
                .map(|m| m.at_resource_id);
            Field::new(
                format!("rep.{}", rep.value),
                rep.label.clone(),
                pick(&at.resources),
                id_text(mapped),
            )
        })
        .collect();
    vec![Group {
        legend: "ChannelOnline sales rep → Autotask resource".into(),
        intro: Some(
            "Each sales rep's documents become opportunities owned by the chosen Autotask resource. \
             A resource can stand for one sales rep only. Leave a rep unmapped to use the company's owner."
                .into(),
        ),
        fields,
    }]
}

/// The chosen id of `name`, refused unless Autotask offers it (or it is what is saved).
fn chosen_id(
    name: &str,
    values: &BTreeMap<String, String>,
    offered: &[Choice],
    current: &BTreeMap<String, String>,
    errors: &mut FieldErrors,
) -> Option<i64> {
    let value = values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())?;
    let known = offered.iter().any(|c| c.value == value) || current.get(name).is_some_and(|c| c == value);
    match value.parse::<i64>() {
        Ok(id) if known && id > 0 => Some(id),
        _ => {
            errors.insert(
                name.to_owned(),
                format!("{value:?} is not one of the values Autotask offers here: choose one from the list."),
            );
            None
        }
    }
}

fn sales_reps_of(
    values: &BTreeMap<String, String>,
    at: &AutotaskOptions,
    current: &BTreeMap<String, String>,
    errors: &mut FieldErrors,
) -> Vec<SalesRepMapping> {
    let mut out: Vec<SalesRepMapping> = Vec::new();
    let mut taken: BTreeMap<i64, String> = BTreeMap::new();
    for name in values.keys().filter(|k| k.starts_with("rep.")) {
        let Some(id) = chosen_id(name, values, &at.resources, current, errors) else {
            continue;
        };
        let rep = &name["rep.".len()..];
        if let Some(other) = taken.get(&id) {
            let who = label_of(&at.resources, id);
            errors.insert(
                name.clone(),
                format!("{who} is already chosen for {other}: a resource stands for one sales rep only."),
            );
            continue;
        }
        taken.insert(id, rep.to_owned());
        out.push(SalesRepMapping {
            col_sales_rep_id: rep.to_owned(),
            at_resource_id: id,
        });
    }
    out
}

fn label_of(choices: &[Choice], id: i64) -> String {
    let id = id.to_string();
    choices
        .iter()
        .find(|c| c.value == id)
        .map_or_else(|| format!("#{id}"), |c| c.label.clone())
}

fn text(values: &BTreeMap<String, String>, name: &str) -> Option<String> {
    values.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The rows of a COL value → AT id list: the values ChannelOnline uses and those already
/// mapped, then one free-entry row.
fn value_rows(
    prefix: &str,
    noun: &str,
    col_values: &[String],
    mapped: &[ValueMapping],
    offered: &[Choice],
) -> Vec<Field> {
    let mut names: Vec<String> = col_values.to_vec();
    for m in mapped {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&m.col)) {
            names.push(m.col.clone());
        }
    }
    let mut fields: Vec<Field> = names
        .iter()
        .map(|col| {
            let at = mapped.iter().find(|m| m.col.eq_ignore_ascii_case(col)).map(|m| m.at_id);
            Field::new(format!("{prefix}.{col}"), col.clone(), pick(offered), id_text(at))
        })
        .collect();
    fields.push(
        Field::new(
            format!("{prefix}{ANOTHER}col"),
            format!("Another {noun}"),
            Input::Text,
            "",
        )
        .hint("A ChannelOnline value not listed above, typed exactly as ChannelOnline shows it."),
    );
    fields.push(Field::new(
        format!("{prefix}{ANOTHER}at"),
        "…maps to",
        pick(offered),
        "",
    ));
    fields
}

fn values_of(
    prefix: &str,
    values: &BTreeMap<String, String>,
    offered: &[Choice],
    current: &BTreeMap<String, String>,
    errors: &mut FieldErrors,
) -> Vec<ValueMapping> {
    let dotted = format!("{prefix}.");
    let mut out: Vec<ValueMapping> = values
        .keys()
        .filter(|k| k.starts_with(&dotted))
        .filter_map(|name| {
            let at_id = chosen_id(name, values, offered, current, errors)?;
            Some(ValueMapping {
                col: name[dotted.len()..].to_owned(),
                at_id,
            })
        })
        .collect();
    let (col_name, at_name) = (format!("{prefix}{ANOTHER}col"), format!("{prefix}{ANOTHER}at"));
    match (
        text(values, &col_name),
        chosen_id(&at_name, values, offered, current, errors),
    ) {
        (Some(col), Some(_)) if out.iter().any(|m| m.col.eq_ignore_ascii_case(&col)) => {
            errors.insert(
                col_name,
                format!("{col:?} is already listed above: choose its mapping there."),
            );
        }
        (Some(col), Some(at_id)) => out.push(ValueMapping { col, at_id }),
        (Some(_), None) if !errors.contains_key(&at_name) => {
            errors.insert(at_name, "Choose what this value maps to, or clear the value.".into());
        }
        (None, Some(_)) => {
            errors.insert(
                col_name,
                "Type the ChannelOnline value this maps, or clear the choice.".into(),
            );
        }
        _ => {}
    }
    out
}

/// `Category` or `Category / Sub-category`, as the categories list shows them.
fn category_label(category: &str, sub: Option<&str>) -> String {
    match sub {
        Some(sub) => format!("{category} / {sub}"),
        None => category.to_owned(),
    }
}

fn category_of(label: &str) -> (String, Option<String>) {
    match label.split_once(" / ") {
        Some((c, s)) => (c.trim().to_owned(), Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        None => (label.trim().to_owned(), None),
    }
}

fn field_mapping_groups(s: &TenantSettings, at: &AutotaskOptions, col: &ChannelOnlineValues) -> Vec<Group> {
    let fm = &s.field_mappings;
    let categories: Vec<String> = col
        .categories
        .iter()
        .map(|(c, sub)| category_label(c, sub.as_deref()))
        .collect();
    let category_mappings: Vec<ValueMapping> = fm
        .categories
        .iter()
        .map(|m| ValueMapping {
            col: category_label(&m.col_category, m.col_sub_category.as_deref()),
            at_id: m.at_product_category_id,
        })
        .collect();
    let mut category_fields = value_rows(
        "cat",
        "category",
        &categories,
        &category_mappings,
        &at.product_categories,
    );
    category_fields.push(
        Field::new(
            "default_category",
            "Any other category",
            optional(&at.product_categories),
            id_text(fm.default_product_category_id),
        )
        .hint("The Autotask product category of products whose ChannelOnline category is not mapped."),
    );
    let opportunity = |prefix: &str, o: &shared::domain::settings::OpportunityDefaults| {
        vec![
            Field::new(
                format!("{prefix}.status"),
                "Status",
                optional(&at.opportunity_statuses),
                id_text(o.status_id),
            ),
            Field::new(
                format!("{prefix}.stage"),
                "Stage",
                optional(&at.opportunity_stages),
                id_text(o.stage_id),
            ),
            Field::new(
                format!("{prefix}.probability"),
                "Probability (%)",
                Input::Number { min: 0, max: 100 },
                o.probability.map(|p| p.to_string()).unwrap_or_default(),
            ),
        ]
    };
    vec![
        Group {
            legend: "Payment terms".into(),
            intro: Some("Every exported document needs its payment terms mapped.".into()),
            fields: value_rows(
                "pay",
                "payment term",
                &col.payment_terms,
                &fm.payment_terms,
                &at.payment_terms,
            ),
        },
        Group {
            legend: "Shipping types".into(),
            intro: Some("The ChannelOnline delivery method sets the Autotask quote's shipping type.".into()),
            fields: shipping_fields(fm, at, col),
        },
        Group {
            legend: "Product categories".into(),
            intro: Some("Products created in Autotask get the category mapped to their ChannelOnline category.".into()),
            fields: category_fields,
        },
        Group {
            legend: "Products and new companies".into(),
            intro: None,
            fields: vec![
                Field::new(
                    "billing_code",
                    "Material (billing) code",
                    optional(&at.billing_codes),
                    id_text(fm.default_billing_code_id),
                )
                .hint("Put on the products and quote items the export creates."),
                Field::new(
                    "company_type",
                    "Type of a new company",
                    optional(&at.company_types),
                    id_text(fm.new_company.company_type_id),
                ),
                Field::new(
                    "company_owner",
                    "Owner of a new company",
                    optional(&at.resources),
                    id_text(fm.new_company.owner_resource_id),
                ),
            ],
        },
        Group {
            legend: "Opportunity of an exported quote".into(),
            intro: None,
            fields: opportunity("quote", &fm.quote_opportunity),
        },
        Group {
            legend: "Opportunity of an exported sales order".into(),
            intro: None,
            fields: opportunity("order", &fm.sales_order_opportunity),
        },
        Group {
            legend: "ChannelOnline document".into(),
            intro: None,
            fields: vec![
                Field::new(
                    "custom_field",
                    "Custom field for the opportunity number",
                    Input::Text,
                    s.opportunity_custom_field.clone().unwrap_or_default(),
                )
                .hint("The document-level custom field the export writes the Autotask opportunity id into."),
            ],
        },
        Group {
            legend: "Scheduled sync".into(),
            intro: Some(
                "The hourly sync keeps mapped customers and contacts alike both ways and brings the deal's \
                 status back from Autotask."
                    .into(),
            ),
            fields: vec![
                Field::new(
                    "sync.enabled",
                    "Scheduled sync",
                    yes_no("off"),
                    on_off(s.bulk_sync.enabled),
                ),
                Field::new(
                    "sync.status_field",
                    "Custom field for the Autotask status",
                    Input::Text,
                    s.bulk_sync.status_field_name.clone().unwrap_or_default(),
                )
                .hint("The document custom field the sync writes the opportunity's status into (won, lost …)."),
                Field::new(
                    "sync.approval_field",
                    "Custom field for the quote's approval",
                    Input::Text,
                    s.bulk_sync.approval_field_name.clone().unwrap_or_default(),
                )
                .hint("Where the sync writes the customer's approval from Autotask's portal, if used."),
                Field::new(
                    "sync.import_contacts",
                    "New Autotask contacts",
                    Input::Select {
                        choices: vec![Choice {
                            value: "on".into(),
                            label: "imported into ChannelOnline".into(),
                        }],
                        empty: "left in Autotask only",
                    },
                    on_off(s.bulk_sync.import_new_contacts),
                ),
            ],
        },
    ]
}

fn yes_no(off: &'static str) -> Input {
    Input::Select {
        choices: vec![Choice {
            value: "on".into(),
            label: "on".into(),
        }],
        empty: off,
    }
}

fn on_off(on: bool) -> String {
    if on { "on".into() } else { String::new() }
}

fn switch(values: &BTreeMap<String, String>, name: &str, errors: &mut FieldErrors) -> bool {
    match values.get(name).map(|v| v.trim()) {
        None | Some("") => false,
        Some("on") => true,
        Some(other) => {
            errors.insert(
                name.to_owned(),
                format!("{other:?} is not a choice here: choose from the list."),
            );
            false
        }
    }
}

/// The delivery-method rows, then the default (the mapping of [`DEFAULT_SHIPPING_KEY`]).
fn shipping_fields(fm: &FieldMappings, at: &AutotaskOptions, col: &ChannelOnlineValues) -> Vec<Field> {
    let (default, named): (Vec<ValueMapping>, Vec<ValueMapping>) = fm
        .shipping_types
        .iter()
        .cloned()
        .partition(|m| m.col.trim() == DEFAULT_SHIPPING_KEY);
    let mut fields = value_rows(
        "ship",
        "delivery method",
        &col.shipping_types,
        &named,
        &at.shipping_types,
    );
    fields.push(
        Field::new(
            "ship_default",
            "Any other delivery method",
            optional(&at.shipping_types),
            id_text(default.first().map(|m| m.at_id)),
        )
        .hint("The shipping type of documents whose delivery method is not mapped, or has none."),
    );
    fields
}

fn probability(values: &BTreeMap<String, String>, name: &str, errors: &mut FieldErrors) -> Option<u8> {
    let value = text(values, name)?;
    match value.parse::<u8>() {
        Ok(p) if p <= 100 => Some(p),
        _ => {
            errors.insert(name.to_owned(), "Enter a whole percentage from 0 to 100.".into());
            None
        }
    }
}

fn shipping_of(
    values: &BTreeMap<String, String>,
    at: &AutotaskOptions,
    current: &BTreeMap<String, String>,
    errors: &mut FieldErrors,
) -> Vec<ValueMapping> {
    let mut out = values_of("ship", values, &at.shipping_types, current, errors);
    if let Some(at_id) = chosen_id("ship_default", values, &at.shipping_types, current, errors) {
        out.push(ValueMapping {
            col: DEFAULT_SHIPPING_KEY.to_owned(),
            at_id,
        });
    }
    out
}

fn field_mappings_of(
    values: &BTreeMap<String, String>,
    at: &AutotaskOptions,
    current: &BTreeMap<String, String>,
    errors: &mut FieldErrors,
) -> FieldMappings {
    let mut id = |name: &str, offered: &[Choice]| chosen_id(name, values, offered, current, errors);
    let default_product_category_id = id("default_category", &at.product_categories);
    let default_billing_code_id = id("billing_code", &at.billing_codes);
    let company_type_id = id("company_type", &at.company_types);
    let owner_resource_id = id("company_owner", &at.resources);
    let quote_status = id("quote.status", &at.opportunity_statuses);
    let quote_stage = id("quote.stage", &at.opportunity_stages);
    let order_status = id("order.status", &at.opportunity_statuses);
    let order_stage = id("order.stage", &at.opportunity_stages);
    let categories = values_of("cat", values, &at.product_categories, current, errors)
        .into_iter()
        .map(|m| {
            let (col_category, col_sub_category) = category_of(&m.col);
            CategoryMapping {
                col_category,
                col_sub_category,
                at_product_category_id: m.at_id,
            }
        })
        .collect();
    FieldMappings {
        payment_terms: values_of("pay", values, &at.payment_terms, current, errors),
        shipping_types: shipping_of(values, at, current, errors),
        categories,
        default_product_category_id,
        quote_opportunity: shared::domain::settings::OpportunityDefaults {
            status_id: quote_status,
            stage_id: quote_stage,
            probability: probability(values, "quote.probability", errors),
        },
        sales_order_opportunity: shared::domain::settings::OpportunityDefaults {
            status_id: order_status,
            stage_id: order_stage,
            probability: probability(values, "order.probability", errors),
        },
        new_company: shared::domain::settings::NewCompanyDefaults {
            company_type_id,
            owner_resource_id,
        },
        default_billing_code_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(value: i64, label: &str) -> Choice {
        Choice {
            value: value.to_string(),
            label: label.into(),
        }
    }

    fn options() -> AutotaskOptions {
        AutotaskOptions {
            resources: vec![
                choice(29, "Jane Doe <jane@r.example>"),
                choice(31, "Max Roe <max@r.example>"),
            ],
            payment_terms: vec![choice(1, "Net 30"), choice(2, "Due on receipt")],
            opportunity_statuses: vec![choice(1, "Active")],
            ..AutotaskOptions::default()
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sales_reps_map_only_what_is_chosen_and_a_resource_once() {
        let s = TenantSettings::default();
        let ok = Section::SalesReps
            .apply(&s, &options(), &values(&[("rep.bob@x", "29"), ("rep.amy@x", "")]))
            .unwrap();
        assert_eq!(
            ok.sales_reps,
            vec![SalesRepMapping {
                col_sales_rep_id: "bob@x".into(),
                at_resource_id: 29
            }]
        );
        let twice = Section::SalesReps
            .apply(&s, &options(), &values(&[("rep.amy@x", "29"), ("rep.bob@x", "29")]))
            .unwrap_err();
        assert_eq!(
            twice["rep.bob@x"],
            "Jane Doe <jane@r.example> is already chosen for amy@x: a resource stands for one sales rep only."
        );
        let forged = Section::SalesReps
            .apply(&s, &options(), &values(&[("rep.amy@x", "999")]))
            .unwrap_err();
        assert!(forged["rep.amy@x"].contains("not one of the values"), "{forged:?}");
    }

    #[test]
    fn field_mapping_takes_listed_rows_the_free_row_and_refuses_half_rows() {
        let s = TenantSettings::default();
        let next = Section::FieldMapping
            .apply(
                &s,
                &options(),
                &values(&[
                    ("pay.Net 30", "1"),
                    ("pay+col", "COD"),
                    ("pay+at", "2"),
                    ("quote.status", "1"),
                    ("quote.probability", "40"),
                    ("custom_field", " AT Opportunity "),
                ]),
            )
            .unwrap();
        let terms: Vec<(&str, i64)> = next
            .field_mappings
            .payment_terms
            .iter()
            .map(|m| (m.col.as_str(), m.at_id))
            .collect();
        assert_eq!(terms, [("Net 30", 1), ("COD", 2)]);
        assert_eq!(next.field_mappings.quote_opportunity.status_id, Some(1));
        assert_eq!(next.field_mappings.quote_opportunity.probability, Some(40));
        assert_eq!(next.opportunity_custom_field.as_deref(), Some("AT Opportunity"));
        let half = Section::FieldMapping
            .apply(
                &s,
                &options(),
                &values(&[("pay+col", "COD"), ("quote.probability", "140")]),
            )
            .unwrap_err();
        assert_eq!(half["pay+at"], "Choose what this value maps to, or clear the value.");
        assert_eq!(half["quote.probability"], "Enter a whole percentage from 0 to 100.");
    }

    #[test]
    fn the_default_shipping_type_is_its_own_field_not_a_row_named_star() {
        let mut at = options();
        at.shipping_types = vec![choice(1, "Ground"), choice(2, "Next Day Air")];
        let mut s = TenantSettings::default();
        s.field_mappings.shipping_types = vec![
            ValueMapping {
                col: "UPS Ground".into(),
                at_id: 1,
            },
            ValueMapping {
                col: DEFAULT_SHIPPING_KEY.into(),
                at_id: 2,
            },
        ];
        let current = flat(&Section::FieldMapping.groups(&s, &at, &ChannelOnlineValues::default()));
        assert_eq!(current["ship_default"], "2");
        assert!(
            !current.contains_key(&format!("ship.{DEFAULT_SHIPPING_KEY}")),
            "{current:?}"
        );
        let saved = Section::FieldMapping.apply(&s, &at, &current).unwrap();
        assert_eq!(saved.field_mappings.shipping_types, s.field_mappings.shipping_types);
        let mut cleared = current.clone();
        cleared.insert("ship_default".into(), String::new());
        let saved = Section::FieldMapping.apply(&s, &at, &cleared).unwrap();
        assert_eq!(saved.field_mappings.shipping_types.len(), 1);
    }

    #[test]
    fn the_form_shows_saved_values_and_keeps_ones_autotask_stopped_offering() {
        let mut s = TenantSettings::default();
        s.field_mappings.payment_terms.push(ValueMapping {
            col: "Net 60".into(),
            at_id: 77,
        });
        let col = ChannelOnlineValues {
            payment_terms: vec!["Net 30".into()],
            ..ChannelOnlineValues::default()
        };
        let current = flat(&Section::FieldMapping.groups(&s, &options(), &col));
        assert_eq!(current["pay.Net 30"], "");
        assert_eq!(current["pay.Net 60"], "77");
        // 77 is no longer offered, but saving the form unchanged keeps it
        let kept = Section::FieldMapping.apply(&s, &options(), &current).unwrap();
        assert_eq!(kept.field_mappings.payment_terms, s.field_mappings.payment_terms);
    }
}
