use super::super::bars::{bars, cells, WIDTH};
use super::super::tests::{completed, succeeded_drain};
use super::super::{from_events, Chart, Mark, MarkKind, Row};
use crate::testing::*;
use serde_json::{json, Value};

const TG: &str = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/nlb-tg/0123";

fn row<'a>(chart: &'a Chart, label: &str) -> &'a Row {
    chart
        .rows
        .iter()
        .find(|row| row.label == label)
        .unwrap_or_else(|| panic!("{label} in {:#?}", chart.rows))
}

fn kinds(row: &Row) -> Vec<(f64, f64, MarkKind)> {
    row.marks.iter().map(|m| (m.from, m.to, m.kind)).collect()
}

/// A state after the load balancers were deregistered at +6s: a Classic ELB (30 s), an NLB
/// target group whose connections outlive its delay (60 s), and a target group left to ECS
/// (healthy after 10 s, draining 20 s).
fn with_balancers(mut state: Value) -> Value {
    state["load_balancers"] = json!({
        "classic": [{"name": "web-clb", "draining_seconds": 30}],
        "target_groups": [{"arn": TG, "ports": [8080], "draining_seconds": 60,
                           "connections_outlive_delay": true}],
        "service_managed": [{"service": "web", "load_balancer": TG.replace("nlb-tg", "web-tg"),
                             "draining_seconds": 20, "healthy_after_seconds": 10}],
        "deregistered_at": "2026-11-27T00:00:06Z"
    });
    state
}

/// Drained at +70s: tasks seen stopped at +40s, load balancers at +70s, the instance going
/// back to the warm pool, one heartbeat.
fn drain_with_balancers() -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    let drained = edited(with_balancers(completed(1, 2)), |state| {
        state.report.tasks_stopped_at = Some(at(40));
        state.report.balancers_drained_at = Some(at(70));
        state.request.destination = sta_shared::state::Destination::WarmPool;
    });
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("DrainContainerInstance", 0, 4, state("draining", 0, 0))
        .task(
            "DeregisterFromLoadBalancers",
            4,
            6,
            with_balancers(state("draining", 0, 0)),
        )
        .entered("Wait", "WaitForDrain", 6, waiting(64))
        .exited("Wait", "WaitForDrain", 70, waiting(64))
        .task("CheckDrained", 70, 71, drained.clone())
        .entered("Succeed", "InstanceReleased", 71, json!({}))
        .exited("Succeed", "InstanceReleased", 71, drained)
        .succeeded(71);
    h.take()
}

#[test]
fn a_drain_is_a_waterfall_of_its_phases() {
    let timeline = from_events(&arn("lb"), &drain_with_balancers(), at(100));
    let chart = Chart::of(&timeline).unwrap();
    let labels: Vec<&str> = chart.rows.iter().map(|row| row.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "DrainContainerInstance",
            "task replacement",
            "DeregisterFromLoadBalancers",
            "clb web-clb",
            "tg nlb-tg",
            "web in web-tg (ECS)",
            "WaitForDrain",
            "CheckDrained",
            "heartbeats",
        ]
    );
    assert_eq!(chart.span_seconds, 71.0);
    assert_eq!(
        kinds(row(&chart, "task replacement")),
        [(4.0, 40.0, MarkKind::Tasks)]
    );
    assert!(row(&chart, "task replacement")
        .note
        .contains("1 task(s) seen stopped 36s after DRAINING"));
    assert_eq!(
        kinds(row(&chart, "clb web-clb")),
        [
            (6.0, 36.0, MarkKind::Draining),
            (70.0, 70.0, MarkKind::Point)
        ]
    );
    let nlb = row(&chart, "tg nlb-tg");
    assert_eq!(nlb.marks[0].to, 66.0);
    assert!(
        nlb.note.contains("NLB: open connections outlive the delay"),
        "{}",
        nlb.note
    );
    let ecs = row(&chart, "web in web-tg (ECS)");
    assert_eq!(
        kinds(ecs),
        [
            (6.0, 16.0, MarkKind::Healthy),
            (16.0, 36.0, MarkKind::Draining)
        ]
    );
    assert!(ecs
        .note
        .starts_with("left to ECS: replacement healthy after ~10s"));
    assert_eq!(
        kinds(row(&chart, "WaitForDrain")),
        [(6.0, 70.0, MarkKind::Wait)]
    );
    assert_eq!(
        kinds(row(&chart, "heartbeats")),
        [(71.0, 71.0, MarkKind::Point)]
    );

    let text = super::super::render(&timeline);
    assert!(
        text.contains("warm pool   the instance goes back to the warm pool: its container instance stays registered"),
        "{text}"
    );
}

