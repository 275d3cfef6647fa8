//! The pure domain: no AWS, HTTP or Lambda types.

pub mod mapping;
pub mod settings;
