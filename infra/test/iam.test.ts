import { actionsOf, LAMBDA_NAMES, LambdaName } from '../lib/permissions';
import { actionList, dig, inlineStatements, policyStatements } from './cfn';
import { constructTemplate, resourceById } from './helpers';
import {
  arn,
  CLUSTER,
  CLUSTER_INSTANCES,
  CLUSTER_TASKS,
  CLUSTER_SERVICES,
  SERVICE,
  ASG,
  ALL_CLASSIC_ELBS,
  ALL_TARGET_GROUPS,
  IN_CLUSTER,
  canonical,
  FUNCTION_IDS,
  functionByPrefix,
  rolePolicy,
  expectPolicy,
} from './expected';

// ---- IAM: each role's exact actions and resources --------------------------------------------

describe('IAM, one least-privilege role per function', () => {
  const { template } = constructTemplate();

  // The container instance's own calls: drain it, and mark one going back to the warm pool.
  const DRAINS = [
    'ecs:DeleteAttributes',
    'ecs:DescribeContainerInstances',
    'ecs:ListTasks',
    'ecs:PutAttributes',
    'ecs:UpdateContainerInstancesState',
  ];

  test('drain-ecs', () => {
    expectPolicy(template, 'drain-ecs', [
      { actions: ['ecs:ListContainerInstances'], resources: [CLUSTER] },
      { actions: DRAINS, resources: [CLUSTER_INSTANCES], condition: IN_CLUSTER },
      { actions: ['ecs:DescribeTasks'], resources: [CLUSTER_TASKS], condition: IN_CLUSTER },
      {
        actions: [
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeLifecycleHooks',
          'autoscaling:DescribeScalingActivities',
        ],
        resources: ['*'],
      },
      { actions: ['autoscaling:RecordLifecycleActionHeartbeat'], resources: [ASG('test-cluster-asg')] },
    ]);
  });

  test('deregister-lb (default: any Classic ELB and target group of the account and Region)', () => {
    expectPolicy(template, 'deregister-lb', [
      {
        actions: [
          'autoscaling:DescribeAutoScalingGroups',
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeLifecycleHooks',
          'autoscaling:DescribeScalingActivities',
          'elasticloadbalancing:DescribeInstanceHealth',
          'elasticloadbalancing:DescribeLoadBalancerAttributes',
          'elasticloadbalancing:DescribeLoadBalancers',
          'elasticloadbalancing:DescribeTargetGroupAttributes',
          'elasticloadbalancing:DescribeTargetGroups',
          'elasticloadbalancing:DescribeTargetHealth',
        ],
        resources: ['*'],
      },
      { actions: ['autoscaling:RecordLifecycleActionHeartbeat'], resources: [ASG('test-cluster-asg')] },
      { actions: ['ecs:ListServices'], resources: ['*'], condition: IN_CLUSTER },
      { actions: ['ecs:DescribeServices'], resources: [CLUSTER_SERVICES] },
      {
        actions: ['ecs:DescribeContainerInstances', 'ecs:PutAttributes'],
        resources: [CLUSTER_INSTANCES],
        condition: IN_CLUSTER,
      },
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
      { actions: ['ecs:DescribeServices'], resources: [CLUSTER_SERVICES] },
      { actions: ['ecs:ListTasks'], resources: ['*'], condition: IN_CLUSTER },
      { actions: DRAINS, resources: [CLUSTER_INSTANCES], condition: IN_CLUSTER },
      { actions: ['ecs:ListContainerInstances'], resources: [CLUSTER] },
      {
        actions: [
          'autoscaling:DescribeAutoScalingInstances',
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
      {
        actions: ['autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeScalingActivities'],
        resources: ['*'],
      },
    ]);
  });

  test('sweeper: groups (Describe only accepts *), heartbeats in the managed group, list and start on the state machine, describe its executions, set ACTIVE the container instances back from the warm pool or a Spot stop', () => {
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').id;
    expectPolicy(template, 'sweeper', [
      {
        actions: [
          'autoscaling:DescribeAutoScalingGroups',
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeScalingActivities',
          'autoscaling:DescribeWarmPool',
          'ec2:DescribeInstances',
        ],
        resources: ['*'],
      },
      { actions: ['ecs:ListContainerInstances'], resources: [CLUSTER] },
      {
        actions: [
          'ecs:DeleteAttributes',
          'ecs:DescribeContainerInstances',
          'ecs:PutAttributes',
          'ecs:UpdateContainerInstancesState',
        ],
        resources: [CLUSTER_INSTANCES],
        condition: IN_CLUSTER,
      },
      { actions: ['autoscaling:RecordLifecycleActionHeartbeat'], resources: [ASG('test-cluster-asg')] },
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
      {
        actions: ['ecs:DescribeContainerInstances', 'ecs:ListTasks'],
        resources: [CLUSTER_INSTANCES],
        condition: IN_CLUSTER,
      },
      { actions: ['ecs:DescribeTasks'], resources: [CLUSTER_TASKS], condition: IN_CLUSTER },
      { actions: ['ecs:DescribeServices', 'ecs:UpdateService'], resources: [SERVICE] },
      { actions: ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeWarmPool'], resources: ['*'] },
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
