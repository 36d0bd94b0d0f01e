import * as fs from 'fs';
import * as path from 'path';
import { Annotations, Duration, Stack, Token, Validations, ArnFormat, RemovalPolicy, Names } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, IConstruct } from 'constructs';
import { builtLambdaCode } from './lambda-code';
import { LAMBDA_NAMES, LambdaName, PERMISSIONS, ResourceScope } from './permissions';

/** The state machine definition, with `${Placeholder}`s filled by `definitionSubstitutions`. */
export const DRAIN_ASL_PATH = path.resolve(__dirname, '..', '..', 'statemachine', 'drain.asl.json');

/** What the lifecycle action is completed with. For a terminate hook both let the instance go; ABANDON also skips the remaining hooks. */
export type LifecycleResult = 'CONTINUE' | 'ABANDON';

/** What the drain does with tasks no ECS service will move (standalone tasks). */
export type StandaloneTasks = 'wait' | 'stop';

/** `detail-type` of the Auto Scaling event the drain starts from. */
export const TERMINATE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
/** `detail-type` of the EC2 Spot two-minute warning. */
export const SPOT_WARNING_DETAIL_TYPE = 'EC2 Spot Instance Interruption Warning';

/** The namespace of the metrics the functions emit (CloudWatch Embedded Metric Format), dimension `Cluster`. */
export const METRICS_NAMESPACE = 'EcsSingleTaskAutoscaling';

/**
 * The cdk-nag rules (of the HIPAA, NIST 800-53 and PCI DSS packs) that ask for a KMS key on
 * every log group. Acknowledged on each log group unless `logEncryptionKey` is given.
 */
export const LOG_GROUP_ENCRYPTION_RULES = [
  'HIPAA.Security-CloudWatchLogGroupEncrypted',
  'NIST.800.53.R4-CloudWatchLogGroupEncrypted',
  'NIST.800.53.R5-CloudWatchLogGroupEncrypted',
  'PCI.DSS.321-CloudWatchLogGroupEncrypted',
] as const;

/** Why the log groups have no customer managed key by default. */
export const LOG_GROUP_ENCRYPTION_REASON =
  'CloudWatch Logs encrypts every log group at rest with keys it manages. These logs hold operational metadata only ' +
  '(instance, task, load balancer and execution identifiers, lifecycle action tokens, drain decisions and metrics), ' +
  'no credentials and no application data, so a customer managed key would ' +
  'add a key policy to keep in step with the Logs service principal, and a monthly cost, for no gain in ' +
  'confidentiality. Pass logEncryptionKey (app context logKmsKeyArn) where a customer managed key is required.';

/** Auto Scaling's limit on the whole lifecycle wait: min(48 h, 100 x heartbeat timeout). */
export const MAX_LIFECYCLE_WAIT_SECONDS = 48 * 3600;

export interface EcsSingleTaskAutoscalingProps {
  /** Name of the ECS cluster (EC2 container instances) to manage, e.g. `cluster.clusterName`. */
  readonly clusterName: string;

  /** Name of the ECS service the task scaler keeps at "usable instances - nCount", e.g. `service.serviceName`. */
  readonly serviceName: string;

  /**
   * Names of the Auto Scaling groups whose instances are drained before termination
   * (each gets a terminate lifecycle hook), e.g. `[asg.autoScalingGroupName]`.
   */
  readonly autoScalingGroupNames: string[];

  /** Spare instances kept free of the service's tasks ("N" in N+1). @default 1 */
  readonly nCount?: number;

  /** The service's desired count never goes below this. */
  readonly minTaskCount: number;

  /** The service's desired count never goes above this. @default - no upper bound */
  readonly maxTaskCount?: number;

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

  /** The hook's default result, applied when its heartbeat times out. @default 'CONTINUE' */
  readonly hookDefaultResult?: LifecycleResult;

  /** Classic ELBs the instances are registered with besides those the ASG and the service name. @default - none */
  readonly classicLoadBalancerNames?: string[];

  /** Target groups the instances are registered with besides those the ASG and the service name. @default - none */
  readonly targetGroupArns?: string[];

  /**
   * Allow deregistration only from `classicLoadBalancerNames` and `targetGroupArns`
   * instead of from any Classic ELB and target group of the account and Region.
   * Load balancers the drain discovers (from the ASG or the service) but that are not
   * listed then fail the drain with AccessDenied.
   * @default false
   */
  readonly restrictDeregistrationToConfigured?: boolean;

