//! Everything the integration functions share: the pure domain, the ports (traits) it needs,
//! and the adapters behind them (DynamoDB, Autotask REST, ChannelOnline XML, secrets).
//!
//! Layering rule: `domain` imports no AWS, HTTP or Lambda types; adapters depend on `domain`
//! and `ports`, never the other way round.

pub mod app;
pub mod autotask;
pub mod aws;
pub mod channelonline;
pub mod clock;
pub mod config;
pub mod confirmation;
pub mod domain;
pub mod function_url;
pub mod http;
pub mod idempotency;
pub mod queue;
pub mod secret;
pub mod secrets;
pub mod signing;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tenant;
pub mod web;
