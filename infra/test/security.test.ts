/**
 * Security properties of the synthesized templates, checked over every role and log group
 * rather than one resource at a time: nothing mutating on "*", each function's role allows
 * exactly what lib/permissions.ts lists (read through `npm run permissions`, the same JSON
 * the Rust side checks its SDK calls against), the state machine invokes only the four
 * drain functions, and log groups are KMS-encrypted or carry the acknowledgement.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { App, CfnElement, CfnParameter, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NIST80053R5Checks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import {
  EcsSingleTaskAutoscaling,
  EcsSingleTaskAutoscalingProps,
  LOG_GROUP_ENCRYPTION_REASON,
  LOG_GROUP_ENCRYPTION_RULES,
} from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { LAMBDA_NAMES, LambdaName } from '../lib/permissions';
import {
  arr,
  dig,
  errorMessage,
  obj,
  parseJson,
  policyStatements,
  PolicyStatement,
  props,
  resourcesOfType,
  str,
  strs,
} from './cfn';
import { ON_FAILURE_SID } from '../lib/schedule';
import { BASE_PROPS, exampleApp } from './helpers';

/** What `npm run permissions --silent` prints: the contract with the Rust side. */
const PERMISSIONS_JSON: Record<string, string[]> = Object.fromEntries(
  Object.entries(
    obj(
      parseJson(
        execFileSync('npm', ['run', 'permissions', '--silent'], {
          cwd: path.resolve(__dirname, '..'),
          encoding: 'utf8',
        }),
      ),
      'the output of npm run permissions',
    ),
  ).map(([name, actions]) => [name, strs(actions, `the actions of ${name}`)]),
);

/**
 * The only mutating actions allowed on "*": what Step Functions needs for its own log
 * delivery to CloudWatch Logs and for X-Ray tracing (the state machine's role, added by
 * CDK for `logs` and `tracingEnabled`). Step Functions documents these with Resource "*";
 * log deliveries and trace segments have no ARN a policy could name.
 */
const STATE_MACHINE_LOGGING_AND_TRACING = new Set([
  'logs:CreateLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:PutResourcePolicy',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
]);

const READ_ONLY = /^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$/;

/** What Lambda needs on a function's role to attach it to a VPC (none on "*" but the two Describe calls). */
const VPC_ACTIONS = [
  'ec2:AssignPrivateIpAddresses',
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:UnassignPrivateIpAddresses',
];
const DRAIN_FUNCTIONS: LambdaName[] = ['drain-ecs', 'deregister-lb', 'check-drained', 'complete-lifecycle'];

interface Subject {
  name: string;
  stack: Stack;
  construct: EcsSingleTaskAutoscaling;
  template: Template;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : ([] as T[]).concat(v));

/** Every statement that applies to each role of the template: inline, AWS::IAM::Policy and AWS::IAM::ManagedPolicy. */
function statementsByRole(template: Template): Map<string, PolicyStatement[]> {
  const byRole = new Map<string, PolicyStatement[]>();
  for (const [id, role] of Object.entries(resourcesOfType(template, 'AWS::IAM::Role'))) {
    byRole.set(
      id,
      arr(props(role).Policies ?? [], `${id}.Policies`).flatMap((p) =>
        policyStatements(dig(p, 'PolicyDocument', 'Statement')),
      ),
    );
  }
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, policy] of Object.entries(resourcesOfType(template, type))) {
      for (const ref of arr(props(policy).Roles ?? [], `${id}.Roles`)) {
        const roleId = str(dig(ref, 'Ref'), `a role of ${id}`);
        expect(byRole.has(roleId)).toBe(true); // only roles of this template
        byRole.get(roleId)!.push(...policyStatements(dig(props(policy), 'PolicyDocument', 'Statement')));
      }
    }
  }
  return byRole;
}

function logicalId(stack: Stack, c: IConstruct): string {
  const resource = c.node.defaultChild;
  if (!CfnElement.isCfnElement(resource)) {
    throw new Error(`${c.node.path} has no CloudFormation resource as its default child`);
  }
  return stack.getLogicalId(resource);
}