  /**
   * Also start a drain on "EC2 Spot Instance Interruption Warning". That event names
   * no Auto Scaling group, so the rule matches every Spot instance of the account and
   * Region; the drain refuses instances that are not in the managed cluster.
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

  /** Where the alarms go. @default - a new topic (subscribe to it after deployment) */
  readonly alarmTopic?: sns.ITopic;

  /** Retention of the functions' and the state machine's logs. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;

  /** Removal policy of the log groups. @default RemovalPolicy.RETAIN */
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
   * @default - `target/lambda/<name>/bootstrap.zip` from `cargo lambda build --release --arm64 --output-format zip`; fails when missing
   */
  readonly lambdaCode?: (name: LambdaName) => lambda.Code;
}

interface FunctionSpec {
  readonly id: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
}

/**
 * Drains EC2-backed ECS container instances before an Auto Scaling group terminates
 * them, and keeps the service's desired count at "usable instances - N" (N+1).
 *
 * Creates: one terminate lifecycle hook per Auto Scaling group, EventBridge rules for
 * exactly those hooks (and the Spot warning when enabled) that start the drain state
 * machine, the six Rust Lambdas with one least-privilege role each, the task scaler's
 * and the sweeper's schedules, a dead-letter queue for undelivered events, alarms and a
 * dashboard.
 */
export class EcsSingleTaskAutoscaling extends Construct {
  /** The functions, by binary name. */
  public readonly functions: Readonly<Record<LambdaName, lambda.Function>>;
  /** The drain state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** One terminate lifecycle hook per managed Auto Scaling group. */
  public readonly lifecycleHooks: autoscaling.CfnLifecycleHook[];
  /** The rule that starts a drain for a terminate lifecycle action of the managed groups. */
  public readonly terminateRule: events.Rule;
  /** The rule for Spot interruption warnings, when enabled. */
  public readonly spotInterruptionRule?: events.Rule;
  /** The task scaler's schedule. */
  public readonly schedule: scheduler.CfnSchedule;
  /** The sweeper's schedule. */
  public readonly sweeperSchedule: scheduler.CfnSchedule;
  /** The name of the terminate lifecycle hook on every managed group. */
  public readonly lifecycleHookName: string;
  /** The dashboard, unless disabled. */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** Events that EventBridge or EventBridge Scheduler could not deliver. */
  public readonly deadLetterQueue: sqs.Queue;
  /** Where the alarms go. */
  public readonly alarmTopic: sns.ITopic;
  /** The alarms: failed and timed-out drains, undelivered events, a failing task scaler, lost events the sweeper found, a failing sweeper. */
  public readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: EcsSingleTaskAutoscalingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const settings = validate(props);
    const asgNames = props.autoScalingGroupNames;
    if (settings.sweepRateMinutes * 60 >= settings.heartbeatTimeoutSeconds) {
      Annotations.of(this).addWarningV2(
        'ecs-single-task-autoscaling:sweep-rate',
        `sweepRate (${settings.sweepRateMinutes} min) is not below heartbeatTimeout (${settings.heartbeatTimeoutSeconds} s): ` +
          'an instance whose lifecycle event was lost may reach the hook timeout (and its default result) before a sweep finds it.',
      );
    }

