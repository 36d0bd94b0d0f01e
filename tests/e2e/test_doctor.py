"""`ecs-sta doctor` and `ecs-sta drill` against deployments in the world (what world.run deploys:
infra's state machine, rule, hook and the scenario's cluster, with the real Lambdas). Doctor: a
correct deployment passes; each misconfiguration is reported by the check that names it, with the
exit code it deserves. Drill: a healthy deployment passes it; a disabled rule, and a replacement whose
health check never passes, fail it with the right reason. Judged from ecs-sta's report and the world's
own event log."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from world import deploy as deployment
from world import harness, run
from world.deploy import Deployment

# The world runs no sweeper schedule: say how often one would run (1 minute, the shortest infra allows).


def sta(binary: Path, world, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return harness.ecs_sta(binary, world.exports(), *args, timeout=timeout)


def deploy(world, **overrides: Any) -> Deployment:
    """A fresh world with the scenario's deployment, its service's tasks running and every
    registration healthy (a steady service)."""
    sc = run.load_scenario({"name": "doctor", **overrides})
    world.reset()
    dep = deployment.deploy(world, sc, print)
    desired = sc["service"]["desired"]
    harness.wait_for(
        lambda: len(harness.running_tasks(world, dep)) >= min(desired, sc["instances"]), 30, "tasks running"
    )
    harness.wait_for(
        lambda: all(s == "healthy" for lbs in harness.lb_health(world, dep).values() for s in lbs.values()),
        60,
        "every registration healthy",
        every=0.5,
    )
    return dep


def doctor_args(dep: Deployment, *extra: str) -> list[str]:
    return ["doctor", *dep.cli_args(), "--json", *extra]


def doctor(binary: Path, world, dep: Deployment, *extra: str, code: int) -> dict[str, Any]:
    proc = sta(binary, world, *doctor_args(dep, *extra))
    assert proc.returncode == code, proc.stderr
    return json.loads(proc.stdout)


def statuses(report: dict[str, Any], name: str) -> list[str]:
    return [c["status"] for c in report["checks"] if c["name"] == name]


def only(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in report["checks"] if c["name"] == name]
    return found


def not_passing(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["name"], c["status"]) for c in report["checks"] if c["status"] != "PASS"]


def test_a_correct_deployment_passes(world, ecs_sta):
    dep = deploy(world)
    report = doctor(ecs_sta, world, dep, "--strict", code=0)
    assert report["ok"] is True and report["fail"] == 0 and report["warn"] == 0, not_passing(report)
    for name in (
        "state-machine",
        "drain-settings",
        "rule",
        "rule-coverage",
        "recent-drains",
        "hook",
        "hook-heartbeat",
        "hook-deadline",
        "hook-default-result",
        "other-terminate-hooks",
        "scale-in-protection",
        "scaling-policies",
        "cluster",
        "capacity-provider",
        "container-instances-draining",
        "container-instances-agent",
        "n-plus-1",
        "deployment-configuration",
        "service-auto-scaling",
        "lb-draining",
        "lb-replacement-health",
        "dead-letter-queue",
    ):
        assert statuses(report, name), f"{name} not checked"
    functions = {c["subject"] for c in report["checks"] if c["name"] == "function"}
    assert functions == set(dep.functions.values()), functions  # the drain's four, the sweeper, the scaler
    assert report["hook_names"] == [dep.hook]
    assert report["drain_deadline_seconds"] == 3000 and report["sweep_period_seconds"] == 300  # the stack's schedule
    assert only(report, "rule")["subject"] == dep.rule
    # every check has its name, status and detail
    assert all({"name", "status", "detail", "fix"} <= set(c) for c in report["checks"])

    text = sta(ecs_sta, world, *[a for a in doctor_args(dep) if a != "--json"])
    assert text.returncode == 0 and "0 FAIL, 0 WARN" in text.stdout, text.stdout


def test_a_daemon_service_passes_with_every_service_of_the_cluster_checked(world, ecs_sta):
    """A DAEMON service (a node agent behind its own target group) beside the web service, and no
    --service: doctor checks every service of the cluster. The daemon runs a task on every instance
    and ECS stops it last on a draining instance: N+1 and a replacement's room do not apply to it, and
    its target's draining follows the web task's."""
    dep = _with_a_daemon(world)
    proc = sta(ecs_sta, world, "doctor", *dep.cli_args(service=False), "--json", "--strict")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["fail"] == 0 and report["warn"] == 0, not_passing(report)
    daemon = only(report, "daemon-service")
    assert daemon["subject"] == "agent" and "last" in daemon["detail"], daemon
    assert [c["subject"] for c in report["checks"] if c["name"] == "n-plus-1"] == ["web"]
    [agent_draining] = [c for c in report["checks"] if c["name"] == "lb-draining" and c["subject"].startswith("agent")]
    # the web task's drain (replacement healthy 2 x 2 s + draining 5 s + its containers' stopTimeout 2 s),
    # then the agent's draining 5 s and its containers' 2 s
    assert "about 18 s" in agent_draining["detail"], agent_draining


def _with_a_daemon(world) -> Deployment:
    lbs = run.load_scenario({"name": "doctor"})["load_balancers"]
    agent_tg = {"name": "agent-tg", "port": 9100, "deregistration_delay": 5, "attach": "daemon"}
    return deploy(
        world, daemon={"name": "agent"}, load_balancers={**lbs, "target_groups": [*lbs["target_groups"], agent_tg]}
    )


def test_a_target_group_whose_load_balancer_was_deleted_is_reported(world, ecs_sta):
    dep = deploy(world)
    elbv2 = world.client("elbv2")
    [arn] = dep.target_groups.values()
    [lb] = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["LoadBalancerArns"]
    elbv2.delete_load_balancer(LoadBalancerArn=lb)
    report = doctor(ecs_sta, world, dep, code=1)
    [unused] = [c for c in report["checks"] if c["name"] == "load-balancer"]
    assert unused["status"] == "FAIL" and "Target.NotInUse" in unused["detail"], unused
    assert not_passing(report) == [("load-balancer", "FAIL")]


def test_a_zone_the_group_launches_in_that_its_load_balancer_does_not_enable_is_reported(world, ecs_sta):
    """The ALB moved to two other zones: the group's instances get no traffic there (the world makes
    their targets ``unused``, Target.NotInUse), so a replacement would never become healthy."""
    dep = deploy(world)
    ec2, elbv2 = world.client("ec2"), world.client("elbv2")
    [group] = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])[
        "AutoScalingGroups"
    ]
    [arn] = dep.target_groups.values()
    [lb] = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]["LoadBalancerArns"]
    others = [
        s["SubnetId"]
        for s in ec2.describe_subnets()["Subnets"]
        if s["AvailabilityZone"] not in group["AvailabilityZones"]
    ]
    elbv2.set_subnets(LoadBalancerArn=lb, Subnets=others[:2])
    health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert {d["TargetHealth"].get("Reason") for d in health} == {"Target.NotInUse"}, health

    report = doctor(ecs_sta, world, dep, code=1)
    [zones] = [c for c in report["checks"] if c["name"] == "lb-zones" and "target group" in c["subject"]]
    [zone] = group["AvailabilityZones"]
    assert zones["status"] == "FAIL" and f"not {zone} (group {dep.asg})" in zones["detail"], zones
    assert "aws elbv2 set-subnets" in zones["fix"], zones
    assert [n for n, s in not_passing(report) if s == "FAIL"] == ["lb-zones"], not_passing(report)


def test_a_heartbeat_timeout_shorter_than_the_sweep_is_reported(world, ecs_sta):
    dep = deploy(world, hook={"heartbeat_timeout": 60})
    report = doctor(ecs_sta, world, dep, code=1)
    check = only(report, "hook-heartbeat")
    assert check["status"] == "FAIL" and check["subject"] == dep.asg, check
    assert "not longer than the sweep period 300 s" in check["detail"] and "heartbeatTimeout" in check["fix"], check
    assert [n for n, s in not_passing(report) if s == "FAIL"] == ["hook-heartbeat"], not_passing(report)


def test_a_missing_hook_is_reported(world, ecs_sta):
    dep = deploy(world)
    world.client("autoscaling").delete_lifecycle_hook(LifecycleHookName=dep.hook, AutoScalingGroupName=dep.asg)
    report = doctor(ecs_sta, world, dep, code=1)
    check = only(report, "hook")
    assert check["status"] == "FAIL" and f"no terminate hook named {dep.hook}" in check["detail"], check
    assert "put-lifecycle-hook" in check["fix"], check


def test_a_disabled_rule_is_reported(world, ecs_sta):
    dep = deploy(world)
    world.client("events").disable_rule(Name=dep.rule)
    report = doctor(ecs_sta, world, dep, code=1)
    check = only(report, "rule")
    assert check["status"] == "FAIL" and check["subject"] == dep.rule and "DISABLED" in check["detail"], check
    assert check["fix"] == f"aws events enable-rule --name {dep.rule}"
    assert report["hook_names"] == [dep.hook], "the disabled rule still names our hook"


def _deny_starting_drains(world, dep: Deployment) -> int:
    """The role the rules' targets start executions with denies it; the world's last event."""
    role = dep.stack.one("AWS::IAM::Role", "DrainStateMachineEventsRole")
    deny = {"Effect": "Deny", "Action": "states:StartExecution", "Resource": "*"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    world.client("iam").put_role_policy(RoleName=role, PolicyName="deny", PolicyDocument=document)
    return world.events()[-1]["seq"]


def test_an_event_eventbridge_could_not_deliver_is_reported_from_the_dead_letter_queue(world, ecs_sta):
    dep = deploy(world)
    since = _deny_starting_drains(world, dep)
    groups = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])
    desired = groups["AutoScalingGroups"][0]["DesiredCapacity"]
    world.client("autoscaling").set_desired_capacity(AutoScalingGroupName=dep.asg, DesiredCapacity=desired - 1)
    harness.wait_for(
        lambda: [e for e in world.events(since) if e["type"] == "eventbridge.dead_lettered"],
        30,
        "the lifecycle event in the dead-letter queue",
    )
    report = doctor(ecs_sta, world, dep, code=1)  # the instance waiting undrained: one spare too few
    assert [n for n, s in not_passing(report) if s == "FAIL"] == ["n-plus-1"], not_passing(report)
    [check] = [c for c in report["checks"] if c["name"] == "dead-letter-queue"]
    assert check["status"] == "WARN" and "1 message(s)" in check["detail"], check
    assert f"aws sqs receive-message --queue-url {check['subject']}" in check["fix"], check


def test_the_spot_rule_may_send_what_it_cannot_deliver_to_the_dead_letter_queue(world, ecs_sta):
    """The standalone template's queue policy names the Spot rule only when the stack makes it
    (a CloudFormation condition): with Spot handling on, a warning EventBridge could not deliver
    must reach the queue, sent by the Spot rule."""
    dep = deploy(world, spot_interruption_handling=True)
    since = _deny_starting_drains(world, dep)
    instance = sorted(harness.asg_instances(world, dep))[0]
    world.control("POST", "/_world/ec2/spot-interruption", {"instance_id": instance})
    [lettered] = harness.wait_for(
        lambda: [e for e in world.events(since) if e["type"] == "eventbridge.dead_lettered"],
        30,
        "the Spot warning in the dead-letter queue",
    )
    assert lettered["rule"] == dep.stack.one("AWS::Events::Rule", "SpotInterruptionWarningRule"), lettered
    assert not [
        e
        for e in world.events(since)
        if e["type"] in ("eventbridge.dead_letter_failed", "iam.access_denied")
        and e.get("action") != "states:StartExecution"
    ]


def _events(world, kind: str) -> list[dict[str, Any]]:
    return [e for e in world.events() if e["type"] == kind]


def test_a_task_scaler_run_lambda_gave_up_on_is_reported_from_the_dead_letter_queue(world, ecs_sta):
    """Scheduler invokes the task scaler asynchronously: a run Lambda gives up on never reaches
    Scheduler's dead-letter queue. Here the function's reserved concurrency is 0, for which Lambda
    sends new events to the on-failure destination without any retries (a throttle past the
    maximum event age ends the same way: world test_scheduler.py). The stack's destination sends
    it to the dead-letter queue, where doctor (and the queue's alarm) see it."""
    dep = deploy(world)
    scaler = dep.functions["task-scaler"]
    world.client("lambda").put_function_concurrency(FunctionName=scaler, ReservedConcurrentExecutions=0)
    [schedule] = dep.stack.schedules["task-scaler"]
    world.configure(timescale=0.01, scheduler={"fire": [schedule]})  # a minute: 0.6 s
    try:
        [dropped, *_] = harness.wait_for(lambda: _events(world, "lambda.async.dropped"), 30, "a run given up")
    finally:
        world.configure(scheduler={"fire": []})
    assert dropped["condition"] == "RetriesExhausted" and dropped["destination"], dropped
    assert not _events(world, "lambda.async.destination_failed")
    check = only(doctor(ecs_sta, world, dep, code=0), "dead-letter-queue")
    assert check["status"] == "WARN" and "message(s)" in check["detail"], check


def test_no_spare_instance_is_reported(world, ecs_sta):
    dep = deploy(world, service={"desired": 3})
    report = doctor(ecs_sta, world, dep, code=1)
    n1 = only(report, "n-plus-1")
    assert n1["status"] == "FAIL" and "3 usable instances < desired 3 + N 1" in n1["detail"], n1
    moving = only(report, "deployment-configuration")
    assert moving["status"] == "FAIL" and "nowhere to start" in moving["detail"], moving


def test_application_auto_scaling_on_the_task_scalers_service_is_reported(world, ecs_sta):
    dep = deploy(world)
    assert only(doctor(ecs_sta, world, dep, "--strict", code=0), "service-auto-scaling")["status"] == "PASS"
    world.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{dep.cluster}/{dep.service}",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=6,
    )
    found = only(doctor(ecs_sta, world, dep, code=1), "service-auto-scaling")
    assert found["status"] == "FAIL" and "min 1, max 6" in found["detail"], found
    assert "the task scaler sets it every run" in found["detail"] and "deregister-scalable-target" in found["fix"], (
        found
    )


