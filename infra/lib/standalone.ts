import {
  App,
  Aspects,
  Aws,
  BootstraplessSynthesizer,
  CfnCondition,
  CfnMapping,
  CfnOutput,
  Duration,
  Fn,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { EcsSingleTaskAutoscaling } from './ecs-single-task-autoscaling';
import { Parameters, Slots } from './parameters';
import { LifecycleResult, ScaledService, StandaloneTasks } from './props';

/** How many groups and services the template has room for, and its fixed rates. */
export interface StandaloneOptions {
  /** Auto Scaling group parameters (the first required). @default 3 */
  readonly groups?: number;
  /** Scaled service parameters (the first required). @default 3 */
  readonly services?: number;
  /** How often the task scaler runs, in minutes (written into the schedules). @default 1 */
  readonly scheduleRateMinutes?: number;
  /** How often the sweeper runs, in minutes: the default of the template's SweepRateMinutes (one of SWEEP_RATES). @default 5 */
  readonly sweepRateMinutes?: number;
}

/** The sweep periods (minutes) the template offers: each has its schedule expression in a mapping. */
export const SWEEP_RATES = [1, 2, 3, 5, 10, 15, 30, 60];

/** The file `make template` writes, relative to infra/. */
export const STANDALONE_TEMPLATE_FILE = 'dist/ecs-single-task-autoscaling.template.json';

/**
 * The construct as a plain CloudFormation template for one cluster: everything a deployment
 * chooses is a parameter (the cluster, up to `groups` Auto Scaling groups, up to `services`
 * services, the code's bucket and keys, the drain settings), optional groups and services are
 * conditions, and nothing needs CDK to deploy it (no assets, no bootstrap).
 */
export class StandaloneTemplateStack extends Stack {
  constructor(scope: Construct, id: string, options: StandaloneOptions = {}) {
    super(scope, id, {
      synthesizer: new BootstraplessSynthesizer(),
      analyticsReporting: false,
      description:
        'ecs-single-task-autoscaling: drains ECS container instances before Auto Scaling terminates them, and keeps services at N+1 (one cluster).',
    });
    const groups = options.groups ?? 3;
    const services = options.services ?? 3;
    if (groups < 1 || services < 1) {
      throw new Error('the template needs room for at least one group and one service');
    }
    const p = new Parameters(this);
    const cluster = p.text('ClusterName', 'The ECS cluster (EC2 container instances) to drain and scale in.', {
      allowedPattern: '^[A-Za-z0-9_-]{1,255}$',
    });
    const asgNames = p.slots(
      'AutoScalingGroupName',
      groups,
      "An Auto Scaling group of the cluster's instances (gets the terminate hook)",
    );
    const serviceNames = p.slots(
      'ServiceName',
      services,
      'A service the task scaler keeps at usable instances - NCount',
    );
    const scaled = scaledServices(p, asgNames, serviceNames);
    const lifecycleHookName = hookName(p);
    const lambdaCode = codeInBucket(this, p);
    const drain = drainParameters(p);

    const sta = new EcsSingleTaskAutoscaling(this, 'EcsSingleTaskAutoscaling', {
      clusters: [{ clusterName: cluster, autoScalingGroupNames: asgNames.values, services: scaled }],
      nCount: p.number('NCount', "Spare instances kept free of each service's tasks (the N of N+1).", {
        default: 1,
        minValue: 0,
      }),
      ...drain,
      lifecycleHookName,
      classicLoadBalancerNames: p.list(
        'ClassicElbNames',
        'Classic ELBs to deregister from besides those of the groups and the services (comma-separated).',
      ),
      targetGroupArns: p.list(
        'TargetGroupArns',
        'Target groups to deregister from besides those of the groups and the services (comma-separated ARNs).',
      ),
      scheduleRate: Duration.minutes(options.scheduleRateMinutes ?? 1),
      sweepRate: Duration.minutes(options.sweepRateMinutes ?? 5),
      lambdaCode,
      spotInterruptionHandling: true,
    });
    this.spotRuleWhenAsked(p, sta);
    onlyInUsedSlots(sta, asgNames, serviceNames);
    this.sweepRate(p, sta, options.sweepRateMinutes ?? 5);
    this.optionalExtras(p, sta);
    p.groups();
    // CDK's own template check reads an empty parameter default as the value; here an empty
    // optional parameter means "none": its hook or schedule is not made, and an empty hook name or
    // boundary is replaced (<stack name>-drain, AWS::NoValue).
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W1030',
      reason: 'Empty optional parameters select conditions; their resources are not made, or the value is replaced.',
    });
  }

  /** The Spot warning's rule is made only when the SpotInterruptionHandling parameter asks for it. */
  private spotRuleWhenAsked(p: Parameters, sta: EcsSingleTaskAutoscaling): void {
    const spot = p.text(
      'SpotInterruptionHandling',
      'Also drain an instance on its EC2 Spot interruption warning (true or false).',
      { default: 'false', allowedValues: ['true', 'false'] },
    );
    const handleSpot = p.condition('HandleSpotInterruptions', Fn.conditionEquals(spot, 'true'));
    const spotRule = sta.spotInterruptionRule!;
    (spotRule.node.defaultChild as events.CfnRule).cfnOptions.condition = handleSpot;
    this.onlyWithSpotRule(sta, spotRule, handleSpot);
  }

  /**
   * The dead-letter queue's policy lets the Spot rule send to it; that statement must not name
   * the rule when it is not made (CloudFormation refuses a reference to a resource whose condition
   * is false), so it names the terminate rule instead, which its own statement already allows.
   */
  private onlyWithSpotRule(sta: EcsSingleTaskAutoscaling, spotRule: events.Rule, handleSpot: CfnCondition): void {
    const policy = sta.deadLetterQueue.node.findChild('Policy') as sqs.QueuePolicy;
    const document = this.resolve(policy.document.toJSON()) as { Statement: { Condition?: unknown }[] };
    const wanted = JSON.stringify({ ArnEquals: { 'aws:SourceArn': this.resolve(spotRule.ruleArn) as unknown } });
    const index = document.Statement.findIndex((st) => JSON.stringify(st.Condition ?? {}) === wanted);
    if (index < 0) {
      throw new Error('the dead-letter queue policy has no statement for the Spot rule');
    }
    (policy.node.defaultChild as sqs.CfnQueuePolicy).addPropertyOverride(
      `PolicyDocument.Statement.${index}.Condition.ArnEquals.aws:SourceArn`,
      Fn.conditionIf(handleSpot.logicalId, spotRule.ruleArn, sta.terminateRule.ruleArn),
    );
  }

  /**
   * The sweeper's period, chosen at deployment: CloudFormation has no arithmetic, so the schedule
   * expression (`rate(1 minute)`, `rate(5 minutes)`: singular for 1 only) and the schedule's retry
   * window (one period: the next sweep does the same work) come from a mapping keyed by it.
   */
  private sweepRate(p: Parameters, sta: EcsSingleTaskAutoscaling, defaultMinutes: number): void {
    if (!SWEEP_RATES.includes(defaultMinutes)) {
      throw new Error(`sweepRateMinutes must be one of ${SWEEP_RATES.join(', ')}, got ${defaultMinutes}`);
    }
    const minutes = p.text(
      'SweepRateMinutes',
      'How often the sweeper looks for instances whose lifecycle event was lost (minutes). EventBridge Scheduler ' +
        'invokes within the minute after each period, so keep HeartbeatTimeoutSeconds above 60 x this + 120 (ecs-sta doctor checks it).',
      { default: String(defaultMinutes), allowedValues: SWEEP_RATES.map(String) },
    );
    const rates = new CfnMapping(this, 'SweepRates', {
      mapping: Object.fromEntries(
        SWEEP_RATES.map((m) => [
          String(m),
          { Expression: m === 1 ? 'rate(1 minute)' : `rate(${m} minutes)`, MaxEventAgeSeconds: m * 60 },
        ]),
      ),
    });
    sta.sweeperSchedule.addPropertyOverride('ScheduleExpression', rates.findInMap(minutes, 'Expression'));
    sta.sweeperSchedule.addPropertyOverride(
      'Target.RetryPolicy.MaximumEventAgeInSeconds',
      rates.findInMap(minutes, 'MaxEventAgeSeconds'),
    );
  }

  /** The alarm e-mail, the permissions boundary, and the outputs. */
  private optionalExtras(p: Parameters, sta: EcsSingleTaskAutoscaling): void {
    const email = p.text('AlarmEmail', 'An e-mail address subscribed to the alarm topic (empty: none).', {
      default: '',
    });
    const hasEmail = p.condition('HasAlarmEmail', Fn.conditionNot(Fn.conditionEquals(email, '')));
    const subscription = new sns.CfnSubscription(this, 'AlarmEmailSubscription', {
      protocol: 'email',
      endpoint: email,
      topicArn: sta.alarmTopic.topicArn,
    });
    subscription.cfnOptions.condition = hasEmail;
    const boundary = p.text(
      'PermissionsBoundaryArn',
      'A managed policy ARN set as permissions boundary on every role (empty: none).',
      { default: '' },
    );
    const hasBoundary = p.condition('HasPermissionsBoundary', Fn.conditionNot(Fn.conditionEquals(boundary, '')));
    Aspects.of(this).add({
      visit: (node: IConstruct) => {
        if (node instanceof iam.CfnRole) {
          node.permissionsBoundary = Fn.conditionIf(hasBoundary.logicalId, boundary, Aws.NO_VALUE).toString();
        }
      },
    });
    new CfnOutput(this, 'StateMachineArn', { value: sta.stateMachine.stateMachineArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: sta.alarmTopic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: sta.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'LifecycleHookNameOutput', { key: 'LifecycleHook', value: sta.lifecycleHookName });
    new CfnOutput(this, 'DashboardName', { value: sta.dashboard!.dashboardName });
  }
}