    // ---- ARNs the policies are scoped to ----------------------------------------------
    const ecsArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'ecs', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const elbArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'elasticloadbalancing', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const clusterArn = ecsArn('cluster', props.clusterName);
    const restrictLbs = props.restrictDeregistrationToConfigured ?? false;
    const classicElbNames = props.classicLoadBalancerNames ?? [];
    const targetGroupArns = props.targetGroupArns ?? [];
    const scopes: Record<ResourceScope, string[]> = {
      cluster: [clusterArn],
      clusterContainerInstances: [ecsArn('container-instance', `${props.clusterName}/*`)],
      clusterTasks: [ecsArn('task', `${props.clusterName}/*`)],
      clusterServices: [ecsArn('service', `${props.clusterName}/*`)],
      service: [ecsArn('service', `${props.clusterName}/${props.serviceName}`)],
      autoScalingGroups: asgNames.map((name) =>
        stack.formatArn({
          service: 'autoscaling',
          resource: 'autoScalingGroup',
          resourceName: `*:autoScalingGroupName/${name}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ),
      classicLoadBalancers: restrictLbs ? classicElbNames.map((name) => elbArn('loadbalancer', name)) : [elbArn('loadbalancer', '*')],
      targetGroups: restrictLbs ? targetGroupArns : [elbArn('targetgroup', '*')],
      // Filled once the state machine exists (only the sweeper, created after it, uses them).
      stateMachine: [],
      stateMachineExecutions: [],
      any: ['*'],
    };
    this.lifecycleHookName = props.lifecycleHookName ?? `${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}-drain`;

    // ---- The functions, one role each ---------------------------------------------------
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;
    const code = props.lambdaCode ?? ((name: LambdaName) => builtLambdaCode(name));
    const drainTimeout = Duration.seconds(60);
    const logGroup = (logGroupId: string, logGroupName?: string): logs.LogGroup => {
      const group = new logs.LogGroup(this, logGroupId, {
        logGroupName,
        retention: logRetention,
        removalPolicy: logRemovalPolicy,
        encryptionKey: props.logEncryptionKey,
      });
      if (!props.logEncryptionKey) {
        for (const id of LOG_GROUP_ENCRYPTION_RULES) {
          Validations.of(group).acknowledge({ id, reason: LOG_GROUP_ENCRYPTION_REASON });
        }
      }
      return group;
    };
    const specs: Record<Exclude<LambdaName, 'sweeper'>, FunctionSpec> = {
      'drain-ecs': {
        id: 'DrainEcs',
        description: 'Validates the lifecycle event and sets the ECS container instance DRAINING.',
        timeout: drainTimeout,
        environment: { ECS_CLUSTER: props.clusterName, MANAGED_ASG_NAMES: asgNames.join(',') },
      },
      'deregister-lb': {
        id: 'DeregisterLb',
        description: 'Deregisters the instance from every Classic ELB and target group it is in.',
        timeout: drainTimeout,
        environment: {
          ECS_CLUSTER: props.clusterName,
          ...(classicElbNames.length ? { CLASSIC_ELB_NAMES: classicElbNames.join(',') } : {}),
          ...(targetGroupArns.length ? { TARGET_GROUP_ARNS: targetGroupArns.join(',') } : {}),
        },
      },
      'check-drained': {
        id: 'CheckDrained',
        description: 'Checks whether tasks and load balancers have drained; heartbeats the lifecycle hook.',
        timeout: drainTimeout,
        environment: {},
      },
      'complete-lifecycle': {
        id: 'CompleteLifecycle',
        description: 'Completes the terminate lifecycle action.',
        timeout: drainTimeout,
        environment: {},
      },
      'task-scaler': {
        id: 'TaskScaler',
        description: 'Keeps the ECS service desired count at usable instances minus N (N+1).',
        timeout: Duration.seconds(50),
        environment: {},
      },
    };

    const functions = {} as Record<LambdaName, lambda.Function>;
    const makeFunction = (name: LambdaName, spec: FunctionSpec): lambda.Function => {
      const logs = logGroup(`${spec.id}Logs`);
      const role = new iam.Role(this, `${spec.id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `The ${name} Lambda: only the calls it makes.`,
        inlinePolicies: { Calls: this.policyFor(name, scopes, clusterArn, logs) },
      });
      this.acknowledgeWildcards(role, name, scopes);
      return new lambda.Function(this, spec.id, {
        description: spec.description,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: lambda.Architecture.ARM_64,
        handler: 'bootstrap',
        code: code(name),
        role,
        memorySize: 128,
        timeout: spec.timeout,
        environment: Object.keys(spec.environment).length ? spec.environment : undefined,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
        logGroup: logs,
      });
    };
    for (const name of Object.keys(specs) as (keyof typeof specs)[]) {
      functions[name] = makeFunction(name, specs[name]);
    }
    this.functions = functions;

    // The scheduler invokes the scaler asynchronously. A failed run is not retried: the
    // next tick recomputes the desired count from scratch anyway.
    functions['task-scaler'].configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });

    // ---- The drain state machine ---------------------------------------------------------
    const definition = fs.readFileSync(DRAIN_ASL_PATH, 'utf8');
    // The /aws/vendedlogs/ prefix keeps the Logs resource policy that Step Functions
    // needs from growing with every state machine.
    const smLogs = logGroup(
      'DrainStateMachineLogs',
      `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}-drain`,
    );
    this.stateMachine = new sfn.StateMachine(this, 'DrainStateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: {
        DrainEcsFunctionArn: functions['drain-ecs'].functionArn,
        DeregisterLbFunctionArn: functions['deregister-lb'].functionArn,
        CheckDrainedFunctionArn: functions['check-drained'].functionArn,
        CompleteLifecycleFunctionArn: functions['complete-lifecycle'].functionArn,
        DrainDeadlineSeconds: String(settings.drainDeadlineSeconds),
        DeadlineResult: settings.deadlineResult,
        StandaloneTasks: settings.standaloneTasks,
        StandaloneTaskGraceSeconds: String(settings.standaloneTaskGraceSeconds),
      },
      // Every state transition is logged, but without the states' input and output: these
      // carry the lifecycle action token, which an operator sees once, in the execution's
      // own input and history, not in a log line per state.
      logs: { destination: smLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    // The definition invokes the unqualified function ARNs through lambda:invoke: exactly these four.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: (['drain-ecs', 'deregister-lb', 'check-drained', 'complete-lifecycle'] as const).map(
          (name) => functions[name].functionArn,
        ),
      }),
    );
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the actions Step Functions needs for its own logging and tracing have "*": the CloudWatch Logs ' +
        'log-delivery actions (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ' +
        'ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray ' +
        '(xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) accept no narrower ' +
        'resource. lambda:InvokeFunction is limited to the four drain functions.',
    });

    // ---- The sweeper: drains for lifecycle actions whose event never arrived -------------------
    // EventBridge delivers on a best-effort basis. The sweeper lists the instances of our groups
    // in Terminating:Wait on our hook and starts an execution (named after the instance) for
    // each one that has none.
    scopes.stateMachine = [this.stateMachine.stateMachineArn];
    scopes.stateMachineExecutions = [
      stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${this.stateMachine.stateMachineName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
    functions.sweeper = makeFunction('sweeper', {
      id: 'Sweeper',
      description: 'Starts a drain for every instance waiting on the terminate hook without one (a lost event).',
      timeout: Duration.seconds(60),
      environment: {
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        MANAGED_ASG_NAMES: asgNames.join(','),
        LIFECYCLE_HOOK_NAME: this.lifecycleHookName,
        ECS_CLUSTER: props.clusterName,
      },
    });
    // Not retried by Lambda: the next sweep finds the same instances.
    functions.sweeper.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });

    // ---- Lifecycle hooks and the rules that start a drain ------------------------------------
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the EventBridge rule targets and of the task scaler ' +
        'schedule (EventBridge DeadLetterConfig, which cdk-nag does not recognise as a DLQ relationship). ' +
        'A dead-letter queue of a dead-letter queue would only move the messages; the queue has an alarm instead.',
    });

    const notificationMetadata = stack.toJsonString({ cluster: props.clusterName });
    this.lifecycleHooks = asgNames.map(
      (asgName, i) =>
        new autoscaling.CfnLifecycleHook(this, asgNames.length === 1 ? 'TerminateHook' : `TerminateHook${i + 1}`, {
          autoScalingGroupName: asgName,
          // The same name on every group: the sweeper looks for instances waiting on it.
          lifecycleHookName: this.lifecycleHookName,
          lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
          heartbeatTimeout: settings.heartbeatTimeoutSeconds,
          defaultResult: settings.hookDefaultResult,
          notificationMetadata,
          // No notification target: Auto Scaling sends lifecycle events to EventBridge on its own.
        }),
    );

    // A lifecycle action is only worth delivering while it is still open.
    const targetProps: eventTargets.SfnStateMachineProps = {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 20,
      maxEventAge: Duration.seconds(Math.max(60, settings.heartbeatTimeoutSeconds)),
    };
    this.terminateRule = new events.Rule(this, 'TerminateLifecycleActionRule', {
      description: 'Starts the drain for a terminate lifecycle action of the managed Auto Scaling groups.',
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: [TERMINATE_DETAIL_TYPE],
        detail: {
          AutoScalingGroupName: asgNames,
          // Only our hook: another terminate hook on the same group is not ours to complete.
          LifecycleHookName: [this.lifecycleHookName],
        },
      },
      targets: [new eventTargets.SfnStateMachine(this.stateMachine, targetProps)],
    });
    if (props.spotInterruptionHandling) {
      this.spotInterruptionRule = new events.Rule(this, 'SpotInterruptionWarningRule', {
        description: 'Starts the drain on a Spot interruption warning (the drain refuses instances outside the managed cluster).',
        eventPattern: {
          source: ['aws.ec2'],
          detailType: [SPOT_WARNING_DETAIL_TYPE],
        },
        targets: [new eventTargets.SfnStateMachine(this.stateMachine, targetProps)],
      });
    }

    // ---- The schedules: the task scaler and the sweeper ---------------------------------
    const schedule = (scheduleId: string, fn: lambda.Function, what: string, rateMinutes: number, input: string) => {
      const role = new iam.Role(this, `${scheduleId}Role`, {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
        description: `EventBridge Scheduler: invoke the ${what}, dead-letter what it cannot deliver.`,
        inlinePolicies: {
          Invoke: new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }),
              new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }),
            ],
          }),
        },
      });
      return new scheduler.CfnSchedule(this, scheduleId, {
        description: `Runs the ${what}.`,
        scheduleExpression: `rate(${rateMinutes} ${rateMinutes === 1 ? 'minute' : 'minutes'})`,
        flexibleTimeWindow: { mode: 'OFF' },
        state: 'ENABLED',
        target: {
          arn: fn.functionArn,
          roleArn: role.roleArn,
          input,
          // Retrying past the next tick is pointless: that tick does the same work.
          retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: Math.max(60, rateMinutes * 60) },
          deadLetterConfig: { arn: this.deadLetterQueue.queueArn },
        },
      });
    };
    this.schedule = schedule(
      'TaskScalerSchedule',
      functions['task-scaler'],
      'N+1 task scaler',
      settings.scheduleRateMinutes,
      stack.toJsonString(scalerInput(props)),
    );
    this.sweeperSchedule = schedule('SweeperSchedule', functions.sweeper, 'sweeper', settings.sweepRateMinutes, '{}');

    // ---- Alarms ----------------------------------------------------------------------------
    if (props.alarmTopic) {
      this.alarmTopic = props.alarmTopic;
    } else {
      const topic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'ECS single-task autoscaling alarms',
        enforceSSL: true,
      });
      Validations.of(topic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'The topic carries only CloudWatch alarm state changes (alarm name, metric, threshold), no application ' +
          'data. CloudWatch cannot publish to a topic encrypted with the AWS managed key aws/sns, so encryption ' +
          'would need a customer managed key and key policy for no confidentiality gain. Pass alarmTopic to use ' +
          'an encrypted topic of your own.',
      });
      this.alarmTopic = topic;
    }
    const alarmAction = new cwActions.SnsAction(this.alarmTopic);
    const period = Duration.minutes(5);
    // The functions' own metrics (Embedded Metric Format), one series per cluster.
    const customMetric = (metricName: string, statistic: string, metricPeriod: Duration, label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { Cluster: props.clusterName },
        statistic,
        period: metricPeriod,
        label,
      });
    const alarm = (alarmId: string, description: string, metric: cloudwatch.IMetric, evaluationPeriods = 1) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(alarmAction);
      return a;
    };
    this.alarms = [
      alarm(
        'DrainFailedAlarm',
        'A drain execution failed: the instance was not released by the drain (Auto Scaling applies the hook default result at the heartbeat timeout). Inspect the execution and redrive it.',
        this.stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
      ),
      alarm(
        'DrainTimedOutAlarm',
        'A drain execution timed out.',
        this.stateMachine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
      ),
      alarm(
        'DeadLetterQueueAlarm',
        'An event could not be delivered (a lifecycle action that started no drain, or a task scaler or sweeper run). See the dead-letter queue.',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      ),
      alarm(
        'TaskScalerErrorsAlarm',
        'The task scaler has failed on every run for 5 minutes: the service desired count is not being kept at N+1.',
        functions['task-scaler'].metricErrors({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
        5,
      ),
      alarm(
        'SweeperStartedDrainAlarm',
        'The sweeper started a drain for an instance that was waiting on the terminate hook without one: a lifecycle ' +
          'event was lost or not delivered. The drain is running now; check the rule (FailedInvocations) and the dead-letter queue.',
        customMetric('SweeperExecutionsStarted', cloudwatch.Stats.SUM, period),
      ),
      alarm(
        'SweeperErrorsAlarm',
        'The sweeper has failed on its last 3 runs: instances whose lifecycle event was lost are not being drained.',
        functions.sweeper.metricErrors({ period: Duration.minutes(settings.sweepRateMinutes), statistic: cloudwatch.Stats.SUM }),
        3,
      ),
    ];

    // ---- Dashboard --------------------------------------------------------------------------
    if (props.dashboard ?? true) {
      this.dashboard = this.createDashboard(props.clusterName, customMetric, period);
    }
  }

  /** One dashboard: the drain executions and their metrics, the scaler, the sweeper, the functions, the alarms. */
  private createDashboard(
    clusterName: string,
    customMetric: (name: string, statistic: string, period: Duration, label?: string) => cloudwatch.Metric,
    period: Duration,
  ): cloudwatch.Dashboard {
    const sm = this.stateMachine;
    const sum = { period, statistic: cloudwatch.Stats.SUM };
    const width = 8;
    const height = 6;
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = [], leftLabel?: string, rightLabel?: string) =>
      new cloudwatch.GraphWidget({
        title,
        left,
        right,
        width,
        height,
        leftYAxis: { min: 0, label: leftLabel, showUnits: false },
        rightYAxis: { min: 0, label: rightLabel, showUnits: false },
      });
    const perFunction = (metric: (fn: lambda.Function) => cloudwatch.Metric) =>
      LAMBDA_NAMES.map((name) => metric(this.functions[name]).with({ label: name }));

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(1),
    });
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `## ECS single-task autoscaling: cluster ${clusterName}\n` +
          'Drains of container instances before termination (Step Functions), the N+1 task scaler, and the sweeper ' +
          'that starts drains whose lifecycle event was lost. Custom metrics: namespace `' +
          METRICS_NAMESPACE +
          '`, dimension `Cluster`.',
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      graph(
        'Drain executions',
        [
          sm.metricStarted(sum).with({ label: 'Started' }),
          sm.metricSucceeded(sum).with({ label: 'Succeeded' }),
          sm.metricFailed(sum).with({ label: 'Failed' }),
          sm.metricTimedOut(sum).with({ label: 'TimedOut' }),
        ],
        [],
        'executions',
      ),
      graph(
        'Drain execution time',
        [
          sm.metricTime({ period, statistic: cloudwatch.Stats.AVERAGE }).with({ label: 'ExecutionTime average' }),
          sm.metricTime({ period, statistic: cloudwatch.Stats.MAXIMUM }).with({ label: 'ExecutionTime maximum' }),
        ],
        [],
        'milliseconds',
      ),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width, height }),
    );
    dashboard.addWidgets(
      graph(
        'Drain duration and waits',
        [
          customMetric('DrainDurationSeconds', cloudwatch.Stats.AVERAGE, period, 'DrainDurationSeconds average'),
          customMetric('DrainDurationSeconds', cloudwatch.Stats.MAXIMUM, period, 'DrainDurationSeconds maximum'),
          customMetric('TaskWaitSeconds', cloudwatch.Stats.MAXIMUM, period, 'TaskWaitSeconds maximum'),
          customMetric('LoadBalancerWaitSeconds', cloudwatch.Stats.MAXIMUM, period, 'LoadBalancerWaitSeconds maximum'),
        ],
        [],
        'seconds',
      ),
      graph(
        'Drain events',
        [
          customMetric('HeartbeatsSent', cloudwatch.Stats.SUM, period),
          customMetric('DrainDeadlineReached', cloudwatch.Stats.SUM, period),
          customMetric('SweeperExecutionsStarted', cloudwatch.Stats.SUM, period),
        ],
        [],
        'count',
      ),
      graph(
        'Task scaler',
        [customMetric('ScalerDesiredCount', cloudwatch.Stats.MAXIMUM, period)],
        [customMetric('ScalerDesiredCountChanges', cloudwatch.Stats.SUM, period)],
        'desired count',
        'changes',
      ),
    );
    dashboard.addWidgets(
      graph('Function errors', perFunction((fn) => fn.metricErrors(sum)), [], 'errors'),
      graph('Function duration (maximum)', perFunction((fn) => fn.metricDuration({ period, statistic: cloudwatch.Stats.MAXIMUM })), [], 'milliseconds'),
      graph('Function duration (average)', perFunction((fn) => fn.metricDuration({ period, statistic: cloudwatch.Stats.AVERAGE })), [], 'milliseconds'),
    );
    return dashboard;
  }

  /** The function's inline policy: its log group, then every call from PERMISSIONS. */
  private policyFor(
    name: LambdaName,
    scopes: Record<ResourceScope, string[]>,
    clusterArn: string,
    logGroup: logs.LogGroup,
  ): iam.PolicyDocument {
    const statements = [
      new iam.PolicyStatement({
        sid: 'Logs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    ];
    // One statement per (scope, condition), actions sorted: stable and easy to review.
    const groups = new Map<string, { scope: ResourceScope; condition: boolean; actions: string[] }>();
    for (const p of PERMISSIONS[name]) {
      const key = `${p.scope}/${p.clusterCondition ? 'c' : ''}`;
      const group = groups.get(key) ?? { scope: p.scope, condition: !!p.clusterCondition, actions: [] };
      group.actions.push(p.action);
      groups.set(key, group);
    }
    for (const group of groups.values()) {
      const resources = scopes[group.scope];
      if (resources.length === 0) {
        if (group.scope === 'classicLoadBalancers' || group.scope === 'targetGroups') {
          continue; // restricted to configured load balancers, and none configured
        }
        throw new Error(`${name}: the ${group.scope} scope is not known yet where its role is made`);
      }
      statements.push(
        new iam.PolicyStatement({
          actions: [...new Set(group.actions)].sort(),
          resources,
          conditions: group.condition ? { ArnEquals: { 'ecs:cluster': clusterArn } } : undefined,
        }),
      );
    }
    return new iam.PolicyDocument({ statements });
  }

  /** Acknowledges each wildcard resource of a function's policy with the reason PERMISSIONS gives for it. */
  private acknowledgeWildcards(role: IConstruct, name: LambdaName, scopes: Record<ResourceScope, string[]>): void {
    const stack = Stack.of(this);
    const reasons = new Map<string, Set<string>>();
    for (const p of PERMISSIONS[name]) {
      for (const resource of scopes[p.scope]) {
        const flat = flattenForNag(stack.resolve(resource));
        if (!flat.includes('*')) {
          continue;
        }
        if (!p.why) {
          throw new Error(`permissions.ts: ${name} ${p.action} has a wildcard resource but no reason`);
        }
        reasons.set(flat, (reasons.get(flat) ?? new Set()).add(`${p.action}: ${p.why}`));
      }
    }
    for (const [flat, why] of reasons) {
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason: [...why].join(' ') });
    }
  }
}