def test_target_tracking_on_the_clusters_reservation_is_reported(world, ecs_sta):
    dep = deploy(world)
    world.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName=dep.asg,
        PolicyName="reserved",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "CustomizedMetricSpecification": {
                "MetricName": "CPUReservation",
                "Namespace": "AWS/ECS",
                "Dimensions": [{"Name": "ClusterName", "Value": dep.cluster}],
                "Statistic": "Average",
            },
            "TargetValue": 80.0,
        },
    )
    found = only(doctor(ecs_sta, world, dep, code=1), "scaling-policies")
    assert found["status"] == "FAIL" and "reserved (CPUReservation at 80 %)" in found["detail"], found


def test_a_warm_pool_without_the_agents_warm_pools_check_is_reported(world, ecs_sta):
    dep = deploy(world, warm_pool={"reuse_on_scale_in": False, "max_group_prepared_capacity": 4})
    report = doctor(ecs_sta, world, dep, code=0)
    assert only(report, "warm-pool")["status"] == "PASS"  # as ECS documents: the deployment sets it
    # a new version of the group's launch template ($Latest) without it
    ec2 = world.client("ec2")
    [template] = ec2.describe_launch_templates()["LaunchTemplates"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template["LaunchTemplateId"],
        LaunchTemplateData={
            "UserData": base64.b64encode(b"#!/bin/bash\necho ECS_CLUSTER=c >> /etc/ecs/ecs.config\n").decode()
        },
    )
    report = doctor(ecs_sta, world, dep, code=0)  # a warning: nothing fails
    check = only(report, "warm-pool")
    assert check["status"] == "WARN" and "does not set ECS_WARM_POOLS_CHECK=true" in check["detail"], check
    assert not_passing(report) == [("warm-pool", "WARN")]


