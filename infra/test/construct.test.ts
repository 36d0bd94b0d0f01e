import * as fs from 'fs';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DRAIN_ASL_PATH, EcsSingleTaskAutoscaling } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { actionsOf, LAMBDA_NAMES, LambdaName } from '../lib/permissions';
import {
  actionList,
  arr,
  dig,
  digOptional,
  inlineStatements,
  isRecord,
  obj,
  parseJson,
  policyStatements,
  PolicyStatement,
  props,
  resourcesOfType,
  str,
  strs,
} from './cfn';
import { constructTemplate, outsideType, placeholdersOf, resourceById } from './helpers';

// ---- expected values, written out by hand (not derived from lib/) --------------------------

const arn = (service: string, rest: string) => ({
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, rest],
  ],
});
const CLUSTER = arn('ecs', ':cluster/test-cluster');
const CLUSTER_INSTANCES = arn('ecs', ':container-instance/test-cluster/*');
const CLUSTER_TASKS = arn('ecs', ':task/test-cluster/*');
const CLUSTER_SERVICES = arn('ecs', ':service/test-cluster/*');
const SERVICE = arn('ecs', ':service/test-cluster/web');
const ASG = (name: string) => arn('autoscaling', `:autoScalingGroup:*:autoScalingGroupName/${name}`);
const ALL_CLASSIC_ELBS = arn('elasticloadbalancing', ':loadbalancer/*');
const ALL_TARGET_GROUPS = arn('elasticloadbalancing', ':targetgroup/*');
const IN_CLUSTER = { ArnEquals: { 'ecs:cluster': CLUSTER } };

interface Stmt {
  actions: string[];
  resources: unknown[];
  condition?: unknown;
}