/** The task scaler's constant input, in the predecessor's format (new keys optional). */
export function scalerInput(props: EcsSingleTaskAutoscalingProps): Record<string, unknown> {
  return {
    cluster_name: props.clusterName,
    service_name: props.serviceName,
    min_task_count: props.minTaskCount,
    n_count: props.nCount ?? 1,
    ...(props.maxTaskCount !== undefined ? { max_task_count: props.maxTaskCount } : {}),
    // With one group, usable instances are also checked to be InService there.
    ...(props.autoScalingGroupNames.length === 1 ? { asg_name: props.autoScalingGroupNames[0] } : {}),
  };
}

interface Settings {
  readonly drainDeadlineSeconds: number;
  readonly deadlineResult: LifecycleResult;
  readonly heartbeatTimeoutSeconds: number;
  readonly hookDefaultResult: LifecycleResult;
  readonly standaloneTasks: StandaloneTasks;
  readonly standaloneTaskGraceSeconds: number;
  readonly scheduleRateMinutes: number;
  readonly sweepRateMinutes: number;
}

/** Checks the props against the limits of Auto Scaling, the ASL and the scaler, naming the prop that is wrong. */
export function validate(props: EcsSingleTaskAutoscalingProps): Settings {
  const errors: string[] = [];
  const wholeSeconds = (what: string, d: Duration): number => {
    const ms = d.toMilliseconds();
    if (ms % 1000 !== 0) {
      errors.push(`${what} must be a whole number of seconds, got ${ms} ms`);
    }
    return Math.floor(ms / 1000);
  };
  const nonNegativeInt = (what: string, v: number | undefined) => {
    if (v !== undefined && !Token.isUnresolved(v) && (!Number.isInteger(v) || v < 0)) {
      errors.push(`${what} must be a non-negative integer, got ${v}`);
    }
  };
  const result = (what: string, v: string | undefined): LifecycleResult => {
    const r = v ?? 'CONTINUE';
    if (r !== 'CONTINUE' && r !== 'ABANDON') {
      errors.push(`${what} must be CONTINUE or ABANDON, got ${JSON.stringify(v)}`);
    }
    return r as LifecycleResult;
  };

  if (props.autoScalingGroupNames.length === 0) {
    errors.push('autoScalingGroupNames must name at least one Auto Scaling group');
  }
  if (new Set(props.autoScalingGroupNames).size !== props.autoScalingGroupNames.length) {
    errors.push('autoScalingGroupNames has duplicates');
  }
  nonNegativeInt('nCount', props.nCount);
  nonNegativeInt('minTaskCount', props.minTaskCount);
  nonNegativeInt('maxTaskCount', props.maxTaskCount);
  if (props.maxTaskCount !== undefined && props.maxTaskCount < props.minTaskCount) {
    errors.push(`maxTaskCount (${props.maxTaskCount}) must not be below minTaskCount (${props.minTaskCount})`);
  }

  const heartbeatTimeoutSeconds = wholeSeconds('heartbeatTimeout', props.heartbeatTimeout ?? Duration.minutes(10));
  if (heartbeatTimeoutSeconds < 30 || heartbeatTimeoutSeconds > 7200) {
    errors.push(`heartbeatTimeout must be 30 to 7200 seconds (Auto Scaling's limits), got ${heartbeatTimeoutSeconds}`);
  }
  const maxWait = Math.min(MAX_LIFECYCLE_WAIT_SECONDS, 100 * heartbeatTimeoutSeconds);
  const drainDeadlineSeconds = wholeSeconds('drainDeadline', props.drainDeadline ?? Duration.hours(1));
  if (drainDeadlineSeconds <= 0 || drainDeadlineSeconds >= maxWait) {
    errors.push(
      `drainDeadline must be above 0 and below min(48 h, 100 x heartbeatTimeout) = ${maxWait} s, ` +
        `the longest a lifecycle action can be kept open; got ${drainDeadlineSeconds} s`,
    );
  }

  const standaloneTasks = props.standaloneTasks ?? 'wait';
  if (standaloneTasks !== 'wait' && standaloneTasks !== 'stop') {
    errors.push(`standaloneTasks must be wait or stop, got ${JSON.stringify(props.standaloneTasks)}`);
  }
  const standaloneTaskGraceSeconds = wholeSeconds('standaloneTaskGrace', props.standaloneTaskGrace ?? Duration.minutes(5));
  if (standaloneTasks === 'stop' && standaloneTaskGraceSeconds >= drainDeadlineSeconds) {
    errors.push(
      `standaloneTaskGrace (${standaloneTaskGraceSeconds} s) must be below drainDeadline (${drainDeadlineSeconds} s), ` +
        'or standalone tasks would never be stopped before the deadline',
    );
  }

  const wholeMinutes = (what: string, d: Duration): number => {
    const secs = wholeSeconds(what, d);
    if (secs < 60 || secs % 60 !== 0) {
      errors.push(`${what} must be a whole number of minutes, at least 1, got ${secs} s`);
    }
    return secs / 60;
  };
  const scheduleRateMinutes = wholeMinutes('scheduleRate', props.scheduleRate ?? Duration.minutes(1));
  const sweepRateMinutes = wholeMinutes('sweepRate', props.sweepRate ?? Duration.minutes(5));

  const hookName = props.lifecycleHookName;
  if (hookName !== undefined && !Token.isUnresolved(hookName) && !/^[A-Za-z0-9\-_/]{1,255}$/.test(hookName)) {
    errors.push(`lifecycleHookName must be 1 to 255 of A-Z a-z 0-9 - _ /, got ${JSON.stringify(hookName)}`);
  }

  const settings: Settings = {
    drainDeadlineSeconds,
    deadlineResult: result('deadlineResult', props.deadlineResult),
    heartbeatTimeoutSeconds,
    hookDefaultResult: result('hookDefaultResult', props.hookDefaultResult),
    standaloneTasks,
    standaloneTaskGraceSeconds,
    scheduleRateMinutes,
    sweepRateMinutes,
  };
  if (errors.length) {
    throw new Error(`EcsSingleTaskAutoscaling: invalid props:\n- ${errors.join('\n- ')}`);
  }
  return settings;
}

/**
 * A resolved CloudFormation value as cdk-nag prints it in a finding ID
 * (`Fn::Join` joined, `Ref` as `<Name>`, `Fn::GetAtt` as `<Name.Attr>`), so that a
 * wildcard can be acknowledged by its exact finding.
 */
export function flattenForNag(value: unknown): string {
  if (typeof value === 'string') {
    return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  }
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (Array.isArray(v['Fn::Join'])) {
      const [delimiter, items] = v['Fn::Join'] as [string, unknown[]];
      return items.map(flattenForNag).join(delimiter);
    }
    if (v['Fn::Sub'] !== undefined) {
      return flattenForNag(v['Fn::Sub']);
    }
    if (Array.isArray(v['Fn::GetAtt'])) {
      const [resource, attribute] = v['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenForNag(resource)}.${flattenForNag(attribute)}>`;
    }
    if (v['Fn::ImportValue'] !== undefined) {
      return flattenForNag(v['Fn::ImportValue']);
    }
    if (v.Ref !== undefined) {
      return `<${flattenForNag(v.Ref)}>`;
    }
  }
  return JSON.stringify(value);
}