def test_an_nlb_without_connection_termination_or_with_a_short_delay_is_reported(world, ecs_sta):
    nlb = {
        "name": "web-nlb",
        "protocol": "TCP",
        "port": 8080,
        "deregistration_delay": 5,
        "attach": "service",
        "connection_termination": False,
    }
    dep = deploy(world, load_balancers={"classic": [], "target_groups": [nlb]}, elbv2={"nlb_registration_seconds": 5})
    report = doctor(ecs_sta, world, dep, code=0)  # a warning: nothing fails
    check = only(report, "nlb-connection-termination")
    assert check["status"] == "WARN" and "connection_termination.enabled is false" in check["detail"], check
    # ECS stops the old task after the 5 s delay, while the NLB may route to it for 300 s more
    routing = only(report, "nlb-deregistration-delay")
    assert routing["status"] == "WARN" and "5 s, shorter than the 300 s" in routing["detail"], routing
    assert sorted(not_passing(report)) == [("nlb-connection-termination", "WARN"), ("nlb-deregistration-delay", "WARN")]
    strict = doctor(ecs_sta, world, dep, "--strict", code=1)
    assert strict["ok"] is False and strict["strict"] is True


def test_a_function_whose_wake_fails_is_reported(world, ecs_sta):
    """An idle (Inactive) function passes: the drain's retrier waits for it to wake. One whose wake
    fails (Lambda could not recreate its resources) fails every drain: doctor fails it, naming the
    reason and the state the drain would fail at."""
    lam = {"inactive": ["check-drained"], "pending_seconds": 15, "wake_fails": {"check-drained": "EniLimitExceeded"}}
    dep = deploy(world, **{"lambda": lam})
    function = dep.functions["check-drained"]

    def check(code: int) -> tuple[dict[str, Any], dict[str, Any]]:
        report = doctor(ecs_sta, world, dep, code=code)
        [found] = [c for c in report["checks"] if c["name"] == "function" and c["subject"] == function]
        return report, found

    report, idle = check(0)
    assert idle["status"] == "PASS" and "Inactive (idle" in idle["detail"], idle
    assert sorted(c["subject"] for c in report["checks"] if c["name"] == "function") == sorted(
        dep.functions.values()  # the drain's four, and the sweeper and the scaler the stack's schedules invoke
    )
    with pytest.raises(ClientError, match="CodeArtifactUserPendingException"):  # as a drain's first check would
        world.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    _, pending = check(0)
    assert pending["status"] == "WARN" and "Pending (Restoring" in pending["detail"], pending
    lam_client = world.client("lambda")
    harness.wait_for(
        lambda: lam_client.get_function_configuration(FunctionName=function)["State"] == "Inactive",
        40,
        "the wake to fail",
    )
    report, failed = check(1)
    assert failed["status"] == "FAIL", failed
    assert "EniLimitExceeded" in failed["detail"] and "every drain FAILS at CheckDrained" in failed["detail"], failed
    assert [n for n, s in not_passing(report) if s == "FAIL"] == ["function"], not_passing(report)