/** Statements in a canonical form: actions sorted, one entry per statement, statements sorted. */
function canonical(statements: PolicyStatement[]): Stmt[] {
  return statements
    .map((s) => {
      expect(s.Effect).toBe('Allow');
      const actions = actionList(s).sort();
      const resources = ([] as unknown[]).concat(s.Resource);
      return s.Condition ? { actions, resources, condition: s.Condition } : { actions, resources };
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const FUNCTION_IDS: Record<LambdaName, string> = {
  'drain-ecs': 'StaDrainWorkflowDrainEcs',
  'deregister-lb': 'StaDrainWorkflowDeregisterLb',
  'check-drained': 'StaDrainWorkflowCheckDrained',
  'complete-lifecycle': 'StaDrainWorkflowCompleteLifecycle',
  'task-scaler': 'StaTaskScalerFunction',
  sweeper: 'StaSweeperFunction',
};

/** The Lambda function whose logical ID starts with `prefix`, the first of several. */
function functionByPrefix(template: Template, prefix: string): Record<string, unknown> {
  return props(
    Object.entries(resourcesOfType(template, 'AWS::Lambda::Function')).find(([id]) => id.startsWith(prefix))![1],
  );
}

function rolePolicy(template: Template, name: LambdaName): { statements: Stmt[]; logGroupId: string } {
  const role = resourceById(template, 'AWS::IAM::Role', `${FUNCTION_IDS[name]}Role`);
  expect(role.props.ManagedPolicyArns).toBeUndefined();
  expect(role.props.Policies).toHaveLength(1);
  const logGroupId = resourceById(template, 'AWS::Logs::LogGroup', `${FUNCTION_IDS[name]}Logs`).id;
  return { statements: canonical(inlineStatements(role.props)), logGroupId };
}

function expectPolicy(template: Template, name: LambdaName, calls: Stmt[]) {
  const { statements, logGroupId } = rolePolicy(template, name);
  const logs: Stmt = {
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    resources: [{ 'Fn::GetAtt': [logGroupId, 'Arn'] }],
  };
  expect(statements).toEqual(
    canonical(
      [logs, ...calls].map((s) => ({
        Effect: 'Allow',
        Action: s.actions,
        Resource: s.resources,
        Condition: s.condition,
      })),
    ),
  );
}

// ---- the functions ---------------------------------------------------------------------------

describe('functions', () => {
  const { template } = constructTemplate();

  test('six Rust functions: provided.al2023, arm64, bootstrap, JSON logs into their own log group', () => {
    template.resourceCountIs('AWS::Lambda::Function', 6);
    const fns = resourcesOfType(template, 'AWS::Lambda::Function');
    for (const name of LAMBDA_NAMES) {
      const [id, fn] = Object.entries(fns).find(([id]) => id.startsWith(FUNCTION_IDS[name]) && !id.includes('Logs'))!;
      const logGroupId = resourceById(template, 'AWS::Logs::LogGroup', `${FUNCTION_IDS[name]}Logs`).id;
      const roleId = resourceById(template, 'AWS::IAM::Role', `${FUNCTION_IDS[name]}Role`).id;
      expect({ id, ...fn.Properties }).toMatchObject({
        Runtime: 'provided.al2023',
        Architectures: ['arm64'],
        Handler: 'bootstrap',
        LoggingConfig: {
          LogFormat: 'JSON',
          ApplicationLogLevel: 'INFO',
          SystemLogLevel: 'WARN',
          LogGroup: { Ref: logGroupId },
        },
        Role: { 'Fn::GetAtt': [roleId, 'Arn'] },
      });
    }
  });

  test('log retention is set on every log group (default one month); kept on delete, not after a failed first create', () => {
    const groups = Object.values(resourcesOfType(template, 'AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(7); // six functions and the state machine
    for (const g of groups) {
      expect(props(g).RetentionInDays).toBe(30);
      expect(g.DeletionPolicy).toBe('RetainExceptOnCreate');
      expect(g.UpdateReplacePolicy).toBe('Retain');
    }
  });

  test('one role per function', () => {
    const roles = new Set(
      Object.values(resourcesOfType(template, 'AWS::Lambda::Function')).map((f) => JSON.stringify(props(f).Role)),
    );
    expect(roles.size).toBe(6);
  });

  test('environment: drain-ecs and deregister-lb know the cluster; only drain-ecs the groups', () => {
    const env = (name: LambdaName) =>
      digOptional(functionByPrefix(template, FUNCTION_IDS[name]), 'Environment', 'Variables');
    expect(env('drain-ecs')).toEqual({ ECS_CLUSTER: 'test-cluster', MANAGED_ASG_NAMES: 'test-cluster-asg' });
    expect(env('deregister-lb')).toEqual({ ECS_CLUSTER: 'test-cluster' });
    expect(env('check-drained')).toBeUndefined();
    expect(env('complete-lifecycle')).toBeUndefined();
    expect(env('task-scaler')).toBeUndefined();
  });

  test('environment: the sweeper knows the state machine, the groups, the hook and the cluster', () => {
    const env = dig(functionByPrefix(template, 'StaSweeper'), 'Environment', 'Variables');
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;
    const hook = resourceById(template, 'AWS::AutoScaling::LifecycleHook', 'StaTerminateHook').props;
    expect(env).toEqual({
      STATE_MACHINE_ARN: { Ref: sm },
      MANAGED_ASG_NAMES: 'test-cluster-asg',
      LIFECYCLE_HOOK_NAME: 'Test-Sta-748C0C3F-drain',
      ECS_CLUSTER: 'test-cluster',
    });
    expect(hook.LifecycleHookName).toBe(dig(env, 'LIFECYCLE_HOOK_NAME'));
    const twoGroups = constructTemplate({
      autoScalingGroupNames: ['asg-a', 'asg-b'],
      lifecycleHookName: 'drain-hook',
    }).template;
    const env2 = dig(functionByPrefix(twoGroups, 'StaSweeper'), 'Environment', 'Variables');
    expect(env2).toMatchObject({ MANAGED_ASG_NAMES: 'asg-a,asg-b', LIFECYCLE_HOOK_NAME: 'drain-hook' });
  });

  test('the sweeper is not retried by Lambda either: the next sweep finds the same instances', () => {
    const sweeper = Object.keys(template.findResources('AWS::Lambda::Function')).find((i) =>
      i.startsWith('StaSweeper'),
    )!;
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: sweeper },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  test('the task scaler is not retried by Lambda: the next tick does the work', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });
});

// ---- IAM: each role's exact actions and resources --------------------------------------------

describe('IAM, one least-privilege role per function', () => {
  const { template } = constructTemplate();

  test('drain-ecs', () => {
    expectPolicy(template, 'drain-ecs', [
      { actions: ['ecs:ListContainerInstances'], resources: [CLUSTER] },
      {
        actions: ['ecs:DescribeContainerInstances', 'ecs:ListTasks', 'ecs:UpdateContainerInstancesState'],
        resources: [CLUSTER_INSTANCES],
        condition: IN_CLUSTER,
      },
      { actions: ['ecs:DescribeTasks'], resources: [CLUSTER_TASKS], condition: IN_CLUSTER },
      { actions: ['autoscaling:DescribeLifecycleHooks', 'autoscaling:DescribeScalingActivities'], resources: ['*'] },
      { actions: ['autoscaling:RecordLifecycleActionHeartbeat'], resources: [ASG('test-cluster-asg')] },
    ]);
  });

  test('deregister-lb (default: any Classic ELB and target group of the account and Region)', () => {
    expectPolicy(template, 'deregister-lb', [
      {
        actions: [
          'autoscaling:DescribeAutoScalingGroups',
          'elasticloadbalancing:DescribeInstanceHealth',
          'elasticloadbalancing:DescribeLoadBalancerAttributes',
          'elasticloadbalancing:DescribeLoadBalancers',
          'elasticloadbalancing:DescribeTargetGroupAttributes',
          'elasticloadbalancing:DescribeTargetGroups',
          'elasticloadbalancing:DescribeTargetHealth',
        ],
        resources: ['*'],
      },
      { actions: ['ecs:ListServices'], resources: ['*'], condition: IN_CLUSTER },
      { actions: ['ecs:DescribeServices'], resources: [CLUSTER_SERVICES] },
      { actions: ['elasticloadbalancing:DeregisterInstancesFromLoadBalancer'], resources: [ALL_CLASSIC_ELBS] },
      { actions: ['elasticloadbalancing:DeregisterTargets'], resources: [ALL_TARGET_GROUPS] },
    ]);
  });

  test('deregister-lb restricted to the configured load balancers', () => {
    const tg = 'arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/0123456789abcdef';
    const { template: t } = constructTemplate({
      classicLoadBalancerNames: ['elb-a', 'elb-b'],
      targetGroupArns: [tg],
      restrictDeregistrationToConfigured: true,
    });
    const { statements } = rolePolicy(t, 'deregister-lb');
    expect(statements).toContainEqual({
      actions: ['elasticloadbalancing:DeregisterInstancesFromLoadBalancer'],
      resources: [
        arn('elasticloadbalancing', ':loadbalancer/elb-a'),
        arn('elasticloadbalancing', ':loadbalancer/elb-b'),
      ],
    });
    expect(statements).toContainEqual({ actions: ['elasticloadbalancing:DeregisterTargets'], resources: [tg] });
    const fn = functionByPrefix(t, 'StaDrainWorkflowDeregisterLb');
    expect(dig(fn, 'Environment', 'Variables')).toEqual({
      ECS_CLUSTER: 'test-cluster',
      CLASSIC_ELB_NAMES: 'elb-a,elb-b',
      TARGET_GROUP_ARNS: tg,
    });
  });

  test('deregister-lb restricted with nothing configured gets no deregistration at all', () => {
    const { template: t } = constructTemplate({ restrictDeregistrationToConfigured: true });
    const actions = rolePolicy(t, 'deregister-lb').statements.flatMap((s) => s.actions);
    expect(actions).not.toContain('elasticloadbalancing:DeregisterInstancesFromLoadBalancer');
    expect(actions).not.toContain('elasticloadbalancing:DeregisterTargets');
  });

  test('check-drained', () => {
    expectPolicy(template, 'check-drained', [
      { actions: ['ecs:DescribeTasks', 'ecs:StopTask'], resources: [CLUSTER_TASKS], condition: IN_CLUSTER },
      { actions: ['ecs:DescribeContainerInstances'], resources: [CLUSTER_INSTANCES], condition: IN_CLUSTER },
      { actions: ['ecs:DeregisterContainerInstance'], resources: [CLUSTER] },
      {
        actions: [
          'autoscaling:DescribeLifecycleHooks',
          'autoscaling:DescribeScalingActivities',
          'elasticloadbalancing:DescribeInstanceHealth',
          'elasticloadbalancing:DescribeLoadBalancers',
          'elasticloadbalancing:DescribeTargetHealth',
        ],
        resources: ['*'],
      },
      { actions: ['elasticloadbalancing:DeregisterInstancesFromLoadBalancer'], resources: [ALL_CLASSIC_ELBS] },
      { actions: ['elasticloadbalancing:DeregisterTargets'], resources: [ALL_TARGET_GROUPS] },
      { actions: ['autoscaling:RecordLifecycleActionHeartbeat'], resources: [ASG('test-cluster-asg')] },
    ]);
  });

  test('complete-lifecycle', () => {
    expectPolicy(template, 'complete-lifecycle', [
      { actions: ['autoscaling:CompleteLifecycleAction'], resources: [ASG('test-cluster-asg')] },
      { actions: ['autoscaling:DescribeScalingActivities'], resources: ['*'] },
    ]);
  });

  test('sweeper: groups (Describe only accepts *), list and start on the state machine, describe its executions', () => {
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;
    expectPolicy(template, 'sweeper', [
      { actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeScalingActivities'], resources: ['*'] },
      { actions: ['states:ListExecutions', 'states:StartExecution'], resources: [{ Ref: sm }] },
      {
        actions: ['states:DescribeExecution'],
        resources: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':states:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':execution:',
                { 'Fn::GetAtt': [sm, 'Name'] },
                ':*',
              ],
            ],
          },
        ],
      },
    ]);
  });

  test('task-scaler', () => {
    expectPolicy(template, 'task-scaler', [
      { actions: ['ecs:ListContainerInstances'], resources: [CLUSTER] },
      { actions: ['ecs:DescribeContainerInstances'], resources: [CLUSTER_INSTANCES], condition: IN_CLUSTER },
      { actions: ['ecs:DescribeServices', 'ecs:UpdateService'], resources: [SERVICE] },
      { actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] },
    ]);
  });

  test('every role grants exactly the actions listed in lib/permissions.ts (plus its own logs)', () => {
    for (const name of LAMBDA_NAMES) {
      const granted = new Set(rolePolicy(template, name).statements.flatMap((s) => s.actions));
      granted.delete('logs:CreateLogStream');
      granted.delete('logs:PutLogEvents');
      expect([...granted].sort()).toEqual(actionsOf(name));
    }
  });

  test('with two groups, the lifecycle calls are allowed on both and nothing else', () => {
    const { template: t } = constructTemplate({ autoScalingGroupNames: ['asg-a', 'asg-b'] });
    expect(rolePolicy(t, 'complete-lifecycle').statements).toContainEqual({
      actions: ['autoscaling:CompleteLifecycleAction'],
      resources: [ASG('asg-a'), ASG('asg-b')],
    });
  });

  test('the state machine may invoke exactly the four drain functions, unqualified', () => {
    const policy = resourceById(
      template,
      'AWS::IAM::Policy',
      'StaDrainWorkflowDrainStateMachineRoleDefaultPolicy',
    ).props;
    const statements = policyStatements(dig(policy, 'PolicyDocument', 'Statement'));
    const invoke = statements.filter((s) => actionList(s).some((a) => a.startsWith('lambda:')));
    const fnArn = (name: LambdaName) => {
      const id = Object.keys(template.findResources('AWS::Lambda::Function')).find((i) =>
        i.startsWith(FUNCTION_IDS[name]),
      )!;
      return { 'Fn::GetAtt': [id, 'Arn'] };
    };
    expect(invoke).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: [fnArn('drain-ecs'), fnArn('deregister-lb'), fnArn('check-drained'), fnArn('complete-lifecycle')],
      },
    ]);
    // Everything else on that role is Step Functions' own logging and tracing.
    const rest = statements.filter((s) => !invoke.includes(s));
    expect(canonical(rest)).toEqual(
      canonical([
        {
          Effect: 'Allow',
          Action: [
            'logs:CreateLogDelivery',
            'logs:GetLogDelivery',
            'logs:UpdateLogDelivery',
            'logs:DeleteLogDelivery',
            'logs:ListLogDeliveries',
            'logs:PutResourcePolicy',
            'logs:DescribeResourcePolicies',
            'logs:DescribeLogGroups',
          ],
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Action: [
            'xray:PutTraceSegments',
            'xray:PutTelemetryRecords',
            'xray:GetSamplingRules',
            'xray:GetSamplingTargets',
          ],
          Resource: '*',
        },
      ]),
    );
  });

  test('EventBridge may only start the drain state machine; the scheduler may only invoke the scaler and dead-letter', () => {
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;
    const eventsPolicy = resourceById(
      template,
      'AWS::IAM::Policy',
      'StaDrainWorkflowDrainStateMachineEventsRoleDefaultPolicy',
    ).props;
    expect(dig(eventsPolicy, 'PolicyDocument', 'Statement')).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: sm } },
    ]);

    const scaler = Object.keys(template.findResources('AWS::Lambda::Function')).find((i) =>
      i.startsWith('StaTaskScaler'),
    )!;
    const dlq = resourceById(template, 'AWS::SQS::Queue', 'StaDeadLetterQueue').id;
    const scheduleRole = resourceById(template, 'AWS::IAM::Role', 'StaTaskScalerScheduleRole').props;
    expect(dig(scheduleRole, 'AssumeRolePolicyDocument', 'Statement')).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    expect(canonical(inlineStatements(scheduleRole))).toEqual(
      canonical([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [scaler, 'Arn'] } },
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [dlq, 'Arn'] } },
      ]),
    );
  });
});

