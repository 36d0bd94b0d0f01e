//! An instance going back to its group's warm pool waits on the terminate hook in
//! `Warmed:Pending:Wait` (retained: `Warmed:Pending:Retained`), which `DescribeWarmPool` lists
//! and `DescribeAutoScalingGroups` does not; so does a pool instance that terminates (the pool
//! deleted), in `Warmed:Terminating:Wait` (retained: `Warmed:Terminating:Retained`).

use aws_sdk_autoscaling::operation::describe_warm_pool::DescribeWarmPoolOutput;

use super::*;

/// `DescribeWarmPool` listing the pool's instances two pages: a warmed one, then `WAITING` in
/// `state`.
fn pool(state: LifecycleState) -> Rule {
    mock!(aws_sdk_autoscaling::Client::describe_warm_pool).then_compute_output(move |req| {
        assert_eq!(req.auto_scaling_group_name(), Some(ASG));
        let instance = |id: &str, state: LifecycleState| {
            Instance::builder()
                .instance_id(id)
                .lifecycle_state(state)
                .build()
        };
        match req.next_token() {
            None => DescribeWarmPoolOutput::builder()
                .instances(instance(
                    "i-0cccccccccccccccc",
                    LifecycleState::WarmedStopped,
                ))
                .next_token("page-2")
                .build(),
            Some(_) => DescribeWarmPoolOutput::builder()
                .instances(instance(WAITING, state.clone()))
                .build(),
        }
    })
}

/// The group (reusing instances on scale in: it has a warm pool), `WAITING` not among its own.
fn group_with_a_pool() -> Rule {
    groups_in(None, true)
}

/// A sweep with Auto Scaling answering `asg`, `pool` and the waiting instance's history, no
/// execution yet, and `start` answering StartExecution.
async fn sweep_with(asg: &Rule, pool: &Rule, start: &Rule) -> SweepReport {
    let (history, (list, describe)) = (history(), executions(vec![]));
    sweep_now(&[asg, pool, &history], &[&list, &describe, start])
        .await
        .unwrap()
}

#[tokio::test]
async fn an_instance_waiting_on_its_way_back_to_the_pool_gets_a_drain() {
    let (asg, pool) = (group_with_a_pool(), pool(LifecycleState::WarmedPendingWait));
    let start = start_ok(Destination::WarmPool);
    let report = sweep_with(&asg, &pool, &start).await;
    let waiting = &report.waiting[0];
    assert_eq!(waiting.instance_id, WAITING);
    assert_eq!(waiting.action_started, Some(began()));
    assert_eq!(
        (waiting.destination, waiting.retained),
        (Destination::WarmPool, false)
    );
    assert_eq!(start.num_calls(), 1);
    assert_eq!(pool.num_calls(), 2, "every page");
}

#[tokio::test]
async fn a_launch_into_the_pool_waiting_on_a_launch_hook_is_not_ours() {
    let (asg, pool) = (group_with_a_pool(), pool(LifecycleState::WarmedPendingWait));
    let launched = activities(vec![activity(
        &format!("Launching a new EC2 instance into warm pool: {WAITING}"),
        at(-60),
        ScalingActivityStatusCode::MidLifecycleAction,
    )]);
    let (list, describe) = executions(vec![]);
    let report = sweep_now(&[&asg, &pool, &launched], &[&list, &describe])
        .await
        .unwrap();
    assert_eq!(report, SweepReport::default());
    assert_eq!(list.num_calls(), 0);
}

#[tokio::test]
async fn a_group_without_a_warm_pool_is_not_asked_for_one() {
    let (asg, pool) = (groups(true), pool(LifecycleState::WarmedPendingWait));
    sweep_with(&asg, &pool, &start_ok(Destination::Ec2)).await;
    assert_eq!(pool.num_calls(), 0);
}

#[tokio::test]
async fn describe_warm_pool_errors_map_to_stable_names() {
    let asg = group_with_a_pool();
    for (code, name) in [
        ("Throttling", "Retryable"),
        ("AccessDenied", "AwsRequestFailed"),
    ] {
        let failing = mock!(aws_sdk_autoscaling::Client::describe_warm_pool)
            .then_http_response(move || query_error(400, code, "from the test"));
        let error = sweep_now(&[&asg, &failing], &[]).await.unwrap_err();
        assert_eq!(error.name(), name, "{code}");
        assert!(error.to_string().contains("DescribeWarmPool"), "{error}");
    }
}

#[tokio::test]
async fn a_terminating_instance_of_a_group_that_reuses_instances_counts_as_going_back_too() {
    // AWS says such an instance waits in Warmed:Pending:Wait; should one wait in
    // Terminating:Wait all the same, the drain errs on the side that deregisters its
    // container instance (harmless if it terminates, needed if it comes back)
    let (asg, pool) = (groups_with(true, true), pool(LifecycleState::WarmedStopped));
    let start = start_ok(Destination::WarmPool);
    let report = sweep_with(&asg, &pool, &start).await;
    assert_eq!(report.waiting[0].destination, Destination::WarmPool);
    assert_eq!(start.num_calls(), 1);
}

/// The pool instance's termination, as Auto Scaling words it (it names the warm pool).
fn terminating_from_the_pool() -> Rule {
    activities(vec![activity(
        &format!("Terminating EC2 instance from warm pool: {WAITING}"),
        began(),
        ScalingActivityStatusCode::MidLifecycleAction,
    )])
}

#[tokio::test]
async fn a_pool_instance_terminating_gets_a_drain_from_the_pool_to_ec2() {
    let (asg, pool) = (
        group_with_a_pool(),
        pool(LifecycleState::WarmedTerminatingWait),
    );
    let (history, (list, describe)) = (terminating_from_the_pool(), executions(vec![]));
    // it terminates, whatever the activity's wording and the group's reuse policy say
    let start = start_ok(Destination::Ec2);
    let report = sweep_now(&[&asg, &pool, &history], &[&list, &describe, &start])
        .await
        .unwrap();
    let waiting = &report.waiting[0];
    assert_eq!(waiting.instance_id, WAITING);
    assert_eq!(waiting.action_started, Some(began()));
    assert_eq!(
        (
            waiting.destination,
            waiting.from_warm_pool,
            waiting.retained
        ),
        (Destination::Ec2, true, false)
    );
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn an_instance_retained_on_its_way_back_or_after_its_termination_from_the_pool_gets_a_drain()
{
    // Either way its drain goes to EC2, as any retained instance's (see `start_at_the_sweep`).
    for (state, from_warm_pool) in [
        (LifecycleState::WarmedPendingRetained, false),
        (LifecycleState::WarmedTerminatingRetained, true),
    ] {
        let (asg, pool) = (group_with_a_pool(), pool(state.clone()));
        let start = super::retained::start_at_the_sweep();
        let report = sweep_with(&asg, &pool, &start).await;
        let waiting = &report.waiting[0];
        assert!(waiting.retained, "{state:?}");
        assert_eq!(
            (waiting.from_warm_pool, waiting.destination),
            (from_warm_pool, Destination::Ec2),
            "{state:?}"
        );
        assert_eq!(report.started.len(), 1, "{state:?}");
    }
}
