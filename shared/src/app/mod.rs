//! Wiring shared by every function: the [`AppContext`] built once per cold start, request
//! authentication and the answer helpers.

pub mod answer;
pub mod auth;
mod context;

pub use answer::{answer, json_body};
pub use auth::authenticate;
pub use context::{AppContext, AppError, Stores, build_secrets};
