//! Which side wins, field by field, when a mapped customer changed in both ChannelOnline and
//! Autotask since the last sync. A field changed on one side only takes that side's value. A
//! field changed on both sides (or with no last-synced value to compare) goes to its owner
//! from the settings, else to the side modified most recently. Each such decision overwrites
//! the other side's change, so it is returned for the audit trail.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::settings::{BulkSyncOptions, FieldOwner};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Autotask,
    #[serde(rename = "channelonline")]
    ChannelOnline,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Autotask => Side::ChannelOnline,
            Side::ChannelOnline => Side::Autotask,
        }
    }
}

/// The owner settings: a default rule and per-field overrides (canonical field names). With
/// "most recently modified", equal or unknown times go to ChannelOnline, the side users
/// quote from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldOwnership {
    pub default: FieldOwner,
    pub per_field: BTreeMap<String, FieldOwner>,
}

impl FieldOwnership {
    pub fn from_settings(options: &BulkSyncOptions) -> Self {
        Self {
            default: options.field_owner_default,
            per_field: options.field_owners.clone(),
        }
    }

    /// The fixed owner of `field`, or `None` when the most recent side wins.
    fn owner_of(&self, field: &str) -> Option<Side> {
        match self.per_field.get(field).copied().unwrap_or(self.default) {
            FieldOwner::MostRecentlyModified => None,
            FieldOwner::ChannelOnline => Some(Side::ChannelOnline),
            FieldOwner::Autotask => Some(Side::Autotask),
        }
    }
}

/// One side's current values (canonical names, e.g. `name`, `phone`, `city`) and when that
/// record was last modified.
#[derive(Clone, Copy, Debug)]
pub struct SideState<'a> {
    pub values: &'a BTreeMap<String, Value>,
    pub modified_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionRule {
    /// Only one side changed the field since the last sync.
    OnlyChangedSide,
    /// Both changed (or no last-synced value): the per-field owner setting decided.
    Owner,
    /// Both changed (or no last-synced value): the most recently modified side won.
    MostRecent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDecision {
    pub field: String,
    pub winner: Side,
    pub rule: ResolutionRule,
    pub autotask: Value,
    pub channelonline: Value,
    /// The last-synced value, when known.
    pub base: Option<Value>,
}

impl FieldDecision {
    /// True when the decision discards a change made on the losing side: an audit entry.
    pub fn overrides_a_change(&self) -> bool {
        self.rule != ResolutionRule::OnlyChangedSide
    }

    /// True when the owner setting chose a different side than "most recent wins" would have.
    pub fn owner_overrode_recency(&self, recent: Side) -> bool {
        self.rule == ResolutionRule::Owner && self.winner != recent
    }
}

/// What to write where, and every decision that overwrote a change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub to_autotask: BTreeMap<String, Value>,
    pub to_channelonline: BTreeMap<String, Value>,
    pub decisions: Vec<FieldDecision>,
    /// The side "most recent wins" favours for this pair.
    pub most_recent: Side,
}

impl Resolution {
    pub fn is_noop(&self) -> bool {
        self.to_autotask.is_empty() && self.to_channelonline.is_empty()
    }

    /// The decisions that overwrote a change, for the audit trail.
    pub fn overrides(&self) -> impl Iterator<Item = &FieldDecision> {
        self.decisions.iter().filter(|d| d.overrides_a_change())
    }

    /// The audit record's `changes` body: one entry per overwritten change.
    pub fn audit_changes(&self) -> Value {
        let entries: Vec<Value> = self
            .overrides()
            .map(|d| {
                json!({
                    "field": d.field,
                    "winner": d.winner,
                    "rule": d.rule,
                    "owner_overrode_most_recent": d.owner_overrode_recency(self.most_recent),
                    "autotask": d.autotask,
                    "channelonline": d.channelonline,
                    "base": d.base,
                })
            })
            .collect();
        json!({ "field_conflicts": entries })
    }
}

/// Resolves every field present on either side. `base` holds the values both sides had after
/// the last sync (the mapping's stored snapshot), when known.
pub fn resolve_fields(
    channelonline: SideState<'_>,
    autotask: SideState<'_>,
    base: Option<&BTreeMap<String, Value>>,
    ownership: &FieldOwnership,
) -> Resolution {
    let most_recent = match (channelonline.modified_at, autotask.modified_at) {
        (Some(c), Some(a)) if a > c => Side::Autotask,
        (None, Some(_)) => Side::Autotask,
        _ => Side::ChannelOnline,
    };
    let mut out = Resolution {
        to_autotask: BTreeMap::new(),
        to_channelonline: BTreeMap::new(),
        decisions: Vec::new(),
        most_recent,
    };
    let fields: std::collections::BTreeSet<&String> =
        channelonline.values.keys().chain(autotask.values.keys()).collect();
    for field in fields {
        let col = channelonline.values.get(field).cloned().unwrap_or(Value::Null);
        let at = autotask.values.get(field).cloned().unwrap_or(Value::Null);
        if same(&col, &at) {
            continue;
        }
        let base_value = base.map(|b| b.get(field).cloned().unwrap_or(Value::Null));
        let changed = |v: &Value| base_value.as_ref().is_none_or(|b| !same(v, b));
        let (winner, rule) = match (changed(&col), changed(&at)) {
            (true, false) => (Side::ChannelOnline, ResolutionRule::OnlyChangedSide),
            (false, true) => (Side::Autotask, ResolutionRule::OnlyChangedSide),
            _ => match ownership.owner_of(field) {
                Some(owner) => (owner, ResolutionRule::Owner),
                None => (most_recent, ResolutionRule::MostRecent),
            },
        };
        match winner {
            Side::ChannelOnline => out.to_autotask.insert(field.clone(), col.clone()),
            Side::Autotask => out.to_channelonline.insert(field.clone(), at.clone()),
        };
        out.decisions.push(FieldDecision {
            field: field.clone(),
            winner,
            rule,
            autotask: at,
            channelonline: col,
            base: base_value,
        });
    }
    out
}

