//! Autotask PSA REST client (ATServicesRest v1.0): zone discovery, header auth, typed entities,
//! the query grammar with paging, writes on the routes Autotask requires, one error type that
//! keeps Autotask's text, the shared retry policy and a per-tenant, per-endpoint limit of 3
//! (per process, and tenant-wide across instances through the store).

pub mod client;
pub mod entities;
pub mod error;
pub mod limiter;
pub mod paging;
pub mod patch;
pub mod picklists;
pub mod query;
pub mod zone;

pub use client::{
    AutotaskClient, CREATE_ATTEMPTS, ClientConfig, ClientCredentials, Created, CredentialSource, TenantClient,
};
pub use entities::*;
pub use error::AutotaskError;
pub use limiter::SharedLimit;
pub use patch::Patch;
pub use picklists::{EntityFields, FieldInformation, PicklistValue};
pub use query::{Filter, Op, Query};
