use aws_sdk_ecs::operation::delete_attributes::DeleteAttributesOutput;
use aws_sdk_ecs::operation::put_attributes::PutAttributesOutput;
use aws_sdk_ecs::types::{Attribute, ContainerInstance, TargetType};
use sta_shared::pool_return::{ATTRIBUTE, STOPPED_AT, VALUE};
use sta_shared::state::Destination;

use super::*;

/// Registered as `CI_ARN`, ACTIVE, carrying the mark to be set ACTIVE when back from the warm
/// pool (left there by a drain before, the sweeper not come by yet).
fn marked_instance() -> Instance {
    Instance {
        describe: described_marked(),
        ..Instance::registered("ACTIVE")
    }
}

fn described_marked() -> Rule {
    describing_container_instance(
        ContainerInstance::builder()
            .container_instance_arn(CI_ARN)
            .ec2_instance_id(INSTANCE_ID)
            .status("ACTIVE")
            .agent_connected(true)
            .attributes(
                Attribute::builder()
                    .name(ATTRIBUTE)
                    .value(VALUE)
                    .build()
                    .unwrap(),
            )
            .build(),
    )
}

/// PutAttributes of the mark on `CI_ARN`.
fn marked() -> Rule {
    mock!(aws_sdk_ecs::Client::put_attributes).then_compute_output(|req| {
        assert_eq!(req.cluster(), Some(CLUSTER));
        let [attribute] = req.attributes() else {
            panic!("one attribute: {:?}", req.attributes())
        };
        assert_eq!(
            (attribute.name(), attribute.value(), attribute.target_id()),
            (ATTRIBUTE, Some(VALUE), Some(CI_ARN))
        );
        assert_eq!(
            attribute.target_type(),
            Some(&TargetType::ContainerInstance)
        );
        PutAttributesOutput::builder().build()
    })
}

/// DeleteAttributes of the mark on `CI_ARN`, by name and target only (as its API reference
/// asks of a custom attribute).
fn unmarked() -> Rule {
    mock!(aws_sdk_ecs::Client::delete_attributes).then_compute_output(|req| {
        let [attribute] = req.attributes() else {
            panic!("one attribute: {:?}", req.attributes())
        };
        assert_eq!(
            (attribute.name(), attribute.value(), attribute.target_id()),
            (ATTRIBUTE, None, Some(CI_ARN))
        );
        DeleteAttributesOutput::builder().build()
    })
}

/// The lifecycle fixture's input, the instance going back to the warm pool.
fn going_back() -> DrainInput {
    let mut input = lifecycle_input();
    input.request.destination = Destination::WarmPool;
    input
}

fn tasks() -> [Rule; 2] {
    [list_tasks(&["web-1"], &[]), describe_tasks()]
}

#[tokio::test]
async fn the_mark_follows_where_the_instance_goes() {
    // (carries a mark, goes back to the pool) -> (PutAttributes, DeleteAttributes) calls. One
    // marked and not going back came back in service before the sweeper came by and is now
    // leaving for good (or warned of a Spot interruption): the sweeper must not set it ACTIVE
    // mid-drain.
    for (carries, back, calls) in [
        (false, true, (1, 0)),
        (true, true, (0, 0)),
        (true, false, (0, 1)),
        (false, false, (0, 0)),
    ] {
        let ci = if carries {
            marked_instance()
        } else {
            Instance::registered("ACTIVE")
        };
        let (mark, unmark, [list, describe]) = (marked(), unmarked(), tasks());
        let deps = deps(&ci.and(&[&mark, &unmark, &list, &describe]));
        let input = if back {
            going_back()
        } else {
            lifecycle_input()
        };
        let state = drain(&deps, input, at(1)).await.unwrap();
        let case = format!("carries a mark {carries}, going back {back}");
        assert_eq!((mark.num_calls(), unmark.num_calls()), calls, "{case}");
        assert_eq!(ci.update.num_calls(), 1, "set DRAINING: {case}");
        assert_eq!(state.remaining.tasks.len(), 1, "{case}");
    }
}

#[tokio::test]
async fn a_container_instance_gone_needs_no_mark_and_a_full_one_is_a_note() {
    for (code, noted) in [
        ("TargetNotFoundException", false),
        ("AttributeLimitExceededException", true),
    ] {
        let ci = Instance::registered("ACTIVE");
        let refused = mock!(aws_sdk_ecs::Client::put_attributes)
            .then_http_response(move || json_error(400, code));
        let [list, describe] = tasks();
        let deps = deps(&ci.and(&[&refused, &list, &describe]));
        let state = drain(&deps, going_back(), at(1)).await.unwrap();
        let notes = state.report.notes.iter().filter(|n| n.contains(ATTRIBUTE));
        assert_eq!(notes.count(), usize::from(noted), "{code}");
        assert_eq!(state.remaining.tasks.len(), 1, "the drain goes on: {code}");
    }
}

#[tokio::test]
async fn a_failed_mark_or_unmark_is_retried_or_named() {
    for (code, name) in [
        ("ThrottlingException", "Retryable"),
        ("AccessDeniedException", "AwsRequestFailed"),
    ] {
        let refusal = move || json_error(400, code);
        let mark = mock!(aws_sdk_ecs::Client::put_attributes).then_http_response(refusal);
        let unmark = mock!(aws_sdk_ecs::Client::delete_attributes).then_http_response(refusal);
        // Marked on its way back to the pool; unmarked when it terminates.
        for (ci, refused, input, api) in [
            (
                Instance::registered("ACTIVE"),
                &mark,
                going_back(),
                "PutAttributes",
            ),
            (
                marked_instance(),
                &unmark,
                lifecycle_input(),
                "DeleteAttributes",
            ),
        ] {
            let error = drain(&deps(&ci.and(&[refused])), input, at(1))
                .await
                .unwrap_err();
            assert_step_error(&error, name, api);
        }
    }
}

