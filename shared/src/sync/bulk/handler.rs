//! The worker's dispatch: what each stream's item means, done with the same domain services as
//! the buttons (`sync::documents::export_document`, the customer pair sync).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::contact_sync::sync_contact;
use super::pair_sync::sync_pair;
use super::status_back::{write_back_approval, write_back_status};
use super::stream::Stream;
use super::work_item::WorkItem;
use super::worker::{Handled, HandledItem, HandlerFactory, ItemError, ItemHandler};
use crate::app::{AppContext, TenantContext};
use crate::domain::mapping::MappingKind;
use crate::sync::SyncError;
use crate::sync::customers::{export_customer, propose_for_customer};
use crate::sync::documents::{ExportDocumentRequest, export_document};
use crate::tenant::TenantId;

/// Builds each tenant's handler from the app context (settings, clients).
pub struct TenantHandlers {
    pub app: AppContext,
    pub actor: String,
}

#[async_trait]
impl HandlerFactory for TenantHandlers {
    async fn for_tenant(&self, tenant: &TenantId, deadline: DateTime<Utc>) -> Result<Arc<dyn ItemHandler>, ItemError> {
        let ctx = self.app.tenant(tenant, deadline).await.map_err(|e| ItemError {
            reason: format!("{}{}", e.message, e.fix.map(|f| format!(" — {f}")).unwrap_or_default()),
            retryable: e.retryable,
            autotask_calls: 0,
        })?;
        Ok(Arc::new(TenantItemHandler {
            ctx: ctx.with_actor(self.actor.clone()),
        }))
    }
}

pub struct TenantItemHandler {
    pub ctx: TenantContext,
}

fn failed(e: SyncError, autotask_calls: u64) -> ItemError {
    ItemError {
        retryable: e.is_transient(),
        reason: e.to_string(),
        autotask_calls,
    }
}

fn skipped(reason: impl Into<String>, autotask_calls: u64) -> HandledItem {
    HandledItem {
        result: Handled::Skipped(reason.into()),
        autotask_calls,
    }
}

impl TenantItemHandler {
    async fn customer(&self, item: &WorkItem) -> Result<HandledItem, ItemError> {
        let ctx = &self.ctx;
        let mapping = match item.stream {
            Stream::AtCompanies => {
                let id = item.autotask_id().ok_or_else(|| ItemError {
                    reason: format!("{:?} is not an Autotask id", item.entity_id),
                    retryable: false,
                    autotask_calls: 0,
                })?;
                ctx.mappings.get_by_at(&ctx.tenant, MappingKind::Customer, id).await
            }
            _ => {
                ctx.mappings
                    .get_by_col(&ctx.tenant, MappingKind::Customer, &item.entity_id)
                    .await
            }
        }
        .map_err(|e| failed(e.into(), 0))?;
        let Some(mapping) = mapping else {
            if item.stream == Stream::ColCustomers && ctx.settings.bulk_sync.create_unmapped_customers {
                // The setting says "create": the export-customer button's service (it links an
                // unambiguous existing company instead of duplicating it).
                let out = export_customer(ctx, &item.entity_id).await.map_err(|e| failed(e, 0))?;
                return Ok(HandledItem {
                    autotask_calls: u64::from(out.autotask_writes),
                    result: Handled::Done(out.message),
                });
            }
            if item.stream == Stream::ColCustomers {
                return self.propose(&item.entity_id).await;
            }
            return Ok(skipped(
                format!(
                    "Autotask company {} is not mapped: pair it in Map Customers (POST /run proposes pairs)",
                    item.entity_id
                ),
                0,
            ));
        };
        let done = sync_pair(ctx, &mapping).await.map_err(|e| failed(e, 1))?;
        Ok(HandledItem {
            autotask_calls: done.autotask_calls,
            result: done.handled(),
        })
    }

