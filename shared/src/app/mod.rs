//! Wiring shared by every function: the [`AppContext`] built once per cold start, request
//! authentication and the answer helpers.

pub mod answer;
pub mod auth;
pub mod call;
pub mod clients;
pub mod confirm;
mod context;
mod tenant;

pub use answer::{answer, company_html, contact_html, json_body, with_autotask_links};
pub use auth::authenticate;
pub use clients::{ChannelOnlineFactory, ClientFactories, ClientsError, XmlChannelOnlineFactory};
pub use context::{AppContext, AppError, Stores, build_secrets};
pub use tenant::{CLAIM_MARGIN, DEFAULT_BUDGET, TenantContext};
