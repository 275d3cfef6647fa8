//! The pure domain: rules and decisions with no AWS, HTTP or Lambda types.

pub mod customer;
pub mod document;
pub mod mapping;
pub mod settings;