// ---- lifecycle hook and rules ----------------------------------------------------------------

describe('lifecycle hook and EventBridge rules', () => {
  test('one terminate hook per group: heartbeat timeout, default result, cluster metadata, no SQS/SNS target', () => {
    const { template } = constructTemplate({ heartbeatTimeout: Duration.minutes(15), hookDefaultResult: 'ABANDON' });
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 1);
    const hook = resourceById(template, 'AWS::AutoScaling::LifecycleHook', 'StaTerminateHook').props;
    expect(hook).toEqual({
      AutoScalingGroupName: 'test-cluster-asg',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: 900,
      DefaultResult: 'ABANDON',
      NotificationMetadata: '{"cluster":"test-cluster"}',
      LifecycleHookName: 'Test-Sta-748C0C3F-drain', // unique to the construct by default
    });
    expect(parseJson(str(hook.NotificationMetadata))).toEqual({ cluster: 'test-cluster' });
    const named = resourceById(
      constructTemplate({ lifecycleHookName: 'drain' }).template,
      'AWS::AutoScaling::LifecycleHook',
      'StaTerminateHook',
    );
    expect(named.props.LifecycleHookName).toBe('drain');
  });

  test('the terminate rule matches exactly our hooks on our groups and starts the state machine, with retries and a DLQ', () => {
    const { template } = constructTemplate({ heartbeatTimeout: Duration.minutes(15) });
    template.resourceCountIs('AWS::Events::Rule', 1);
    const hook = resourceById(template, 'AWS::AutoScaling::LifecycleHook', 'StaTerminateHook');
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;
    const dlq = resourceById(template, 'AWS::SQS::Queue', 'StaDeadLetterQueue').id;
    const rule = resourceById(template, 'AWS::Events::Rule', 'StaDrainWorkflowTerminateLifecycleActionRule').props;
    expect(rule.EventPattern).toEqual({
      source: ['aws.autoscaling'],
      'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
      detail: { AutoScalingGroupName: ['test-cluster-asg'], LifecycleHookName: [hook.props.LifecycleHookName] },
    });
    expect(rule.State).toBe('ENABLED');
    expect(rule.Targets).toHaveLength(1);
    expect(dig(rule, 'Targets', 0)).toMatchObject({
      Arn: { Ref: sm },
      RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 900 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
    });
    expect(dig(rule, 'Targets', 0, 'Input')).toBeUndefined(); // the raw event is the execution input
  });

  test('the rule pattern accepts the real event fixture and nothing of another group or hook', () => {
    // EventBridge semantics for this pattern shape: every listed field must equal one of its values.
    const fixture = obj(
      parseJson(fs.readFileSync(`${__dirname}/../../tests/fixtures/lifecycle-terminate.json`, 'utf8')),
    );
    const detail = obj(fixture.detail);
    const hookOfFixture = str(detail.LifecycleHookName);
    const matches = (event: Record<string, unknown>, hookName: string) =>
      event.source === 'aws.autoscaling' &&
      event['detail-type'] === 'EC2 Instance-terminate Lifecycle Action' &&
      ['test-cluster-asg'].includes(str(dig(event, 'detail', 'AutoScalingGroupName'))) &&
      [hookName].includes(str(dig(event, 'detail', 'LifecycleHookName')));
    expect(matches(fixture, hookOfFixture)).toBe(true);
    expect(matches({ ...fixture, detail: { ...detail, AutoScalingGroupName: 'other' } }, hookOfFixture)).toBe(false);
    expect(matches(fixture, 'someone-elses-hook')).toBe(false);
  });

  test('two groups: a hook of the same name on each, both groups in the pattern', () => {
    const { template } = constructTemplate({ autoScalingGroupNames: ['asg-a', 'asg-b'] });
    const hooks = resourcesOfType(template, 'AWS::AutoScaling::LifecycleHook');
    expect(Object.values(hooks).map((h) => props(h).AutoScalingGroupName)).toEqual(['asg-a', 'asg-b']);
    expect(new Set(Object.values(hooks).map((h) => props(h).LifecycleHookName))).toEqual(
      new Set(['Test-Sta-748C0C3F-drain']),
    );
    const rule = resourceById(template, 'AWS::Events::Rule', 'StaDrainWorkflowTerminateLifecycleActionRule').props;
    expect(dig(rule, 'EventPattern', 'detail')).toEqual({
      AutoScalingGroupName: ['asg-a', 'asg-b'],
      LifecycleHookName: ['Test-Sta-748C0C3F-drain'],
    });
  });

  test('the Spot warning rule exists only when enabled', () => {
    const { template } = constructTemplate({ spotInterruptionHandling: true });
    template.resourceCountIs('AWS::Events::Rule', 2);
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;
    const rule = resourceById(template, 'AWS::Events::Rule', 'StaDrainWorkflowSpotInterruptionWarningRule').props;
    expect(rule.EventPattern).toEqual({
      source: ['aws.ec2'],
      'detail-type': ['EC2 Spot Instance Interruption Warning'],
    });
    expect(dig(rule, 'Targets', 0)).toMatchObject({
      Arn: { Ref: sm },
      RetryPolicy: { MaximumRetryAttempts: 20 },
      DeadLetterConfig: expect.anything() as unknown, // @types/jest gives the matcher as `any`
    });
    constructTemplate({ spotInterruptionHandling: false }).template.resourceCountIs('AWS::Events::Rule', 1);
  });

  test('the dead-letter queue is encrypted, refuses plain HTTP and accepts only our rules', () => {
    const { template } = constructTemplate({ spotInterruptionHandling: true });
    const dlq = resourceById(template, 'AWS::SQS::Queue', 'StaDeadLetterQueue');
    expect(dlq.props).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    const policy = policyStatements(
      dig(
        resourceById(template, 'AWS::SQS::QueuePolicy', 'StaDeadLetterQueuePolicy').props,
        'PolicyDocument',
        'Statement',
      ),
    );
    expect(policy).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    const fromEvents = policy.filter((s) => isRecord(s.Principal) && s.Principal.Service === 'events.amazonaws.com');
    expect(fromEvents).toHaveLength(2);
    for (const s of fromEvents) {
      expect(s.Action).toBe('sqs:SendMessage');
      expect(dig(s.Condition, 'ArnEquals', 'aws:SourceArn')).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/Rule/), 'Arn'],
      });
    }
  });
});

