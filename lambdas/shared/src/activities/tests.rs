use super::*;
use crate::testing::{
    at, autoscaling_client, scaling_activities as activities, scaling_activity as activity, ASG,
};
use aws_sdk_autoscaling::operation::describe_scaling_activities::DescribeScalingActivitiesOutput;
use aws_smithy_mocks::{mock, Rule};
use ScalingActivityStatusCode::{MidLifecycleAction, Successful};

const WAITING: &str = "i-0aaaaaaaaaaaaaaa1";

/// When the waiting instance's termination activity started, with a fraction of a second
/// as Auto Scaling reports it.
fn began() -> DateTime<Utc> {
    at(-600) + chrono::Duration::milliseconds(250)
}

const OTHER: &str = "i-0bbbbbbbbbbbbbbb2";

fn since() -> DateTime<Utc> {
    at(-49 * 3600)
}

#[test]
fn an_activity_names_an_instance_by_its_whole_id() {
    assert!(names_instance(
        "Terminating EC2 instance: i-12345678",
        "i-12345678"
    ));
    assert!(names_instance(
        "{\"instance\":\"i-12345678\"}",
        "i-12345678"
    ));
    assert!(!names_instance(
        "Terminating EC2 instance: i-12345678abcdef012",
        "i-12345678"
    ));
    assert!(!names_instance(
        "Terminating EC2 instance: xi-12345678",
        "i-12345678"
    ));
    assert!(!names_instance("", "i-12345678"));
}

#[tokio::test]
async fn the_newest_activity_that_is_not_a_launch_is_the_termination() {
    let listing = activities(vec![
        activity(
            &format!("Launching a new EC2 instance from the warm pool: {WAITING}"),
            at(-300),
            Successful,
        ),
        activity(
            &format!("Terminating EC2 instance: {WAITING}"),
            began(),
            MidLifecycleAction,
        ),
        activity(
            &format!("Terminating EC2 instance: {WAITING}"),
            at(-3 * 3600),
            Successful,
        ),
    ]);
    let client = autoscaling_client(&[&listing]);
    let found = terminations(&client, ASG, &[WAITING, OTHER], since())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let termination = &found[WAITING];
    assert_eq!(termination.started, began());
    assert!(!termination.to_warm_pool());
}

#[tokio::test]
async fn an_instance_named_in_the_details_is_found_too() {
    let mut named = activity("Moving an instance", began(), MidLifecycleAction);
    named.details = Some(format!("{{\"InstanceId\":\"{WAITING}\"}}"));
    named.description = Some("Moving EC2 instance to the warm pool".into());
    let listing = activities(vec![named]);
    let client = autoscaling_client(&[&listing]);
    let found = terminations(&client, ASG, &[WAITING], since())
        .await
        .unwrap();
    assert_eq!(found[WAITING].started, began());
    assert!(found[WAITING].to_warm_pool());
}

/// Two pages: the first holds the activities in progress (none for `WAITING`), the
/// second the rest.
fn two_pages() -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_scaling_activities).then_compute_output(|req| {
        match req.next_token() {
            None => DescribeScalingActivitiesOutput::builder()
                .activities(activity(
                    &format!("Terminating EC2 instance: {OTHER}"),
                    at(-60),
                    MidLifecycleAction,
                ))
                .next_token("page-2")
                .build(),
            Some(_) => DescribeScalingActivitiesOutput::builder()
                .activities(activity(
                    &format!("Terminating EC2 instance: {WAITING}"),
                    began(),
                    Successful,
                ))
                .build(),
        }
    })
}

#[tokio::test]
async fn pages_are_read_until_every_instance_is_found() {
    let listing = two_pages();
    let client = autoscaling_client(&[&listing]);
    let found = terminations(&client, ASG, &[OTHER], since()).await.unwrap();
    assert_eq!(found[OTHER].started, at(-60));
    assert_eq!(listing.num_calls(), 1, "found on the first page");

    let listing = two_pages();
    let client = autoscaling_client(&[&listing]);
    let found = terminations(&client, ASG, &[WAITING, OTHER], since())
        .await
        .unwrap();
    assert_eq!(found[WAITING].started, began());
    assert_eq!(listing.num_calls(), 2);
}

#[tokio::test]
async fn finished_activities_older_than_the_hook_limit_end_the_listing() {
    let listing =
        mock!(aws_sdk_autoscaling::Client::describe_scaling_activities).then_output(|| {
            DescribeScalingActivitiesOutput::builder()
                .activities(activity(
                    &format!("Terminating EC2 instance: {WAITING}"),
                    at(-50 * 3600),
                    Successful,
                ))
                .next_token("more")
                .build()
        });
    let client = autoscaling_client(&[&listing]);
    let found = terminations(&client, ASG, &[WAITING], since())
        .await
        .unwrap();
    assert!(found.is_empty());
    assert_eq!(listing.num_calls(), 1);
}
