//! Parsing of the common options (`--since`, `--status`) and the plain-text rendering
//! shared by the commands: times, durations and aligned tables.

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};

use crate::CliError;

/// An SDK timestamp as a chrono time.
pub fn time(value: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(value.secs(), value.subsec_nanos()).unwrap_or_default()
}

/// Seconds between two times, never negative.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds().max(0) as f64) / 1000.0
}

/// `850ms`, `12.4s`, `3m12s`, `2h03m`, `1d02h`.
pub fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        return format!("{}ms", (seconds * 1000.0).round() as u64);
    }
    if seconds < 60.0 {
        let text = format!("{seconds:.1}");
        return format!("{}s", text.trim_end_matches(".0"));
    }
    let whole = seconds.round() as u64;
    let (days, hours, minutes, secs) = (
        whole / 86_400,
        whole % 86_400 / 3600,
        whole % 3600 / 60,
        whole % 60,
    );
    if days > 0 {
        format!("{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else {
        format!("{minutes}m{secs:02}s")
    }
}

/// `2026-11-27 00:00:05Z` (UTC, to the second).
pub fn timestamp(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Parses `--since`: `90s`, `30m`, `24h`, `14d`, `2w`, or `all` (no limit).
pub fn parse_since(text: &str) -> Result<Option<chrono::Duration>, CliError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    let bad = || {
        CliError::input(format!(
            "--since {text:?}: expected a number and a unit (s, m, h, d, w), e.g. 24h or 7d, or `all`"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    number
        .checked_mul(seconds)
        .filter(|total| *total > 0 && *total <= 10 * 365 * 86_400)
        .map(|total| Some(chrono::Duration::seconds(total)))
        .ok_or_else(bad)
}

/// Parses `--status`: comma-separated execution statuses, any case (`failed,timed_out`).
pub fn parse_statuses(text: &str) -> Result<Vec<ExecutionStatus>, CliError> {
    let known = ExecutionStatus::values();
    let mut statuses = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let upper = part.to_ascii_uppercase().replace('-', "_");
        if !known.contains(&upper.as_str()) {
            return Err(CliError::input(format!(
                "--status {part:?}: expected one of {}",
                known.join(", ")
            )));
        }
        let status = ExecutionStatus::from(upper.as_str());
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    if statuses.is_empty() {
        return Err(CliError::input("--status names no status"));
    }
    Ok(statuses)
}

/// Renders rows under headers, columns separated by two spaces; the last column is not
/// padded. Empty cells show `-`.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |text: &str| -> String {
        if text.is_empty() {
            "-".to_string()
        } else {
            text.replace('\n', " ")
        }
    };
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (index, text) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell(text).chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (index, value) in cells.into_iter().enumerate() {
            if index == last {
                text.push_str(&value);
            } else {
                let pad = widths[index].saturating_sub(value.chars().count());
                text.push_str(&value);
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.iter().map(|text| cell(text)).collect());
    }
    out
}

/// Shortens a long text (a cause) for a table cell.
pub fn clip(text: &str, max: usize) -> String {
    let text = text.replace('\n', " ");
    if text.chars().count() <= max {
        text
    } else {
        let mut clipped: String = text.chars().take(max.saturating_sub(3)).collect();
        clipped.push_str("...");
        clipped
    }
}

/// The message of an execution's or a Task's cause. A Lambda's error reaches Step Functions
/// as the JSON the runtime reports (`{"errorType":"Retryable","errorMessage":"..."}`): its
/// `errorMessage` is what an operator reads. Any other cause is returned as it is.
pub fn cause_message(cause: &str) -> String {
    #[derive(serde::Deserialize)]
    struct LambdaError {
        #[serde(rename = "errorMessage")]
        error_message: String,
    }
    match serde_json::from_str::<LambdaError>(cause) {
        Ok(error) if !error.error_message.trim().is_empty() => error.error_message,
        _ => cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.25), "250ms");
        assert_eq!(duration(12.0), "12s");
        assert_eq!(duration(12.44), "12.4s");
        assert_eq!(duration(192.0), "3m12s");
        assert_eq!(duration(7380.0), "2h03m");
        assert_eq!(duration(93_600.0), "1d02h");
    }

    #[test]
    fn since_takes_a_unit_or_all() {
        assert_eq!(
            parse_since("24h").unwrap(),
            Some(chrono::Duration::hours(24))
        );
        assert_eq!(
            parse_since("90s").unwrap(),
            Some(chrono::Duration::seconds(90))
        );
        assert_eq!(parse_since("7d").unwrap(), Some(chrono::Duration::days(7)));
        assert_eq!(parse_since("2w").unwrap(), Some(chrono::Duration::days(14)));
        assert_eq!(parse_since("all").unwrap(), None);
        for bad in ["", "24", "h", "1y", "-1h", "0h", "99999999999999d"] {
            let error = parse_since(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad}");
            assert!(error.to_string().contains("--since"), "{error}");
        }
    }

    #[test]
    fn statuses_are_checked() {
        assert_eq!(
            parse_statuses("failed, TIMED_OUT,aborted,failed").unwrap(),
            vec![
                ExecutionStatus::Failed,
                ExecutionStatus::TimedOut,
                ExecutionStatus::Aborted
            ]
        );
        let error = parse_statuses("FAILED,BROKEN").unwrap_err();
        assert!(error.to_string().contains("\"BROKEN\""), "{error}");
        assert!(error.to_string().contains("SUCCEEDED"), "{error}");
        assert!(parse_statuses(",").is_err());
    }

    #[test]
    fn tables_align_and_fill_empty_cells() {
        let text = table(
            &["A", "LONG HEADER", "C"],
            &[
                vec!["x".into(), "".into(), "last".into()],
                vec!["longer".into(), "y".into(), "".into()],
            ],
        );
        assert_eq!(
            text,
            "A       LONG HEADER  C\nx       -            last\nlonger  y            -\n"
        );
    }

    #[test]
    fn a_lambda_cause_reads_as_its_message() {
        assert_eq!(
            cause_message(
                r#"{"errorType":"Retryable","errorMessage":"CompleteLifecycleAction: ServiceUnavailable"}"#
            ),
            "CompleteLifecycleAction: ServiceUnavailable"
        );
        assert_eq!(
            cause_message(r#"{"errorMessage":"x","errorType":"Lambda.Unknown","trace":[]}"#),
            "x"
        );
        for plain in [
            "DescribeTargetHealth: AccessDenied",
            "{\"errorMessage\": \"\"}",
            "{not json",
            "[1]",
        ] {
            assert_eq!(cause_message(plain), plain);
        }
    }

    #[test]
    fn clips_long_causes() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("a\nvery long cause", 10), "a very ...");
    }
}
