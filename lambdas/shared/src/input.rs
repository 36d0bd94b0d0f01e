//! Reading hand-written JSON field by field, so that every rejection names the field and
//! a number may come as a decimal string. Used for the scaler's constant input and the
//! settings the state machine substitutes (both strings there). Events and the drain state
//! are serde types instead (`crate::read`).

use serde_json::{Map, Value};

use crate::StepError;

/// A JSON object of settings; every rejection is `Misconfigured` and names the key.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
}

/// `a number`, `an object`, ...: a value's JSON type, for messages.
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
    /// The object; anything else is rejected naming `what`.
    pub fn root(value: &'a Value, what: &str) -> Result<Self, StepError> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            other => Err(StepError::misconfigured(
                what,
                format!("must be a JSON object, got {}", type_name(other)),
            )),
        }
    }

    pub fn fail(&self, key: &str, reason: impl Into<String>) -> StepError {
        StepError::misconfigured(key, reason)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// What `read` finds at `key`, which must be there.
    fn required<T>(
        &self,
        key: &str,
        read: fn(&Self, &str) -> Result<Option<T>, StepError>,
    ) -> Result<T, StepError> {
        read(self, key)?.ok_or_else(|| self.fail(key, "is missing"))
    }

    /// The value at `key`, `None` when it is absent or null.
    fn present(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// A string, which must be present and non-blank.
    pub fn string(&self, key: &str) -> Result<String, StepError> {
        self.required(key, Self::optional_string)
    }

    /// A string that may be absent or null; blank counts as absent.
    pub fn optional_string(&self, key: &str) -> Result<Option<String>, StepError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
            Some(other) => {
                Err(self.fail(key, format!("must be a string, got {}", type_name(other))))
            }
        }
    }

    /// A non-negative whole number, which must be present.
    pub fn count(&self, key: &str) -> Result<u64, StepError> {
        self.required(key, Self::optional_count)
    }

    /// A non-negative whole number that may be absent. A decimal string ("30") is
    /// accepted too, because state machine substitutions are strings.
    pub fn optional_count(&self, key: &str) -> Result<Option<u64>, StepError> {
        match self.present(key) {
            None => Ok(None),
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
        match self.present(key) {
            None => Ok(None),
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
    fn names_fields_and_types() {
        let value = json!({"n": -3, "s": 5, "t": " "});
        let root = Fields::root(&value, "settings").unwrap();
        let error = root.count("n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "misconfigured: `n` must not be negative, got -3"
        );
        let error = root.string("s").unwrap_err();
        assert_eq!(
            error.to_string(),
            "misconfigured: `s` must be a string, got a number"
        );
        let error = root.string("t").unwrap_err();
        assert_eq!(error.to_string(), "misconfigured: `t` is missing");
    }

    #[test]
    fn counts_accept_decimal_strings_only() {
        let value = json!({"a": "30", "b": "3.5", "c": 2.5, "d": true});
        let root = Fields::root(&value, "settings").unwrap();
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
        let error = Fields::root(&json!([1]), "scaler input").unwrap_err();
        assert_eq!(
            error.to_string(),
            "misconfigured: `scaler input` must be a JSON object, got an array"
        );
    }
}