// ---- state machine ---------------------------------------------------------------------------

describe('state machine', () => {
  const asl = fs.readFileSync(DRAIN_ASL_PATH, 'utf8');

  test('inline definition, verbatim from statemachine/drain.asl.json', () => {
    const { template } = constructTemplate();
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').props;
    expect(sm.DefinitionString).toBe(asl);
    expect(sm.DefinitionS3Location).toBeUndefined();
    expect(sm.StateMachineType).toBe('STANDARD');
  });

  test('every placeholder of the ASL has a substitution, and nothing else', () => {
    const { template } = constructTemplate({
      drainDeadline: Duration.minutes(90),
      deadlineResult: 'ABANDON',
      standaloneTasks: 'stop',
      standaloneTaskGrace: Duration.minutes(2),
    });
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').props;
    const placeholders = placeholdersOf(asl);
    expect(placeholders).toEqual(
      [
        'CheckDrainedFunctionArn',
        'CompleteLifecycleFunctionArn',
        'DeadlineResult',
        'DeregisterLbFunctionArn',
        'DrainDeadlineSeconds',
        'DrainEcsFunctionArn',
        'StandaloneTaskGraceSeconds',
        'StandaloneTasks',
      ].sort(),
    );
    expect(Object.keys(obj(sm.DefinitionSubstitutions)).sort()).toEqual(placeholders);
    const fnArn = (prefix: string) => {
      const id = Object.keys(template.findResources('AWS::Lambda::Function')).find((i) => i.startsWith(prefix))!;
      return { 'Fn::GetAtt': [id, 'Arn'] };
    };
    expect(sm.DefinitionSubstitutions).toEqual({
      DrainEcsFunctionArn: fnArn('StaDrainWorkflowDrainEcs'),
      DeregisterLbFunctionArn: fnArn('StaDrainWorkflowDeregisterLb'),
      CheckDrainedFunctionArn: fnArn('StaDrainWorkflowCheckDrained'),
      CompleteLifecycleFunctionArn: fnArn('StaDrainWorkflowCompleteLifecycle'),
      DrainDeadlineSeconds: '5400',
      DeadlineResult: 'ABANDON',
      StandaloneTasks: 'stop',
      StandaloneTaskGraceSeconds: '120',
    });
  });

  test('defaults: one hour deadline, CONTINUE, wait, five minutes grace', () => {
    const { template } = constructTemplate();
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').props;
    expect(sm.DefinitionSubstitutions).toMatchObject({
      DrainDeadlineSeconds: '3600',
      DeadlineResult: 'CONTINUE',
      StandaloneTasks: 'wait',
      StandaloneTaskGraceSeconds: '300',
    });
  });

  test('substituted, the definition is valid JSON whose Lambda tasks name the function ARNs', () => {
    const filled = asl.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => `<${name}>`);
    const def = parseJson(filled);
    const functionNames = Object.values(obj(dig(def, 'States')))
      .filter((s) => dig(s, 'Type') === 'Task')
      .map((s) => dig(s, 'Parameters', 'FunctionName'));
    expect(new Set(functionNames)).toEqual(
      new Set([
        '<DrainEcsFunctionArn>',
        '<DeregisterLbFunctionArn>',
        '<CheckDrainedFunctionArn>',
        '<CompleteLifecycleFunctionArn>',
      ]),
    );
  });

  test('CloudWatch Logs (ALL, without execution data: no lifecycle token in the logs) and X-Ray tracing', () => {
    const { template } = constructTemplate();
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').props;
    const logGroup = resourceById(template, 'AWS::Logs::LogGroup', 'StaDrainWorkflowDrainStateMachineLogs');
    expect(sm.LoggingConfiguration).toEqual({
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logGroup.id, 'Arn'] } } }],
      IncludeExecutionData: false,
      Level: 'ALL',
    });
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    // Under /aws/vendedlogs/ (no Logs resource policy per state machine), and new for every stack
    // (the stack ID's UUID), so a group kept from a failed or deleted stack never blocks the next.
    expect(logGroup.props.LogGroupName).toEqual({
      'Fn::Join': [
        '',
        [
          expect.stringMatching(/^\/aws\/vendedlogs\/states\/Test-Sta-DrainWorkflow-[0-9A-F]{8}-$/),
          { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
        ],
      ],
    });
  });
});

