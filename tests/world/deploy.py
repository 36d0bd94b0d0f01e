"""The deployment a scenario runs on: its load balancers, its cluster and Auto Scaling group,
infra's stack on them (world.stack), and its service.

The world is configured from the scenario first (time scale, seed, ECS, EventBridge, rate
limits, Lambda). The cluster's instances register from their user data, as the ECS agent
does; load balancers with ``attach: instances`` get every instance registered by hand.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from world import stack as stack_mod

if TYPE_CHECKING:
    from world.harness import World

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    prefix: str
    cluster: str
    asg: str
    hook: str
    service: str
    machine_arn: str
    rule: str
    functions: dict[str, str]
    classic: list[str]
    target_groups: dict[str, str]  # name -> arn
    stack: stack_mod.Stack  # infra's stack the drain runs on

    def cli_args(self, service: bool = True) -> list[str]:
        """What names this deployment to ecs-sta doctor and drill: its cluster, group, service (without
        it: every service of the cluster) and stack (whose sweeper schedule gives the sweep period)."""
        named = ["--service", self.service] if service else []
        return ["--cluster", self.cluster, "--asg", self.asg, *named, "--stack", self.stack.name]

    def crate_of(self, function: str) -> str:
        """The crate a function of the stack runs (the world names functions, the tests name crates)."""
        return {name: crate for crate, name in self.functions.items()}.get(function, function)


def bin_dir() -> Path:
    """Where the host builds of the functions are (``WORLD_LAMBDA_BIN_DIR``, default target/debug)."""
    return Path(os.environ.get("WORLD_LAMBDA_BIN_DIR") or REPO / "target" / "debug")


def deploy_stack(
    world: World,
    sc: dict[str, Any],
    cluster: str,
    asg_name: str,
    classic_names: list[str],
    tgs: dict[str, str],
    out: Callable[[str], None],
) -> stack_mod.Stack:
    """infra's standalone template, deployed as its README says (world.stack), with the
    scenario's settings as the template's parameters: the hook, the rules, the functions
    and their environments, the state machine, the schedules and the alarms are the stack's."""
    stack_mod.publish_code(world, bin_dir())
    drain = sc["drain"]
    lbs = sc["load_balancers"]
    # named on the functions (ClassicElbNames, TargetGroupArns) unless the scenario says "configured": false
    configured_classic = [n for n, c in zip(classic_names, lbs["classic"]) if c.get("configured", True)]
    configured_tgs = [arn for arn, t in zip(tgs.values(), lbs["target_groups"]) if t.get("configured", True)]
    params = stack_mod.parameters(
        ClusterName=cluster,
        AutoScalingGroupName1=asg_name,
        ServiceName1=sc["service"]["name"],
        MinTaskCount1=sc["scaler"]["min_task_count"],
        NCount=sc["scaler"]["n_count"],
        HeartbeatTimeoutSeconds=int(sc["hook"]["heartbeat_timeout"]),
        HookDefaultResult=sc["hook"]["default_result"],
        DrainDeadlineSeconds=int(drain["deadline_seconds"]),
        DeadlineResult=drain["deadline_result"],
        StandaloneTasks=drain["standalone_tasks"],
        StandaloneTaskGraceSeconds=int(drain["standalone_task_grace_seconds"]),
        NlbDeregistrationSeconds=int(drain["nlb_deregistration_seconds"]),
        ClassicElbNames=configured_classic,
        TargetGroupArns=configured_tgs,
        SpotInterruptionHandling=str(bool(sc["spot_interruption_handling"])).lower(),
        SweepRateMinutes=str(sc["sweep_rate_minutes"]),
    )
    deployed = stack_mod.deploy(world, sc["name"], params)
    out(f"stack {deployed.name}: {deployed.status} ({len(deployed.resources)} resources, {stack_mod.TEMPLATE.name})")
    return deployed


