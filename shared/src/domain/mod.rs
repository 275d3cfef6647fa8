//! The pure domain: rules with no AWS, HTTP or Lambda types.

pub mod customer;
pub mod mapping;
pub mod settings;
