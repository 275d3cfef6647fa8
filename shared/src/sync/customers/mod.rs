//! Customers and contacts between ChannelOnline and Autotask: export (COL → AT), import
//! (AT → COL, by account name or company id), "Import/Map contacts" of a mapped account, and
//! Map Customers (propose, confirm, list). Shared by the button functions and bulk sync.

pub mod convert;
pub mod export;
pub mod import;
pub mod lookup;
pub mod map;
pub mod map_job;
pub mod outcome;

pub use export::{ExportPreview, export_customer, export_loaded, preview_export};
pub use import::{ImportPreview, ImportRequest, account_contacts, import_customer, preview_import};
pub use map::{
    ConfirmRequest, ConfirmResult, MapView, PairChoice, ProposalRun, ProposedPair, check_pairs, confirm_pairs,
    list_mappings, propose_for_customer, propose_pairs,
};
pub use outcome::*;