/**
 * Each service slot's counts. A service name is only written into its own schedule (made only
 * when it is set) and into an ARN, where an empty one matches nothing: unused slots stay empty.
 * With exactly one group, the scaler counts only the instances InService there (asg_name).
 */
function scaledServices(p: Parameters, asgNames: Slots, serviceNames: Slots): ScaledService[] {
  const noOther = asgNames.conditions.map((c) => Fn.conditionNot(c));
  const oneGroup =
    noOther.length === 0
      ? undefined
      : p.condition('OneAutoScalingGroup', noOther.length === 1 ? noOther[0] : Fn.conditionAnd(...noOther));
  return serviceNames.refs.map((serviceName, i) => {
    const minTaskCount = p.number(
      `MinTaskCount${i + 1}`,
      `Service ${i + 1}: the desired count never goes below this.`,
      { default: i === 0 ? undefined : 0, minValue: 0 },
    );
    const max = p.text(
      `MaxTaskCount${i + 1}`,
      `Service ${i + 1}: the desired count never goes above this (empty: no ceiling).`,
      { default: '', allowedPattern: '^[0-9]*$' },
    );
    const hasMax = p.condition(`HasMaxTaskCount${i + 1}`, Fn.conditionNot(Fn.conditionEquals(max, '')));
    return {
      serviceName,
      minTaskCount,
      // The JSON input takes the number itself, or null (no ceiling).
      maxTaskCount: Token.asNumber(Fn.conditionIf(hasMax.logicalId, max, 'null')),
      autoScalingGroupName: oneGroup
        ? Fn.conditionIf(oneGroup.logicalId, asgNames.values[0], '').toString()
        : asgNames.values[0],
    };
  });
}

