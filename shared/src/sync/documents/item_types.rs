//! The tenant's `quoteItemType` codes: read from `QuoteItems/entityInformation/fields` (cached by
//! the client) and matched by label, and read again once per export when Autotask refuses one.

use serde_json::Value;
use tokio::sync::OnceCell;

use super::raw;
use super::reconcile::RunContext;
use crate::autotask::{AutotaskError, EntityFields, QuoteItem, TenantClient};
use crate::domain::document::lines::{QuoteItemType, QuoteItemTypes};
use crate::domain::document::plan::{ApiCall, PlanEntity};
use crate::sync::error::field_named_in;

const FIELD: &str = "quoteItemType";

/// The codes from the client's cached QuoteItems fields (one read per tenant and TTL).
pub async fn quote_item_types(at: &TenantClient) -> Result<QuoteItemTypes, AutotaskError> {
    let fields = at.fields::<QuoteItem>().await?;
    Ok(from_fields(&fields))
}

fn from_fields(fields: &EntityFields) -> QuoteItemTypes {
    QuoteItemTypes::resolve(
        |label| fields.picklist_code(FIELD, label),
        fields.picklist_labels(FIELD),
    )
}

/// True when Autotask refused a write because of its `quoteItemType`.
fn refuses_item_type(e: &AutotaskError) -> bool {
    matches!(e, AutotaskError::Validation { .. })
        && e.autotask_messages()
            .iter()
            .any(|m| field_named_in(m).is_some_and(|f| f.eq_ignore_ascii_case(FIELD)))
}

/// One export's writes of quote items: when Autotask refuses a `quoteItemType` (the tenant's
/// picklist changed since it was cached), the codes are read again, once per export, and the
/// refused item and every later one are sent with the fresh code. A refused write created
/// nothing, so sending it again cannot duplicate it.
#[derive(Default)]
pub struct ItemTypeRefresh {
    fresh: OnceCell<Option<QuoteItemTypes>>,
}

impl ItemTypeRefresh {
    /// Runs one planned call (placeholders resolved) through [`raw::execute`].
    pub async fn execute(
        &self,
        at: &TenantClient,
        call: &ApiCall,
        parent: Option<i64>,
        body: Option<Value>,
        run: &RunContext,
    ) -> Result<i64, AutotaskError> {
        if call.entity != PlanEntity::QuoteItems {
            return raw::execute(at, call, parent, body, run).await;
        }
        let sent = match self.fresh.get() {
            Some(Some(fresh)) => with_fresh_code(body.as_ref(), fresh).or(body.clone()),
            _ => body.clone(),
        };
        match raw::execute(at, call, parent, sent.clone(), run).await {
            Err(e) if refuses_item_type(&e) => {
                let fresh = self.fresh.get_or_init(|| refreshed(at)).await;
                let retry = fresh
                    .as_ref()
                    .and_then(|fresh| with_fresh_code(body.as_ref(), fresh))
                    .filter(|b| Some(b) != sent.as_ref());
                match retry {
                    Some(body) => raw::execute(at, call, parent, Some(body), run).await,
                    None => Err(e),
                }
            }
            other => other,
        }
    }
}

async fn refreshed(at: &TenantClient) -> Option<QuoteItemTypes> {
    match at.refresh_fields::<QuoteItem>().await {
        Ok(fields) => Some(from_fields(&fields)),
        Err(e) => {
            tracing::warn!(error = %e, "could not re-read the QuoteItems picklists");
            None
        }
    }
}

/// `body` with the fresh code of its item type (told by its one item field), when that differs.
fn with_fresh_code(body: Option<&Value>, fresh: &QuoteItemTypes) -> Option<Value> {
    let item = body?.as_object()?;
    let old = item.get(FIELD)?.as_i64()?;
    let item_type = QuoteItemType::of_item(item)?;
    let new = fresh.code(item_type).ok().filter(|c| *c != old)?;
    let mut item = item.clone();
    item.insert(FIELD.into(), Value::from(new));
    Some(Value::Object(item))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(picklist: Value) -> EntityFields {
        EntityFields(vec![
            serde_json::from_value(json!({"name": FIELD, "isPickList": true, "picklistValues": picklist})).unwrap(),
        ])
    }

    #[test]
    fn codes_are_matched_by_label_whatever_their_numbers() {
        let types = from_fields(&fields(json!([
            {"value": "101", "label": "Product"},
            {"value": "103", "label": "Labor"},
            {"value": "112", "label": "Service Bundle"},
        ])));
        assert_eq!(types.code(QuoteItemType::Product), Ok(101));
        assert_eq!(types.code(QuoteItemType::Labor), Ok(103));
        assert_eq!(types.code(QuoteItemType::ServiceBundle), Ok(112));
        let missing = types.code(QuoteItemType::Shipping).unwrap_err().to_string();
        assert!(missing.contains("Product, Labor, Service Bundle"), "{missing}");
    }

    #[test]
    fn a_refused_item_gets_the_fresh_code_of_its_own_type() {
        let fresh = from_fields(&fields(json!([
            {"value": "201", "label": "Product"},
            {"value": "206", "label": "Shipping"},
        ])));
        let body = json!({"quoteItemType": 6, "shippingID": 9, "quantity": 1.0});
        let sent = with_fresh_code(Some(&body), &fresh).unwrap();
        assert_eq!(sent, json!({"quoteItemType": 206, "shippingID": 9, "quantity": 1.0}));
        // Unchanged codes, unknown types and bodies without a type are not sent again.
        assert_eq!(with_fresh_code(Some(&sent), &fresh), None);
        assert_eq!(
            with_fresh_code(Some(&json!({"quoteItemType": 3, "laborID": 4})), &fresh),
            None
        );
        assert_eq!(with_fresh_code(Some(&json!({"id": 5, "quantity": 2.0})), &fresh), None);
        assert_eq!(with_fresh_code(None, &fresh), None);
    }

    #[test]
    fn only_refusals_naming_the_item_type_trigger_a_refresh() {
        let refused = |m: &str| AutotaskError::Validation {
            status: 500,
            messages: vec![m.into()],
        };
        assert!(refuses_item_type(&refused(
            "Value does not reference an existing entity for quoteItemType. "
        )));
        assert!(refuses_item_type(&refused(
            "Picklist value [6] does not exist for quoteItemType."
        )));
        assert!(!refuses_item_type(&refused(
            "Value does not reference an existing entity for productID. "
        )));
        assert!(!refuses_item_type(&AutotaskError::Server {
            status: 503,
            messages: vec!["quoteItemType".into()],
        }));
    }
}
