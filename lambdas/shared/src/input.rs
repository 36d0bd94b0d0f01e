//! Reading untrusted JSON field by field, so that every rejection names the field.
//! Used for the raw EventBridge event, the scaler's constant input and the settings the
//! state machine passes in.

use serde_json::{Map, Value};

use crate::StepError;

/// How a rejection is reported: `InvalidEvent` for events, `Misconfigured` for settings.
pub type Reject = fn(String, String) -> StepError;

pub fn reject_event(field: String, reason: String) -> StepError {
    StepError::InvalidEvent { field, reason }
}

pub fn reject_setting(field: String, reason: String) -> StepError {
    StepError::Misconfigured { field, reason }
}

/// A JSON object with the path it was found at, for messages.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: &'a str,
    reject: Reject,
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Fields<'a> {
    /// The top-level object; anything else is rejected naming `what`.
    pub fn root(value: &'a Value, what: &'a str, reject: Reject) -> Result<Self, StepError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: "",
                reject,
            }),
            other => Err(reject(
                what.to_string(),
                format!("must be a JSON object, got {}", type_name(other)),
            )),
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn fail(&self, key: &str, reason: impl Into<String>) -> StepError {
        (self.reject)(self.path_of(key), reason.into())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|value| !value.is_null())
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// The raw value at `key`, for fields whose every shape has a meaning (a value that
    /// is not ours is used differently, not refused).
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// A nested object, which must be present. `path` is the full path of the nested
    /// object (the caller keeps it alive), e.g. `detail`.
    pub fn object(&self, key: &str, path: &'a str) -> Result<Fields<'a>, StepError> {
        match self.map.get(key) {
            Some(Value::Object(map)) => Ok(Fields {
                map,
                path,
                reject: self.reject,
            }),
            None | Some(Value::Null) => Err(self.fail(key, "is missing")),
            Some(other) => {
                Err(self.fail(key, format!("must be an object, got {}", type_name(other))))
            }
        }
    }

    /// A string, which must be present and non-blank.
    pub fn string(&self, key: &str) -> Result<String, StepError> {
        self.optional_string(key)?
            .ok_or_else(|| self.fail(key, "is missing"))
    }

    /// A string that may be absent or null; blank counts as absent.
    pub fn optional_string(&self, key: &str) -> Result<Option<String>, StepError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
            Some(other) => {
                Err(self.fail(key, format!("must be a string, got {}", type_name(other))))
            }
        }
    }

    /// A non-negative whole number, which must be present.
    pub fn count(&self, key: &str) -> Result<u64, StepError> {
        self.optional_count(key)?
            .ok_or_else(|| self.fail(key, "is missing"))
    }

    /// A non-negative whole number that may be absent. A decimal string ("30") is
    /// accepted too, because state machine substitutions are strings.
    pub fn optional_count(&self, key: &str) -> Result<Option<u64>, StepError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => match (number.as_u64(), number.as_i64()) {
                (Some(count), _) => Ok(Some(count)),
                (None, Some(negative)) => {
                    Err(self.fail(key, format!("must not be negative, got {negative}")))
                }
                _ => Err(self.fail(key, format!("must be a whole number, got {number}"))),
            },
            Some(Value::String(text)) => text.trim().parse::<u64>().map(Some).map_err(|_| {
                self.fail(
                    key,
                    format!("must be a non-negative whole number, got \"{text}\""),
                )
            }),
            Some(other) => {
                Err(self.fail(key, format!("must be a number, got {}", type_name(other))))
            }
        }
    }

    /// A boolean that may be absent.
    pub fn optional_bool(&self, key: &str) -> Result<Option<bool>, StepError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.fail(
                key,
                format!("must be true or false, got {}", type_name(other)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_nested_fields_and_types() {
        let value = json!({"detail": {"n": -3, "s": 5, "t": " "}});
        let root = Fields::root(&value, "event", reject_event).unwrap();
        let detail = root.object("detail", "detail").unwrap();
        let error = detail.count("n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid input: `detail.n` must not be negative, got -3"
        );
        let error = detail.string("s").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid input: `detail.s` must be a string, got a number"
        );
        let error = detail.string("t").unwrap_err();
        assert_eq!(error.to_string(), "invalid input: `detail.t` is missing");
        let error = root.object("other", "other").unwrap_err();
        assert_eq!(error.to_string(), "invalid input: `other` is missing");
    }

    #[test]
    fn counts_accept_decimal_strings_only() {
        let value = json!({"a": "30", "b": "3.5", "c": 2.5, "d": true});
        let root = Fields::root(&value, "settings", reject_setting).unwrap();
        assert_eq!(root.count("a").unwrap(), 30);
        assert!(root.count("b").unwrap_err().to_string().contains("`b`"));
        assert!(root
            .count("c")
            .unwrap_err()
            .to_string()
            .contains("whole number"));
        assert_eq!(root.count("d").unwrap_err().name(), "Misconfigured");
    }

    #[test]
    fn non_objects_are_rejected_naming_the_input() {
        let error = Fields::root(&json!([1]), "scaler input", reject_setting).unwrap_err();
        assert_eq!(
            error.to_string(),
            "misconfigured: `scaler input` must be a JSON object, got an array"
        );
    }
}
