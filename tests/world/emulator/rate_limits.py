"""API throttling as AWS applies it: per account and Region, a token bucket per API (or per
category of APIs), shared by every caller, answering with each service's throttling error.

Each bucket holds at most ``burst`` tokens and gets ``rate`` tokens back at every second
(AWS's wording: "a set number of tokens is added back to it every second"); a call takes one
token from every bucket it belongs to, or is throttled when one of them has less than one.
The figures are AWS's published ones where AWS publishes them (``BUCKETS`` cites each page);
where it publishes none, an assumed default, marked ``assumed`` (tests/world/README.md).

* ECS: "Request throttling for the Amazon ECS API" (API Reference): categories of actions
  sharing one bucket, e.g. DescribeTasks, ListTasks, DescribeContainerInstances and
  ListContainerInstances share "Cluster resource read actions" (100, 20/s);
  ``ThrottlingException``, HTTP 400.
* EC2: "Request throttling for the Amazon EC2 API": a bucket per action, sized by category
  (the smaller "unfiltered and unpaginated" bucket for DescribeInstances & co. whatever the
  request: the harsher reading); ``RequestLimitExceeded``, HTTP 503.
* Elastic Load Balancing: "Request throttling for the ELB API": each API version (Classic
  ``elb``, v2 ``elbv2``) has an account-level bucket shared by all its actions (40, 10/s) and
  category buckets (registration 20, 4/s; non-mutating 40, 10/s; mutating 20, 3/s;
  resource-intensive 10, 0.2/s); ``ThrottlingException`` "Rate exceeded", HTTP 400.
* Auto Scaling: the API Reference ("API request rate") says every Amazon EC2 Auto Scaling
  action takes tokens from one shared bucket but gives no size: assumed 40, 10/s (the
  account-level figures ELB publishes for its own shared bucket); ``Throttling`` "Rate
  exceeded", HTTP 400 (what query services answer and the SDKs retry; that page calls it a
  RateExceeded error).
* Step Functions: "Step Functions service quotas", quotas related to API action throttling,
  per action; the figures of "all other Regions" (smaller than those of us-east-1, us-west-2
  and eu-west-1), so that what holds here holds in every Region; ``ThrottlingException``, 400.
* Lambda is limited by concurrency, not by a token bucket (world.emulator.lambdas).

Only requests signed like an AWS SDK's are limited. The world's own harness (world.run, the
world's tests: User-Agent with ``world-harness``) observes without being limited or counted:
on AWS nobody polls every execution's history every 0.3 s; every other caller (the functions,
``ecs-sta``, moto's Step Functions) shares the buckets. Calls the world makes on a service's
behalf are free, as AWS says of ELB ("Services that call the ELB API on your behalf ... do not
consume tokens from your buckets"); EventBridge's StartExecution for a rule target takes a
token (world.emulator.eventbridge retries a throttled attempt).

Config ``limits``: ``{"enabled": true, "scale": 1.0, "buckets": {}}``; ``scale`` multiplies
every bucket's burst and rate (0.5: half as big, half as fast); ``buckets`` overrides one by
id (``{"ecs:cluster-resource-read": {"burst": 10, "rate": 2}}``). Buckets refill in AWS time:
at ``timescale`` 0.01 a bucket refills 100 times faster in real seconds, as every other
duration of the world is 100 times shorter (core.scaled).

``GET /_world/limits``: the buckets (id, burst, rate, APIs, source), per API the calls made in
each AWS second since the last reset (``series``: ``[second, calls, throttled]``) and its peak
(attempts, and the most let through in a second) against its tightest bucket (``peaks``). ``POST /_world/calls/reset`` resets the series too.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from world.emulator import core

HARNESS_AGENT = "world-harness"  # botocore Config(user_agent_extra=...) of the world's own clients
# EventBridge's deliveries do not carry their Region down to world.emulator.faults.draw; the world's runs use this one
DELIVERY_REGION = "us-west-2"

ECS_PAGE = "Amazon ECS API Reference: Request throttling for the Amazon ECS API"
EC2_PAGE = "Amazon EC2 Developer Guide: Request throttling for the Amazon EC2 API"
ELB_PAGE = "Elastic Load Balancing User Guide: Request throttling for the ELB API"
ASG_PAGE = (
    "assumed: Amazon EC2 Auto Scaling API Reference (Welcome, API request rate) publishes one shared "
    "bucket without its size; ELB's account-level figures used"
)
SFN_PAGE = "AWS Step Functions Developer Guide: Step Functions service quotas (API action throttling, other Regions)"

# bucket id -> (burst, rate per second, source, actions: names, or "*" for the service's remaining actions)
BUCKETS: dict[str, tuple[float, float, str, list[str]]] = {
    "ecs:cluster-modify": (
        20,
        1,
        ECS_PAGE,
        ["CreateCluster", "DeleteCluster", "PutClusterCapacityProviders", "UpdateCluster", "UpdateClusterSettings"],
    ),
    "ecs:cluster-read": (50, 20, ECS_PAGE, ["DescribeClusters", "ListClusters"]),
    "ecs:task-definition-modify": (20, 1, ECS_PAGE, ["DeregisterTaskDefinition", "RegisterTaskDefinition"]),
    "ecs:task-definition-read": (
        50,
        20,
        ECS_PAGE,
        ["DescribeTaskDefinition", "ListTaskDefinitions", "ListTaskDefinitionFamilies"],
    ),
    "ecs:task-definition-deletion": (5, 1, ECS_PAGE, ["DeleteTaskDefinitions"]),
    "ecs:capacity-provider-modify": (
        10,
        1,
        ECS_PAGE,
        ["CreateCapacityProvider", "DeleteCapacityProvider", "UpdateCapacityProvider"],
    ),
    "ecs:capacity-provider-read": (50, 20, ECS_PAGE, ["DescribeCapacityProviders"]),
    "ecs:tag-modify": (20, 10, ECS_PAGE, ["TagResource", "UntagResource"]),
    "ecs:tag-read": (50, 20, ECS_PAGE, ["ListTagsForResource"]),
    "ecs:setting-modify": (10, 1, ECS_PAGE, ["DeleteAccountSetting", "PutAccountSetting", "PutAccountSettingDefault"]),
    "ecs:setting-read": (50, 20, ECS_PAGE, ["ListAccountSettings"]),
    "ecs:cluster-resource-modify": (
        100,
        40,
        ECS_PAGE,
        [
            "DeleteAttributes",
            "DeregisterContainerInstance",
            "ExecuteCommand",
            "PutAttributes",
            "RunTask",
            "StartTask",
            "StopTask",
            "UpdateContainerAgent",
            "UpdateContainerInstancesState",
        ],
    ),
    "ecs:cluster-resource-read": (
        100,
        20,
        ECS_PAGE,
        ["DescribeContainerInstances", "DescribeTasks", "ListAttributes", "ListContainerInstances", "ListTasks"],
    ),
    "ecs:agent-modify": (
        200,
        120,
        ECS_PAGE,
        [
            "RegisterContainerInstance",
            "SubmitAttachmentStateChanges",
            "SubmitContainerStateChange",
            "SubmitTaskStateChange",
        ],
    ),
    "ecs:service-modify": (50, 5, ECS_PAGE, ["CreateService", "DeleteService", "UpdateService"]),
    "ecs:service-read": (100, 20, ECS_PAGE, ["DescribeServices", "ListServices"]),
    "ecs:service-deployment": (50, 20, ECS_PAGE, ["DescribeServiceDeployments", "ListServiceDeployments"]),
    "ecs:task-protection": (200, 80, ECS_PAGE, ["UpdateTaskProtection", "GetTaskProtection"]),
    # any other ECS action: the smallest of the page's categories (harsher than AWS, never kinder)
    "ecs:other": (10, 1, ECS_PAGE + " (an action it does not list: its smallest category)", ["*"]),
    "autoscaling:account": (40, 10, ASG_PAGE, ["*"]),
    "elb:account": (40, 10, ELB_PAGE + " (account-level bucket of ELB API version 1)", ["*"]),
    "elb:registration": (20, 4, ELB_PAGE, ["RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer"]),
    "elb:resource-intensive": (
        10,
        0.2,
        ELB_PAGE,
        [
            "CreateLoadBalancer",
            "AttachLoadBalancerToSubnets",
            "DetachLoadBalancerFromSubnets",
            "EnableAvailabilityZonesForLoadBalancer",
            "DisableAvailabilityZonesForLoadBalancer",
        ],
    ),
    "elb:non-mutating": (40, 10, ELB_PAGE, ["Describe*"]),
    "elb:mutating": (20, 3, ELB_PAGE, ["*"]),
    "elbv2:account": (40, 10, ELB_PAGE + " (account-level bucket of ELB API version 2)", ["*"]),
    "elbv2:registration": (20, 4, ELB_PAGE, ["RegisterTargets", "DeregisterTargets"]),
    "elbv2:resource-intensive": (10, 0.2, ELB_PAGE, ["CreateLoadBalancer", "SetSubnets"]),
    "elbv2:non-mutating": (40, 10, ELB_PAGE, ["Describe*"]),
    "elbv2:mutating": (20, 3, ELB_PAGE, ["*"]),
    "ec2:RunInstances": (5, 2, EC2_PAGE, ["RunInstances"]),
    "ec2:StartInstances": (5, 2, EC2_PAGE, ["StartInstances"]),
    "ec2:TerminateInstances": (100, 5, EC2_PAGE, ["TerminateInstances"]),
    "ec2:CreateTags": (100, 10, EC2_PAGE, ["CreateTags", "DeleteTags"]),
    "ec2:unfiltered": (
        50,
        10,
        EC2_PAGE + " (unfiltered and unpaginated non-mutating actions)",
        [
            "DescribeInstances",
            "DescribeInstanceStatus",
            "DescribeNetworkInterfaces",
            "DescribeSecurityGroups",
            "DescribeSnapshots",
            "DescribeSpotInstanceRequests",
            "DescribeVolumes",
        ],
    ),
    "ec2:non-mutating": (100, 20, EC2_PAGE, ["Describe*", "List*", "Get*", "Search*"]),
    "ec2:mutating": (50, 5, EC2_PAGE, ["*"]),
    "stepfunctions:StartExecution": (800, 150, SFN_PAGE, ["StartExecution"]),
    "stepfunctions:StopExecution": (500, 25, SFN_PAGE, ["StopExecution"]),
    "stepfunctions:DescribeExecution": (250, 10, SFN_PAGE, ["DescribeExecution"]),
    "stepfunctions:GetExecutionHistory": (400, 20, SFN_PAGE, ["GetExecutionHistory"]),
    "stepfunctions:ListExecutions": (100, 2, SFN_PAGE, ["ListExecutions"]),
    "stepfunctions:DescribeStateMachine": (200, 20, SFN_PAGE, ["DescribeStateMachine"]),
    "stepfunctions:DescribeStateMachineForExecution": (200, 1, SFN_PAGE, ["DescribeStateMachineForExecution"]),
    "stepfunctions:ListStateMachines": (100, 5, SFN_PAGE, ["ListStateMachines"]),
    "stepfunctions:SendTask": (1500, 300, SFN_PAGE, ["SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"]),
    "stepfunctions:modify": (
        100,
        1,
        SFN_PAGE,
        ["CreateStateMachine", "DeleteStateMachine", "UpdateStateMachine", "CreateActivity", "DeleteActivity"],
    ),
    # RedriveExecution and the actions the page does not list: its smallest figures
    "stepfunctions:other": (100, 1, SFN_PAGE + " (an action it does not list: its smallest figures)", ["*"]),
}
# ELB: a call takes a token from its version's account-level bucket and from its category's
SHARED = {"elb": "elb:account", "elbv2": "elbv2:account"}
THROTTLE_CODES = {
    "elb": "ThrottlingException",
    "elbv2": "ThrottlingException",
}  # ELB's page; others: world.emulator.faults

DEFAULTS = {"enabled": True, "scale": 1.0, "buckets": {}}


def _matches(pattern: str, operation: str) -> bool:
    return operation == pattern or (pattern.endswith("*") and operation.startswith(pattern[:-1]))


def buckets_of(service: str, operation: str) -> list[str]:
    """The bucket ids a call of ``service:operation`` takes a token from (none: not limited)."""
    ids = [bid for bid in BUCKETS if bid.startswith(service + ":")]
    if not ids:
        return []
    found = None
    for exact in (True, False):  # a named action before a category pattern, "*" last
        for bid in ids:
            if bid == SHARED.get(service):
                continue
            for pattern in BUCKETS[bid][3]:
                if pattern == "*" or ("*" in pattern) == exact:
                    continue
                if _matches(pattern, operation):
                    found = bid
                    break
            if found:
                break
        if found:
            break
    if found is None:
        found = next((bid for bid in ids if "*" in BUCKETS[bid][3] and bid != SHARED.get(service)), None)
    chosen = [b for b in (SHARED.get(service), found) if b]
    return list(dict.fromkeys(chosen))


class Bucket:
    __slots__ = ("burst", "rate", "ticks", "tokens")

    def __init__(self, burst: float, rate: float):
        self.burst, self.rate, self.tokens, self.ticks = burst, rate, burst, 0


class Limiter:
    """Every region's buckets and the per-second call counts, on the world's clock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.t0 = time.monotonic()
        self.epoch = time.time()
        self.series: dict[str, dict[int, list[int]]] = defaultdict(dict)
        self.throttled: dict[str, int] = defaultdict(int)
        self.signature = ""

    def config(self) -> dict[str, Any]:
        return {**DEFAULTS, **(core.CONFIG.get("limits") or {})}

    def figures(self, bid: str) -> tuple[float, float]:
        cfg = self.config()
        burst, rate = BUCKETS[bid][0], BUCKETS[bid][1]
        override = (cfg.get("buckets") or {}).get(bid) or {}
        burst, rate = float(override.get("burst", burst)), float(override.get("rate", rate))
        scale = float(cfg.get("scale", 1.0))
        return burst * scale, rate * scale

    def aws_seconds(self, now: float) -> float | None:
        """AWS seconds since the buckets were filled (None at timescale 0: time does not pass)."""
        timescale = float(core.CONFIG.get("timescale", 1.0))
        return None if timescale <= 0 else (now - self.t0) / timescale

    def refill(self) -> None:
        """New figures (a config change) or a reset: full buckets, a new clock."""
        with self.lock:
            self.buckets.clear()
            self.t0 = time.monotonic()
            self.epoch = time.time()
            self.signature = json.dumps(self.config(), sort_keys=True) + str(core.CONFIG.get("timescale"))

    def reset_series(self) -> None:
        with self.lock:
            self.series.clear()
            self.throttled.clear()
            self.t0 = time.monotonic()
            self.epoch = time.time()
            for bucket in self.buckets.values():
                bucket.ticks = 0

    def take(self, region: str, api_name: str, ids: list[str]) -> str | None:
        """None when the call may go on, else the id of the bucket that throttles it. Counts the call."""
        now = time.monotonic()
        with self.lock:
            elapsed = self.aws_seconds(now)
            second = int(elapsed) if elapsed is not None else 0
            row = self.series[api_name].setdefault(second, [0, 0])
            row[0] += 1
            if not self.config().get("enabled", True) or elapsed is None:
                return None
            held = []
            for bid in ids:
                key = (region, bid)
                bucket = self.buckets.get(key)
                if bucket is None:
                    bucket = self.buckets[key] = Bucket(*self.figures(bid))
                    bucket.ticks = int(elapsed)
                ticks = int(elapsed)
                if ticks > bucket.ticks:  # tokens come back at each second
                    bucket.tokens = min(bucket.burst, bucket.tokens + (ticks - bucket.ticks) * bucket.rate)
                    bucket.ticks = ticks
                held.append((bid, bucket))
            empty = next((bid for bid, bucket in held if bucket.tokens < 1), None)
            if empty is not None:
                row[1] += 1
                self.throttled[api_name] += 1
                return empty
            for _bid, bucket in held:
                bucket.tokens -= 1
            return None

    def limit_of(self, service: str, operation: str) -> dict[str, Any] | None:
        ids = buckets_of(service, operation)
        if not ids:
            return None
        figures = {bid: self.figures(bid) for bid in ids}
        tight = min(ids, key=lambda bid: (figures[bid][1], figures[bid][0]))
        return {"bucket": tight, "burst": figures[tight][0], "rate": figures[tight][1], "buckets": ids}

    def report(self) -> dict[str, Any]:
        with self.lock:
            series = {api: sorted([s, c, t] for s, (c, t) in rows.items()) for api, rows in self.series.items()}
            throttled = dict(self.throttled)
        peaks = {}
        for api, rows in series.items():
            service, _, operation = api.partition(":")
            top = max(rows, key=lambda r: r[1])
            peaks[api] = {
                "calls": top[1],
                "second": top[0],
                "total": sum(r[1] for r in rows),
                "accepted": max(r[1] - r[2] for r in rows),  # the most calls let through in a second
                "throttled": throttled.get(api, 0),
                "limit": self.limit_of(service, operation),
            }
        cfg = self.config()
        return {
            "enabled": bool(cfg.get("enabled", True)),
            "scale": float(cfg.get("scale", 1.0)),
            "timescale": float(core.CONFIG.get("timescale", 1.0)),
            "since": self.epoch,
            "buckets": {
                bid: {
                    "burst": self.figures(bid)[0],
                    "rate": self.figures(bid)[1],
                    "source": BUCKETS[bid][2],
                    "actions": BUCKETS[bid][3],
                }
                for bid in BUCKETS
            },
            "series": series,
            "peaks": peaks,
        }