// ---- schedule ----------------------------------------------------------------------------------

describe('task scaler schedule', () => {
  test('every minute, with the predecessor-compatible JSON input', () => {
    const { template } = constructTemplate();
    const schedule = resourceById(template, 'AWS::Scheduler::Schedule', 'StaTaskScalerSchedule').props;
    const scaler = Object.keys(template.findResources('AWS::Lambda::Function')).find((i) =>
      i.startsWith('StaTaskScaler'),
    )!;
    expect(schedule).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [scaler, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [resourceById(template, 'AWS::SQS::Queue', 'StaDeadLetterQueue').id, 'Arn'] },
        },
      },
    });
    expect(parseJson(str(dig(schedule, 'Target', 'Input')))).toEqual({
      cluster_name: 'test-cluster',
      service_name: 'web',
      min_task_count: 2,
      n_count: 1,
      asg_name: 'test-cluster-asg',
    });
  });

  test('optional keys: max_task_count when set, no asg_name with several groups; rate in minutes', () => {
    const { template } = constructTemplate({
      nCount: 2,
      minTaskCount: 3,
      maxTaskCount: 8,
      autoScalingGroupNames: ['asg-a', 'asg-b'],
      scheduleRate: Duration.minutes(5),
    });
    const schedule = resourceById(template, 'AWS::Scheduler::Schedule', 'StaTaskScalerSchedule').props;
    expect(schedule.ScheduleExpression).toBe('rate(5 minutes)');
    expect(dig(schedule, 'Target', 'RetryPolicy', 'MaximumEventAgeInSeconds')).toBe(300);
    expect(parseJson(str(dig(schedule, 'Target', 'Input')))).toEqual({
      cluster_name: 'test-cluster',
      service_name: 'web',
      min_task_count: 3,
      n_count: 2,
      max_task_count: 8,
    });
  });

  test('the sweeper every five minutes (sweepRate), input {}, retries within one period, its own role', () => {
    const { template } = constructTemplate();
    const schedule = resourceById(template, 'AWS::Scheduler::Schedule', 'StaSweeperSchedule').props;
    const sweeper = Object.keys(template.findResources('AWS::Lambda::Function')).find((i) =>
      i.startsWith('StaSweeper'),
    )!;
    const dlq = resourceById(template, 'AWS::SQS::Queue', 'StaDeadLetterQueue').id;
    const role = resourceById(template, 'AWS::IAM::Role', 'StaSweeperScheduleRole');
    expect(schedule).toEqual({
      Description: 'Runs the sweeper.',
      ScheduleExpression: 'rate(5 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [sweeper, 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [role.id, 'Arn'] },
        Input: '{}',
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
      },
    });
    expect(canonical(inlineStatements(role.props))).toEqual(
      canonical([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [sweeper, 'Arn'] } },
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [dlq, 'Arn'] } },
      ]),
    );
    const everyMinute = resourceById(
      constructTemplate({ sweepRate: Duration.minutes(1) }).template,
      'AWS::Scheduler::Schedule',
      'StaSweeperSchedule',
    );
    expect(everyMinute.props.ScheduleExpression).toBe('rate(1 minute)');
    expect(dig(everyMinute.props, 'Target', 'RetryPolicy', 'MaximumEventAgeInSeconds')).toBe(60);
  });

  test("a sweep rate plus the scheduler's minute not below the heartbeat timeout is warned about", () => {
    // 9 minutes: a sweep due at 540 s comes up to 600 s into the wait, the default heartbeat timeout
    const { stack } = constructTemplate({ sweepRate: Duration.minutes(9) });
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('sweepRate .* precision \\(600 s\\) is not below heartbeatTimeout \\(600 s\\)'),
    );
    expect(warnings).toHaveLength(1);
    const { stack: ok } = constructTemplate();
    expect(Annotations.fromStack(ok).findWarning('*', Match.stringLikeRegexp('sweepRate'))).toHaveLength(0);
  });

  test('same keys as the predecessor input fixture', () => {
    const fixture = parseJson(fs.readFileSync(`${__dirname}/../../tests/fixtures/scaler-input.json`, 'utf8'));
    const { template } = constructTemplate({ autoScalingGroupNames: ['asg-a', 'asg-b'] });
    const schedule = resourceById(template, 'AWS::Scheduler::Schedule', 'StaTaskScalerSchedule').props;
    expect(parseJson(str(dig(schedule, 'Target', 'Input')))).toEqual(fixture);
  });
});

