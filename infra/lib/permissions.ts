/**
 * The AWS calls each Lambda makes, and what each call is allowed to touch.
 *
 * This table is the single source of the functions' IAM policies: the construct turns
 * every entry into a statement on that function's own role and nothing else. The Rust
 * side compares it with the SDK calls in `lambdas/<name>/src` through
 * `npm run permissions --silent` (see `permissionsJson`), which prints
 * `{ "<function>": ["service:Action", ...] }`.
 *
 * Scopes follow the Service Authorization Reference: an action that supports
 * resource-level permissions is limited to the managed cluster, service, Auto Scaling
 * groups, load balancers and target groups; an action that only accepts `"*"` says so
 * in `why`, which is also the reason given to cdk-nag for the wildcard.
 */

/** The Lambda binaries, one cargo package each (bin name = package name). */
export const LAMBDA_NAMES = [
  'drain-ecs',
  'deregister-lb',
  'check-drained',
  'complete-lifecycle',
  'task-scaler',
  'sweeper',
] as const;

export type LambdaName = (typeof LAMBDA_NAMES)[number];

/**
 * What an action may touch. The construct resolves each scope to ARNs:
 *
 * - `cluster`: `arn:<partition>:ecs:<region>:<account>:cluster/<cluster>`, one per managed cluster (so are the next four)
 * - `clusterContainerInstances`: `...:container-instance/<cluster>/*`
 * - `clusterTasks`: `...:task/<cluster>/*`
 * - `clusterServices`: `...:service/<cluster>/*`
 * - `service`: `...:service/<cluster>/<service>`, one per scaled service
 * - `autoScalingGroups`: `arn:<partition>:autoscaling:<region>:<account>:autoScalingGroup:*:autoScalingGroupName/<asg>`, one per managed group
 * - `classicLoadBalancers`: `...:elasticloadbalancing:<region>:<account>:loadbalancer/*`,
 *    or exactly the configured Classic ELB names (`deregistrationScope: 'listed'`), or any that carries
 *    the deregistration tag (`'tagged'`: an `aws:ResourceTag` condition)
 * - `targetGroups`: `...:elasticloadbalancing:<region>:<account>:targetgroup/*`,
 *    or exactly the configured target group ARNs, or any that carries the tag, likewise
 * - `stateMachine`: the drain state machine (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`)
 * - `stateMachineExecutions`: its executions (`arn:<partition>:states:<region>:<account>:execution:<name>:*`)
 * - `any`: `"*"` (the action has no resource-level permissions)
 */
export type ResourceScope =
  | 'cluster'
  | 'clusterContainerInstances'
  | 'clusterTasks'
  | 'clusterServices'
  | 'service'
  | 'autoScalingGroups'
  | 'classicLoadBalancers'
  | 'targetGroups'
  | 'stateMachine'
  | 'stateMachineExecutions'
  | 'any';

export interface Permission {
  /** The IAM action, `service:Action`. */
  readonly action: string;
  /** What it may touch. */
  readonly scope: ResourceScope;
  /**
   * Also require `ecs:cluster` to be a managed cluster's ARN (condition `ArnEquals`).
   * Used where ECS evaluates that key for the action.
   */
  readonly clusterCondition?: boolean;
  /** Why the resource has a wildcard, for a reviewer (required for every scope that yields one). */
  readonly why?: string;
}

const ANY_ONLY = (what: string) =>
  `${what} has no resource-level permissions in the Service Authorization Reference: "*" is the only resource it accepts.`;

/** An action with no resource-level permissions: granted on "*", saying so. */
const onAnyResource = (action: string): Permission => ({ action, scope: 'any', why: ANY_ONLY(action) });

const CONTAINER_INSTANCES_OF_CLUSTER =
  'Container instance IDs are assigned by ECS at registration, so the ARN is limited to the managed cluster (container-instance/<cluster>/*); the ecs:cluster condition repeats that limit.';
