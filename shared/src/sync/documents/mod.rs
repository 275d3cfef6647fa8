//! Documents: export a ChannelOnline quote or sales order to an Autotask opportunity with one
//! quote and its items; attach an opportunity; add an Autotask service line to a document.

pub mod convert;
pub mod export;
mod raw;
pub mod reads;

pub use export::{ExportDocumentRequest, ExportOutcome, LineOutcome, LineStatus, export_document};
