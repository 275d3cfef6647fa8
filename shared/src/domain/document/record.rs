//! What the document mapping remembers between exports (the `data` of a Document mapping).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    /// The quote item matches the line.
    #[default]
    Synced,
    /// Autotask refused the line; the next export retries it.
    Failed,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRecord {
    pub item_id: Option<i64>,
    /// Hash of the quote item content last written for this line.
    pub hash: String,
    pub state: LineState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The Autotask side of an exported document: opportunity, quote, its locations and items.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub opportunity_id: i64,
    /// True when this document created the opportunity (then its totals follow the document).
    #[serde(default)]
    pub opportunity_created: bool,
    #[serde(default)]
    pub quote_id: Option<i64>,
    /// QuoteLocation ids by role (`bill_to`, `ship_to`, `sold_to`).
    #[serde(default)]
    pub locations: BTreeMap<String, i64>,
    /// Per COL line id.
    #[serde(default)]
    pub lines: BTreeMap<String, LineRecord>,
    /// The shipping item, when the document charges shipping.
    #[serde(default)]
    pub shipping_item_id: Option<i64>,
}

impl ExportRecord {
    /// Reads mapping data written by any earlier version; unreadable data counts as none.
    pub fn from_data(opportunity_id: i64, data: &Value) -> Self {
        serde_json::from_value::<Self>(data.clone())
            .map(|mut r| {
                r.opportunity_id = opportunity_id;
                r
            })
            .unwrap_or(Self {
                opportunity_id,
                ..Self::default()
            })
    }

    pub fn to_data(&self) -> Value {
        serde_json::to_value(self).expect("export record serialises")
    }

    pub fn failed_lines(&self) -> impl Iterator<Item = (&String, &LineRecord)> {
        self.lines.iter().filter(|(_, l)| l.state == LineState::Failed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trips_through_mapping_data() {
        let mut record = ExportRecord {
            opportunity_id: 5,
            quote_id: Some(6),
            ..ExportRecord::default()
        };
        record.lines.insert(
            "L1".into(),
            LineRecord {
                item_id: None,
                hash: "h".into(),
                state: LineState::Failed,
                error: Some("no".into()),
            },
        );
        let back = ExportRecord::from_data(5, &record.to_data());
        assert_eq!(back, record);
        assert_eq!(back.failed_lines().count(), 1);
    }

    #[test]
    fn foreign_or_empty_data_counts_as_a_bare_opportunity_link() {
        let r = ExportRecord::from_data(9, &json!({ "note": "attached by hand" }));
        assert_eq!(r.opportunity_id, 9);
        assert_eq!(r.quote_id, None);
        assert_eq!(ExportRecord::from_data(9, &Value::Null).opportunity_id, 9);
    }
}