def test_an_instance_the_group_retains_is_reported(world, ecs_sta):
    """A group that retains an instance whose terminate action is abandoned: with the hook's default
    result ABANDON a FAILED drain's instance is kept, which doctor says; a retained instance is
    reported with what to do before terminating it (AWS does not say a hook runs then)."""
    hook = {"heartbeat_timeout": 600, "default_result": "ABANDON"}
    dep = deploy(world, instances=4, retention="retain", hook=hook)  # a spare left after the scale-in
    report = doctor(ecs_sta, world, dep, code=0)
    assert only(report, "hook-default-result")["status"] == "PASS"
    assert "Terminating:Retained" in only(report, "hook-default-result")["detail"]
    assert only(report, "retained-instances")["status"] == "PASS"
    # an action abandoned with no drain running (the rule disabled meanwhile): the instance is retained
    events, asg = world.client("events"), world.client("autoscaling")
    events.disable_rule(Name=dep.rule)
    asg.set_desired_capacity(AutoScalingGroupName=dep.asg, DesiredCapacity=3)
    [victim] = harness.wait_for(
        lambda: [i for i, s in harness.asg_instances(world, dep).items() if s == "Terminating:Wait"],
        30,
        "Terminating:Wait",
    )
    asg.complete_lifecycle_action(
        AutoScalingGroupName=dep.asg, LifecycleHookName=dep.hook, InstanceId=victim, LifecycleActionResult="ABANDON"
    )
    events.enable_rule(Name=dep.rule)
    report = doctor(ecs_sta, world, dep, code=0)
    retained = only(report, "retained-instances")
    assert (
        retained["status"] == "WARN"
        and f"1 retained after an abandoned terminate action ({victim})" in retained["detail"]
    ), retained
    assert "ecs-sta replay" in retained["fix"] and "terminate-instance-in-auto-scaling-group" in retained["fix"]


