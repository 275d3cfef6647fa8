//! Ties the rules together: document + mappings + Autotask state → the [`Plan`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::{Map, Value, json};

use super::diff::changed_fields;
use super::input::{DocumentInput, LineKind};
use super::lines::{
    DesiredItem, LineProblem, MissingQuoteItemType, ProductIndex, QuoteItemTypes, desired_item, line_reference,
    new_product_body, pending_product, product_key, shipping_item,
};
use super::opportunity::{BadOpportunityField, OpportunityChoice, new_opportunity_body, tracked_opportunity_fields};
use super::plan::{
    ApiCall, IdRef, LineAction, LinePlan, LocationRole, Method, OpportunitySource, Pending, Plan, PlanEntity, Step,
    StepKind,
};
use super::preconditions::Ready;
use super::quote::{
    ForeignQuote, choose_quote, id_of, location_address, location_body, new_quote_body, tracked_quote_fields,
};
use super::record::ExportRecord;
use super::settings::DocumentSettings;

/// What the caller asked for besides the document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportRequest {
    pub opportunity_id: Option<i64>,
    pub custom_name: Option<String>,
}

/// What exists in Autotask for this document, as read by the executor (raw entity JSON).
#[derive(Clone, Debug, Default)]
pub struct AutotaskState {
    /// The chosen existing opportunity (absent when a new one is created, or not found).
    pub opportunity: Option<Map<String, Value>>,
    /// Quotes of that opportunity.
    pub quotes: Vec<Map<String, Value>>,
    /// QuoteLocations referenced by our quote.
    pub locations: Vec<Map<String, Value>>,
    /// Items of our quote.
    pub items: Vec<Map<String, Value>>,
    pub products: ProductIndex,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    BadOpportunityField(#[from] BadOpportunityField),
    #[error("Autotask opportunity {id} does not exist or cannot be read")]
    OpportunityNotFound { id: i64 },
    #[error("Autotask opportunity {id} belongs to company {actual}, not to the customer's company {expected}")]
    OpportunityOfOtherCompany { id: i64, actual: i64, expected: i64 },
    #[error(transparent)]
    ForeignQuote(#[from] ForeignQuote),
    #[error(transparent)]
    QuoteItemTypeMissing(#[from] MissingQuoteItemType),
}

/// Everything [`plan_export`] reads.
pub struct PlanInput<'a> {
    pub doc: &'a DocumentInput,
    pub ready: &'a Ready,
    pub settings: &'a DocumentSettings,
    pub request: &'a ExportRequest,
    pub previous: Option<&'a ExportRecord>,
    pub choice: OpportunityChoice,
    pub state: &'a AutotaskState,
    /// The tenant's `quoteItemType` codes.
    pub item_types: &'a QuoteItemTypes,
    pub today: NaiveDate,
}

/// Plans the export: the writes that make Autotask match the document, and nothing else.
pub fn plan_export(input: PlanInput<'_>) -> Result<Plan, PlanError> {
    let PlanInput {
        doc,
        ready,
        settings,
        request,
        previous,
        choice,
        state,
        item_types,
        today,
    } = input;
    let title = doc.title(request.custom_name.as_deref());
    let mut steps = Vec::new();

    // Opportunity.
    let (opportunity, source) = match choice {
        OpportunityChoice::New => {
            steps.push(Step {
                kind: StepKind::CreateOpportunity,
                summary: format!("Create opportunity \"{title}\""),
                line_ids: vec![],
                creates: Some(Pending::Opportunity),
                call: ApiCall::post(
                    PlanEntity::Opportunities,
                    new_opportunity_body(doc, ready, &title, today),
                ),
            });
            (IdRef::Pending(Pending::Opportunity), OpportunitySource::New)
        }
        OpportunityChoice::Existing { id, source } => {
            let existing = state.opportunity.as_ref().filter(|o| id_of(o) == Some(id));
            let existing = existing.ok_or(PlanError::OpportunityNotFound { id })?;
            let company = existing.get("companyID").and_then(Value::as_i64).unwrap_or_default();
            if company != ready.company_id {
                return Err(PlanError::OpportunityOfOtherCompany {
                    id,
                    actual: company,
                    expected: ready.company_id,
                });
            }
            let ours = previous.is_some_and(|r| r.opportunity_id == id && r.opportunity_created);
            if ours {
                let changes = changed_fields(&tracked_opportunity_fields(doc), existing);
                if !changes.is_empty() {
                    steps.push(update_step(
                        StepKind::UpdateOpportunity,
                        PlanEntity::Opportunities,
                        id,
                        changes,
                        "opportunity totals",
                    ));
                }
            }
            (IdRef::Id(id), source)
        }
    };

    // Quote and its locations.
    let our_quote = match &opportunity {
        IdRef::Id(id) => choose_quote(*id, &state.quotes, previous, &doc.number)?,
        IdRef::Pending(_) => None,
    };
    let quote = match our_quote {
        None => {
            let mut location_refs = Vec::new();
            for role in LocationRole::ALL {
                steps.push(create_location(doc, role));
                location_refs.push(Pending::Location(role).placeholder());
            }
            let locations: [Value; 3] = location_refs.try_into().expect("three roles");
            let body = new_quote_body(doc, ready, &title, today, opportunity.to_value(), locations);
            steps.push(Step {
                kind: StepKind::CreateQuote,
                summary: format!("Create quote \"{title}\""),
                line_ids: vec![],
                creates: Some(Pending::Quote),
                call: ApiCall::post(PlanEntity::Quotes, body),
            });
            IdRef::Pending(Pending::Quote)
        }
        Some(existing) => {
            let quote_id = id_of(existing).unwrap_or_default();
            let mut desired = tracked_quote_fields(doc, ready, &title);
            for role in LocationRole::ALL {
                let location_id = existing.get(role.quote_field()).and_then(Value::as_i64);
                let location = location_id.and_then(|lid| state.locations.iter().find(|l| id_of(l) == Some(lid)));
                match (location_id, location) {
                    (Some(lid), Some(location)) => {
                        let changes = changed_fields(&location_body(&location_address(doc, role)), location);
                        if !changes.is_empty() {
                            let what = format!("{} address", role.tag().replace('_', "-"));
                            steps.push(update_step(
                                StepKind::UpdateLocation,
                                PlanEntity::QuoteLocations,
                                lid,
                                changes,
                                &what,
                            ));
                        }
                    }
                    _ => {
                        steps.push(create_location(doc, role));
                        desired.insert(role.quote_field().into(), Pending::Location(role).placeholder());
                    }
                }
            }
            let changes = changed_fields(&desired, existing);
            if !changes.is_empty() {
                steps.push(update_step(
                    StepKind::UpdateQuote,
                    PlanEntity::Quotes,
                    quote_id,
                    changes,
                    "quote",
                ));
            }
            IdRef::Id(quote_id)
        }
    };

    // Products to create, then the items in document order.
    let mut refused = Vec::new();
    let mut desired = Vec::new();
    let mut new_products: BTreeMap<String, usize> = BTreeMap::new();
    let mut product_of_line: BTreeMap<String, (String, IdRef)> = BTreeMap::new();
    for line in &doc.lines {
        let product = match &line.kind {
            LineKind::Autotask(_) => None,
            LineKind::Product { sku, part_number, .. } => {
                let Some(key) = product_key(sku.as_deref(), part_number.as_deref()) else {
                    refused.push(line_reference(line, None).expect_err("no key is a line problem"));
                    continue;
                };
                match state.products.find(&key, sku.as_deref(), part_number.as_deref()) {
                    Some(id) => Some(IdRef::Id(id)),
                    None => match (new_products.get(&key), settings.default_billing_code) {
                        (Some(&step), _) => {
                            steps[step].line_ids.push(line.line_id.clone());
                            Some(pending_product(&key))
                        }
                        (None, Some(billing_code)) => {
                            new_products.insert(key.clone(), steps.len());
                            steps.push(Step {
                                kind: StepKind::CreateProduct,
                                summary: format!("Create product \"{}\" ({key})", line.name),
                                line_ids: vec![line.line_id.clone()],
                                creates: Some(Pending::Product(key.clone())),
                                call: ApiCall::post(
                                    PlanEntity::Products,
                                    new_product_body(line, settings, billing_code),
                                ),
                            });
                            Some(pending_product(&key))
                        }
                        (None, None) => {
                            refused.push(LineProblem {
                                line_id: line.line_id.clone(),
                                code: "default_billing_code_missing",
                                message: format!(
                                    "Product {key} is not in Autotask and cannot be created without a billing code. Set the default billing code in the integration settings."
                                ),
                            });
                            continue;
                        }
                    },
                }
            }
        };
        if let (LineKind::Product { sku, part_number, .. }, Some(product)) = (&line.kind, &product)
            && let Some(key) = product_key(sku.as_deref(), part_number.as_deref())
        {
            product_of_line.insert(line.line_id.clone(), (key, product.clone()));
        }
        match line_reference(line, product) {
            Ok((item_type, reference)) => desired.push(desired_item(line, item_type, reference, item_types)?),
            Err(problem) => refused.push(problem),
        }
    }
    desired.extend(shipping_item(doc, ready.shipping_type_id, item_types)?);

    let refused_ids: BTreeSet<&str> = refused.iter().map(|p| p.line_id.as_str()).collect();
    let (mut lines, item_steps) = diff_items(&desired, &state.items, previous, &quote, &refused_ids);
    steps.extend(item_steps);
    for line in &mut lines {
        if let Some((key, product)) = product_of_line.remove(&line.line_id) {
            line.product_key = Some(key);
            line.product_id = match product {
                IdRef::Id(id) => Some(id),
                IdRef::Pending(_) => None,
            };
        }
    }

    Ok(Plan {
        document_number: doc.number.clone(),
        opportunity_source: source,
        opportunity,
        quote,
        lines,
        refused,
        steps,
    })
}

fn create_location(doc: &DocumentInput, role: LocationRole) -> Step {
    Step {
        kind: StepKind::CreateLocation,
        summary: format!("Create the quote's {} address", role.tag().replace('_', "-")),
        line_ids: vec![],
        creates: Some(Pending::Location(role)),
        call: ApiCall::post(
            PlanEntity::QuoteLocations,
            Value::Object(location_body(&location_address(doc, role))),
        ),
    }
}

fn update_step(kind: StepKind, entity: PlanEntity, id: i64, mut changes: Map<String, Value>, what: &str) -> Step {
    let fields: Vec<_> = changes.keys().cloned().collect();
    changes.insert("id".into(), json!(id));
    Step {
        kind,
        summary: format!("Update {what} {id}: {}", fields.join(", ")),
        line_ids: vec![],
        creates: None,
        call: ApiCall::patch(entity, Value::Object(changes)),
    }
}

/// Pairs desired items with existing ones (recorded item id first, then an identical item,
/// then one with the same type and reference), and emits deletes, updates and creates.
/// Existing items of refused lines are left alone: the line keeps its last good state.
fn diff_items(
    desired: &[DesiredItem],
    existing: &[Map<String, Value>],
    previous: Option<&ExportRecord>,
    quote: &IdRef,
    refused: &BTreeSet<&str>,
) -> (Vec<LinePlan>, Vec<Step>) {
    let mut claimed: Vec<Option<usize>> = vec![None; desired.len()];
    let mut taken = vec![false; existing.len()];
    let index_of = |id: i64| existing.iter().position(|e| id_of(e) == Some(id));

    // 1. The item this line created last time, if it still references the same thing.
    for (d, item) in desired.iter().enumerate() {
        let recorded = previous
            .and_then(|r| r.lines.get(&item.line_id))
            .and_then(|l| l.item_id);
        let recorded = recorded.or_else(|| {
            (item.line_id == super::lines::SHIPPING_LINE_ID)
                .then(|| previous.and_then(|r| r.shipping_item_id))
                .flatten()
        });
        if let Some(e) = recorded.and_then(index_of)
            && !taken[e]
            && item.same_reference(&existing[e])
        {
            claimed[d] = Some(e);
            taken[e] = true;
        }
    }
    // 2. An identical unclaimed item (a create whose answer was lost), then 3. same reference.
    for identical in [true, false] {
        for (d, item) in desired.iter().enumerate() {
            if claimed[d].is_some() {
                continue;
            }
            let found = existing.iter().enumerate().position(|(e, ex)| {
                !taken[e] && item.same_reference(ex) && (!identical || changed_fields(&item.fields, ex).is_empty())
            });
            if let Some(e) = found {
                claimed[d] = Some(e);
                taken[e] = true;
            }
        }
    }
    // Items of refused lines that were recorded are kept.
    for line_id in refused {
        let recorded = previous.and_then(|r| r.lines.get(*line_id)).and_then(|l| l.item_id);
        if let Some(e) = recorded.and_then(index_of) {
            taken[e] = true;
        }
    }

    let mut lines = Vec::new();
    let mut deletes = Vec::new();
    let mut updates = Vec::new();
    let mut creates = Vec::new();
    for (e, ex) in existing.iter().enumerate().filter(|(e, _)| !taken[*e]) {
        let id = id_of(ex).unwrap_or_default();
        let name = ex.get("name").and_then(Value::as_str).unwrap_or_default();
        deletes.push(Step {
            kind: StepKind::DeleteItem,
            summary: format!("Remove quote item {id} \"{name}\" (no longer on the document)"),
            line_ids: vec![],
            creates: None,
            call: ApiCall {
                method: Method::Delete,
                entity: PlanEntity::QuoteItems,
                parent: Some(quote.clone()),
                id: Some(id),
                body: None,
            },
        });
        let _ = e;
    }
    for (d, item) in desired.iter().enumerate() {
        let mut plan = LinePlan {
            line_id: item.line_id.clone(),
            item_type: item.item_type.label(),
            action: LineAction::Unchanged,
            item_id: None,
            hash: item.hash.clone(),
            product_key: None,
            product_id: None,
        };
        match claimed[d] {
            Some(e) => {
                let id = id_of(&existing[e]).unwrap_or_default();
                plan.item_id = Some(id);
                let mut changes = changed_fields(&item.fields, &existing[e]);
                if !changes.is_empty() {
                    plan.action = LineAction::Update;
                    let fields: Vec<_> = changes.keys().cloned().collect();
                    changes.insert("id".into(), json!(id));
                    updates.push(Step {
                        kind: StepKind::UpdateItem,
                        summary: format!(
                            "Update quote item {id} for line {}: {}",
                            item.line_id,
                            fields.join(", ")
                        ),
                        line_ids: vec![item.line_id.clone()],
                        creates: None,
                        call: ApiCall::patch(PlanEntity::QuoteItems, Value::Object(changes)).under_quote(quote.clone()),
                    });
                }
            }
            None => {
                plan.action = LineAction::Create;
                creates.push(Step {
                    kind: StepKind::CreateItem,
                    summary: format!("Add {} item for line {}", item.item_type.label(), item.line_id),
                    line_ids: vec![item.line_id.clone()],
                    creates: None,
                    call: ApiCall::post(PlanEntity::QuoteItems, item.create_body()).under_quote(quote.clone()),
                });
            }
        }
        lines.push(plan);
    }
    let steps = deletes.into_iter().chain(updates).chain(creates).collect();
    (lines, steps)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{doc, item_types, product_line, ready, service_line, settings, today};
    use super::super::input::AutotaskItemKind;
    use super::super::plan::ResolvedIds;
    use super::super::record::LineRecord;
    use super::*;

    /// A tiny stand-in for Autotask: runs a plan and returns the state and record it leaves.
    #[derive(Default)]
    struct FakeAutotask {
        next_id: i64,
        opportunities: Vec<Map<String, Value>>,
        quotes: Vec<Map<String, Value>>,
        locations: Vec<Map<String, Value>>,
        items: Vec<Map<String, Value>>,
        products: Vec<Map<String, Value>>,
    }

    impl FakeAutotask {
        fn run(&mut self, plan: &Plan, previous: Option<ExportRecord>) -> ExportRecord {
            let mut ids = ResolvedIds::default();
            let mut record = previous.unwrap_or_default();
            for step in &plan.steps {
                let mut body = step.call.body.clone().unwrap_or(Value::Null);
                ids.resolve_body(&mut body).unwrap();
                let mut body = body.as_object().cloned().unwrap_or_default();
                let table = match step.call.entity {
                    PlanEntity::Opportunities => &mut self.opportunities,
                    PlanEntity::Quotes => &mut self.quotes,
                    PlanEntity::QuoteLocations => &mut self.locations,
                    PlanEntity::QuoteItems => &mut self.items,
                    PlanEntity::Products => &mut self.products,
                };
                match step.call.method {
                    Method::Post => {
                        self.next_id += 1;
                        body.insert("id".into(), json!(self.next_id));
                        if let Some(parent) = &step.call.parent {
                            body.insert("quoteID".into(), json!(parent.resolve(&ids).unwrap()));
                        }
                        table.push(body);
                        if let Some(pending) = &step.creates {
                            ids.insert(pending.clone(), self.next_id);
                        }
                        if step.kind == StepKind::CreateItem {
                            record.lines.insert(
                                step.line_ids[0].clone(),
                                LineRecord {
                                    item_id: Some(self.next_id),
                                    ..LineRecord::default()
                                },
                            );
                        }
                    }
                    Method::Patch => {
                        let target = table.iter_mut().find(|r| id_of(r) == id_of(&body)).unwrap();
                        target.extend(body);
                    }
                    Method::Delete => table.retain(|r| id_of(r) != step.call.id),
                }
            }
            record.opportunity_id = plan.opportunity.resolve(&ids).unwrap();
            record.opportunity_created |= plan.opportunity_source == OpportunitySource::New;
            record.quote_id = Some(plan.quote.resolve(&ids).unwrap());
            record
        }

        fn state(&self, record: &ExportRecord) -> AutotaskState {
            let quote_id = record.quote_id;
            AutotaskState {
                opportunity: self
                    .opportunities
                    .iter()
                    .find(|o| id_of(o) == Some(record.opportunity_id))
                    .cloned(),
                quotes: self
                    .quotes
                    .iter()
                    .filter(|q| q["opportunityID"].as_i64() == Some(record.opportunity_id))
                    .cloned()
                    .collect(),
                locations: self.locations.clone(),
                items: self
                    .items
                    .iter()
                    .filter(|i| i["quoteID"].as_i64() == quote_id)
                    .cloned()
                    .collect(),
                products: ProductIndex {
                    mapped: BTreeMap::new(),
                    found: self.products.clone(),
                },
            }
        }
    }

    fn plan(d: &DocumentInput, previous: Option<&ExportRecord>, state: &AutotaskState) -> Result<Plan, PlanError> {
        plan_with(d, previous, state, &ExportRequest::default())
    }

    fn plan_with(
        d: &DocumentInput,
        previous: Option<&ExportRecord>,
        state: &AutotaskState,
        request: &ExportRequest,
    ) -> Result<Plan, PlanError> {
        let choice = super::super::opportunity::choose_opportunity(request.opportunity_id, d, previous)?;
        plan_export(PlanInput {
            doc: d,
            ready: &ready(),
            settings: &settings(),
            request,
            previous,
            choice,
            state,
            item_types: &item_types(),
            today: today(),
        })
    }

    /// 20 lines: 15 products Autotask knows, 5 it does not, plus shipping.
    fn twenty_line_quote() -> (DocumentInput, FakeAutotask) {
        let mut d = doc();
        d.lines = (1..=20).map(product_line).collect();
        d.lines[3] = service_line(4, AutotaskItemKind::Service, 901);
        d.lines[7] = service_line(8, AutotaskItemKind::Labor, 31);
        d.shipping_charge = 15.0;
        let mut at = FakeAutotask {
            next_id: 1000,
            ..FakeAutotask::default()
        };
        for n in 1..=15 {
            at.products.push(
                json!({ "id": n, "sku": format!("SKU-{n}"), "manufacturerProductName": format!("MPN-{n}") })
                    .as_object()
                    .cloned()
                    .unwrap(),
            );
        }
        (d, at)
    }

    fn kinds(plan: &Plan) -> Vec<StepKind> {
        plan.steps.iter().map(|s| s.kind).collect()
    }

    #[test]
    fn first_export_creates_opportunity_quote_locations_products_and_items_in_order() {
        // GIVEN a 20-line quote with 5 products unknown to Autotask and a shipping charge
        let (d, at) = twenty_line_quote();
        // WHEN it is planned for the first time
        let plan = plan(
            &d,
            None,
            &AutotaskState {
                products: at.state(&ExportRecord::default()).products,
                ..AutotaskState::default()
            },
        )
        .unwrap();
        // THEN the plan creates 1 opportunity, 3 locations, 1 quote, 5 products, 21 items
        assert_eq!(plan.count(StepKind::CreateOpportunity), 1);
        assert_eq!(plan.count(StepKind::CreateLocation), 3);
        assert_eq!(plan.count(StepKind::CreateQuote), 1);
        assert_eq!(plan.count(StepKind::CreateProduct), 5);
        assert_eq!(plan.count(StepKind::CreateItem), 21);
        assert_eq!(plan.steps.len(), 31);
        assert!(plan.refused.is_empty());
        // and the items follow document order, shipping last, with their types and references
        let items: Vec<&Step> = plan.steps.iter().filter(|s| s.kind == StepKind::CreateItem).collect();
        let order: Vec<&str> = items.iter().map(|s| s.line_ids[0].as_str()).collect();
        let mut expected: Vec<String> = (1..=20).map(|n| format!("L{n}")).collect();
        expected.push("#shipping".into());
        assert_eq!(order, expected);
        let body = |i: usize| items[i].call.body.clone().unwrap();
        assert_eq!(body(0)["productID"], 1);
        assert_eq!(body(0)["quantity"], json!(2.0));
        assert_eq!(body(0)["unitPrice"], json!(101.0));
        assert_eq!(body(0)["quoteItemType"], 101);
        assert_eq!(body(3)["quoteItemType"], 111);
        assert_eq!(body(7)["quoteItemType"], 103);
        assert_eq!(body(20)["quoteItemType"], 106);
        assert_eq!(body(3)["serviceID"], 901);
        assert_eq!(body(7)["laborID"], 31);
        assert_eq!(body(15)["productID"], json!({"$ref": "product:mpn:MPN-16"}));
        assert_eq!(body(20)["shippingID"], 9);
        assert_eq!(items[0].call.path(), "/V1.0/Quotes/{$ref:quote}/Items");
        // and the quote references the opportunity and the three new locations
        let quote = plan
            .steps
            .iter()
            .find(|s| s.kind == StepKind::CreateQuote)
            .unwrap()
            .call
            .body
            .clone()
            .unwrap();
        assert_eq!(quote["opportunityID"], json!({"$ref": "opportunity"}));
        assert_eq!(quote["soldToLocationID"], json!({"$ref": "location.sold_to"}));
        assert_eq!(
            (quote["paymentTerm"].clone(), quote["shippingType"].clone()),
            (json!(3), json!(9))
        );
        assert_eq!(quote["externalQuoteNumber"], "Q1001");
    }

    #[test]
    fn unchanged_reexport_plans_nothing() {
        // GIVEN a quote exported once
        let (d, mut at) = twenty_line_quote();
        let first = plan(&d, None, &at.state(&ExportRecord::default())).unwrap();
        let record = at.run(&first, None);
        // WHEN it is planned again unchanged
        let again = plan(&d, Some(&record), &at.state(&record)).unwrap();
        // THEN there is nothing to write and every line is unchanged
        assert!(again.is_empty(), "{:#?}", again.steps);
        assert!(
            again
                .lines
                .iter()
                .all(|l| l.action == LineAction::Unchanged && l.item_id.is_some())
        );
        assert_eq!(again.opportunity_source, OpportunitySource::PreviousExport);
    }

    #[test]
    fn changed_removed_and_added_lines_give_exactly_three_item_writes() {
        // GIVEN an exported quote
        let (mut d, mut at) = twenty_line_quote();
        let record = at.run(&plan(&d, None, &at.state(&ExportRecord::default())).unwrap(), None);
        // WHEN one quantity changes, one line is removed and one added (a known product)
        d.lines[0].quantity = 9.0;
        d.lines.remove(5);
        let mut added = product_line(2);
        added.line_id = "L99".into();
        d.lines.push(added);
        let again = plan(&d, Some(&record), &at.state(&record)).unwrap();
        // THEN exactly one update, one delete and one create are planned (plus opportunity totals)
        assert_eq!(again.item_writes(), 3, "{:#?}", again.steps);
        assert_eq!(again.count(StepKind::UpdateItem), 1);
        assert_eq!(again.count(StepKind::DeleteItem), 1);
        assert_eq!(again.count(StepKind::CreateItem), 1);
        let update = again.steps.iter().find(|s| s.kind == StepKind::UpdateItem).unwrap();
        assert_eq!(update.call.body.as_ref().unwrap()["quantity"], json!(9.0));
        assert_eq!(again.count(StepKind::UpdateOpportunity), 1);
        // and once executed, the next plan is empty
        let record = at.run(&again, Some(record));
        assert!(plan(&d, Some(&record), &at.state(&record)).unwrap().is_empty());
    }

    #[test]
    fn an_item_created_without_a_recorded_answer_is_adopted_not_duplicated() {
        // GIVEN an export whose item ids were never recorded (crash after the creates)
        let (d, mut at) = twenty_line_quote();
        let mut record = at.run(&plan(&d, None, &at.state(&ExportRecord::default())).unwrap(), None);
        record.lines.clear();
        // WHEN planned again
        let again = plan(&d, Some(&record), &at.state(&record)).unwrap();
        // THEN no item is created, updated or removed
        assert_eq!(again.item_writes(), 0);
        assert!(again.lines.iter().all(|l| l.item_id.is_some()));
    }

    #[test]
    fn a_quote_created_without_a_recorded_answer_is_found_by_its_document_number() {
        let (d, mut at) = twenty_line_quote();
        let mut record = at.run(&plan(&d, None, &at.state(&ExportRecord::default())).unwrap(), None);
        let quote_id = record.quote_id.take();
        let again = plan(
            &d,
            Some(&record),
            &at.state(&ExportRecord {
                quote_id,
                ..record.clone()
            }),
        )
        .unwrap();
        assert_eq!(again.quote, IdRef::Id(quote_id.unwrap()));
        assert_eq!(again.count(StepKind::CreateQuote), 0);
    }

    #[test]
    fn attaching_to_an_existing_opportunity_of_the_company_creates_only_the_quote() {
        let (d, at) = twenty_line_quote();
        let state = AutotaskState {
            opportunity: json!({"id": 77, "companyID": 100, "amount": 1.0}).as_object().cloned(),
            ..at.state(&ExportRecord::default())
        };
        let request = ExportRequest {
            opportunity_id: Some(77),
            custom_name: Some("Site B".into()),
        };
        let plan = plan_with(&d, None, &state, &request).unwrap();
        assert_eq!(plan.opportunity, IdRef::Id(77));
        assert_eq!(plan.opportunity_source, OpportunitySource::Given);
        assert_eq!(
            plan.count(StepKind::CreateOpportunity) + plan.count(StepKind::UpdateOpportunity),
            0
        );
        let quote = plan.steps.iter().find(|s| s.kind == StepKind::CreateQuote).unwrap();
        assert_eq!(quote.call.body.as_ref().unwrap()["opportunityID"], 77);
        assert_eq!(quote.call.body.as_ref().unwrap()["name"], "Site B");
    }

    #[test]
    fn an_opportunity_of_another_company_is_refused() {
        let d = doc();
        let state = AutotaskState {
            opportunity: json!({"id": 77, "companyID": 555}).as_object().cloned(),
            ..AutotaskState::default()
        };
        let request = ExportRequest {
            opportunity_id: Some(77),
            custom_name: None,
        };
        assert_eq!(
            plan_with(&d, None, &state, &request).unwrap_err(),
            PlanError::OpportunityOfOtherCompany {
                id: 77,
                actual: 555,
                expected: 100
            }
        );
        let request = ExportRequest {
            opportunity_id: Some(78),
            custom_name: None,
        };
        assert_eq!(
            plan_with(&d, None, &state, &request).unwrap_err(),
            PlanError::OpportunityNotFound { id: 78 }
        );
    }

    #[test]
    fn an_opportunity_with_a_foreign_quote_is_a_conflict() {
        let d = doc();
        let state = AutotaskState {
            opportunity: json!({"id": 77, "companyID": 100}).as_object().cloned(),
            quotes: vec![
                json!({"id": 5, "name": "Hand made", "opportunityID": 77})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ],
            ..AutotaskState::default()
        };
        let request = ExportRequest {
            opportunity_id: Some(77),
            custom_name: None,
        };
        assert!(matches!(plan_with(&d, None, &state, &request), Err(PlanError::ForeignQuote(q)) if q.quote_id == 5));
    }

    #[test]
    fn a_changed_address_updates_only_that_location() {
        let (mut d, mut at) = twenty_line_quote();
        let record = at.run(&plan(&d, None, &at.state(&ExportRecord::default())).unwrap(), None);
        d.ship_to = Some(super::super::input::DocumentAddress {
            address1: Some("9 Dock Rd".into()),
            ..Default::default()
        });
        let again = plan(&d, Some(&record), &at.state(&record)).unwrap();
        assert_eq!(kinds(&again), [StepKind::UpdateLocation]);
        assert_eq!(again.steps[0].call.body.as_ref().unwrap()["address1"], "9 Dock Rd");
    }

    #[test]
    fn lines_sharing_a_new_product_create_it_once() {
        let mut d = doc();
        let mut second = product_line(1);
        second.line_id = "L1b".into();
        d.lines = vec![product_line(1), second];
        let plan = plan(&d, None, &AutotaskState::default()).unwrap();
        assert_eq!(plan.count(StepKind::CreateProduct), 1);
        let product = plan.steps.iter().find(|s| s.kind == StepKind::CreateProduct).unwrap();
        assert_eq!(product.line_ids, ["L1", "L1b"]);
        assert_eq!(product.call.body.as_ref().unwrap()["productCategory"], 7);
    }

    #[test]
    fn without_a_default_billing_code_new_products_refuse_only_their_lines() {
        let mut d = doc();
        d.lines = vec![product_line(1), service_line(2, AutotaskItemKind::ServiceBundle, 4)];
        let choice = OpportunityChoice::New;
        let mut s = settings();
        s.default_billing_code = None;
        let plan = plan_export(PlanInput {
            doc: &d,
            ready: &ready(),
            settings: &s,
            request: &ExportRequest::default(),
            previous: None,
            choice,
            state: &AutotaskState::default(),
            item_types: &item_types(),
            today: today(),
        })
        .unwrap();
        assert_eq!(plan.refused.len(), 1);
        assert_eq!(plan.refused[0].code, "default_billing_code_missing");
        assert_eq!(plan.count(StepKind::CreateItem), 1);
    }

    #[test]
    fn refused_lines_keep_their_recorded_item() {
        // GIVEN an exported line whose product key was later erased on the document
        let (mut d, mut at) = twenty_line_quote();
        let record = at.run(&plan(&d, None, &at.state(&ExportRecord::default())).unwrap(), None);
        if let LineKind::Product { sku, part_number, .. } = &mut d.lines[0].kind {
            *sku = None;
            *part_number = None;
        }
        // WHEN planned again THEN that line is refused and its old item is not deleted
        let again = plan(&d, Some(&record), &at.state(&record)).unwrap();
        assert_eq!(again.refused.len(), 1);
        assert_eq!(again.count(StepKind::DeleteItem), 0);
    }

    #[test]
    fn a_tenant_without_a_needed_item_type_gets_no_plan() {
        // GIVEN a tenant whose quoteItemType picklist has no Labor, and a document with labor
        let mut d = doc();
        d.lines = vec![product_line(1), service_line(2, AutotaskItemKind::Labor, 31)];
        let without_labor = QuoteItemTypes::resolve(|l| (l == "Product").then_some(1), vec!["Product".into()]);
        let plan_on = |d: &DocumentInput| {
            plan_export(PlanInput {
                doc: d,
                ready: &ready(),
                settings: &settings(),
                request: &ExportRequest::default(),
                previous: None,
                choice: OpportunityChoice::New,
                state: &AutotaskState::default(),
                item_types: &without_labor,
                today: today(),
            })
        };
        // WHEN planned THEN the plan fails naming the missing type, before any write is planned
        let err = plan_on(&d).unwrap_err();
        assert!(
            matches!(&err, PlanError::QuoteItemTypeMissing(m) if m.item_type == super::super::lines::QuoteItemType::Labor),
            "{err:?}"
        );
        // AND a document without labor lines plans fine on the same tenant
        d.lines.pop();
        assert!(plan_on(&d).is_ok());
    }

    #[test]
    fn a_sales_order_uses_its_own_title() {
        let mut d = doc();
        d.doc_type = super::super::input::DocumentKind::SalesOrder;
        let plan = plan(&d, None, &AutotaskState::default()).unwrap();
        assert_eq!(plan.steps[0].call.body.as_ref().unwrap()["title"], "Sales Order Q1001");
    }

    #[test]
    fn the_plan_serialises_as_calls_with_payloads() {
        let (d, at) = twenty_line_quote();
        let plan = plan(&d, None, &at.state(&ExportRecord::default())).unwrap();
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["steps"][0]["call"]["method"], "POST");
        assert_eq!(json["steps"][0]["call"]["path"], "/V1.0/Opportunities");
        assert_eq!(json["steps"][0]["creates"], "opportunity");
        assert_eq!(json["opportunity"], json!({"$ref": "opportunity"}));
    }
}
