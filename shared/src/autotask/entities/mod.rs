//! Typed Autotask entities. Each entity has a read/create struct (`Option` fields, omitted when
//! `None`) and a sparse update struct (`Patch` fields, see [`crate::autotask::Patch`]), both generated
//! from one field list so the JSON names (Autotask's exact camelCase, e.g. `ownerResourceID`) are
//! written once and are checked against Kaseya's swagger by the contract test.

mod catalog;
mod crm;
mod datetime;
mod quotes;
mod resources;

pub use catalog::*;
pub use crm::*;
pub use datetime::AtDateTime;
pub use quotes::*;
pub use resources::*;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// One user-defined field value. Autotask sends and expects values as strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDefinedField {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

impl UserDefinedField {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// Where creates and updates of an entity go (Autotask refuses the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteRoute {
    /// Query and get only (BillingCodes, ShippingTypes).
    ReadOnly,
    /// `POST`/`PATCH` on the root collection; `create: false` when only updates are allowed.
    Root { create: bool },
    /// Writes only under the parent: `/{parent}/{parentId}/{segment}`.
    Child {
        parent: &'static str,
        segment: &'static str,
    },
}

/// Whether and where Autotask allows deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteRoute {
    Never,
    /// `DELETE /{collection}/{id}`.
    Root,
    /// `DELETE /{parent}/{parentId}/{segment}/{id}`.
    Child,
}

/// What the client needs to know about an entity to build its requests.
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The root collection (`Companies`): queries, get by id, metadata.
    const COLLECTION: &'static str;
    /// The swagger model that describes the JSON body (`CompanyModel`).
    const MODEL: &'static str;
    /// Every JSON property the client reads or writes, as Autotask spells it.
    const FIELDS: &'static [&'static str];
    const WRITE: WriteRoute;
    const DELETE: DeleteRoute;
    /// The sparse update body.
    type Patch: Serialize + Send + Sync;

    fn id(&self) -> Option<i64>;
    /// The parent id for child entities (Contact → companyID, QuoteItem → quoteID).
    fn parent_id(&self) -> Option<i64>;
}

/// Generates an entity struct, its `Patch` struct and the `Entity` impl from one field list.
macro_rules! entity {
    (
        $(#[$meta:meta])*
        $name:ident, $patch:ident {
            collection: $coll:literal,
            model: $model:literal,
            write: $write:expr,
            delete: $delete:expr,
            $(parent: $parent:ident,)?
            fields: { $( $field:ident : $ty:ty => $json:literal ),* $(,)? }
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub id: Option<i64>,
            $(
                #[serde(rename = $json, default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        #[doc = concat!("Sparse update of ", stringify!($name), ": `Keep` fields are omitted from the PATCH body.")]
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
        pub struct $patch {
            pub id: i64,
            $(
                #[serde(rename = $json, skip_serializing_if = "crate::autotask::Patch::is_keep")]
                pub $field: crate::autotask::Patch<$ty>,
            )*
        }

        impl $patch {
            /// An update of record `id` that changes nothing yet.
            pub fn new(id: i64) -> Self {
                Self { id, ..Self::default() }
            }
        }

        impl $crate::autotask::entities::Entity for $name {
            const COLLECTION: &'static str = $coll;
            const MODEL: &'static str = $model;
            const FIELDS: &'static [&'static str] = &["id", $($json),*];
            const WRITE: $crate::autotask::entities::WriteRoute = $write;
            const DELETE: $crate::autotask::entities::DeleteRoute = $delete;
            type Patch = $patch;

            fn id(&self) -> Option<i64> {
                self.id
            }

            fn parent_id(&self) -> Option<i64> {
                entity!(@parent self $($parent)?)
            }
        }
    };
    (@parent $s:ident $parent:ident) => { $s.$parent };
    (@parent $s:ident) => { None };
}
pub(crate) use entity;

/// `GET /V1.0/ThresholdInformation`: the tenant's hourly request budget and its use so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThresholdInformation {
    pub external_request_threshold: u64,
    /// Length of the window in minutes.
    pub request_threshold_timeframe: u64,
    pub current_timeframe_request_count: u64,
}

impl ThresholdInformation {
    /// Requests left in the current window.
    pub fn remaining(&self) -> u64 {
        self.external_request_threshold
            .saturating_sub(self.current_timeframe_request_count)
    }
}
