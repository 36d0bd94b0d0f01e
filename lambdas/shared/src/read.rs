//! Reading JSON into our serde types through `serde_path_to_error`, so that a rejection
//! names the field (`detail.EC2InstanceId`, `settings.drain_deadline_seconds`) the way an
//! operator finds it in the execution's input: the events and the drain state (a rejection
//! is `InvalidEvent`), and the configuration the state machine and the scaler's schedule
//! pass (`Misconfigured`), whose numbers may come as decimal strings ([`count`]).

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::StepError;

/// Deserializes `input`; a failure is `InvalidEvent` naming the field, or `root` when the
/// whole value is wrong. A missing (or null) field "is missing", as the name says.
pub fn read<'de, T, D>(input: D, root: &str) -> Result<T, StepError>
where
    T: Deserialize<'de>,
    D: Deserializer<'de, Error = serde_json::Error>,
{
    read_as(input, root, "", |field, reason| {
        StepError::invalid_event(field, reason)
    })
}

/// Deserializes configuration, a JSON object named `root`: a failure is `Misconfigured`
/// naming the field, after `prefix` (`settings.`).
pub fn read_config<T: DeserializeOwned>(
    input: &Value,
    root: &str,
    prefix: &str,
) -> Result<T, StepError> {
    if !input.is_object() {
        return Err(StepError::misconfigured(
            root,
            format!("must be a JSON object, got {}", type_name(input)),
        ));
    }
    read_as(input, root, prefix, |field, reason| {
        StepError::misconfigured(field, reason)
    })
}

fn read_as<'de, T, D>(
    input: D,
    root: &str,
    prefix: &str,
    rejected: impl Fn(String, String) -> StepError,
) -> Result<T, StepError>
where
    T: Deserialize<'de>,
    D: Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(input).map_err(|error| {
        let path = error.path().to_string();
        let path = (path != ".").then(|| format!("{prefix}{path}"));
        let reason = error.into_inner().to_string();
        let (field, reason) = match (reason.strip_prefix("missing field `"), path) {
            (Some(rest), path) => {
                let name = rest.split('`').next().unwrap_or_default();
                let field = match path {
                    Some(parent) => format!("{parent}.{name}"),
                    None => format!("{prefix}{name}"),
                };
                (field, "is missing".to_string())
            }
            (None, Some(path)) if reason.starts_with("invalid type: null") => {
                (path, "is missing".to_string())
            }
            (None, Some(path)) => (path, reason),
            (None, None) => (root.to_string(), reason),
        };
        rejected(field, reason)
    })
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

/// A non-negative whole number; a decimal string ("30") is accepted too, because state
/// machine substitutions are strings. For `#[serde(deserialize_with)]`.
pub fn count<'de, D: Deserializer<'de>>(input: D) -> Result<u64, D::Error> {
    match Value::deserialize(input)? {
        Value::Number(number) => match (number.as_u64(), number.as_i64()) {
            (Some(count), _) => Ok(count),
            (None, Some(negative)) => Err(D::Error::custom(format!(
                "must not be negative, got {negative}"
            ))),
            _ => Err(D::Error::custom(format!(
                "must be a whole number, got {number}"
            ))),
        },
        Value::String(text) => text.trim().parse().map_err(|_| {
            D::Error::custom(format!(
                "must be a non-negative whole number, got \"{text}\""
            ))
        }),
        other => Err(D::Error::custom(if other.is_null() {
            "is missing".to_string()
        } else {
            format!("must be a number, got {}", type_name(&other))
        })),
    }
}

/// [`count`], absent or null: `None`. For `#[serde(default, deserialize_with)]`.
pub fn optional_count<'de, D: Deserializer<'de>>(input: D) -> Result<Option<u64>, D::Error> {
    match Value::deserialize(input)? {
        Value::Null => Ok(None),
        value => count(value).map(Some).map_err(D::Error::custom),
    }
}

/// A string, trimmed; blank, absent or null: `None`. For `#[serde(default, deserialize_with)]`.
pub fn optional_text<'de, D: Deserializer<'de>>(input: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(input)? {
        None => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "must be a string, got {}",
            type_name(&other)
        ))),
    }
}

