import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { LambdaName } from './permissions';

/** What the lifecycle action is completed with. For a terminate hook both let the instance go; ABANDON also skips the remaining hooks. */
export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** What the drain does with tasks no ECS service will move (standalone tasks). */
export type StandaloneTasks = 'wait' | 'stop';

/**
 * Which load balancers the drain may deregister an instance from:
 * - `account`: any Classic ELB and target group of the account and Region (what the drain
 *   finds at run time: the group's, the services', the configured ones);
 * - `listed`: only `classicLoadBalancerNames` and `targetGroupArns` (list the group's and
 *   the services' load balancers there too; one found but not listed fails with AccessDenied);
 * - `tagged`: only load balancers and target groups that carry `deregistrationTag`.
 */
export type DeregistrationScope = 'account' | 'listed' | 'tagged';

/** An ECS service the task scaler keeps at "usable instances - N" (N+1). */
export interface ScaledService {
  /** Name of the service, e.g. `service.serviceName`. */
  readonly serviceName: string;
  /** The service's desired count never goes below this. */
  readonly minTaskCount: number;
  /** The service's desired count never goes above this. @default - no upper bound */
  readonly maxTaskCount?: number;
  /** Spare instances kept free of the service's tasks ("N" in N+1). @default - the construct's `nCount` (1) */
  readonly nCount?: number;
  /**
   * Count only the instances InService in this group (the scaler's `asg_name`); `''` for none.
   * @default - the cluster's group when it has exactly one, else none
   */
  readonly autoScalingGroupName?: string;
}

/** An ECS cluster whose container instances are drained before their group terminates them. */
export interface ManagedCluster {
  /** Name of the ECS cluster (EC2 container instances), e.g. `cluster.clusterName`. */
  readonly clusterName: string;
  /** The Auto Scaling groups of this cluster's instances (each gets the terminate hook, whose metadata names the cluster). */
  readonly autoScalingGroupNames: string[];
  /** The services of this cluster the task scaler keeps at N+1, one schedule each. @default - none (drain only) */
  readonly services?: ScaledService[];
}

export interface EcsSingleTaskAutoscalingProps {
  /**
   * One cluster: the ECS cluster to manage, e.g. `cluster.clusterName`. Give either this
   * (with `autoScalingGroupNames`, and `serviceName` with `minTaskCount` for the scaler) or `clusters`.
   * @default - from `clusters`
   */
  readonly clusterName?: string;

  /** One cluster: the service the task scaler keeps at "usable instances - nCount". @default - no scaler */
  readonly serviceName?: string;

  /**
   * One cluster: the Auto Scaling groups whose instances are drained before termination
   * (each gets a terminate lifecycle hook), e.g. `[asg.autoScalingGroupName]`.
   * @default - from `clusters`
   */
  readonly autoScalingGroupNames?: string[];

  /** One cluster: the service's desired count never goes below this (required with `serviceName`). */
  readonly minTaskCount?: number;

  /** One cluster: the service's desired count never goes above this. @default - no upper bound */
  readonly maxTaskCount?: number;

  /**
   * Several clusters and services: each cluster with its groups and its scaled services.
   * One deployment then drains all of them (each hook's metadata names its cluster).
   * @default - the one cluster of `clusterName`
   */
  readonly clusters?: ManagedCluster[];

  /** Spare instances kept free of each service's tasks ("N" in N+1), unless the service says otherwise. @default 1 */
  readonly nCount?: number;

  /**
   * How long after the lifecycle event the drain gives up waiting and completes the
   * action with `deadlineResult`. Must stay below min(48 h, 100 x `heartbeatTimeout`).
   * @default Duration.hours(1)
   */
  readonly drainDeadline?: Duration;

  /** The result the action is completed with when the drain deadline passes. @default 'CONTINUE' */
  readonly deadlineResult?: LifecycleResult;

  /**
   * The hook's heartbeat timeout (30 s to 2 h). The drain heartbeats the hook while it
   * waits; if nothing heartbeats (the execution failed), Auto Scaling applies
   * `hookDefaultResult` after this long.
   * @default Duration.minutes(10)
   */
  readonly heartbeatTimeout?: Duration;

  /**
   * The hook's default result, applied when its heartbeat times out. For a terminate hook both
   * terminate the instance, unless the group's instance lifecycle policy retains an instance
   * whose action is abandoned: then ABANDON keeps a FAILED drain's instance running
   * (`Terminating:Retained`) until a redrive drains it and someone terminates it.
   * @default 'CONTINUE'
   */
  readonly hookDefaultResult?: LifecycleResult;