LIMITER = Limiter()


def throttle_response(api: Any) -> tuple[int, dict[str, str], bytes]:
    """The service's own throttling answer (ELB's code from its page, the others' as world.emulator.faults has them)."""
    from world.emulator import faults

    code = THROTTLE_CODES.get(api.service)
    if code is None:
        return faults.error_response(api, "throttle")
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return 400, {"Content-Type": "text/xml"}, body


def harness(api: Any) -> bool:
    return HARNESS_AGENT in (getattr(api, "agent", "") or "")


def _hook(api: Any) -> tuple[int, dict[str, str], bytes] | None:
    if harness(api):
        return None
    bucket = LIMITER.take(api.region, api.name, buckets_of(api.service, api.operation))
    if bucket is None:
        return None
    return throttle_response(api)


def allow(service: str, operation: str, region: str) -> bool:
    """For a call the world makes for a caller (EventBridge's StartExecution for a rule target):
    False when the caller's bucket throttles it."""
    return LIMITER.take(region, f"{service}:{operation}", buckets_of(service, operation)) is None


def _on_config() -> None:
    signature = json.dumps(LIMITER.config(), sort_keys=True) + str(core.CONFIG.get("timescale"))
    if signature != LIMITER.signature:
        LIMITER.refill()


def _get_limits(_q: dict[str, str], _b: Any) -> tuple[int, Any]:
    return 200, LIMITER.report()