@pytest.mark.parametrize("args", [["--asg", ""], ["--sweep-period", "soon"]])
def test_wrong_input_exits_2(world, ecs_sta, args):
    base = [
        "doctor",
        "--cluster",
        "c",
        "--asg",
        "a",
        "--state-machine",
        "arn:aws:states:us-west-2:123456789012:stateMachine:x",
    ]
    proc = sta(ecs_sta, world, *base, *args)
    assert proc.returncode == 2, proc.stderr


# --------------------------------------------------------------------------- drill


def drill(
    binary: Path, world, dep: Deployment, *extra: str, start: str = "20s", leave: str = "30s", service: bool = True
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    timing = ["--sample-every", "500ms", "--start-timeout", start, "--timeout", "2m", "--leave-timeout", leave]
    args = [
        "drill",
        *dep.cli_args(service),
        *timing,
        "--json",
        *extra,
    ]
    proc = sta(binary, world, *args, timeout=300)
    return proc, json.loads(proc.stdout)


def _asg(world, dep: Deployment) -> dict[str, Any]:
    [group] = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[dep.asg])[
        "AutoScalingGroups"
    ]
    return group


def test_a_healthy_deployment_passes_the_drill(world, ecs_sta):
    dep = deploy(world)
    since = world.events()[-1]["seq"]
    proc, report = drill(ecs_sta, world, dep)
    assert proc.returncode == 0, report["reasons"]
    assert report["verdict"] == "passed" and report["reasons"] == []
    victim = report["instance_id"]
    assert report["execution_status"] == "SUCCEEDED" and report["completed_by_us"] is True
    assert report["completion_outcome"] == "completed" and report["drain_timed_out"] is False
    assert report["instance_final_state"] == "terminated"
    assert report["heartbeats_sent"] >= 1  # the first step heartbeats at once
    assert report["completed_after_seconds"] > 0 and report["replacement_healthy_after_seconds"] is not None
    assert len(report["load_balancers"]) == 2
    for lb in report["load_balancers"]:
        assert lb["minimum"] == 2 and lb["fewest_healthy"] >= 2 and lb["samples"] > 2, lb
    # the live lines went to stderr: the states as they were entered
    for state in ("DrainContainerInstance", "WaitForDrain", "CheckDrained", "CompleteLifecycleAction"):
        assert state in proc.stderr, proc.stderr

    # the world agrees: terminated through Auto Scaling without lowering the desired capacity, the action
    # completed once, by CompleteLifecycleAction, before the instance left
    events = world.events(since)
    [terminating] = [e for e in events if e["type"] == "asg.instance.terminating" and e["instance_id"] == victim]
    assert terminating["cause"] == "TerminateInstanceInAutoScalingGroup"
    [done] = [e for e in events if e["type"] == "asg.lifecycle.completed" and e["instance_id"] == victim]
    assert done["by"] == "CompleteLifecycleAction" and done["result"] == "CONTINUE"
    assert _asg(world, dep)["DesiredCapacity"] == 3