const TASKS_OF_CLUSTER =
  'Task IDs are assigned by ECS at launch, so the ARN is limited to the managed cluster (task/<cluster>/*); the ecs:cluster condition repeats that limit.';
const ASG_ID =
  'An Auto Scaling group ARN contains a generated group ID that is unknown until the group exists; the name part pins the managed group (autoScalingGroup:*:autoScalingGroupName/<name>).';
const CLASSIC_ELBS_DISCOVERED =
  'Classic ELBs are discovered at run time (attached to the Auto Scaling group, named in the ECS service, or configured), so deregistration is limited to Classic load balancers of this account and Region; deregistrationScope listed allows only the configured names, tagged only those with the deregistration tag.';
const TARGET_GROUPS_DISCOVERED =
  'Target groups are discovered at run time (attached to the Auto Scaling group, named in the ECS service, or configured), and their ARNs carry a generated ID, so deregistration is limited to target groups of this account and Region; deregistrationScope listed allows only the configured ARNs, tagged only those with the deregistration tag.';
const EXECUTIONS_OF_STATE_MACHINE =
  'Execution names are chosen when an execution starts, so the ARN is limited to executions of the drain state machine (execution:<state machine name>:*).';
const SERVICES_OF_CLUSTER =
  "The load balancers of every service in the managed cluster are read to find the instance's registrations, so the ARN is limited to services of that cluster (service/<cluster>/*).";

/**
 * A step that keeps the lifecycle action alive: it reads the hook's heartbeat timeout and
 * heartbeats; for a drain the sweeper started (no token), it first makes sure no newer
 * action of the instance has begun. Told "No active Lifecycle Action found" before AWS took
 * any heartbeat of the action, it asks whether the instance still waits under it (AWS not
 * showing the action yet); once the action has ended, whether the instance is still on its
 * way out, retained, or back in service.
 */
const KEEPS_THE_HOOK_ALIVE: readonly Permission[] = [
  onAnyResource('autoscaling:DescribeLifecycleHooks'),
  { action: 'autoscaling:RecordLifecycleActionHeartbeat', scope: 'autoScalingGroups', why: ASG_ID },
  onAnyResource('autoscaling:DescribeScalingActivities'),
  onAnyResource('autoscaling:DescribeAutoScalingInstances'),
];

/** A container instance's own permission of the managed cluster. */
const ON_CONTAINER_INSTANCES = (action: string): Permission => ({
  action,
  scope: 'clusterContainerInstances',
  clusterCondition: true,
  why: CONTAINER_INSTANCES_OF_CLUSTER,
});

/**
 * A step that drains the instance's container instance: finds it, sets it DRAINING and lists
 * its tasks (the first step; the check, for an instance whose agent registered mid-drain, and
 * again while ECS's listing may lag). It marks the container instance of an instance going
 * back to the warm pool (a custom attribute), for the sweeper to set ACTIVE once it is back in
 * service, and unmarks one that is not going back.
 */
const DRAINS_THE_CONTAINER_INSTANCE: readonly Permission[] = [
  { action: 'ecs:ListContainerInstances', scope: 'cluster' },
  ON_CONTAINER_INSTANCES('ecs:DescribeContainerInstances'),
  ON_CONTAINER_INSTANCES('ecs:UpdateContainerInstancesState'),
  ON_CONTAINER_INSTANCES('ecs:ListTasks'),
  { action: 'ecs:DescribeTasks', scope: 'clusterTasks', clusterCondition: true, why: TASKS_OF_CLUSTER },
  ON_CONTAINER_INSTANCES('ecs:PutAttributes'),
  ON_CONTAINER_INSTANCES('ecs:DeleteAttributes'),
];