/** Every function of the construct with its binary: one sweeper per cluster. */
function allFunctions(subject: Subject): { name: LambdaName; fn: lambda.Function }[] {
  const c = subject.construct;
  return [
    ...DRAIN_FUNCTIONS.map((name) => ({ name, fn: c.functions[name] })),
    { name: 'task-scaler' as const, fn: c.taskScaler.function },
    ...c.sweepers.map((s) => ({ name: 'sweeper' as const, fn: s.function })),
  ];
}

function functionRoleId(subject: Subject, fn: lambda.Function): string {
  const resource = resourcesOfType(subject.template, 'AWS::Lambda::Function')[logicalId(subject.stack, fn)];
  return str(dig(props(resource), 'Role', 'Fn::GetAtt', 0));
}

function exampleSubject(): Subject {
  const { stack } = exampleApp();
  return { name: 'the example app', stack, construct: stack.autoscaling, template: Template.fromStack(stack) };
}

function variantSubject(): Subject {
  const app = new App();
  const stack = new Stack(app, 'Variant');
  const construct = new EcsSingleTaskAutoscaling(stack, 'Sta', {
    clusterName: new CfnParameter(stack, 'Cluster').valueAsString,
    serviceName: new CfnParameter(stack, 'Service').valueAsString,
    autoScalingGroupNames: [new CfnParameter(stack, 'AsgA').valueAsString, 'asg-b'],
    minTaskCount: 0,
    classicLoadBalancerNames: ['elb-a'],
    targetGroupArns: ['arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/0123456789abcdef'],
    restrictDeregistrationToConfigured: true,
    spotInterruptionHandling: true,
    standaloneTasks: 'stop',
    lambdaCode: () => unbuiltLambdaCode(),
  });
  return {
    name: 'tokens, two groups, restricted load balancers, Spot',
    stack,
    construct,
    template: Template.fromStack(stack),
  };
}

function severalClustersSubject(): Subject {
  const app = new App();
  const stack = new Stack(app, 'Several');
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['us-west-2a'],
    privateSubnetIds: ['subnet-1'],
  });
  const construct = new EcsSingleTaskAutoscaling(stack, 'Sta', {
    clusters: [
      {
        clusterName: 'blue',
        autoScalingGroupNames: ['blue-a', 'blue-b'],
        services: [
          { serviceName: 'web', minTaskCount: 1 },
          { serviceName: 'api', minTaskCount: 2, maxTaskCount: 9 },
        ],
      },
      {
        clusterName: 'green',
        autoScalingGroupNames: ['green-a'],
        services: [{ serviceName: 'web', minTaskCount: 1, nCount: 2 }],
      },
    ],
    deregistrationScope: 'tagged',
    vpc,
    permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyName(stack, 'Boundary', 'boundary'),
    lambdaCode: () => unbuiltLambdaCode(),
  });
  return {
    name: 'two clusters, three services, tagged load balancers, a VPC, a boundary',
    stack,
    construct,
    template: Template.fromStack(stack),
  };
}

const SUBJECTS = [exampleSubject(), variantSubject(), severalClustersSubject()];

