import * as fs from 'fs';
import { Duration } from 'aws-cdk-lib';
import { dig, isRecord, obj, parseJson, policyStatements, props, resourcesOfType, str } from './cfn';
import { constructTemplate, resourceById } from './helpers';

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
