"""The token buckets of each service's API, with their figures and the page each comes from.

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
"""

from __future__ import annotations

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