def test_a_deployment_with_a_daemon_service_passes_the_drill_watching_both(world, ecs_sta):
    dep = _with_a_daemon(world)
    web_hosts = {t["containerInstanceArn"] for t in harness.running_tasks(world, dep)}
    proc, report = drill(ecs_sta, world, dep, "--service", "web", "--service", "agent", service=False)
    assert proc.returncode == 0, report["reasons"]
    assert report["verdict"] == "passed" and report["services"] == ["web", "agent"], report
    # an instance that runs the web task (the agent runs everywhere), drained and terminated
    ecs = world.client("ecs")
    arns = ecs.list_container_instances(cluster=dep.cluster, status="DRAINING")["containerInstanceArns"]
    arns += ecs.list_container_instances(cluster=dep.cluster, status="INACTIVE")["containerInstanceArns"]
    cis = ecs.describe_container_instances(cluster=dep.cluster, containerInstances=arns)["containerInstances"]
    [victim] = [ci for ci in cis if ci["ec2InstanceId"] == report["instance_id"]]
    assert victim["containerInstanceArn"] in web_hosts
    # the agent's target group is watched with room for its task on the drained instance
    [agent] = [lb for lb in report["load_balancers"] if lb["service"] == "agent"]
    assert agent["minimum"] == 0 and agent["fewest_healthy"] >= 2, agent
    assert report["completion_outcome"] == "completed" and report["instance_final_state"] == "terminated"


