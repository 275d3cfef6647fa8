//! Test support shared by the workspace's test crates.
//!
//! Use it as a normal `[dependencies]` entry of test-only crates (never as a dev-dependency of a
//! production crate): dynoxide's extra features would otherwise unify into a second build of the
//! whole AWS SDK for `cargo test` (reference/dynamodb-emulators.md §1).

pub mod dynamo;
pub mod function_url;
pub mod lambda_runtime_api;
pub mod moto;
pub mod sqs;
