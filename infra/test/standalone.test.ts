import * as fs from 'fs';
import { standaloneTemplate } from '../lib/standalone';
import { LAMBDA_NAMES } from '../lib/permissions';
import { arr, cfnTemplate, CfnTemplate, defined, dig, digOptional, obj, policyStatements, props, str } from './cfn';
import { placeholdersOf } from './helpers';
import { DRAIN_ASL_PATH } from '../lib/ecs-single-task-autoscaling';

/** The standalone template (`make template`): plain CloudFormation, everything a deployment chooses a parameter. */
describe('the standalone template', () => {
  const t = cfnTemplate(standaloneTemplate());
  const resources = Object.entries(t.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  /** A template's Parameters section, which a standalone template has. */
  const parameters = (template: CfnTemplate) => defined(template.Parameters, 'the Parameters section');

  test('parameters: the cluster, groups, services, the code, the drain settings and the extras', () => {
    expect(Object.keys(parameters(t))).toEqual([
      'ClusterName',
      'AutoScalingGroupName1',
      'AutoScalingGroupName2',
      'AutoScalingGroupName3',
      'ServiceName1',
      'ServiceName2',
      'ServiceName3',
      'MinTaskCount1',
      'MaxTaskCount1',
      'MinTaskCount2',
      'MaxTaskCount2',
      'MinTaskCount3',
      'MaxTaskCount3',
      'LifecycleHookName',
      'CodeBucket',
      'CodeKeyPrefix',
      'DrainDeadlineSeconds',
      'DeadlineResult',
      'HeartbeatTimeoutSeconds',
      'HookDefaultResult',
      'StandaloneTasks',
      'StandaloneTaskGraceSeconds',
      'NlbDeregistrationSeconds',
      'NCount',
      'ClassicElbNames',
      'TargetGroupArns',
      'SpotInterruptionHandling',
      'SweepRateMinutes',
      'AlarmEmail',
      'PermissionsBoundaryArn',
    ]);
    // Required: the cluster, the first group, the first service and its minimum, the bucket.
    const required = Object.entries(parameters(t))
      .filter(([, p]) => p.Default === undefined)
      .map(([name]) => name);
    expect(required).toEqual(['ClusterName', 'AutoScalingGroupName1', 'ServiceName1', 'MinTaskCount1', 'CodeBucket']);
    expect(parameters(t).HeartbeatTimeoutSeconds).toMatchObject({
      Type: 'Number',
      Default: 600,
      MinValue: 30,
      MaxValue: 7200,
    });
    expect(dig(t.Metadata, 'AWS::CloudFormation::Interface', 'ParameterGroups', 0, 'Parameters')).toEqual(
      Object.keys(parameters(t)),
    );
  });

  test("the sweep period is a parameter: the schedule's expression and retry window come from a mapping", () => {
    expect(parameters(t).SweepRateMinutes).toMatchObject({
      Type: 'String',
      Default: '5',
      AllowedValues: ['1', '2', '3', '5', '10', '15', '30', '60'],
    });
    const rates = dig(t.Mappings, 'SweepRates') as Record<string, { Expression: string; MaxEventAgeSeconds: number }>;
    expect(rates['1']).toEqual({ Expression: 'rate(1 minute)', MaxEventAgeSeconds: 60 });
    expect(rates['5']).toEqual({ Expression: 'rate(5 minutes)', MaxEventAgeSeconds: 300 });
    const [sweeper] = Object.values(t.Resources).filter(
      (r) => r.Type === 'AWS::Scheduler::Schedule' && r.Properties?.Description === 'Runs the sweeper.',
    );
    const byRate = (key: string) => ({ 'Fn::FindInMap': ['SweepRates', { Ref: 'SweepRateMinutes' }, key] });
    expect(sweeper.Properties?.ScheduleExpression).toEqual(byRate('Expression'));
    expect(dig(sweeper.Properties, 'Target', 'RetryPolicy', 'MaximumEventAgeInSeconds')).toEqual(
      byRate('MaxEventAgeSeconds'),
    );
  });

  test('the Spot warning rule is made only with SpotInterruptionHandling true', () => {
    expect(parameters(t).SpotInterruptionHandling).toMatchObject({
      Default: 'false',
      AllowedValues: ['true', 'false'],
    });
    expect(dig(t.Conditions, 'HandleSpotInterruptions')).toEqual({
      'Fn::Equals': [{ Ref: 'SpotInterruptionHandling' }, 'true'],
    });
    const spot = ofType('AWS::Events::Rule').filter(
      ([, r]) => dig(props(r), 'EventPattern', 'source', 0) === 'aws.ec2',
    );
    expect(spot).toHaveLength(1);
    expect(spot[0][1].Condition).toBe('HandleSpotInterruptions');
    // Nothing unconditional names the rule (CloudFormation refuses a reference to a resource not made).
    const [spotId] = spot[0];
    const naming = resources.filter(([id, r]) => id !== spotId && JSON.stringify(r).includes(spotId));
    expect(naming.map(([, r]) => r.Type)).toEqual(['AWS::SQS::QueuePolicy']);
    const [, policy] = naming[0];
    const arns = policyStatements(dig(props(policy), 'PolicyDocument', 'Statement')).map((st) =>
      digOptional(st.Condition, 'ArnEquals', 'aws:SourceArn'),
    );
    expect(arns).toContainEqual({
      'Fn::If': ['HandleSpotInterruptions', { 'Fn::GetAtt': [spotId, 'Arn'] }, expect.anything()],
    });
  });

  test('nothing that needs CDK to deploy: no assets, no bootstrap version check, no CDK metadata', () => {
    expect(t.Rules).toBeUndefined();
    expect(parameters(t).BootstrapVersion).toBeUndefined();
    expect(ofType('AWS::CDK::Metadata')).toEqual([]);
    expect(JSON.stringify(t)).not.toMatch(/cdk-hnb659fds|AssetParameters|aws:cdk:path/);
  });

  test('each function from the code bucket: <CodeKeyPrefix><function>.zip', () => {
    const keys = ofType('AWS::Lambda::Function').map(([, r]) => props(r).Code);
    expect(keys).toHaveLength(LAMBDA_NAMES.length);
    for (const name of LAMBDA_NAMES) {
      expect(keys).toContainEqual({
        S3Bucket: { Ref: 'CodeBucket' },
        S3Key: { 'Fn::Join': ['', [{ Ref: 'CodeKeyPrefix' }, `${name}.zip`]] },
      });
    }
  });

  test('a hook per group that is set; a schedule per service that is set', () => {
    const hooks = ofType('AWS::AutoScaling::LifecycleHook').map(([, r]) => [
      r.Condition,
      props(r).AutoScalingGroupName,
    ]);
    expect(hooks).toEqual([
      [undefined, { Ref: 'AutoScalingGroupName1' }],
      ['HasAutoScalingGroupName2', { Ref: 'AutoScalingGroupName2' }],
      ['HasAutoScalingGroupName3', { Ref: 'AutoScalingGroupName3' }],
    ]);
    const schedules = ofType('AWS::Scheduler::Schedule').filter(([id]) => id.includes('TaskScaler'));
    expect(schedules.map(([, r]) => r.Condition)).toEqual([undefined, 'HasServiceName2', 'HasServiceName3']);
    const hookName = props(ofType('AWS::AutoScaling::LifecycleHook')[0][1]).LifecycleHookName;
    expect(hookName).toEqual({
      'Fn::If': ['HasLifecycleHookName', { Ref: 'LifecycleHookName' }, { 'Fn::Sub': '${AWS::StackName}-drain' }],
    });
  });

  test("a service's input: its counts, no ceiling unless given, asg_name only with one group", () => {
    const input = dig(
      props(ofType('AWS::Scheduler::Schedule').find(([id]) => id.includes('TaskScalerSchedule2'))![1]),
      'Target',
      'Input',
    );
    // Each parameter filled with a value of its kind, as CloudFormation would.
    const fill = (value: unknown, given: Record<string, string>, conditions: Record<string, boolean>): string => {
      if (typeof value === 'string') {
        return value;
      }
      const intrinsic = obj(value, 'an intrinsic function');
      if (intrinsic.Ref) {
        return given[str(intrinsic.Ref)];
      }
      if (intrinsic['Fn::If']) {
        const [condition, yes, no] = arr(intrinsic['Fn::If']);
        return fill(conditions[str(condition)] ? yes : no, given, conditions);
      }
      const [delimiter, parts] = arr(intrinsic['Fn::Join']);
      return arr(parts)
        .map((x) => fill(x, given, conditions))
        .join(str(delimiter));
    };
    const given = {
      ClusterName: 'prod',
      ServiceName2: 'api',
      MinTaskCount2: '2',
      MaxTaskCount2: '8',
      NCount: '1',
      AutoScalingGroupName1: 'prod-asg',
    };
    expect(JSON.parse(fill(input, given, { HasMaxTaskCount2: true, OneAutoScalingGroup: true }))).toEqual({
      cluster_name: 'prod',
      service_name: 'api',
      min_task_count: 2,
      n_count: 1,
      max_task_count: 8,
      asg_name: 'prod-asg',
    });
    // The scaler reads null as no ceiling and a blank asg_name as none.
    expect(JSON.parse(fill(input, given, { HasMaxTaskCount2: false, OneAutoScalingGroup: false }))).toMatchObject({
      max_task_count: null,
      asg_name: '',
    });
  });

  test('the drain settings reach the state machine; every placeholder is filled', () => {
    const sm = props(ofType('AWS::StepFunctions::StateMachine')[0][1]);
    expect(Object.keys(obj(sm.DefinitionSubstitutions)).sort()).toEqual(
      placeholdersOf(fs.readFileSync(DRAIN_ASL_PATH, 'utf8')),
    );
    expect(sm.DefinitionSubstitutions).toMatchObject({
      DrainDeadlineSeconds: { Ref: 'DrainDeadlineSeconds' },
      DeadlineResult: { Ref: 'DeadlineResult' },
      StandaloneTasks: { Ref: 'StandaloneTasks' },
      StandaloneTaskGraceSeconds: { Ref: 'StandaloneTaskGraceSeconds' },
      NlbDeregistrationSeconds: { Ref: 'NlbDeregistrationSeconds' },
    });
  });

  test('optional extras: an e-mail subscription and a permissions boundary, only when given', () => {
    expect(ofType('AWS::SNS::Subscription').map(([, r]) => r.Condition)).toEqual(['HasAlarmEmail']);
    for (const [id, role] of ofType('AWS::IAM::Role')) {
      expect({ id, boundary: props(role).PermissionsBoundary }).toEqual({
        id,
        boundary: { 'Fn::If': ['HasPermissionsBoundary', { Ref: 'PermissionsBoundaryArn' }, { Ref: 'AWS::NoValue' }] },
      });
    }
    expect(Object.keys(defined(t.Outputs, 'the Outputs section')).sort()).toEqual([
      'AlarmTopicArn',
      'DashboardName',
      'DeadLetterQueueUrl',
      'LifecycleHook',
      'StateMachineArn',
    ]);
  });

  test('room for more groups and services on request', () => {
    const wide = cfnTemplate(standaloneTemplate({ groups: 5, services: 1 }));
    expect(Object.keys(parameters(wide)).filter((p) => p.startsWith('AutoScalingGroupName'))).toHaveLength(5);
    expect(Object.keys(parameters(wide)).filter((p) => p.startsWith('ServiceName'))).toEqual(['ServiceName1']);
  });
});
