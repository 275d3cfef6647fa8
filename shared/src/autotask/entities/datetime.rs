//! Autotask date-times: sent as `YYYY-MM-DDTHH:mm:ss.SSSZ` (UTC); read with or without the `Z`
//! and with any number of fractional digits (both shapes are seen in real responses).

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AtDateTime(pub DateTime<Utc>);

impl AtDateTime {
    pub fn parse(raw: &str) -> Option<Self> {
        if let Ok(dt) = DateTime::parse_from_rfc3339(raw) {
            return Some(Self(dt.with_timezone(&Utc)));
        }
        NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|n| Self(n.and_utc()))
    }
}

impl fmt::Display for AtDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl From<DateTime<Utc>> for AtDateTime {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value)
    }
}

impl Serialize for AtDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AtDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("not an Autotask date-time: {raw:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_shapes_and_writes_utc_millis() {
        let z = AtDateTime::parse("2012-10-24T05:00:00.000Z").unwrap();
        let bare = AtDateTime::parse("2012-10-24T05:00:00").unwrap();
        assert_eq!(z, bare);
        assert_eq!(z.to_string(), "2012-10-24T05:00:00.000Z");
        assert!(AtDateTime::parse("2024-01-31T15:04:05.307").is_some());
        assert!(AtDateTime::parse("yesterday").is_none());
    }
}