/// [`optional_text`], which must be there.
pub fn text<'de, D: Deserializer<'de>>(input: D) -> Result<String, D::Error> {
    optional_text(input)?.ok_or_else(|| D::Error::custom("is missing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Outer {
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        #[serde(rename = "Name")]
        name: String,
        count: u32,
    }

    fn message(value: serde_json::Value) -> String {
        read::<Outer, _>(value, "outer").unwrap_err().to_string()
    }

    #[test]
    fn reads_what_fits() {
        let outer: Outer = read(json!({"inner": {"Name": "a", "count": 1}}), "outer").unwrap();
        assert_eq!((outer.inner.name.as_str(), outer.inner.count), ("a", 1));
    }

    #[test]
    fn rejections_name_the_field() {
        assert_eq!(
            message(json!({"inner": {"count": 1}})),
            "invalid input: `inner.Name` is missing"
        );
        assert_eq!(
            message(json!({"inner": {"Name": null, "count": 1}})),
            "invalid input: `inner.Name` is missing"
        );
        assert_eq!(message(json!({})), "invalid input: `inner` is missing");
        let mistyped = message(json!({"inner": {"Name": "a", "count": "x"}}));
        assert!(
            mistyped.starts_with("invalid input: `inner.count` invalid type"),
            "{mistyped}"
        );
        let whole = message(json!(5));
        assert!(whole.starts_with("invalid input: `outer` "), "{whole}");
    }

    #[derive(Debug, Deserialize)]
    struct Config {
        #[serde(default, deserialize_with = "optional_count")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "optional_text")]
        s: Option<String>,
        #[serde(deserialize_with = "text")]
        t: String,
        #[serde(deserialize_with = "count")]
        c: u64,
    }

    fn config(value: serde_json::Value) -> Result<Config, StepError> {
        read_config(&value, "settings", "settings.")
    }

    fn config_error(value: serde_json::Value) -> String {
        let error = config(value).unwrap_err();
        assert_eq!(error.name(), "Misconfigured", "{error}");
        error.to_string()
    }

    #[test]
    fn configuration_rejections_name_the_field_and_say_why() {
        let cases = [
            (
                json!({"n": -3}),
                "`settings.n` must not be negative, got -3",
            ),
            (
                json!({"n": 2.5}),
                "`settings.n` must be a whole number, got 2.5",
            ),
            (
                json!({"n": true}),
                "`settings.n` must be a number, got a boolean",
            ),
            (
                json!({"n": "3.5"}),
                "`settings.n` must be a non-negative whole number, got \"3.5\"",
            ),
            (
                json!({"s": 5}),
                "`settings.s` must be a string, got a number",
            ),
            (json!({"t": " "}), "`settings.t` is missing"),
            (json!({"t": null}), "`settings.t` is missing"),
            (json!({"c": null}), "`settings.c` is missing"),
            (json!({}), "`settings.t` is missing"),
        ];
        for (fields, expected) in cases {
            let mut value = json!({"t": "x", "c": 1});
            for (key, field) in fields.as_object().unwrap() {
                value[key] = field.clone();
            }
            if fields.as_object().unwrap().is_empty() {
                value.as_object_mut().unwrap().remove("t");
            }
            assert_eq!(config_error(value), format!("misconfigured: {expected}"));
        }
        assert_eq!(
            config_error(json!([1])),
            "misconfigured: `settings` must be a JSON object, got an array"
        );
    }

    #[test]
    fn counts_come_as_numbers_or_decimal_strings_and_text_is_trimmed() {
        let read = config(json!({"n": " 30 ", "s": "  ", "t": " web ", "c": 2})).unwrap();
        assert_eq!(
            (read.n, read.s, read.t.as_str(), read.c),
            (Some(30), None, "web", 2)
        );
        let read = config(json!({"n": null, "s": null, "t": "a", "c": "0"})).unwrap();
        assert_eq!((read.n, read.s, read.c), (None, None, 0));
    }
}
