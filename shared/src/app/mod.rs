//! Wiring shared by every function: the [`AppContext`] built once per cold start, request
//! authentication and the answer helpers.

pub mod answer;
pub mod auth;

pub use answer::{answer, json_body};
pub use auth::authenticate;