    /// An unmapped ChannelOnline customer becomes a stored proposal in Map Customers (confidence
    /// and reasons), for a person to confirm there; nothing is created.
    async fn propose(&self, number: &str) -> Result<HandledItem, ItemError> {
        let ctx = &self.ctx;
        let customer = ctx
            .channelonline
            .get_customer(number)
            .await
            .map_err(|e| failed(e.into(), 0))?;
        let proposal = propose_for_customer(ctx, &customer).await.map_err(|e| failed(e, 1))?;
        Ok(skipped(
            match proposal {
                Some(p) => format!(
                    "ChannelOnline customer {number} is not mapped: proposed in Map Customers with Autotask company {} ({}) at {}% ({}); confirm it there",
                    p.at_id,
                    p.at_name,
                    p.confidence,
                    p.reasons.iter().map(|r| r.describe()).collect::<Vec<_>>().join(", ")
                ),
                None => format!(
                    "ChannelOnline customer {number} is not mapped and no Autotask company looks like it: export it or map it by hand in Map Customers"
                ),
            },
            1,
        ))
    }

    /// A changed Autotask contact of a mapped company: its mapped ChannelOnline contact synced
    /// both ways, or (setting) imported when new.
    async fn contact(&self, item: &WorkItem) -> Result<HandledItem, ItemError> {
        let id = item.autotask_id().ok_or_else(|| ItemError {
            reason: format!("{:?} is not an Autotask id", item.entity_id),
            retryable: false,
            autotask_calls: 0,
        })?;
        let out = sync_contact(&self.ctx, id).await.map_err(|e| failed(e, 1))?;
        Ok(HandledItem {
            result: out.result,
            autotask_calls: out.autotask_calls,
        })
    }

    /// A changed Autotask opportunity: its status label goes to the exported document.
    async fn opportunity(&self, item: &WorkItem) -> Result<HandledItem, ItemError> {
        let id = item.autotask_id().ok_or_else(|| ItemError {
            reason: format!("{:?} is not an Autotask id", item.entity_id),
            retryable: false,
            autotask_calls: 0,
        })?;
        let out = write_back_status(&self.ctx, id).await.map_err(|e| failed(e, 1))?;
        Ok(HandledItem {
            result: out.result,
            autotask_calls: out.autotask_calls,
        })
    }

    /// A changed Autotask quote: its approval label goes to the document exported as it.
    async fn quote(&self, item: &WorkItem) -> Result<HandledItem, ItemError> {
        let id = item.autotask_id().ok_or_else(|| ItemError {
            reason: format!("{:?} is not an Autotask id", item.entity_id),
            retryable: false,
            autotask_calls: 0,
        })?;
        let out = write_back_approval(&self.ctx, id).await.map_err(|e| failed(e, 1))?;
        Ok(HandledItem {
            result: out.result,
            autotask_calls: out.autotask_calls,
        })
    }

    async fn document(&self, item: &WorkItem) -> Result<HandledItem, ItemError> {
        let ctx = &self.ctx;
        if !ctx.settings.bulk_sync.reexport_changed_documents {
            return Ok(skipped(
                "re-export of changed documents is turned off in the settings",
                0,
            ));
        }
        let exported = ctx
            .mappings
            .get_by_col(&ctx.tenant, MappingKind::Document, &item.entity_id)
            .await
            .map_err(|e| failed(e.into(), 0))?;
        if exported.is_none() {
            return Ok(skipped(
                "never exported to Autotask; export it with the button first",
                0,
            ));
        }
        let request = ExportDocumentRequest {
            document_number: item.entity_id.clone(),
            opportunity_id: None,
            custom_name: None,
            dry_run: false,
        };
        let out = export_document(ctx, &request, None).await.map_err(|e| failed(e, 0))?;
        let calls = out.writes as u64;
        if out.failed_lines > 0 {
            return Err(ItemError {
                reason: format!(
                    "{} of {} lines refused: {}",
                    out.failed_lines,
                    out.lines.len(),
                    out.message
                ),
                retryable: false,
                autotask_calls: calls,
            });
        }
        Ok(HandledItem {
            autotask_calls: calls,
            result: if out.writes == 0 {
                Handled::Skipped("re-exported: no change in Autotask".into())
            } else {
                Handled::Done(out.message)
            },
        })
    }
}

#[async_trait]
impl ItemHandler for TenantItemHandler {
    async fn handle(&self, item: &WorkItem) -> Result<HandledItem, ItemError> {
        match item.stream {
            Stream::AtCompanies | Stream::ColCustomers => self.customer(item).await,
            Stream::AtContacts => self.contact(item).await,
            Stream::AtOpportunities => self.opportunity(item).await,
            Stream::AtQuotes => self.quote(item).await,
            Stream::ColDocuments => self.document(item).await,
        }
    }
}
