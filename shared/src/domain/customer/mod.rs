//! Customers and contacts, pure: normalised keys, the field diff, the default work phone,
//! contact matching by e-mail and company matching for "Map Customers". No I/O here; the
//! service in `crate::sync::customers` drives these rules against the stores and clients.

pub mod contacts;
pub mod default_phone;
pub mod fields;
pub mod matching;
pub mod normalize;

pub use contacts::{ContactMatching, ContactPair, ContactRef, MatchedBy, match_contacts};
pub use default_phone::{DEFAULT_WORK_PHONE, DefaultPhoneUse, RecordKind};
pub use fields::{CompanyFields, ContactFields, FieldChange, diff_company, diff_contact, patch_body};
pub use matching::{
    CompanyProfile, LINK_MIN_CONFIDENCE, MatchKeys, MatchReason, PROPOSE_MIN_CONFIDENCE, Proposal, Proposals, Score,
    Side, assign, score,
};