def _wrap_draw() -> None:
    """EventBridge's delivery attempts draw from world.emulator.faults; a throttled StartExecution fails
    the attempt the same way (retried by EventBridge)."""
    from world.emulator import faults

    original = faults.draw
    if getattr(original, "_world_limits", False):
        return

    def draw(service: str, operation: str) -> str | None:
        kind = original(service, operation)
        if kind is None and not allow(service, operation, DELIVERY_REGION):
            core.record("fault.injected", api=f"{service}:{operation}", kind="throttle", by="rate-limit")
            return "throttle"
        return kind

    draw._world_limits = True  # type: ignore[attr-defined]
    faults.draw = draw


def install() -> None:
    if "limits" not in core.DEFAULT_CONFIG:
        core.DEFAULT_CONFIG["limits"] = copy.deepcopy(DEFAULTS)
    core.CONFIG.setdefault("limits", copy.deepcopy(DEFAULTS))
    core.request_hook(_hook)
    core.on_config(_on_config)
    core.on_reset(LIMITER.refill)
    core.on_reset(LIMITER.reset_series)
    core.route("GET", "/_world/limits")(_get_limits)
    reset_calls = core.ROUTES.get(("POST", "/_world/calls/reset"))

    def _reset_calls(query: dict[str, str], body: Any) -> tuple[int, Any]:
        LIMITER.reset_series()
        return reset_calls(query, body) if reset_calls else (200, {"reset": True})

    core.route("POST", "/_world/calls/reset")(_reset_calls)
    _wrap_draw()
    LIMITER.refill()


def peak_table(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``peak_calls_per_second`` by API for reliability.json: the peak, when, and the limit used."""
    out = {}
    for api, peak in sorted(report.get("peaks", {}).items()):
        limit = peak.get("limit")
        out[api] = {
            "peak": peak["calls"],
            "at_second": peak["second"],
            "peak_accepted": peak.get("accepted"),
            "calls": peak["total"],
            "throttled": peak["throttled"],
            "limit": None
            if limit is None
            else {"bucket": limit["bucket"], "burst": limit["burst"], "rate_per_second": limit["rate"]},
        }
    return out
