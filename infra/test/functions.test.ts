import { Duration } from 'aws-cdk-lib';
import { LAMBDA_NAMES, LambdaName } from '../lib/permissions';
import { dig, digOptional, props, resourcesOfType } from './cfn';
import { constructTemplate, outsideType, resourceById } from './helpers';
import { FUNCTION_IDS, functionByPrefix } from './expected';

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

  test('a scheduled run is not retried by Lambda, and one Lambda gives up on goes to the dead-letter queue', () => {
    // The next sweep finds the same instances; the next tick does the scaler's work. A run
    // throttled past a minute, or failed, reaches the queue whose alarm and doctor see it.
    const functions = Object.keys(template.findResources('AWS::Lambda::Function'));
    const queue = Object.keys(template.findResources('AWS::SQS::Queue')).find((i) => i.includes('DeadLetterQueue'))!;
    for (const prefix of ['StaSweeper', 'StaTaskScaler']) {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: functions.find((i) => i.startsWith(prefix))! },
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 60,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
      });
    }
  });
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
    fails({ nlbDeregistrationTime: Duration.seconds(3601) }, /nlbDeregistrationTime must be between 0 and 3600 s/);
    fails({ scheduleRate: Duration.seconds(90) }, /scheduleRate must be a whole number of minutes/);
    fails({ sweepRate: Duration.seconds(30) }, /sweepRate must be a whole number of minutes, at least 1/);
    fails({ lifecycleHookName: 'has space' }, /lifecycleHookName must be 1 to 255/);
    fails({ autoScalingGroupNames: [] }, /autoScalingGroupNames must name at least one/);
    fails({ autoScalingGroupNames: ['a', 'a'] }, /duplicates/);
    fails({ clusterName: 'arn:aws:ecs:us-west-2:123456789012:cluster/prod' }, /clusterName must be a name, not an ARN/);
    fails(
      {
        autoScalingGroupNames: ['arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:x:autoScalingGroupName/a'],
      },
      /autoScalingGroupNames\[0\] must be a name, not an ARN/,
    );
    fails(
      { serviceName: 'arn:aws:ecs:us-west-2:123456789012:service/prod/web' },
      /serviceName must be a name, not an ARN/,
    );
  });

  test('every problem is reported at once', () => {
    expect(() => constructTemplate({ nCount: -1, heartbeatTimeout: Duration.seconds(1) })).toThrow(
      /nCount[\s\S]*heartbeatTimeout/,
    );
  });
});