// ---- alarms ------------------------------------------------------------------------------------

describe('alarms', () => {
  test('failed and timed-out executions, the dead-letter queue, a failing scaler or sweeper, a sweeper start: to the SNS topic', () => {
    const { template } = constructTemplate();
    const topic = resourceById(template, 'AWS::SNS::Topic', 'StaMonitoringAlarmTopic').id;
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map(props);
    expect(alarms.map((a) => `${str(a.Namespace)}/${str(a.MetricName)}`).sort()).toEqual(
      [
        'AWS/Lambda/Errors',
        'AWS/Lambda/Errors',
        'AWS/SQS/ApproximateNumberOfMessagesVisible',
        'AWS/States/ExecutionsFailed',
        'AWS/States/ExecutionsTimedOut',
        'EcsSingleTaskAutoscaling/SweeperExecutionsStarted',
      ].sort(),
    );
    for (const a of alarms) {
      expect(a.AlarmActions).toEqual([{ Ref: topic }]);
      expect(a.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(a.Threshold).toBe(1);
      expect(a.TreatMissingData).toBe('notBreaching');
    }
    for (const a of alarms.filter((x) => x.Namespace === 'AWS/States')) {
      expect(a.Dimensions).toEqual([{ Name: 'StateMachineArn', Value: { Ref: sm } }]);
    }
  });

  test('a drain the sweeper had to start (a lost event) alarms at once; a failing sweeper after three runs', () => {
    const { template } = constructTemplate({ sweepRate: Duration.minutes(2) });
    const started = resourceById(template, 'AWS::CloudWatch::Alarm', 'StaMonitoringSweeperStartedDrainAlarm').props;
    expect(started).toMatchObject({
      Namespace: 'EcsSingleTaskAutoscaling',
      MetricName: 'SweeperExecutionsStarted',
      Dimensions: [{ Name: 'Cluster', Value: 'test-cluster' }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
    });
    const sweeper = Object.keys(template.findResources('AWS::Lambda::Function')).find((i) =>
      i.startsWith('StaSweeper'),
    )!;
    const errors = resourceById(template, 'AWS::CloudWatch::Alarm', 'StaMonitoringSweeperErrorsAlarm').props;
    expect(errors).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: sweeper } }],
      Period: 120,
      EvaluationPeriods: 3,
    });
  });
});

