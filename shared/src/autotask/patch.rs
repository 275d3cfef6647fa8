//! `Patch<T>`: one field of a sparse PATCH body. Autotask leaves a field alone when the property is
//! absent and clears it when the property is `null`, so "leave alone" and "set to null" must differ.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Patch<T> {
    /// Omit the property: Autotask keeps the current value.
    #[default]
    Keep,
    /// Send `null`: Autotask clears the value.
    Null,
    /// Send the value.
    Set(T),
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// `Some(v)` sets, `None` clears: the usual shape when copying an optional source value.
    pub fn from_option(value: Option<T>) -> Self {
        value.map_or(Patch::Null, Patch::Set)
    }
}

impl<T> From<T> for Patch<T> {
    fn from(value: T) -> Self {
        Patch::Set(value)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Only reached when a field forgot `skip_serializing_if`; null is the safe reading.
            Patch::Keep | Patch::Null => serializer.serialize_none(),
            Patch::Set(v) => v.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Patch::Null, Patch::Set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Default)]
    struct Body {
        id: i64,
        #[serde(default, skip_serializing_if = "Patch::is_keep")]
        phone: Patch<String>,
    }

    #[test]
    fn keep_is_omitted_null_is_sent_and_set_is_sent() {
        let keep = Body {
            id: 1,
            phone: Patch::Keep,
        };
        assert_eq!(serde_json::to_string(&keep).unwrap(), r#"{"id":1}"#);
        let null = Body {
            id: 1,
            phone: Patch::Null,
        };
        assert_eq!(serde_json::to_string(&null).unwrap(), r#"{"id":1,"phone":null}"#);
        let set = Body {
            id: 1,
            phone: "555".to_owned().into(),
        };
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"{"id":1,"phone":"555"}"#);
    }

    #[test]
    fn absent_reads_as_keep_and_null_as_null() {
        let b: Body = serde_json::from_str(r#"{"id":1}"#).unwrap();
        assert_eq!(b.phone, Patch::Keep);
        let b: Body = serde_json::from_str(r#"{"id":1,"phone":null}"#).unwrap();
        assert_eq!(b.phone, Patch::Null);
    }
}