def test_the_drill_counts_only_the_services_own_targets_in_a_group_it_shares(world, ecs_sta):
    """The web service's target group also holds a DAEMON's targets (port 9100) on every instance.
    They serve, but not as the web service's tasks: its floor, and the drill's fewest healthy, count
    only the web tasks' registrations (CreateService: a task "in the RUNNING state and ... reported
    as healthy by the load balancer")."""
    lbs = run.load_scenario({"name": "doctor"})["load_balancers"]
    shared = [{**tg, "daemon_port": 9100} for tg in lbs["target_groups"]]
    dep = deploy(world, daemon={"name": "agent"}, load_balancers={**lbs, "target_groups": shared})
    proc, report = drill(ecs_sta, world, dep, "--service", "web", service=False)
    assert proc.returncode == 0, report["reasons"]
    [group] = [lb for lb in report["load_balancers"] if "target group" in lb["load_balancer"]]
    # two web tasks at 100 %: one replaced before it stops, never fewer than two serving, never
    # more than three; the daemon's four targets would make it six
    assert group["minimum"] == 2 and group["fewest_healthy"] == 2, group
    assert report["replacement_healthy_after_seconds"] is not None


def test_the_drill_refuses_a_disabled_rule_and_forced_says_no_drain_started(world, ecs_sta):
    dep = deploy(world)
    world.client("events").disable_rule(Name=dep.rule)
    proc, report = drill(ecs_sta, world, dep)
    assert proc.returncode == 1 and report["verdict"] == "refused", report
    assert [c["name"] for c in report["doctor_failures"]] == ["rule"], report["doctor_failures"]
    assert all(i["LifecycleState"] == "InService" for i in _asg(world, dep)["Instances"]), "nothing was terminated"

    proc, report = drill(ecs_sta, world, dep, "--force", start="5s", leave="1s")
    assert proc.returncode == 1 and report["verdict"] == "failed" and report["forced"] is True, report
    assert "--force: starting the drill DESPITE 1 failing doctor check(s)" in proc.stderr
    assert report["execution_arn"] is None
    [reason] = report["reasons"]
    assert reason.startswith("no drain execution started") and "the rule, the hook or the event delivery" in reason
    assert report["instance_final_state"] == "Terminating:Wait"


def test_a_replacement_that_never_becomes_healthy_fails_the_drill(world, ecs_sta):
    dep = deploy(world, drain={"deadline_seconds": 20})
    hosts = {t["containerInstanceArn"] for t in harness.running_tasks(world, dep)}
    ecs = world.client("ecs")
    arns = ecs.list_container_instances(cluster=dep.cluster)["containerInstanceArns"]
    cis = ecs.describe_container_instances(cluster=dep.cluster, containerInstances=arns)["containerInstances"]
    [spare] = [ci["ec2InstanceId"] for ci in cis if ci["containerInstanceArn"] not in hosts]
    world.configure(health={"failing_instances": [spare]})  # the only free instance fails its health checks

    proc, report = drill(ecs_sta, world, dep)
    assert proc.returncode == 1 and report["verdict"] == "failed", report
    assert report["execution_status"] == "SUCCEEDED" and report["drain_timed_out"] is True
    assert report["replacement_healthy_after_seconds"] is None
    assert any("reached its deadline" in r for r in report["reasons"]), report["reasons"]
    assert any("no replacement became healthy" in r for r in report["reasons"]), report["reasons"]
