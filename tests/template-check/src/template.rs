//! A tag-tolerant view of a SAM template.

use serde_yaml::Value;

/// A parsed template. Short-form intrinsics (`!Ref X`, `!GetAtt X.Arn`, `!Sub '...'`) stay as
/// `Value::Tagged`, so rules can tell an exact ARN from a literal string.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

/// One `AWS::Serverless::Function` resource.
#[derive(Debug, Clone)]
pub struct Function<'a> {
    pub logical_id: &'a str,
    pub metadata: &'a Value,
    pub properties: &'a Value,
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, serde_yaml::Error> {
        Ok(Self {
            root: serde_yaml::from_str(text)?,
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{} is not valid YAML: {e}", path.display()))
    }

    /// `(logical id, resource)` of every resource of the given `Type`.
    pub fn resources_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.root["Resources"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(move |(_, r)| r["Type"].as_str() == Some(kind))
            .filter_map(|(id, r)| Some((id.as_str()?, r)))
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.root["Resources"].get(logical_id)
    }

    pub fn functions(&self) -> Vec<Function<'_>> {
        self.resources_of_type("AWS::Serverless::Function")
            .map(|(logical_id, r)| Function {
                logical_id,
                metadata: &r["Metadata"],
                properties: &r["Properties"],
            })
            .collect()
    }

    /// `Parameters.<name>` (Null when absent).
    pub fn parameter(&self, name: &str) -> &Value {
        &self.root["Parameters"][name]
    }

    /// `Globals.Function.<key>`, the default for every function.
    pub fn global_function(&self, key: &str) -> &Value {
        &self.root["Globals"]["Function"][key]
    }

    /// A function property, falling back to `Globals.Function`.
    pub fn effective<'a>(&'a self, f: &Function<'a>, key: &str) -> &'a Value {
        match &f.properties[key] {
            Value::Null => self.global_function(key),
            v => v,
        }
    }
}

impl<'a> Function<'a> {
    /// The cargo binary the SAM build produces (`Metadata.BuildProperties.Binary`).
    pub fn binary(&self) -> Option<&'a str> {
        self.metadata["BuildProperties"]["Binary"].as_str()
    }

    pub fn events(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + use<'a> {
        let events: &'a Value = &self.properties["Events"];
        events
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(name, e)| Some((name.as_str()?, e)))
    }
}

/// The tag name of a short-form intrinsic without its `!` (`Ref`, `GetAtt`, `Sub`), if any.
pub fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_owned(), &t.value)),
        _ => None,
    }
}

/// The logical id a `!GetAtt X.Arn` or `!Ref X` points to.
pub fn referenced_resource(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (tag, Value::String(s)) if tag == "GetAtt" => s.split_once('.').map(|(id, _)| id),
        (tag, Value::String(s)) if tag == "Ref" => Some(s.as_str()),
        _ => None,
    }
}

/// A scalar or a list of scalars as a list of values.
pub fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A number written as a YAML number or a numeric string.
pub fn as_u64(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str()?.parse().ok())
}
