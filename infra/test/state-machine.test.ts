import * as fs from 'fs';
import { Duration } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { DRAIN_ASL_PATH } from '../lib/ecs-single-task-autoscaling';
import { dig, inlineStatements, obj, parseJson, str } from './cfn';
import { constructTemplate, placeholdersOf, resourceById } from './helpers';
import { canonical } from './expected';

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
      nlbDeregistrationTime: Duration.minutes(3),
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
        'NlbDeregistrationSeconds',
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
      NlbDeregistrationSeconds: '180',
    });
  });

  test('defaults: one hour deadline, CONTINUE, wait, five minutes grace, five minutes of NLB routing', () => {
    const { template } = constructTemplate();
    const sm = resourceById(template, 'AWS::StepFunctions::StateMachine', 'StaDrainWorkflowDrainStateMachine').props;
    expect(sm.DefinitionSubstitutions).toMatchObject({
      DrainDeadlineSeconds: '3600',
      DeadlineResult: 'CONTINUE',
      StandaloneTasks: 'wait',
      StandaloneTaskGraceSeconds: '300',
      NlbDeregistrationSeconds: '300',
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