/// Equal, treating empty strings as absent (the two systems disagree on "no value").
fn same(a: &Value, b: &Value) -> bool {
    let blank = |v: &Value| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
    (blank(a) && blank(b)) || a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
    }

    fn t(min: i64) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc() + Duration::minutes(min))
    }

    #[test]
    fn one_sided_changes_flow_to_the_other_side_without_audit() {
        // GIVEN COL changed the phone and AT changed the city since the last sync
        let base = values(&[("phone", "111"), ("city", "Austin"), ("name", "Acme")]);
        let col = values(&[("phone", "222"), ("city", "Austin"), ("name", "Acme")]);
        let at = values(&[("phone", "111"), ("city", "Dallas"), ("name", "Acme")]);
        // WHEN resolved
        let r = resolve_fields(
            SideState {
                values: &col,
                modified_at: t(0),
            },
            SideState {
                values: &at,
                modified_at: t(5),
            },
            Some(&base),
            &FieldOwnership::default(),
        );
        // THEN each change goes to the other side, and nothing was overwritten
        assert_eq!(r.to_autotask, values(&[("phone", "222")]));
        assert_eq!(r.to_channelonline, values(&[("city", "Dallas")]));
        assert_eq!(r.overrides().count(), 0);
    }

    #[test]
    fn both_changed_most_recent_side_wins_by_default() {
        let base = values(&[("phone", "111")]);
        let col = values(&[("phone", "222")]);
        let at = values(&[("phone", "333")]);
        let r = resolve_fields(
            SideState {
                values: &col,
                modified_at: t(0),
            },
            SideState {
                values: &at,
                modified_at: t(5),
            },
            Some(&base),
            &FieldOwnership::default(),
        );
        assert_eq!(r.to_channelonline, values(&[("phone", "333")]));
        assert!(r.to_autotask.is_empty());
        let d = r.overrides().next().unwrap();
        assert_eq!((d.winner, d.rule), (Side::Autotask, ResolutionRule::MostRecent));
    }

    #[test]
    fn the_owner_setting_beats_recency_and_is_audited() {
        // GIVEN AT changed the phone later, but the settings make ChannelOnline own `phone`
        let base = values(&[("phone", "111"), ("name", "Acme")]);
        let col = values(&[("phone", "222"), ("name", "Acme Corp")]);
        let at = values(&[("phone", "333"), ("name", "ACME Inc")]);
        let ownership = FieldOwnership {
            default: FieldOwner::MostRecentlyModified,
            per_field: [("phone".to_string(), FieldOwner::ChannelOnline)].into(),
        };
        // WHEN resolved
        let r = resolve_fields(
            SideState {
                values: &col,
                modified_at: t(0),
            },
            SideState {
                values: &at,
                modified_at: t(5),
            },
            Some(&base),
            &ownership,
        );
        // THEN phone goes COL → AT (owner), name AT → COL (most recent), both audited
        assert_eq!(r.to_autotask, values(&[("phone", "222")]));
        assert_eq!(r.to_channelonline, values(&[("name", "ACME Inc")]));
        let audit = r.audit_changes();
        let entries = audit["field_conflicts"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        let phone = entries.iter().find(|e| e["field"] == "phone").unwrap();
        assert_eq!(phone["rule"], "owner");
        assert_eq!(phone["winner"], "channelonline");
        assert_eq!(phone["owner_overrode_most_recent"], true);
        assert_eq!(phone["autotask"], "333");
    }

    #[test]
    fn without_a_base_every_difference_is_a_conflict_and_blank_equals_absent() {
        let col = values(&[("fax", ""), ("web", "a.example")]);
        let at = values(&[("web", "b.example")]);
        let r = resolve_fields(
            SideState {
                values: &col,
                modified_at: t(1),
            },
            SideState {
                values: &at,
                modified_at: t(1),
            },
            None,
            &FieldOwnership::default(),
        );
        // equal times: ChannelOnline wins; the blank fax is no difference
        assert_eq!(r.to_autotask, values(&[("web", "a.example")]));
        assert_eq!(r.decisions.len(), 1);
        assert!(r.decisions[0].overrides_a_change());
    }

    #[test]
    fn ownership_comes_from_the_tenant_settings() {
        // GIVEN settings where Autotask owns everything except the name
        let settings = crate::domain::settings::TenantSettings::from_json(json!({
            "bulk_sync": { "field_owner_default": "autotask", "field_owners": { "name": "channel_online" } }
        }))
        .unwrap();
        let ownership = FieldOwnership::from_settings(&settings.bulk_sync);
        let col = values(&[("phone", "1"), ("name", "A")]);
        let at = values(&[("phone", "2"), ("name", "B")]);
        // WHEN COL is the more recent side
        let r = resolve_fields(
            SideState {
                values: &col,
                modified_at: t(9),
            },
            SideState {
                values: &at,
                modified_at: t(0),
            },
            None,
            &ownership,
        );
        // THEN the owners decide, not recency
        assert_eq!(r.to_channelonline, values(&[("phone", "2")]));
        assert_eq!(r.to_autotask, values(&[("name", "A")]));
        assert!(r.decisions.iter().all(|d| d.rule == ResolutionRule::Owner));
    }
}