describe.each(SUBJECTS)('$name', (subject) => {
  const byRole = statementsByRole(subject.template);
  const smRoleId = () => logicalId(subject.stack, subject.construct.stateMachine.role);

  test('no role has a managed policy; every statement is an Allow without NotAction or NotResource', () => {
    for (const [id, role] of Object.entries(resourcesOfType(subject.template, 'AWS::IAM::Role'))) {
      expect({ id, managed: props(role).ManagedPolicyArns }).toEqual({ id, managed: undefined });
    }
    for (const [id, statements] of byRole) {
      for (const s of statements) {
        expect({ id, effect: s.Effect, notAction: s.NotAction, notResource: s.NotResource }).toEqual({
          id,
          effect: 'Allow',
          notAction: undefined,
          notResource: undefined,
        });
      }
    }
  });

  test('no role has a mutating action (anything but Describe*/List*/Get*) on Resource "*"', () => {
    const offenders: string[] = [];
    for (const [id, statements] of byRole) {
      for (const s of statements) {
        if (!list(s.Resource).includes('*')) {
          continue;
        }
        for (const action of list(s.Action)) {
          const documentedException = id === smRoleId() && STATE_MACHINE_LOGGING_AND_TRACING.has(action);
          if (!READ_ONLY.test(action) && !documentedException) {
            offenders.push(`${id}: ${action}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
    // No action wildcards anywhere either (`ecs:*`, `ecs:Update*`).
    const wildcards = [...byRole.values()].flat().flatMap((s) => list(s.Action).filter((a) => a.includes('*')));
    expect(wildcards).toEqual([]);
  });

  test('npm run permissions prints every function, and each function role allows exactly those actions (plus its own logs, and a scheduled one its lost runs)', () => {
    expect(Object.keys(PERMISSIONS_JSON).sort()).toEqual([...LAMBDA_NAMES].sort());
    const functions = allFunctions(subject);
    subject.template.resourceCountIs('AWS::Lambda::Function', functions.length);
    const roleIds = new Set<string>();
    for (const { name, fn } of functions) {
      const roleId = functionRoleId(subject, fn);
      roleIds.add(roleId);
      const statements = byRole.get(roleId)!;
      // Logs: only its own log group, and nothing else besides the listed calls.
      const logGroupId = logicalId(subject.stack, fn.logGroup);
      const logStatements = statements.filter((s) => list(s.Action).some((a) => a.startsWith('logs:')));
      expect(logStatements).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
          Sid: 'Logs',
        },
      ]);
      // In a VPC: Lambda's network interfaces, and nothing else of EC2.
      const vpcStatements = statements.filter((s) => s.Sid?.startsWith('Vpc'));
      expect(vpcStatements.flatMap((s) => list(s.Action)).sort()).toEqual(
        subject.construct.node.tryFindChild('FunctionsSecurityGroup') ? VPC_ACTIONS : [],
      );
      // Scheduled: Lambda sends the runs it gives up on to the dead-letter queue, and nothing else.
      const lostRuns = statements.filter((s) => s.Sid === ON_FAILURE_SID);
      const scheduled = name === 'sweeper' || name === 'task-scaler';
      const queueId = logicalId(subject.stack, subject.construct.deadLetterQueue);
      expect(lostRuns).toEqual(
        scheduled
          ? [
              {
                Effect: 'Allow',
                Action: 'sqs:SendMessage',
                Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
                Sid: ON_FAILURE_SID,
              },
            ]
          : [],
      );
      const granted = new Set(
        statements
          .filter((s) => ![...logStatements, ...vpcStatements, ...lostRuns].includes(s))
          .flatMap((s) => list(s.Action)),
      );
      expect({ name, actions: [...granted].sort() }).toEqual({ name, actions: PERMISSIONS_JSON[name] });
    }
    expect(roleIds.size).toBe(functions.length); // one role each
  });

  test('the state machine role can invoke only the four drain functions, unqualified', () => {
    const fnArn = (name: LambdaName) => ({
      'Fn::GetAtt': [logicalId(subject.stack, subject.construct.functions[name]), 'Arn'],
    });
    const statements = byRole.get(smRoleId())!;
    const lambdaStatements = statements.filter((s) => list(s.Action).some((a) => a.startsWith('lambda:')));
    expect(lambdaStatements).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: DRAIN_FUNCTIONS.map(fnArn) },
    ]);
    const other = statements
      .filter((s) => !lambdaStatements.includes(s))
      .flatMap((s) => list(s.Action))
      .filter((a) => !STATE_MACHINE_LOGGING_AND_TRACING.has(a) && !READ_ONLY.test(a));
    expect(other).toEqual([]);
  });

  test('who may invoke what: each schedule its own function, the state machine the drain; who may start the drain: the rules and the sweeper', () => {
    const fnArn = (name: LambdaName) => ({
      'Fn::GetAtt': [logicalId(subject.stack, subject.construct.functions[name]), 'Arn'],
    });
    const grants = (action: string) =>
      [...byRole.entries()]
        .flatMap(([id, statements]) =>
          statements.filter((s) => list(s.Action).includes(action)).map((s) => ({ id, resource: s.Resource })),
        )
        .sort((a, b) => a.id.localeCompare(b.id));
    const id = (c: IConstruct) => logicalId(subject.stack, c);
    const { taskScaler, sweepers } = subject.construct;
    expect(grants('lambda:InvokeFunction')).toEqual(
      [
        { id: id(subject.construct.stateMachine.role), resource: DRAIN_FUNCTIONS.map(fnArn) },
        { id: id(taskScaler.scheduleRole), resource: { 'Fn::GetAtt': [id(taskScaler.function), 'Arn'] } },
        ...sweepers.map((s) => ({ id: id(s.scheduleRole), resource: { 'Fn::GetAtt': [id(s.function), 'Arn'] } })),
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
    const sm = { Ref: id(subject.construct.stateMachine) };
    const starters = grants('states:StartExecution');
    const sweeperRoles = sweepers.map((s) => functionRoleId(subject, s.function));
    expect(starters.map((g) => g.resource)).toEqual(starters.map(() => sm));
    expect(starters.map((g) => g.id)).toEqual(expect.arrayContaining(sweeperRoles));
    expect(starters.filter((g) => !sweeperRoles.includes(g.id)).map((g) => g.id)).toEqual([
      expect.stringMatching(/DrainStateMachineEventsRole/),
    ]);
  });

  test('every log group is encrypted with a KMS key or carries the acknowledgement, with its reason', () => {
    const groups = subject.construct.node.findAll().filter((c): c is logs.LogGroup => c instanceof logs.LogGroup);
    expect(groups).toHaveLength(allFunctions(subject).length + 1); // the functions' and the state machine's
    expect(Object.keys(subject.template.findResources('AWS::Logs::LogGroup')).sort()).toEqual(
      groups.map((g) => logicalId(subject.stack, g)).sort(),
    );
    for (const group of groups) {
      const encrypted =
        props(resourcesOfType(subject.template, 'AWS::Logs::LogGroup')[logicalId(subject.stack, group)]).KmsKeyId !==
        undefined;
      expect({ group: group.node.path, encrypted, acknowledged: acknowledged(group) }).toEqual({
        group: group.node.path,
        encrypted: false,
        acknowledged: Object.fromEntries(LOG_GROUP_ENCRYPTION_RULES.map((r) => [r, LOG_GROUP_ENCRYPTION_REASON])),
      });
    }
  });
});

/** The acknowledgements recorded on one construct: rule ID to reason. */
function acknowledged(c: IConstruct): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of c.node.metadata) {
    if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        out[id.replace(/^annotation::/i, '')] = reason;
      }
    }
  }
  return out;
}

describe('log group encryption', () => {
  test('the acknowledgement names the real rules: NIST 800-53 R5 flags an unacknowledged log group, not ours', () => {
    const app = new App();
    const stack = new Stack(app, 'Nist');
    new EcsSingleTaskAutoscaling(stack, 'Sta', { ...BASE_PROPS, lambdaCode: () => unbuiltLambdaCode() });
    new logs.LogGroup(stack, 'Unrelated');
    Validations.of(app).addPlugins(new NIST80053R5Checks(app));
    let report = '';
    try {
      app.synth();
    } catch (e: unknown) {
      report = errorMessage(e);
    }
    const flagged = report
      .split(/\n\s*\n/)
      .filter((block) => block.includes('NIST.800.53.R5-CloudWatchLogGroupEncrypted'))
      .map((block) => block.match(/Nist\/\S+/)?.[0]);
    expect(flagged).toEqual(['Nist/Unrelated/Resource']);
  });

  test('with logEncryptionKey, every log group is encrypted with it and nothing is acknowledged', () => {
    const app = new App();
    const stack = new Stack(app, 'Kms');
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    const constructProps: EcsSingleTaskAutoscalingProps = {
      ...BASE_PROPS,
      logEncryptionKey: key,
      lambdaCode: () => unbuiltLambdaCode(),
    };
    const construct = new EcsSingleTaskAutoscaling(stack, 'Sta', constructProps);
    const t = Template.fromStack(stack);
    const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] };
    const groups = Object.values(resourcesOfType(t, 'AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(LAMBDA_NAMES.length + 1);
    for (const g of groups) {
      expect(props(g).KmsKeyId).toEqual(keyArn);
    }
    for (const c of construct.node.findAll()) {
      expect(Object.keys(acknowledged(c)).filter((id) => id.endsWith('CloudWatchLogGroupEncrypted'))).toEqual([]);
    }
    expect(construct.functions.sweeper).toBeInstanceOf(lambda.Function);
  });
});