export const PERMISSIONS: Readonly<Record<LambdaName, readonly Permission[]>> = {
  'drain-ecs': [
    ...DRAINS_THE_CONTAINER_INSTANCE,
    // The hook's timer has run since Terminating:Wait began: the first step heartbeats at once.
    ...KEEPS_THE_HOOK_ALIVE,
  ],
  'deregister-lb': [
    onAnyResource('autoscaling:DescribeAutoScalingGroups'),
    // A Spot warning names only the instance: its group (DescribeAutoScalingInstances, in
    // KEEPS_THE_HOOK_ALIVE), whose attached load balancers Auto Scaling does not take it out of
    // before the interruption. A due heartbeat goes before the step's reads, whose retries can
    // outlast the hook's timeout.
    ...KEEPS_THE_HOOK_ALIVE,
    {
      action: 'ecs:ListServices',
      scope: 'any',
      clusterCondition: true,
      why: ANY_ONLY('ecs:ListServices') + ' The ecs:cluster condition limits it to the managed cluster.',
    },
    { action: 'ecs:DescribeServices', scope: 'clusterServices', why: SERVICES_OF_CLUSTER },
    // Registration (Instances) and health check of a Classic ELB.
    onAnyResource('elasticloadbalancing:DescribeLoadBalancers'),
    // The health check of a service's target group: how long a replacement takes to be healthy.
    onAnyResource('elasticloadbalancing:DescribeTargetGroups'),
    onAnyResource('elasticloadbalancing:DescribeLoadBalancerAttributes'),
    {
      action: 'elasticloadbalancing:DeregisterInstancesFromLoadBalancer',
      scope: 'classicLoadBalancers',
      why: CLASSIC_ELBS_DISCOVERED,
    },
    onAnyResource('elasticloadbalancing:DescribeTargetHealth'),
    onAnyResource('elasticloadbalancing:DescribeTargetGroupAttributes'),
    { action: 'elasticloadbalancing:DeregisterTargets', scope: 'targetGroups', why: TARGET_GROUPS_DISCOVERED },
    onAnyResource('elasticloadbalancing:DescribeInstanceHealth'),
    // Before its first deregistration it marks the container instance (a custom attribute), and
    // reads whether an earlier step of the drain did: a deregistration whose answer was lost
    // still leaves a Network Load Balancer routing and a Classic ELB's unseen requests to wait for.
    ON_CONTAINER_INSTANCES('ecs:DescribeContainerInstances'),
    ON_CONTAINER_INSTANCES('ecs:PutAttributes'),
  ],
  'check-drained': [
    // An instance whose ECS agent registered after the drain began (scaled in while it booted) is
    // drained as the first step does; its tasks are listed again while ECS's listing may lag; a
    // container instance deregistered (force) mid-drain orphans its service tasks (not waited for).
    ...DRAINS_THE_CONTAINER_INSTANCE,
    { action: 'ecs:StopTask', scope: 'clusterTasks', clusterCondition: true, why: TASKS_OF_CLUSTER },
    // An orphaned task's registration ECS left (a Network Load Balancer's) is taken over only once
    // its service, read for its desired count and minimum healthy percent, serves without it: its
    // own tasks, listed by service, healthy in the group (which another service may share).
    { action: 'ecs:DescribeServices', scope: 'clusterServices', why: SERVICES_OF_CLUSTER },
    {
      action: 'ecs:ListTasks',
      scope: 'any',
      clusterCondition: true,
      why: "A service's tasks are listed by serviceName, which names no container instance: the request has no container-instance ARN to scope. The ecs:cluster condition limits it to the managed cluster.",
    },
    onAnyResource('elasticloadbalancing:DescribeLoadBalancers'),
    // A Classic ELB registration found again while draining is deregistered again.
    {
      action: 'elasticloadbalancing:DeregisterInstancesFromLoadBalancer',
      scope: 'classicLoadBalancers',
      why: CLASSIC_ELBS_DISCOVERED,
    },
    onAnyResource('elasticloadbalancing:DescribeInstanceHealth'),
    onAnyResource('elasticloadbalancing:DescribeTargetHealth'),
    // A target found registered again while draining (by hand, or a lost deregistration) is deregistered again.
    { action: 'elasticloadbalancing:DeregisterTargets', scope: 'targetGroups', why: TARGET_GROUPS_DISCOVERED },
    ...KEEPS_THE_HOOK_ALIVE,
  ],
  'complete-lifecycle': [
    { action: 'autoscaling:CompleteLifecycleAction', scope: 'autoScalingGroups', why: ASG_ID },
    onAnyResource('autoscaling:DescribeScalingActivities'),
    // Told "No active Lifecycle Action found" for an action AWS took no heartbeat of: does the
    // instance still wait under it (AWS not showing it yet: tried again)?
    onAnyResource('autoscaling:DescribeAutoScalingInstances'),
  ],
  'task-scaler': [
    { action: 'ecs:ListContainerInstances', scope: 'cluster' },
    ON_CONTAINER_INSTANCES('ecs:DescribeContainerInstances'),
    // An instance whose agent is away still holds the count while a task of the service runs there.
    ON_CONTAINER_INSTANCES('ecs:ListTasks'),
    { action: 'ecs:DescribeTasks', scope: 'clusterTasks', clusterCondition: true, why: TASKS_OF_CLUSTER },
    { action: 'ecs:DescribeServices', scope: 'service' },
    { action: 'ecs:UpdateService', scope: 'service' },
    onAnyResource('autoscaling:DescribeAutoScalingGroups'),
    // An instance drained on its way back to a warm pool is a warm pool instance: still a drain.
    onAnyResource('autoscaling:DescribeWarmPool'),
  ],
  sweeper: [
    onAnyResource('autoscaling:DescribeAutoScalingGroups'),
    // An instance going back to a warm pool waits on the terminate hook as a warm pool instance.
    onAnyResource('autoscaling:DescribeWarmPool'),
    // When the waiting instance's termination began: the hook's clock, and the action's identity.
    onAnyResource('autoscaling:DescribeScalingActivities'),
    { action: 'states:ListExecutions', scope: 'stateMachine' },
    { action: 'states:DescribeExecution', scope: 'stateMachineExecutions', why: EXECUTIONS_OF_STATE_MACHINE },
    { action: 'states:StartExecution', scope: 'stateMachine' },
    // Keeps the action of every running drain alive while the drain's functions cannot run yet.
    { action: 'autoscaling:RecordLifecycleActionHeartbeat', scope: 'autoScalingGroups', why: ASG_ID },
    // The container instances marked by a drain as going back to the warm pool: set ACTIVE
    // again and unmarked once their instance is back in service (DescribeAutoScalingInstances).
    { action: 'ecs:ListContainerInstances', scope: 'cluster' },
    ON_CONTAINER_INSTANCES('ecs:DescribeContainerInstances'),
    onAnyResource('autoscaling:DescribeAutoScalingInstances'),
    ON_CONTAINER_INSTANCES('ecs:UpdateContainerInstancesState'),
    ON_CONTAINER_INSTANCES('ecs:DeleteAttributes'),
    // One that a scale-in took back to the pool as it was set ACTIVE: DRAINING and marked again.
    ON_CONTAINER_INSTANCES('ecs:PutAttributes'),
    // Those a Spot interruption stopped, in no group: run again since (LaunchTime)?
    onAnyResource('ec2:DescribeInstances'),
  ],
};

/** The actions one function is allowed, sorted: the list to compare with its SDK calls. */
export function actionsOf(name: LambdaName): string[] {
  return [...new Set(PERMISSIONS[name].map((p) => p.action))].sort();
}

/**
 * The JSON-serializable view of this table: every function and the actions it is
 * allowed, sorted and without duplicates. `npm run permissions --silent`
 * (scripts/permissions.ts) prints it, for the Rust test that checks each function's
 * SDK calls against it.
 */
export function permissionsJson(): Record<LambdaName, string[]> {
  return Object.fromEntries(LAMBDA_NAMES.map((name) => [name, actionsOf(name)])) as Record<LambdaName, string[]>;
}