/** The terminate hook's name: the LifecycleHookName parameter, or <stack name>-drain when it is empty. */
function hookName(p: Parameters): string {
  const name = p.text('LifecycleHookName', 'Name of the terminate hook on every group (empty: <stack name>-drain).', {
    default: '',
  });
  const hasName = p.condition('HasLifecycleHookName', Fn.conditionNot(Fn.conditionEquals(name, '')));
  return Fn.conditionIf(hasName.logicalId, name, Fn.sub('${AWS::StackName}-drain')).toString();
}

/** The functions' code: <CodeKeyPrefix><function>.zip in the CodeBucket parameter's bucket. */
function codeInBucket(stack: Stack, p: Parameters): (name: string) => lambda.Code {
  const bucket = p.text('CodeBucket', "The S3 bucket that holds the functions' zips (in this Region).");
  const prefix = p.text(
    'CodeKeyPrefix',
    'Key prefix of the zips: <prefix><function>.zip, e.g. releases/1.0.0/drain-ecs.zip.',
    { default: 'ecs-single-task-autoscaling/' },
  );
  const codeBucket = s3.Bucket.fromBucketName(stack, 'CodeBucketRef', bucket);
  return (name) => lambda.Code.fromBucket(codeBucket, Fn.join('', [prefix, `${name}.zip`]));
}

