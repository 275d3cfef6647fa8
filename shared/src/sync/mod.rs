//! Sync services shared by the button functions and the bulk-sync worker (one copy of the
//! sync logic): customers and contacts here; documents and bulk planning alongside.

pub mod bulk;
pub mod customers;
pub mod documents;
pub mod error;
pub mod once;

pub use error::{SyncError, SyncResult};
pub use once::{Busy, Once, Settled, idempotent, run_once, with_lease};
