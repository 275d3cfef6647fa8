//! What the customer services answer: what was done to each record, in words and in data, so a
//! ChannelOnline pop-up can show it and an audit record can keep it.

use serde::{Deserialize, Serialize};

use crate::domain::customer::contacts::MatchedBy;
use crate::domain::customer::default_phone::DefaultPhoneUse;
use crate::domain::customer::fields::FieldChange;
use crate::domain::customer::matching::MatchReason;

/// What happened to one record on the target side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RecordAction {
    Created,
    /// An existing, unmapped record was recognised and mapped instead of creating a duplicate.
    Linked {
        reasons: Vec<String>,
    },
    Updated {
        changes: Vec<FieldChange>,
    },
    Unchanged,
}

impl RecordAction {
    pub fn wrote(&self) -> bool {
        matches!(self, RecordAction::Created | RecordAction::Updated { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactOutcome {
    pub col_id: String,
    pub at_id: i64,
    pub name: String,
    #[serde(flatten)]
    pub action: RecordAction,
    /// Set when a link also updated the Autotask contact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerExportOutcome {
    pub customer_number: String,
    pub company_id: i64,
    pub company_name: String,
    pub company: RecordAction,
    /// Changes written to a company that was linked (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub company_changes: Vec<FieldChange>,
    pub contacts: Vec<ContactOutcome>,
    /// Records sent with the default work phone 555-555-5555.
    pub default_phone_used: Vec<DefaultPhoneUse>,
    /// Creates and updates sent to Autotask.
    pub autotask_writes: u32,
    pub message: String,
}

/// An Autotask company offered to the user when a match is ambiguous or not found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompanyCandidate {
    pub company_id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<MatchReason>,
}

/// How an imported Autotask contact landed in ChannelOnline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportedContact {
    pub at_id: i64,
    pub col_id: String,
    pub name: String,
    /// `created`, `updated` (already mapped), or `mapped_by_email` (an existing ChannelOnline
    /// contact with the same address: no duplicate).
    pub action: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportOutcome {
    pub company_id: i64,
    pub company_name: String,
    pub customer_number: String,
    pub customer_created: bool,
    pub contacts: Vec<ImportedContact>,
    /// Autotask contacts of the company that were not chosen.
    pub contacts_not_imported: Vec<i64>,
    pub autotask_writes: u32,
    pub message: String,
}

/// One Autotask contact of a mapped account, with its mapping state ("Import/Map contacts").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountContact {
    pub at_id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `mapped`, `same_email_in_channelonline` (importing maps it) or `not_in_channelonline`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub col_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountContacts {
    pub company_id: i64,
    pub customer_number: String,
    pub contacts: Vec<AccountContact>,
}

/// A contact pair matched after Map Customers confirmed its company pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchedContact {
    pub col_id: String,
    pub at_id: i64,
    #[serde(flatten)]
    pub by: MatchedBy,
}
