"""Resources the world's tests build through the AWS APIs (boto3 against the world)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

from world.deploy import front

# what DescribeTasks shows of a stopped task: STOPPED, then DELETED (world.emulator.ecs_drain.tasks)
STOPPED = ("STOPPED", "DELETED")
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
LIFECYCLE_PATTERN = {
    "source": ["aws.autoscaling"],
    "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
}


def subnet(world: Any) -> str:
    ec2 = world.client("ec2")
    return ec2.describe_subnets()["Subnets"][0]["SubnetId"]


def vpc(world: Any) -> str:
    return world.client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]


def launch_template(world: Any, name: str = "lt", cluster: str | None = None) -> str:
    ec2 = world.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    data: dict[str, Any] = {"ImageId": image, "InstanceType": "t3.micro"}
    if cluster:
        user_data = f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"
        data["UserData"] = base64.b64encode(user_data.encode()).decode()
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    return name


def asg(
    world: Any,
    name: str = "test-cluster-asg",
    desired: int = 3,
    cluster: str | None = None,
    target_groups: list[str] | None = None,
    load_balancers: list[str] | None = None,
    min_size: int = 0,
    retention: str | None = None,
) -> str:
    template = launch_template(world, f"{name}-lt", cluster)
    kwargs: dict[str, Any] = {}
    if retention:
        kwargs["InstanceLifecyclePolicy"] = {"RetentionTriggers": {"TerminateHookAbandon": retention}}
    if target_groups:
        kwargs["TargetGroupARNs"] = target_groups
    if load_balancers:
        kwargs["LoadBalancerNames"] = load_balancers
    world.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=min_size,
        MaxSize=10,
        DesiredCapacity=desired,
        VPCZoneIdentifier=subnet(world),
        **kwargs,
    )
    return name


def terminate_hook(
    world: Any,
    group: str,
    heartbeat: int = 300,
    default: str = "ABANDON",
    metadata: str | None = '{"cluster":"test-cluster"}',
) -> None:
    """Our terminate hook on ``group``."""
    lifecycle_hook(world, group, "ecsTermination", "autoscaling:EC2_INSTANCE_TERMINATING", heartbeat, default, metadata)


def proceed(world: Any, group: str, instance_id: str) -> None:
    """CONTINUE the action of our terminate hook on ``instance_id``, as the drain would."""
    world.client("autoscaling").complete_lifecycle_action(
        AutoScalingGroupName=group,
        LifecycleHookName="ecsTermination",
        InstanceId=instance_id,
        LifecycleActionResult="CONTINUE",
    )


def lifecycle_hook(
    world: Any,
    group: str,
    name: str,
    transition: str,
    heartbeat: int,
    default: str,
    metadata: str | None = None,
) -> None:
    kwargs = {"NotificationMetadata": metadata} if metadata else {}
    world.client("autoscaling").put_lifecycle_hook(
        LifecycleHookName=name,
        AutoScalingGroupName=group,
        LifecycleTransition=transition,
        HeartbeatTimeout=heartbeat,
        DefaultResult=default,
        **kwargs,
    )


def service_role(
    world: Any,
    service: str,
    name: str | None = None,
    allow: list[dict[str, Any]] | None = None,
    condition: dict[str, Any] | None = None,
) -> str:
    """The ARN of a role ``<service>.amazonaws.com`` may assume (under ``condition``), allowed
    ``allow``'s statements (default: every action on every resource); created once. The world
    checks both where a service acts with a role (world.emulator.service_roles, world.emulator.iam)."""
    iam = world.client("iam")
    name = name or f"{service}-role"
    trusted: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"}}
    trusted["Action"] = "sts:AssumeRole"
    if condition:
        trusted["Condition"] = condition
    trust = {"Version": "2012-10-17", "Statement": [trusted]}
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    statements = allow if allow is not None else [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    policy = {"Version": "2012-10-17", "Statement": statements}
    iam.put_role_policy(RoleName=name, PolicyName="allowed", PolicyDocument=json.dumps(policy))
    return arn


def state_machine_rule(world: Any, name: str = "drain") -> str:
    sfn = world.client("stepfunctions")
    arn = sfn.create_state_machine(name=name, definition=PASS_MACHINE, roleArn=service_role(world, "states"))[
        "stateMachineArn"
    ]
    events = world.client("events")
    events.put_rule(Name=f"{name}-rule", EventPattern=json.dumps(LIFECYCLE_PATTERN))
    events.put_targets(
        Rule=f"{name}-rule",
        Targets=[{"Id": "sfn", "Arn": arn, "RoleArn": service_role(world, "events")}],
    )
    return arn


def execution_inputs(world: Any, machine_arn: str) -> list[dict[str, Any]]:
    sfn = world.client("stepfunctions")
    found = []
    for execution in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
        found.append(json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]))
    return found


def instances(world: Any, group: str) -> dict[str, str]:
    """instance id -> LifecycleState of the group's instances."""
    found = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]}


