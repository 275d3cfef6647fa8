//! Documents: export a ChannelOnline quote or sales order to an Autotask opportunity with one
//! quote and its items; attach an opportunity; add an Autotask service line to a document.

pub mod convert;
pub mod export;
mod item_types;
mod raw;
pub mod reads;
pub mod reconcile;

pub use export::{CustomerLink, ExportDocumentRequest, ExportOutcome, LineOutcome, LineStatus, export_document};
pub mod opportunities;
pub mod services;

pub use opportunities::{
    AttachOutcome, AttachPlan, OpportunityPage, OpportunityQuery, OpportunityView, attach_opportunity,
    list_opportunities, plan_attach,
};
pub use services::{
    AddServiceLine, AddedServiceLine, ServiceChoice, ServiceKind, add_service_line, chosen_item, search_services,
};