// ---- dashboard ---------------------------------------------------------------------------------

/** The dashboard body as JSON, with `Ref`/`Fn::GetAtt` written as `<Id>`/`<Id.Attr>`. */
function dashboardBody(template: Template): unknown {
  const dashboards = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const [delimiter, parts] = arr(dig(props(dashboards[0]), 'DashboardBody', 'Fn::Join'));
  const flat = arr(parts)
    .map((p) =>
      typeof p === 'string'
        ? p
        : obj(p).Ref !== undefined
          ? `<${str(obj(p).Ref)}>`
          : `<${strs(dig(p, 'Fn::GetAtt')).join('.')}>`,
    )
    .join(str(delimiter));
  return parseJson(flat);
}

/** Every metric of the graphs as `namespace/name dim=value,... stat`. */
function dashboardMetrics(body: unknown): string[] {
  return arr(dig(body, 'widgets'))
    .filter((w) => dig(w, 'type') === 'metric')
    .flatMap((w) => [...arr(dig(w, 'properties', 'metrics') ?? [])])
    .map((metric) => {
      const m = arr(metric);
      const last = m[m.length - 1];
      const options = isRecord(last) ? last : {};
      const [namespace, name, ...dims] = m.filter((x): x is string => typeof x === 'string');
      const pairs = [];
      for (let i = 0; i < dims.length; i += 2) {
        pairs.push(`${dims[i]}=${dims[i + 1]}`);
      }
      return `${namespace}/${name} ${pairs.join(',')} ${options.stat === undefined ? 'Average' : str(options.stat)}`;
    });
}

