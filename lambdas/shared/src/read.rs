//! Reading JSON into our serde types through `serde_path_to_error`, so that a rejection
//! names the field (`detail.EC2InstanceId`, `request.trigger.hook_name`) the way an
//! operator finds it in the execution's input.

use serde::{Deserialize, Deserializer};

use crate::StepError;

/// Deserializes `input`; a failure is `InvalidEvent` naming the field, or `root` when the
/// whole value is wrong. A missing (or null) field "is missing", as the name says.
pub fn read<'de, T, D>(input: D, root: &str) -> Result<T, StepError>
where
    T: Deserialize<'de>,
    D: Deserializer<'de, Error = serde_json::Error>,
{
    serde_path_to_error::deserialize(input).map_err(|error| {
        let path = error.path().to_string();
        let path = (path != ".").then_some(path);
        let reason = error.into_inner().to_string();
        let (field, reason) = match (reason.strip_prefix("missing field `"), path) {
            (Some(rest), path) => {
                let name = rest.split('`').next().unwrap_or_default();
                let field = match path {
                    Some(parent) => format!("{parent}.{name}"),
                    None => name.to_string(),
                };
                (field, "is missing".to_string())
            }
            (None, Some(path)) if reason.starts_with("invalid type: null") => {
                (path, "is missing".to_string())
            }
            (None, Some(path)) => (path, reason),
            (None, None) => (root.to_string(), reason),
        };
        StepError::invalid_event(field, reason)
    })
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
}