def deploy(world: World, sc: dict[str, Any], out: Callable[[str], None] = print) -> Deployment:
    p = sc["name"]
    cluster, asg_name, svc = f"{p}-cluster", f"{p}-asg", sc["service"]["name"]
    world.configure(
        timescale=sc["timescale"],
        seed=sc["seed"],
        ecs=sc["ecs"],
        elbv2=sc["elbv2"],
        stepfunctions=sc["stepfunctions"],
        autoscaling=sc["autoscaling"],
        scheduler=sc["scheduler"],
        faults={},
        eventbridge=sc["eventbridge"],
        limits=sc["limits"],
        **{"lambda": {k: v for k, v in sc["lambda"].items() if k not in _BY_CRATE}},
    )
    classic_names, tgs = _load_balancers(world, sc)
    _cluster_and_group(world, sc, cluster, asg_name, classic_names, tgs)
    deployed = deploy_stack(world, sc, cluster, asg_name, classic_names, tgs, out)
    _functions_as_said(world, sc["lambda"], deployed.functions)
    autoscaling = world.client("autoscaling")
    if sc["warm_pool"]:
        pool = sc["warm_pool"]
        autoscaling.put_warm_pool(
            AutoScalingGroupName=asg_name,
            MinSize=int(pool.get("min_size", 0)),
            PoolState=pool.get("pool_state", "Stopped"),
            MaxGroupPreparedCapacity=int(pool.get("max_group_prepared_capacity", sc["instances"])),
            InstanceReusePolicy={"ReuseOnScaleIn": bool(pool.get("reuse_on_scale_in", True))},
        )
    for name, value in sc["account_settings"].items():
        world.client("ecs").put_account_setting(name=name, value=value)
    if sc["unregistered_instances"]:
        late = sc["unregistered_agent_seconds"]
        world.configure(ecs={"agent_autoregister": False} if late is None else {"agent_register_seconds": late})
        autoscaling.set_desired_capacity(
            AutoScalingGroupName=asg_name, DesiredCapacity=sc["instances"] + sc["unregistered_instances"]
        )
        world.configure(ecs={"agent_autoregister": True, "agent_register_seconds": 0})
    if sc["outside_group"]:
        world.client("ec2").run_instances(
            LaunchTemplate={"LaunchTemplateName": f"{p}-lt", "Version": "$Latest"},
            MinCount=sc["outside_group"],
            MaxCount=sc["outside_group"],
            SubnetId=world.client("ec2").describe_subnets()["Subnets"][0]["SubnetId"],
        )
    by_hand = _register_by_hand(world, sc, asg_name, classic_names, tgs)
    _service(world, sc, cluster, classic_names, tgs)
    if sc["daemon"]:
        _daemon(world, sc, cluster, classic_names, tgs)
    if by_hand:
        out(f"registered by hand (no service owns them): {', '.join(by_hand)}")
    out(
        f"deployed {p}: cluster {cluster}, ASG {asg_name} ({sc['instances']} instances"
        + (f" + {sc['unregistered_instances']} not in ECS" if sc["unregistered_instances"] else "")
        + (f", {sc['outside_group']} more in no group" if sc["outside_group"] else "")
        + f"), hook {deployed.hook} (heartbeat {sc['hook']['heartbeat_timeout']}s), service {svc} x{sc['service']['desired']}, "
        f"Classic ELBs {classic_names or '-'}, target groups {list(tgs) or '-'}"
    )
    return Deployment(
        p,
        cluster,
        asg_name,
        deployed.hook,
        svc,
        deployed.machine,
        deployed.terminate_rule,
        deployed.functions,
        classic_names,
        tgs,
        deployed,
    )


# The scenario's Lambda settings that name crates (or, "vpc", are not the world's config).
_BY_CRATE = ("inactive", "wake_fails", "setup_errors", "vpc")