/** A hook or a schedule exists per slot: those of slots 2 on are made only when their slot is set. */
function onlyInUsedSlots(sta: EcsSingleTaskAutoscaling, asgNames: Slots, serviceNames: Slots): void {
  sta.lifecycleHooks.forEach((hook, i) => {
    if (i > 0) {
      // Made only when its group is set, so it names that group itself.
      hook.cfnOptions.condition = asgNames.conditions[i - 1];
      hook.autoScalingGroupName = asgNames.refs[i];
    }
  });
  sta.taskScaler.schedules.forEach(
    (schedule, i) => i > 0 && (schedule.cfnOptions.condition = serviceNames.conditions[i - 1]),
  );
}

/** The drain settings as parameters, with the construct's defaults and Auto Scaling's limits. */
function drainParameters(p: Parameters) {
  const results = { allowedValues: ['CONTINUE', 'ABANDON'] };
  return {
    drainDeadline: Duration.seconds(
      p.number(
        'DrainDeadlineSeconds',
        'Give up waiting after this long; below min(48 h, 100 x HeartbeatTimeoutSeconds).',
        { default: 3600, minValue: 1, maxValue: 172799 },
      ),
    ),
    deadlineResult: p.text('DeadlineResult', 'How the lifecycle action is completed at the deadline.', {
      default: 'CONTINUE',
      ...results,
    }) as LifecycleResult,
    heartbeatTimeout: Duration.seconds(
      p.number('HeartbeatTimeoutSeconds', "The hook's heartbeat timeout; the drain heartbeats while it waits.", {
        default: 600,
        minValue: 30,
        maxValue: 7200,
      }),
    ),
    hookDefaultResult: p.text(
      'HookDefaultResult',
      'What Auto Scaling does when the heartbeat times out (the drain failed).',
      { default: 'CONTINUE', ...results },
    ) as LifecycleResult,
    standaloneTasks: p.text('StandaloneTasks', 'What the drain does with tasks no service will move.', {
      default: 'wait',
      allowedValues: ['wait', 'stop'],
    }) as StandaloneTasks,
    standaloneTaskGrace: Duration.seconds(
      p.number('StandaloneTaskGraceSeconds', 'With stop: how long standalone tasks may run after the drain started.', {
        default: 300,
        minValue: 0,
      }),
    ),
    nlbDeregistrationTime: Duration.seconds(
      p.number(
        'NlbDeregistrationSeconds',
        'How long a Network Load Balancer may still route new connections to an instance the drain deregistered.',
        { default: 300, minValue: 0, maxValue: 3600 },
      ),
    ),
  };
}

/** The standalone template as JSON (what `make template` writes). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, typed as CDK's CloudFormationStackArtifact.template is
export function standaloneTemplate(options: StandaloneOptions = {}): Record<string, any> {
  const app = new App({ context: { 'aws:cdk:enable-path-metadata': false, 'aws:cdk:version-reporting': false } });
  const stack = new StandaloneTemplateStack(app, 'EcsSingleTaskAutoscaling', options);
  const assembly = app.synth();
  return assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>;
}
