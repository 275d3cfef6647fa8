//! The local stack: every function at a local function URL, embedded DynamoDB with a file
//! database (data survives restarts, TTL swept on a timer) and secrets from a local file.
//! No AWS account, no Docker.
//!
//! `http://127.0.0.1:9000/<function>/<path>?<query>` reaches `<function>`'s handler with the
//! same path, query, headers and body it would see behind its function URL on AWS.

pub mod cli;
pub mod demo;
pub mod dynamo;
pub mod functions;
pub mod gateway;
pub mod http_client;
pub mod links;
pub mod seed;
pub mod stack;
pub mod sync;

pub use stack::{LocalStack, StackOptions};