def _functions_as_said(world: World, said: dict[str, Any], functions: dict[str, str]) -> None:
    """The scenario's Lambda settings that name crates, given the world by function name, and
    with ``"vpc": true`` every function of the stack in the VPC's subnets with its default
    security group (as infra's app deploys them with ``vpcId``; the template has no VPC)."""
    if said.get("vpc"):
        ec2, lam = world.client("ec2"), world.client("lambda")
        subnets = [subnet["SubnetId"] for subnet in ec2.describe_subnets()["Subnets"][:2]]
        groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])
        vpc = {"SubnetIds": subnets, "SecurityGroupIds": [groups["SecurityGroups"][0]["GroupId"]]}
        for name in functions.values():
            lam.update_function_configuration(FunctionName=name, VpcConfig=vpc)
    named = {
        "inactive": [functions[crate] for crate in said.get("inactive", [])],
        "wake_fails": {functions[crate]: code for crate, code in said.get("wake_fails", {}).items()},
        "setup_errors": {functions[crate]: plan for crate, plan in said.get("setup_errors", {}).items()},
    }
    if any(named.values()):
        world.configure(**{"lambda": {key: value for key, value in named.items() if value}})


def _load_balancers(world: World, sc: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The scenario's Classic ELBs (names) and target groups (name -> arn), with their draining
    and health checks (``validate=False``: the scenarios' short health checks are below AWS's minimums)."""
    p = sc["name"]
    ec2, elb, elbv2 = (world.client(s) for s in ("ec2", "elb", "elbv2"))
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    zone = ec2.describe_subnets()["Subnets"][0]["AvailabilityZone"]
    classic_names: list[str] = []
    tgs: dict[str, str] = {}
    lax_elb, lax_elbv2 = world.client("elb", validate=False), world.client("elbv2", validate=False)
    for clb in sc["load_balancers"]["classic"]:
        name = f"{p}-{clb['name']}"[:32]
        elb.create_load_balancer(
            LoadBalancerName=name,
            AvailabilityZones=[zone],
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": clb.get("port", 80)}],
        )
        elb.modify_load_balancer_attributes(
            LoadBalancerName=name,
            LoadBalancerAttributes={
                "ConnectionDraining": {
                    "Enabled": clb["draining_seconds"] > 0,
                    "Timeout": max(1, int(clb["draining_seconds"])),
                }
            },
        )
        hc = {**sc["health_check"], **clb.get("health_check", {})}
        lax_elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={
                "Target": f"HTTP:{clb.get('port', 80)}/",
                "Interval": hc["interval_seconds"],
                "Timeout": hc["timeout_seconds"],
                "HealthyThreshold": hc["healthy_threshold"],
                "UnhealthyThreshold": hc["unhealthy_threshold"],
            },
        )
        classic_names.append(name)
    for tg in sc["load_balancers"]["target_groups"]:
        name = f"{p}-{tg['name']}"[:32]
        hc = {**sc["health_check"], **tg.get("health_check", {})}
        arn = lax_elbv2.create_target_group(
            Name=name,
            Protocol=tg.get("protocol", "HTTP"),
            Port=tg["port"],
            VpcId=vpc,
            TargetType="instance",
            HealthCheckIntervalSeconds=hc["interval_seconds"],
            HealthCheckTimeoutSeconds=hc["timeout_seconds"],
            HealthyThresholdCount=hc["healthy_threshold"],
            UnhealthyThresholdCount=hc["unhealthy_threshold"],
        )["TargetGroups"][0]["TargetGroupArn"]
        attributes = [{"Key": "deregistration_delay.timeout_seconds", "Value": str(int(tg["deregistration_delay"]))}]
        if "connection_termination" in tg:
            attributes.append(
                {
                    "Key": "deregistration_delay.connection_termination.enabled",
                    "Value": str(bool(tg["connection_termination"])).lower(),
                }
            )
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=attributes)
        if tg.get("front", True):
            front(world, arn, f"{name}-lb", tg.get("protocol", "HTTP"))
        tgs[name] = arn
    return classic_names, tgs


def front(world: World, target_group: str, name: str, protocol: str = "HTTP", port: int = 80) -> str:
    """A load balancer (an NLB for a TCP/TLS/UDP target group, else an ALB) whose listener forwards
    to the target group: a target group that no load balancer uses has no healthy target
    (Target.NotInUse). Its ARN."""
    ec2, elbv2 = world.client("ec2"), world.client("elbv2")
    network = protocol in ("TCP", "TLS", "UDP", "TCP_UDP")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    arn = elbv2.create_load_balancer(Name=name[:32], Subnets=subnets, Type="network" if network else "application")[
        "LoadBalancers"
    ][0]["LoadBalancerArn"]
    elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="TCP" if network else "HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    return arn


def delete_target_group(world: World, arn: str) -> None:
    """Delete the target group, after the load balancers that use it (AWS refuses to delete one a
    listener forwards to: ResourceInUse)."""
    elbv2 = world.client("elbv2")
    [group] = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
    for lb in group["LoadBalancerArns"]:
        elbv2.delete_load_balancer(LoadBalancerArn=lb)
    elbv2.delete_target_group(TargetGroupArn=arn)


def _cluster_and_group(
    world: World, sc: dict[str, Any], cluster: str, asg_name: str, classic_names: list[str], tgs: dict[str, str]
) -> None:
    """The cluster and the Auto Scaling group, whose instances register from their user data
    (with the load balancers that have ``attach: asg``)."""
    p = sc["name"]
    ec2 = world.client("ec2")
    world.client("ecs").create_cluster(clusterName=cluster)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    user_data = f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"
    if sc["warm_pool"] and sc["warm_pool"].get("warm_pools_check", True):  # as ECS documents for warm pools
        user_data += "echo ECS_WARM_POOLS_CHECK=true >> /etc/ecs/ecs.config\n"
    ec2.create_launch_template(
        LaunchTemplateName=f"{p}-lt",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.micro",
            "UserData": base64.b64encode(user_data.encode()).decode(),
        },
    )
    asg_kwargs: dict[str, Any] = {}
    asg_clbs = [n for n, c in zip(classic_names, sc["load_balancers"]["classic"]) if c.get("attach") == "asg"]
    asg_tgs = [tgs[f"{p}-{t['name']}"[:32]] for t in sc["load_balancers"]["target_groups"] if t.get("attach") == "asg"]
    if asg_clbs:
        asg_kwargs["LoadBalancerNames"] = asg_clbs
    if asg_tgs:
        asg_kwargs["TargetGroupARNs"] = asg_tgs
    if sc["retention"]:
        asg_kwargs["InstanceLifecyclePolicy"] = {"RetentionTriggers": {"TerminateHookAbandon": sc["retention"]}}
    world.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=asg_name,
        LaunchTemplate={"LaunchTemplateName": f"{p}-lt", "Version": "$Latest"},
        MinSize=0,
        MaxSize=max(10, sc["instances"] + sc["unregistered_instances"]),
        DesiredCapacity=sc["instances"],
        VPCZoneIdentifier=ec2.describe_subnets()["Subnets"][0]["SubnetId"],
        **asg_kwargs,
    )


def _service(world: World, sc: dict[str, Any], cluster: str, classic_names: list[str], tgs: dict[str, str]) -> None:
    """The service (one task per instance; host network on its host ports, or bridge network on
    ports from the ephemeral range) and the load balancers it registers its tasks in
    (``attach: service``)."""
    p, s = sc["name"], sc["service"]
    svc = s["name"]
    ecs = world.client("ecs")
    bridge = s["network_mode"] == "bridge"
    mappings = [{"containerPort": port, **({} if bridge else {"hostPort": port})} for port in s["host_ports"]]
    ecs.register_task_definition(
        family=f"{p}-{svc}",
        networkMode=s["network_mode"],
        containerDefinitions=[
            {
                "name": svc,
                "image": "nginx",
                "memory": 256,
                "portMappings": mappings,
                "stopTimeout": _stop_timeout(sc),
            }
        ],
    )
    service_lbs = []
    for name, clb in zip(classic_names, sc["load_balancers"]["classic"]):
        if clb.get("attach") == "service":
            service_lbs.append(
                {"loadBalancerName": name, "containerName": svc, "containerPort": clb.get("port", s["host_ports"][0])}
            )
    for tg in sc["load_balancers"]["target_groups"]:
        if tg.get("attach") == "service":
            service_lbs.append(
                {"targetGroupArn": tgs[f"{p}-{tg['name']}"[:32]], "containerName": svc, "containerPort": tg["port"]}
            )
    ecs.create_service(
        cluster=cluster,
        serviceName=svc,
        taskDefinition=f"{p}-{svc}",
        desiredCount=s["desired"],
        launchType="EC2",
        loadBalancers=service_lbs,
        deploymentConfiguration={
            "maximumPercent": s["maximum_percent"],
            "minimumHealthyPercent": s["minimum_healthy_percent"],
        },
    )


def _stop_timeout(sc: dict[str, Any]) -> int:
    """The containers' stopTimeout: the time the world's containers take to stop
    (``ecs.task_stop_seconds``), at least 2 s, so that doctor's estimate of a drain reads what the
    task definition says, as it does on AWS."""
    return max(2, math.ceil(float(sc["ecs"].get("task_stop_seconds") or 0)))


def _daemon(world: World, sc: dict[str, Any], cluster: str, classic_names: list[str], tgs: dict[str, str]) -> None:
    """The DAEMON service (host network, on its load balancers' ports: ``attach: daemon``), and in
    the target groups it shares with the web service on their ``daemon_port``."""
    p, name = sc["name"], sc["daemon"]["name"]
    lbs = sc["load_balancers"]
    classic = [(n, c["port"]) for n, c in zip(classic_names, lbs["classic"]) if c.get("attach") == "daemon"]
    target_groups = [
        (tgs[f"{p}-{t['name']}"[:32]], t["port"]) for t in lbs["target_groups"] if t.get("attach") == "daemon"
    ] + [(tgs[f"{p}-{t['name']}"[:32]], t["daemon_port"]) for t in lbs["target_groups"] if "daemon_port" in t]
    ports = sorted({port for _, port in classic + target_groups})
    ecs = world.client("ecs")
    ecs.register_task_definition(
        family=f"{p}-{name}",
        networkMode="host",
        containerDefinitions=[
            {
                "name": name,
                "image": "agent",
                "memory": int(sc["daemon"].get("memory", 64)),
                "portMappings": [{"containerPort": port, "hostPort": port} for port in ports],
                "stopTimeout": _stop_timeout(sc),
            }
        ],
    )
    ecs.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=f"{p}-{name}",
        launchType="EC2",
        schedulingStrategy="DAEMON",
        loadBalancers=[{"loadBalancerName": n, "containerName": name, "containerPort": port} for n, port in classic]
        + [{"targetGroupArn": arn, "containerName": name, "containerPort": port} for arn, port in target_groups],
    )


def _register_by_hand(
    world: World, sc: dict[str, Any], asg_name: str, classic_names: list[str], tgs: dict[str, str]
) -> list[str]:
    """Load balancers with ``attach: instances``: every instance of the group registered by hand
    (registrations no service owns); the names of those load balancers."""
    instances = list(_asg_instances_of(world, asg_name))
    done = []
    for name, clb in zip(classic_names, sc["load_balancers"]["classic"]):
        if clb.get("attach") == "instances" and instances:
            world.client("elb").register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in instances]
            )
            done.append(name)
    for tg in sc["load_balancers"]["target_groups"]:
        name = f"{sc['name']}-{tg['name']}"[:32]
        if tg.get("attach") == "instances" and instances:
            world.client("elbv2").register_targets(
                TargetGroupArn=tgs[name], Targets=[{"Id": i, "Port": tg["port"]} for i in instances]
            )
            done.append(name)
    return done


def _asg_instances_of(world: World, asg_name: str) -> dict[str, str]:
    found = world.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])
    return {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]}
