use super::super::tests::succeeded_drain;
use super::super::{from_events, svg};
use super::escape;
use crate::testing::*;

/// Every element opened is closed (the SVG is well formed as far as these elements go).
fn balanced(svg: &str, element: &str) -> usize {
    let opened = svg.matches(&format!("<{element} ")).count();
    let self_closed = svg
        .split(&format!("<{element} "))
        .skip(1)
        .filter(|rest| rest.split('>').next().unwrap_or_default().ends_with('/'))
        .count();
    assert_eq!(
        opened - self_closed,
        svg.matches(&format!("</{element}>")).count(),
        "<{element}> in {svg}"
    );
    opened
}

#[test]
fn the_svg_draws_the_same_rows() {
    let timeline = from_events(&arn("ok"), &succeeded_drain(), at(1000));
    let text = svg(&timeline);
    assert!(
        text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{text}"
    );
    assert!(text.ends_with("</svg>\n"));
    for element in ["text", "rect", "path", "line"] {
        balanced(&text, element);
    }
    assert_eq!(
        text.matches("<title>").count(),
        text.matches("</title>").count()
    );
    assert_contains(
        &text,
        &[
            ">DrainContainerInstance</text>",
            ">task replacement</text>",
            ">WaitForDrain</text>",
            ">heartbeats</text>",
            ">CompleteLifecycleAction</text>",
            "<title>WaitForDrain: +6s to +5m06s (5m00s), wait</title>",
            "<title>heartbeats: +5m07s, event</title>",
            "SUCCEEDED  drain drained",
            // The axis: a round step, +1m00s apart over 6m09s.
            ">+1m00s</text>",
            ">+6m00s</text>",
        ],
    );
    assert!(!text.contains(">+7m00s</text>"), "{text}");
}

#[test]
fn text_is_escaped_and_an_unstarted_execution_still_draws() {
    assert_eq!(
        escape("a<b & \"c\" 'd'>\n"),
        "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt; "
    );
    let text = svg(&from_events(&arn("x<y"), &[], at(0)));
    assert_contains(&text, &["the execution has not started", "x&lt;y"]);
    balanced(&text, "text");
}
