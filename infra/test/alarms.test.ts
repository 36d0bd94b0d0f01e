import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EcsSingleTaskAutoscaling } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { LAMBDA_NAMES } from '../lib/permissions';
import { arr, dig, isRecord, obj, parseJson, props, resourcesOfType, str, strs } from './cfn';
import { constructTemplate, resourceById } from './helpers';

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