  /** Classic ELBs the instances are registered with besides those the groups and the services name. @default - none */
  readonly classicLoadBalancerNames?: string[];

  /** Target groups the instances are registered with besides those the groups and the services name. @default - none */
  readonly targetGroupArns?: string[];

  /** Which load balancers the drain may deregister from. @default 'account' ('listed' with `restrictDeregistrationToConfigured`) */
  readonly deregistrationScope?: DeregistrationScope;

  /** Same as `deregistrationScope: 'listed'` (kept for existing users). @default false */
  readonly restrictDeregistrationToConfigured?: boolean;

  /**
   * With `deregistrationScope: 'tagged'`: the tag a load balancer or target group must
   * carry (`aws:ResourceTag/<key>` equal to `value`).
   * @default - key `ecs-single-task-autoscaling:drain`, value `true`
   */
  readonly deregistrationTag?: { readonly key?: string; readonly value: string };

  /**
   * Also start a drain on "EC2 Spot Instance Interruption Warning". That event names
   * no Auto Scaling group, so the rule matches every Spot instance of the account and
   * Region; the drain refuses instances that are not in the managed cluster. One cluster only.
   * @default false
   */
  readonly spotInterruptionHandling?: boolean;

  /** How often the task scaler runs (whole minutes). @default Duration.minutes(1) */
  readonly scheduleRate?: Duration;

  /**
   * How often the sweeper looks for instances waiting in `Terminating:Wait` on our hook
   * with no drain execution (a lost event) and starts one for each (whole minutes).
   * @default Duration.minutes(5)
   */
  readonly sweepRate?: Duration;

  /**
   * Name of the terminate lifecycle hook put on every managed group (the same name on
   * each; hook names are unique per group). The sweeper and the rule use it.
   * @default - a name unique to this construct (`<construct path>-<hash>-drain`)
   */
  readonly lifecycleHookName?: string;

  /** Create a CloudWatch dashboard of the drain, the scaler, the sweeper and the functions. @default true */
  readonly dashboard?: boolean;

  /** What the drain does with tasks no ECS service will move. @default 'wait' */
  readonly standaloneTasks?: StandaloneTasks;

  /** With `standaloneTasks: 'stop'`: how long standalone tasks may keep running after the drain started. @default Duration.minutes(5) */
  readonly standaloneTaskGrace?: Duration;

  /**
   * How long a Network Load Balancer may still route new connections to an instance after the drain
   * deregistered it, whatever the target's state says ("It can take a few minutes for the deregistration
   * process to complete and for the load balancer to stop routing requests to the target"): the drain
   * waits that long before it releases the instance. @default Duration.minutes(5)
   */
  readonly nlbDeregistrationTime?: Duration;

  /** Where the alarms go. @default - a new topic (subscribe to it after deployment) */
  readonly alarmTopic?: sns.ITopic;

  /** Retention of the functions' and the state machine's logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Removal policy of the log groups. The default keeps the logs when the stack is deleted
   * or a group replaced, but not when the first deployment fails (nothing then blocks a retry).
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * A KMS key to encrypt every log group with. Its key policy must allow the CloudWatch
   * Logs service principal of the Region (`logs.<region>.amazonaws.com`) to use it; the
   * construct does not change the key policy.
   * @default - CloudWatch Logs' own encryption at rest (see the acknowledgement in the construct)
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * The code of each function.
   * @default - the zips shipped in this package (`lambda/<name>.zip`), else, in a checkout of the
   * repository, `target/lambda/<name>/bootstrap.zip` from `make build`; fails when neither exists
   */
  readonly lambdaCode?: (name: LambdaName) => lambda.Code;

  /**
   * The drain state machine's definition (Amazon States Language, with the `${Placeholder}`s
   * the construct substitutes).
   * @default - `statemachine/drain.asl.json` of this package (or of the repository checkout)
   */
  readonly stateMachineDefinition?: string;

  /** Run the functions in this VPC (they need a route to the AWS APIs: NAT or VPC endpoints). @default - not in a VPC */
  readonly vpc?: ec2.IVpc;

  /** With `vpc`: the subnets. @default - the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /** With `vpc`: the functions' security groups. @default - one the construct creates (all outbound allowed) */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /** A permissions boundary for every role the construct creates. @default - none */
  readonly permissionsBoundary?: iam.IManagedPolicy;

  /** Tags for every resource the construct creates that takes tags. @default - none */
  readonly tags?: Record<string, string>;
}