#[tokio::test]
async fn an_unmark_of_a_container_instance_gone_is_done() {
    let ci = marked_instance();
    let gone = mock!(aws_sdk_ecs::Client::delete_attributes)
        .then_http_response(|| json_error(400, "TargetNotFoundException"));
    let [list, describe] = tasks();
    let deps = deps(&ci.and(&[&gone, &list, &describe]));
    let state = drain(&deps, lifecycle_input(), at(1)).await.unwrap();
    assert_eq!(state.remaining.tasks.len(), 1);
}

/// The instance's terminations: the one of the fixture's action, and one more `later` seconds
/// after it when given (a newer action of the instance, reused since).
fn terminations(later: Option<i64>) -> Rule {
    use aws_sdk_autoscaling::types::ScalingActivityStatusCode::{MidLifecycleAction, Successful};
    let description = format!("Terminating EC2 instance: {INSTANCE_ID}");
    let mut found = vec![scaling_activity(&description, event_time(), Successful)];
    if let Some(later) = later {
        let began = event_time() + chrono::Duration::seconds(later);
        found.insert(0, scaling_activity(&description, began, MidLifecycleAction));
    }
    scaling_activities(found)
}

#[tokio::test]
async fn a_redrive_finding_the_instance_in_the_pool_it_went_back_to_marks_it() {
    // The first attempt set it DRAINING and FAILED before marking it; the action expired and
    // the instance went back to the pool, stopped (its agent disconnected).
    let ci = Instance::registered("DRAINING");
    let (mark, [list, describe]) = (marked(), tasks());
    let (described, activities) = (
        auto_scaling_instance(Some("Warmed:Stopped")),
        terminations(None),
    );
    let deps = deps_action_gone(
        &ci.and(&[&mark, &list, &describe]),
        &[&described, &activities],
    );
    let state = drain(&deps, going_back(), at(400)).await.unwrap();
    assert_eq!(state.status, DrainStatus::Draining);
    assert!(state.heartbeat.action_gone && !state.heartbeat.superseded);
    assert_eq!(mark.num_calls(), 1);
}

#[tokio::test]
async fn a_redrive_finding_the_instance_in_the_pool_under_a_newer_action_changes_nothing() {
    // Reused since, and on its way back to the pool again: the newer action has a drain of
    // its own.
    for (lifecycle_state, destination) in [
        ("Warmed:Pending:Wait", Destination::WarmPool),
        ("Warmed:Stopped", Destination::Ec2),
    ] {
        let ci = Instance::registered("DRAINING");
        let mark = marked();
        let later = (destination == Destination::WarmPool).then_some(3600);
        let (described, activities) = (
            auto_scaling_instance(Some(lifecycle_state)),
            terminations(later),
        );
        let deps = deps_action_gone(&ci.and(&[&mark]), &[&described, &activities]);
        let mut input = going_back();
        input.request.destination = destination;
        let state = drain(&deps, input, at(400)).await.unwrap();
        assert_eq!(state.status, DrainStatus::ActionEnded, "{lifecycle_state}");
        assert_eq!(
            state.heartbeat.superseded,
            later.is_some(),
            "{lifecycle_state}"
        );
        assert_eq!(
            (ci.list.num_calls(), mark.num_calls()),
            (0, 0),
            "{lifecycle_state}"
        );
    }
}

/// PutAttributes of the mark on `CI_ARN` with the time of the Spot warning that stops it.
fn marked_as_stopped(at: i64) -> Rule {
    mock!(aws_sdk_ecs::Client::put_attributes).then_compute_output(move |req| {
        let written: Vec<_> = req
            .attributes()
            .iter()
            .map(|a| (a.name(), a.value().map(str::to_string), a.target_id()))
            .collect();
        assert_eq!(
            written,
            [
                (ATTRIBUTE, Some(VALUE.to_string()), Some(CI_ARN)),
                (STOPPED_AT, Some(at.to_string()), Some(CI_ARN)),
            ]
        );
        PutAttributesOutput::builder().build()
    })
}

#[tokio::test]
async fn a_spot_interruption_that_stops_the_instance_marks_it_with_the_warnings_time() {
    // Marked or not (an older stop's), the mark is written with this warning's time; one that
    // terminates the instance leaves it unmarked.
    for (action, ci, calls) in [
        ("stop", Instance::registered("ACTIVE"), 1),
        ("hibernate", marked_instance(), 1),
        ("terminate", Instance::registered("ACTIVE"), 0),
    ] {
        let mut event = spot_event();
        event["detail"]["instance-action"] = serde_json::json!(action);
        let at = chrono::DateTime::parse_from_rfc3339(event["time"].as_str().unwrap())
            .unwrap()
            .timestamp();
        let (mark, [list, describe]) = (marked_as_stopped(at), tasks());
        let mut deps = deps(&ci.and(&[&mark, &list, &describe]));
        deps.config.cluster = Some(CLUSTER.into());
        let state = handle(&deps, event).await.unwrap();
        assert_eq!(mark.num_calls(), calls, "{action}");
        assert_eq!(ci.update.num_calls(), 1, "set DRAINING: {action}");
        let expected = if calls == 1 {
            Destination::Stopped
        } else {
            Destination::Ec2
        };
        assert_eq!(state.request.destination, expected, "{action}");
    }
}