describe('dashboard', () => {
  const { template } = constructTemplate();
  const body = dashboardBody(template);
  const metrics = dashboardMetrics(body);
  const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;

  test("the functions' own metrics, namespace EcsSingleTaskAutoscaling, dimension Cluster = the cluster", () => {
    const custom = metrics.filter((m) => m.startsWith('EcsSingleTaskAutoscaling/'));
    expect([...new Set(custom)].sort()).toEqual(
      [
        'DrainDurationSeconds Cluster=test-cluster Average',
        'DrainDurationSeconds Cluster=test-cluster Maximum',
        'TaskWaitSeconds Cluster=test-cluster Maximum',
        'LoadBalancerWaitSeconds Cluster=test-cluster Maximum',
        'DrainDeadlineReached Cluster=test-cluster Sum',
        'HeartbeatsSent Cluster=test-cluster Sum',
        'ScalerDesiredCountChanges Cluster=test-cluster Sum',
        'SweeperExecutionsStarted Cluster=test-cluster Sum',
        'ScalerDesiredCount Cluster=test-cluster Maximum',
      ]
        .map((m) => `EcsSingleTaskAutoscaling/${m}`)
        .sort(),
    );
  });

  test("the state machine's executions and execution time", () => {
    expect(metrics.filter((m) => m.startsWith('AWS/States/')).sort()).toEqual(
      [
        `AWS/States/ExecutionsStarted StateMachineArn=<${sm}> Sum`,
        `AWS/States/ExecutionsSucceeded StateMachineArn=<${sm}> Sum`,
        `AWS/States/ExecutionsFailed StateMachineArn=<${sm}> Sum`,
        `AWS/States/ExecutionsTimedOut StateMachineArn=<${sm}> Sum`,
        `AWS/States/ExecutionTime StateMachineArn=<${sm}> Average`,
        `AWS/States/ExecutionTime StateMachineArn=<${sm}> Maximum`,
      ].sort(),
    );
  });

  test("each function's Errors and Duration", () => {
    const fnIds = Object.keys(template.findResources('AWS::Lambda::Function'));
    expect(fnIds).toHaveLength(LAMBDA_NAMES.length);
    const lambdaMetrics = metrics.filter((m) => m.startsWith('AWS/Lambda/'));
    expect(lambdaMetrics.sort()).toEqual(
      fnIds
        .flatMap((id) => [
          `AWS/Lambda/Errors FunctionName=<${id}> Sum`,
          `AWS/Lambda/Duration FunctionName=<${id}> Maximum`,
          `AWS/Lambda/Duration FunctionName=<${id}> Average`,
        ])
        .sort(),
    );
  });

  test('nothing else is graphed, and every alarm is shown', () => {
    expect(metrics.filter((m) => !/^(EcsSingleTaskAutoscaling|AWS\/States|AWS\/Lambda)\//.test(m))).toEqual([]);
    const alarmWidget = arr(dig(body, 'widgets')).find((w) => dig(w, 'type') === 'alarm');
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(strs(dig(alarmWidget, 'properties', 'alarms')).sort()).toEqual(alarmIds.map((id) => `<${id}.Arn>`).sort());
  });

  test('dashboard: false leaves it out; the alarms stay', () => {
    const { template: t } = constructTemplate({ dashboard: false });
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 6);
  });
});

test('an existing alarm topic replaces the one the construct would create', () => {
  const app = new App();
  const stack = new Stack(app, 'T');
  const topic = new sns.Topic(stack, 'Mine');
  new EcsSingleTaskAutoscaling(stack, 'Sta', {
    clusterName: 'c',
    serviceName: 's',
    autoScalingGroupNames: ['a'],
    minTaskCount: 1,
    alarmTopic: topic,
    lambdaCode: () => unbuiltLambdaCode(),
  });
  const t = Template.fromStack(stack);
  t.resourceCountIs('AWS::SNS::Topic', 1);
  const mine = Object.keys(t.findResources('AWS::SNS::Topic'))[0];
  expect(mine).toMatch(/^Mine/);
  for (const a of Object.values(resourcesOfType(t, 'AWS::CloudWatch::Alarm'))) {
    expect(props(a).AlarmActions).toEqual([{ Ref: mine }]);
  }
});

// ---- validation ----------------------------------------------------------------------------------

describe('props are validated', () => {
  const fails = (overrides: Parameters<typeof constructTemplate>[0], message: RegExp) =>
    expect(() => constructTemplate(overrides)).toThrow(message);

  test('the drain deadline stays below min(48 h, 100 x heartbeat timeout)', () => {
    // 100 x 60 s = 6000 s
    fails({ heartbeatTimeout: Duration.seconds(60), drainDeadline: Duration.seconds(6000) }, /drainDeadline .* 6000 s/);
    expect(() =>
      constructTemplate({ heartbeatTimeout: Duration.seconds(60), drainDeadline: Duration.seconds(5999) }),
    ).not.toThrow();
    // 100 x 7200 s is above 48 h: 48 h wins
    fails({ heartbeatTimeout: Duration.hours(2), drainDeadline: Duration.hours(48) }, /172800 s/);
    expect(() =>
      constructTemplate({ heartbeatTimeout: Duration.hours(2), drainDeadline: Duration.hours(47) }),
    ).not.toThrow();
    fails({ drainDeadline: Duration.seconds(0) }, /drainDeadline/);
    fails({ drainDeadline: Duration.millis(1500) }, /drainDeadline must be a whole number of seconds/);
  });

  test("the heartbeat timeout is within Auto Scaling's 30 s to 2 h", () => {
    fails({ heartbeatTimeout: Duration.seconds(29) }, /heartbeatTimeout must be 30 to 7200/);
    fails({ heartbeatTimeout: Duration.seconds(7201) }, /heartbeatTimeout must be 30 to 7200/);
  });

  test('counts, results, standalone tasks, schedule rate, groups', () => {
    fails({ minTaskCount: 3, maxTaskCount: 2 }, /maxTaskCount \(2\) must not be below minTaskCount \(3\)/);
    fails({ nCount: -1 }, /nCount must be a non-negative integer/);
    fails({ minTaskCount: 1.5 }, /minTaskCount must be a non-negative integer/);
    fails({ deadlineResult: outsideType('DEFAULT') }, /deadlineResult must be CONTINUE or ABANDON/);
    fails({ hookDefaultResult: outsideType('continue') }, /hookDefaultResult must be CONTINUE or ABANDON/);
    fails({ standaloneTasks: outsideType('kill') }, /standaloneTasks must be wait or stop/);
    fails(
      { standaloneTasks: 'stop', standaloneTaskGrace: Duration.hours(2) },
      /standaloneTaskGrace .* must be below drainDeadline/,
    );
    fails({ scheduleRate: Duration.seconds(90) }, /scheduleRate must be a whole number of minutes/);
    fails({ sweepRate: Duration.seconds(30) }, /sweepRate must be a whole number of minutes, at least 1/);
    fails({ lifecycleHookName: 'has space' }, /lifecycleHookName must be 1 to 255/);
    fails({ autoScalingGroupNames: [] }, /autoScalingGroupNames must name at least one/);
    fails({ autoScalingGroupNames: ['a', 'a'] }, /duplicates/);
  });

  test('every problem is reported at once', () => {
    expect(() => constructTemplate({ nCount: -1, heartbeatTimeout: Duration.seconds(1) })).toThrow(
      /nCount[\s\S]*heartbeatTimeout/,
    );
  });
});