def ec2_state(world: Any, instance_id: str) -> str:
    found = world.client("ec2").describe_instances(InstanceIds=[instance_id])
    return found["Reservations"][0]["Instances"][0]["State"]["Name"]


def target_group(
    world: Any, name: str = "web", port: int = 80, delay: int = 300, protocol: str = "HTTP", **health_check: Any
) -> str:
    """A target group; ``health_check``: CreateTargetGroup's HealthCheck* / *ThresholdCount parameters."""
    elbv2 = world.client("elbv2")
    arn = elbv2.create_target_group(
        Name=name, Protocol=protocol, Port=port, VpcId=vpc(world), TargetType="instance", **health_check
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}]
    )
    front(world, arn, f"{name}-lb", protocol, port)
    return arn


def classic_elb(
    world: Any, name: str = "classic", draining: int | None = 300, health_check: dict[str, Any] | None = None
) -> str:
    """A Classic ELB; ``health_check``: ConfigureHealthCheck's {"Interval", "HealthyThreshold", ...}."""
    elb = world.client("elb")
    elb.create_load_balancer(
        LoadBalancerName=name,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        AvailabilityZones=["us-west-2a"],
    )
    if health_check is not None:
        elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={"Target": "HTTP:80/", "Timeout": 5, "UnhealthyThreshold": 2, **health_check},
        )
    if draining is not None:
        elb.modify_load_balancer_attributes(
            LoadBalancerName=name,
            LoadBalancerAttributes={"ConnectionDraining": {"Enabled": True, "Timeout": draining}},
        )
    return name


def web_task_definition(world: Any, family: str = "web", bridge: bool = False) -> None:
    """A one-container task definition serving on container port 8080: on host port 8080 (host
    networking), or with ``bridge`` on a host port from the ephemeral range."""
    mapping = {"containerPort": 8080} if bridge else {"containerPort": 8080, "hostPort": 8080}
    world.client("ecs").register_task_definition(
        family=family,
        networkMode="bridge" if bridge else "host",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 256, "portMappings": [mapping]}],
    )


def lambda_role(world: Any, name: str = "lambda") -> str:
    """The ARN of an IAM role Lambda can assume, allowed every action (created once): the world
    enforces the execution role's policies on the functions' calls (world.emulator.iam)."""
    return service_role(world, "lambda", name)


def lambda_zip() -> bytes:
    """A deployment package whose empty ``bootstrap`` stands for the binary named after the function
    (world.emulator.lambda_runtime)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bootstrap", "")
    return buf.getvalue()


def function(world: Any, name: str = "drain-ecs", env: dict[str, str] | None = None, role: str | None = None) -> str:
    """The crate ``name`` as a function (its debug build), with ``role`` (default: lambda_role's, allowed everything)."""
    return world.client("lambda").create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=role or lambda_role(world),
        Handler="bootstrap",
        Code={"ZipFile": lambda_zip()},
        Timeout=30,
        Environment={"Variables": env or {"ECS_CLUSTER": "c"}},
    )["FunctionArn"]


def drain_payload() -> dict[str, Any]:
    """What the state machine gives drain-ecs for a lifecycle event of group ``g`` (which does not
    exist: the function's first Auto Scaling call is where the tests hold it)."""
    detail = {
        "LifecycleActionToken": "00000000-0000-0000-0000-000000000001",
        "AutoScalingGroupName": "g",
        "LifecycleHookName": "h",
        "EC2InstanceId": "i-0123456789abcdef0",
        "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "NotificationMetadata": '{"cluster":"c"}',
        "Origin": "AutoScalingGroup",
        "Destination": "EC2",
    }
    event = {
        "version": "0",
        "id": "e",
        "detail-type": "EC2 Instance-terminate Lifecycle Action",
        "source": "aws.autoscaling",
        "account": "123456789012",
        "time": "2024-01-01T00:00:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": detail,
    }
    return {
        "event": event,
        "execution_start_time": "2024-01-01T00:00:00Z",
        "settings": {
            "drain_deadline_seconds": "3000",
            "deadline_result": "CONTINUE",
            "standalone_tasks": "wait",
            "standalone_task_grace_seconds": "300",
        },
    }