#[test]
fn the_terminal_chart_draws_every_row_to_scale() {
    let timeline = from_events(&arn("ok"), &succeeded_drain(), at(1000));
    let chart = Chart::of(&timeline).unwrap();
    let text = bars(&chart);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), chart.rows.len() + 2, "{text}");
    let label_width = "DeregisterFromLoadBalancers".len() + 2;
    let axis = &lines[0][label_width..];
    assert!(axis.starts_with("0s") && axis.ends_with("6m09s"), "{text}");
    assert_eq!(axis.chars().count(), WIDTH, "{text}");
    let bar = |label: &str| -> String {
        let line = lines.iter().find(|l| l.starts_with(label)).unwrap();
        line.chars().skip(label_width).take(WIDTH).collect()
    };
    // The waits run from +6s to +5m06s and from +5m07s to +6m07s: the whole bar.
    let wait = bar("WaitForDrain");
    assert_eq!(wait.chars().filter(|c| *c == '·').count(), WIDTH, "{wait}");
    // The first check at +5m06s, the second at +6m07s: two cells.
    let checks = bar("CheckDrained");
    assert_eq!(checks.chars().filter(|c| *c == '█').count(), 2, "{checks}");
    let complete = bar("CompleteLifecycleAction");
    assert_eq!(complete.trim(), "█", "{complete}");
    assert!(complete.ends_with('█'), "{complete}");
    assert!(bar("heartbeats").contains('◆'), "{text}");
    assert!(
        text.contains("lifecycle action completed (CONTINUE)"),
        "{text}"
    );
    assert!(
        lines.last().unwrap().contains("█ step ran  · wait"),
        "{text}"
    );
    // Choice and Succeed states take no time: no row.
    assert!(!text.contains("IsDrained") && !text.contains("InstanceReleased"));
}

#[test]
fn cells_cover_their_span_and_rank_what_shares_a_cell() {
    let mark = |from: f64, to: f64, kind: MarkKind| Mark { from, to, kind };
    let span = WIDTH as f64;
    let line = cells(&[mark(0.0, 10.0, MarkKind::Step)], span);
    assert_eq!(line.chars().filter(|c| *c == '█').count(), 10, "{line}");
    let line = cells(&[mark(span, span, MarkKind::Point)], span);
    assert!(line.ends_with('◆'), "{line}");
    let line = cells(
        &[
            mark(0.0, 4.0, MarkKind::Wait),
            mark(2.0, 2.5, MarkKind::Step),
            mark(2.5, 2.5, MarkKind::Failed),
        ],
        span,
    );
    assert!(line.starts_with("··✗·"), "{line}");
    // A moment is one cell wide even where a long chart squeezes it.
    let line = cells(&[mark(3600.0, 3600.5, MarkKind::Step)], 7200.0);
    assert_eq!(line.trim(), "█");
}

#[test]
fn a_running_drain_reaches_to_now_and_a_passed_deadline_shows() {
    let mut h = History::default();
    h.started(0, lifecycle_input())
        .task("DrainContainerInstance", 0, 2, state("draining", 0, 0))
        .entered("Wait", "WaitForDrain", 2, waiting(30));
    let running = from_events(&arn("run"), &h.events, at(12));
    let chart = Chart::of(&running).unwrap();
    assert_eq!(chart.span_seconds, 12.0);
    assert_eq!(
        kinds(row(&chart, "WaitForDrain")),
        [(2.0, 12.0, MarkKind::Wait)]
    );
    assert_eq!(row(&chart, "task replacement").marks[0].to, 12.0);
    assert!(row(&chart, "task replacement")
        .note
        .contains("1 of 1 task(s) left"));
    assert!(chart.rows.iter().all(|row| row.label != "deadline"));

    // The fixture's deadline is +1h: a drain still running at +2h has passed it.
    let late = from_events(&arn("run"), &h.events, at(7200));
    let chart = Chart::of(&late).unwrap();
    assert_eq!(
        kinds(row(&chart, "deadline")),
        [(3600.0, 3600.0, MarkKind::Point)]
    );

    let unstarted = from_events(&arn("none"), &[], at(0));
    assert_eq!(Chart::of(&unstarted), None);
}
