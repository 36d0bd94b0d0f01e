import { Annotations, Duration, Names, RemovalPolicy, Stack, Tags, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { checkCapacityProviders } from './capacity-providers';
import { LOG_GROUP_ENCRYPTION_REASON, LOG_GROUP_ENCRYPTION_RULES, SCHEDULER_PRECISION_SECONDS } from './constants';
import { DrainWorkflow } from './drain-workflow';
import { defaultLambdaCode } from './lambda-code';
import { Monitoring } from './monitoring';
import { acknowledge } from './nag';
import { drainDefinition } from './package-files';
import { LambdaName } from './permissions';
import { EcsSingleTaskAutoscalingProps } from './props';
import { FunctionDeps, Network } from './rust-function';
import { resourceScopes, withStateMachine } from './scopes';
import { Settings, validate } from './settings';
import { Sweeper } from './sweeper';
import { TaskScaler } from './task-scaler';

export * from './constants';
export * from './props';
export { DRAIN_ASL_PATH } from './package-files';
export { flattenForNag } from './nag';
export { scalerInput, validate } from './settings';
export type { ClusterSettings, ServiceSettings, Settings } from './settings';

/**
 * Drains EC2-backed ECS container instances before an Auto Scaling group terminates
 * them, and keeps each scaled service's desired count at "usable instances - N" (N+1).
 *
 * Creates: one terminate lifecycle hook per Auto Scaling group (its metadata names the
 * group's cluster), EventBridge rules for exactly those hooks (and the Spot warning when
 * enabled) that start the drain state machine, the Rust Lambdas with one least-privilege role
 * each, the task scaler's schedules (one per service) and the sweepers' (one per cluster), a
 * dead-letter queue for undelivered events, alarms and a dashboard.
 */
export class EcsSingleTaskAutoscaling extends Construct {
  /** The functions, by binary name (`sweeper`: the first cluster's; see `sweepers`). */
  public readonly functions: Readonly<Record<LambdaName, lambda.Function>>;
  /** The drain: its functions, state machine and rules. */
  public readonly drainWorkflow: DrainWorkflow;
  /** The drain state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** One terminate lifecycle hook per managed Auto Scaling group. */
  public readonly lifecycleHooks: autoscaling.CfnLifecycleHook[];
  /** The rule that starts a drain for a terminate lifecycle action of the managed groups. */
  public readonly terminateRule: events.Rule;
  /** The rule for Spot interruption warnings, when enabled. */
  public readonly spotInterruptionRule?: events.Rule;
  /** The N+1 task scaler: its function and one schedule per service. */
  public readonly taskScaler: TaskScaler;
  /** The task scaler's schedule of the first service (see `taskScaler.schedules`). */
  public readonly schedule: scheduler.CfnSchedule;
  /** One sweeper per managed cluster. */
  public readonly sweepers: Sweeper[];
  /** The first cluster's sweeper schedule (see `sweepers`). */
  public readonly sweeperSchedule: scheduler.CfnSchedule;
  /** The name of the terminate lifecycle hook on every managed group. */
  public readonly lifecycleHookName: string;
  /** The dashboard, unless disabled. */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** Events that EventBridge or EventBridge Scheduler could not deliver. */
  public readonly deadLetterQueue: sqs.Queue;
  /** Where the alarms go. */
  public readonly alarmTopic: sns.ITopic;
  /** The alarms: failed and timed-out drains, undelivered events, a failing task scaler, lost events the sweepers found, a failing sweeper. */
  public readonly alarms: cloudwatch.Alarm[];
  /** The checked props, with every default applied. */
  public readonly settings: Settings;

  constructor(scope: Construct, id: string, props: EcsSingleTaskAutoscalingProps) {
    super(scope, id);
    const settings = validate(props);
    this.settings = settings;
    this.warnAboutSweepRate(settings);
    this.lifecycleHookName =
      props.lifecycleHookName ?? `${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}-drain`;
    this.deadLetterQueue = this.createDeadLetterQueue();
    const deps = this.functionDeps(props);
    const scopes = resourceScopes(
      Stack.of(this),
      settings,
      props.classicLoadBalancerNames ?? [],
      props.targetGroupArns ?? [],
    );

    this.drainWorkflow = new DrainWorkflow(this, 'DrainWorkflow', {
      settings,
      deps,
      scopes,
      definition: props.stateMachineDefinition ?? drainDefinition(),
      classicElbNames: props.classicLoadBalancerNames ?? [],
      targetGroupArns: props.targetGroupArns ?? [],
      deadLetterQueue: this.deadLetterQueue,
      lifecycleHookName: this.lifecycleHookName,
      spotInterruptionHandling: props.spotInterruptionHandling ?? false,
    });
    this.stateMachine = this.drainWorkflow.stateMachine;
    this.terminateRule = this.drainWorkflow.terminateRule;
    this.spotInterruptionRule = this.drainWorkflow.spotInterruptionRule;

    const sweeperScopes = withStateMachine(scopes, this.stateMachine);
    this.sweepers = settings.clusters.map(
      (cluster, i) =>
        new Sweeper(this, i === 0 ? 'Sweeper' : `Sweeper${i + 1}`, {
          cluster,
          deps,
          scopes: sweeperScopes,
          stateMachine: this.stateMachine,
          lifecycleHookName: this.lifecycleHookName,
          sweepRateMinutes: settings.sweepRateMinutes,
          deadLetterQueue: this.deadLetterQueue,
        }),
    );
    this.sweeperSchedule = this.sweepers[0].schedule;
    this.taskScaler = new TaskScaler(this, 'TaskScaler', {
      settings,
      deps,
      scopes,
      deadLetterQueue: this.deadLetterQueue,
    });
    this.schedule = this.taskScaler.schedules[0];
    this.functions = {
      ...this.drainWorkflow.functions,
      'task-scaler': this.taskScaler.function,
      sweeper: this.sweepers[0].function,
    };
    this.lifecycleHooks = this.createLifecycleHooks(settings);

    const monitoring = new Monitoring(this, 'Monitoring', {
      alarmTopic: props.alarmTopic,
      stateMachine: this.stateMachine,
      deadLetterQueue: this.deadLetterQueue,
      taskScaler: this.taskScaler.function,
      sweepers: this.sweepers,
      clusterNames: settings.clusters.map((c) => c.clusterName),
      functions: this.labelledFunctions(),
      sweepRateMinutes: settings.sweepRateMinutes,
      dashboard: props.dashboard ?? true,
    });
    this.alarmTopic = monitoring.alarmTopic;
    this.alarms = monitoring.alarms;
    this.dashboard = monitoring.dashboard;

    if (props.permissionsBoundary) {
      iam.PermissionsBoundary.of(this).apply(props.permissionsBoundary);
    }
    for (const [key, value] of Object.entries(props.tags ?? {})) {
      Tags.of(this).add(key, value);
    }
    checkCapacityProviders(this, settings);
  }

  private warnAboutSweepRate(settings: Settings): void {
    const heartbeat = settings.heartbeatTimeoutSeconds;
    const sweptBy = settings.sweepRateMinutes * 60 + SCHEDULER_PRECISION_SECONDS;
    if (!Token.isUnresolved(heartbeat) && sweptBy >= heartbeat) {
      Annotations.of(this).addWarningV2(
        'ecs-single-task-autoscaling:sweep-rate',
        `sweepRate (${settings.sweepRateMinutes} min) plus EventBridge Scheduler's 60 s precision (${sweptBy} s) is ` +
          `not below heartbeatTimeout (${heartbeat} s): an instance whose lifecycle event was lost may reach the hook ` +
          'timeout (and its default result) before a sweep finds it.',
      );
    }
  }

  private createDeadLetterQueue(): sqs.Queue {
    const queue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      queue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the EventBridge rule targets and of the schedules ' +
        '(EventBridge DeadLetterConfig, which cdk-nag does not recognise as a DLQ relationship), and the ' +
        "on-failure destination of the scheduled functions' asynchronous runs. " +
        'A dead-letter queue of a dead-letter queue would only move the messages; the queue has an alarm instead.',
    );
    return queue;
  }

  /** The code, log groups and network every function shares. */
  private functionDeps(props: EcsSingleTaskAutoscalingProps): FunctionDeps {
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
    const logGroup = (scope: Construct, id: string, logGroupName?: string): logs.LogGroup => {
      const group = new logs.LogGroup(scope, id, {
        logGroupName,
        retention,
        removalPolicy,
        encryptionKey: props.logEncryptionKey,
      });
      if (!props.logEncryptionKey) {
        for (const rule of LOG_GROUP_ENCRYPTION_RULES) {
          acknowledge(group, rule, LOG_GROUP_ENCRYPTION_REASON);
        }
      }
      return group;
    };
    return { code: props.lambdaCode ?? defaultLambdaCode, logGroup, network: this.network(props) };
  }

  private network(props: EcsSingleTaskAutoscalingProps): Network | undefined {
    if (!props.vpc) {
      if (props.vpcSubnets || props.securityGroups) {
        throw new Error('EcsSingleTaskAutoscaling: invalid props:\n- vpcSubnets and securityGroups need vpc');
      }
      return undefined;
    }
    const securityGroups = props.securityGroups ?? [
      new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', {
        vpc: props.vpc,
        description: 'The drain, scaler and sweeper functions: outbound only (AWS APIs)',
        allowAllOutbound: true,
      }),
    ];
    return { vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroups };
  }

  /**
   * One terminate hook per managed group, directly in this construct: the hook has a fixed
   * name on its group, so its logical ID must not move (CloudFormation would create the "new"
   * hook, which Auto Scaling takes as an update of the same name, then delete it as the old one).
   */
  private createLifecycleHooks(settings: Settings): autoscaling.CfnLifecycleHook[] {
    const all = settings.clusters.flatMap((cluster) =>
      cluster.autoScalingGroupNames.map((asg) => ({ asg, cluster: cluster.clusterName })),
    );
    return all.map(
      ({ asg, cluster }, i) =>
        new autoscaling.CfnLifecycleHook(this, all.length === 1 ? 'TerminateHook' : `TerminateHook${i + 1}`, {
          autoScalingGroupName: asg,
          // The same name on every group: the sweepers look for instances waiting on it.
          lifecycleHookName: this.lifecycleHookName,
          lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
          heartbeatTimeout: settings.heartbeatTimeoutSeconds,
          defaultResult: settings.hookDefaultResult,
          // The drain reads the cluster from here: one deployment can manage several clusters.
          notificationMetadata: Stack.of(this).toJsonString({ cluster }),
          // No notification target: Auto Scaling sends lifecycle events to EventBridge on its own.
        }),
    );
  }

  private labelledFunctions(): { label: string; fn: lambda.Function }[] {
    const several = this.sweepers.length > 1;
    return [
      ...Object.entries(this.drainWorkflow.functions).map(([label, fn]) => ({ label, fn })),
      { label: 'task-scaler', fn: this.taskScaler.function },
      ...this.sweepers.map((s) => ({ label: several ? `sweeper ${s.clusterName}` : 'sweeper', fn: s.function })),
    ];
  }
}
