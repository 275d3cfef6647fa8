//! ID mappings between ChannelOnline (COL) and Autotask (AT) records.
//!
//! Each mapping is 1:1 in both directions: an AT id maps to at most one COL id of the same kind
//! and back. The store enforces this; this module only holds the model.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a mapping links. AT ids are `i64`, COL ids are strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingKind {
    /// COL customer number <-> AT company id.
    Customer,
    /// COL contact id <-> AT contact id.
    Contact,
    /// COL document number <-> AT opportunity id (quote id and quote item ids go in `data`).
    Document,
    /// COL sales rep id <-> AT resource id.
    SalesRep,
    /// COL SKU / part number <-> AT product id.
    Product,
}

impl MappingKind {
    pub const ALL: [MappingKind; 5] = [
        MappingKind::Customer,
        MappingKind::Contact,
        MappingKind::Document,
        MappingKind::SalesRep,
        MappingKind::Product,
    ];

    /// Stable upper-case name, used inside storage keys: never change an existing value.
    pub fn key_name(self) -> &'static str {
        match self {
            MappingKind::Customer => "CUSTOMER",
            MappingKind::Contact => "CONTACT",
            MappingKind::Document => "DOCUMENT",
            MappingKind::SalesRep => "SALESREP",
            MappingKind::Product => "PRODUCT",
        }
    }

    pub fn from_key_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key_name() == name)
    }
}

impl fmt::Display for MappingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key_name())
    }
}

/// Which system's id a statement is about (e.g. which side of a pair already exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Col,
    At,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Col => "ChannelOnline",
            Side::At => "Autotask",
        })
    }
}

/// One COL <-> AT link.
///
/// `version` is the optimistic-locking counter: a freshly created pair has version 1; an update
/// must carry the version it read and stores `version + 1`. `source_hash` lets a writer that lost
/// a race see whether the winner wrote the same content. `data` holds kind-specific extras
/// (e.g. for documents the AT quote id and the quote item id of each COL line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    pub kind: MappingKind,
    pub col_id: String,
    pub at_id: i64,
    pub version: u64,
    pub source_hash: Option<String>,
    pub data: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

impl Mapping {
    /// A not-yet-stored pair (version 0) with no extra data.
    pub fn new(kind: MappingKind, col_id: impl Into<String>, at_id: i64, now: DateTime<Utc>) -> Self {
        Self {
            kind,
            col_id: col_id.into(),
            at_id,
            version: 0,
            source_hash: None,
            data: serde_json::Value::Null,
            updated_at: now,
        }
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }

    pub fn with_source_hash(mut self, hash: impl Into<String>) -> Self {
        self.source_hash = Some(hash.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_round_trip_and_are_unique() {
        let names: std::collections::HashSet<_> = MappingKind::ALL.iter().map(|k| k.key_name()).collect();
        assert_eq!(names.len(), MappingKind::ALL.len());
        for kind in MappingKind::ALL {
            assert_eq!(MappingKind::from_key_name(kind.key_name()), Some(kind));
        }
        assert_eq!(MappingKind::from_key_name("customer"), None);
    }

    #[test]
    fn kind_serialises_snake_case() {
        assert_eq!(serde_json::to_string(&MappingKind::SalesRep).unwrap(), "\"sales_rep\"");
    }
}
