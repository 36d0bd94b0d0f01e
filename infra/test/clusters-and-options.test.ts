import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { EcsSingleTaskAutoscaling, EcsSingleTaskAutoscalingProps } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import {
  actionList,
  dig,
  digOptional,
  inlineStatements,
  obj,
  parseJson,
  props,
  propertiesOfType,
  resourcesOfType,
  str,
} from './cfn';
import { constructTemplate } from './helpers';

const arn = (service: string, rest: string) => ({
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, rest],
  ],
});

const TWO_CLUSTERS: Partial<EcsSingleTaskAutoscalingProps> = {
  clusterName: undefined,
  serviceName: undefined,
  autoScalingGroupNames: undefined,
  minTaskCount: undefined,
  nCount: 2,
  clusters: [
    {
      clusterName: 'blue',
      autoScalingGroupNames: ['blue-a', 'blue-b'],
      services: [
        { serviceName: 'web', minTaskCount: 1 },
        { serviceName: 'api', minTaskCount: 2, maxTaskCount: 9, nCount: 1 },
      ],
    },
    { clusterName: 'green', autoScalingGroupNames: ['green-a'], services: [{ serviceName: 'web', minTaskCount: 3 }] },
  ],
};

/** The properties of every resource of a type, by logical ID. */
const all = propertiesOfType;
const env = (t: Template, prefix: string) =>
  all(t, 'AWS::Lambda::Function')
    .filter(([id]) => id.startsWith(prefix))
    .map(([, p]) => digOptional(p, 'Environment', 'Variables'));

describe('several clusters and services in one deployment', () => {
  const { template: t } = constructTemplate(TWO_CLUSTERS);

  test("one hook per group, each hook's metadata naming its own cluster", () => {
    const hooks = all(t, 'AWS::AutoScaling::LifecycleHook').map(([, p]) => [
      p.AutoScalingGroupName,
      dig(parseJson(str(p.NotificationMetadata)), 'cluster'),
    ]);
    expect(hooks).toEqual([
      ['blue-a', 'blue'],
      ['blue-b', 'blue'],
      ['green-a', 'green'],
    ]);
  });

  test('the drain functions have no ECS_CLUSTER (the metadata names it) and know every group', () => {
    expect(env(t, 'StaDrainWorkflowDrainEcs')).toEqual([{ MANAGED_ASG_NAMES: 'blue-a,blue-b,green-a' }]);
    expect(env(t, 'StaDrainWorkflowDeregisterLb')).toEqual([undefined]);
  });

  test('one sweeper per cluster, each with its cluster and its groups', () => {
    const sweepers = [...env(t, 'StaSweeperFunction'), ...env(t, 'StaSweeper2Function')];
    expect(sweepers.map((e) => [obj(e).ECS_CLUSTER, obj(e).MANAGED_ASG_NAMES])).toEqual([
      ['blue', 'blue-a,blue-b'],
      ['green', 'green-a'],
    ]);
    expect(all(t, 'AWS::Scheduler::Schedule').filter(([id]) => /Sweep/i.test(id))).toHaveLength(2);
    expect(all(t, 'AWS::CloudWatch::Alarm').filter(([id]) => id.includes('SweeperStartedDrainAlarm'))).toHaveLength(2);
  });

  test('one scaler schedule per service, each with its own input; asg_name only where the cluster has one group', () => {
    const inputs = all(t, 'AWS::Scheduler::Schedule')
      .filter(([id]) => id.startsWith('StaTaskScalerSchedule') && !id.includes('Role'))
      .map(([, p]) => parseJson(str(dig(p, 'Target', 'Input'))));
    expect(inputs).toEqual([
      { cluster_name: 'blue', service_name: 'web', min_task_count: 1, n_count: 2 },
      { cluster_name: 'blue', service_name: 'api', min_task_count: 2, n_count: 1, max_task_count: 9 },
      { cluster_name: 'green', service_name: 'web', min_task_count: 3, n_count: 2, asg_name: 'green-a' },
    ]);
  });

  test('IAM is scoped to every managed cluster, service and group, and no other', () => {
    const scaler = all(t, 'AWS::IAM::Role').find(([id]) => id.startsWith('StaTaskScalerFunctionRole'))![1];
    const statements = inlineStatements(scaler);
    expect(statements.find((s) => actionList(s).includes('ecs:UpdateService'))!.Resource).toEqual([
      arn('ecs', ':service/blue/web'),
      arn('ecs', ':service/blue/api'),
      arn('ecs', ':service/green/web'),
    ]);
    expect(statements.find((s) => actionList(s).includes('ecs:DescribeContainerInstances'))!.Condition).toEqual({
      ArnEquals: { 'ecs:cluster': [arn('ecs', ':cluster/blue'), arn('ecs', ':cluster/green')] },
    });
    const complete = all(t, 'AWS::IAM::Role').find(([id]) =>
      id.startsWith('StaDrainWorkflowCompleteLifecycleRole'),
    )![1];
    expect(
      inlineStatements(complete).find((s) => s.Action === 'autoscaling:CompleteLifecycleAction')!.Resource,
    ).toEqual(
      ['blue-a', 'blue-b', 'green-a'].map((g) => arn('autoscaling', `:autoScalingGroup:*:autoScalingGroupName/${g}`)),
    );
  });

  test('the dashboard shows the custom metrics per cluster and the latest scaler decision per service', () => {
    const body = JSON.stringify(
      props(Object.values(resourcesOfType(t, 'AWS::CloudWatch::Dashboard'))[0]).DashboardBody,
    );
    expect(body).toContain('\\"Cluster\\",\\"blue\\"');
    expect(body).toContain('\\"Cluster\\",\\"green\\"');
    expect(body).toContain('stats latest(`fields.decision`)');
    expect(body).toContain('by `span.cluster`, `span.service`');
  });

  test('refused: Spot warnings (they name no cluster), a group in two clusters, no service at all, both forms at once', () => {
    expect(() => constructTemplate({ ...TWO_CLUSTERS, spotInterruptionHandling: true })).toThrow(
      /spotInterruptionHandling needs exactly one cluster/,
    );
    const clusters = TWO_CLUSTERS.clusters!;
    expect(() =>
      constructTemplate({
        ...TWO_CLUSTERS,
        clusters: [clusters[0], { ...clusters[1], autoScalingGroupNames: ['blue-a'] }],
      }),
    ).toThrow(/duplicates \(blue-a\)/);
    expect(() =>
      constructTemplate({ ...TWO_CLUSTERS, clusters: clusters.map((c) => ({ ...c, services: [] })) }),
    ).toThrow(/at least one service/);
    expect(() => constructTemplate({ ...TWO_CLUSTERS, clusterName: 'x' })).toThrow(/either clusters or clusterName/);
  });
});

describe('deployment options', () => {
  const deregistration = (t: Template) => {
    const role = all(t, 'AWS::IAM::Role').find(([id]) => id.startsWith('StaDrainWorkflowDeregisterLbRole'))![1];
    return inlineStatements(role).filter((s) => /Deregister/.test(String(s.Action)));
  };

  test("deregistrationScope 'tagged': any load balancer of the account, if it carries the tag", () => {
    const { template } = constructTemplate({ deregistrationScope: 'tagged', deregistrationTag: { value: 'prod' } });
    const condition = { StringEquals: { 'aws:ResourceTag/ecs-single-task-autoscaling:drain': 'prod' } };
    expect(deregistration(template)).toEqual([
      {
        Effect: 'Allow',
        Action: 'elasticloadbalancing:DeregisterInstancesFromLoadBalancer',
        Resource: arn('elasticloadbalancing', ':loadbalancer/*'),
        Condition: condition,
      },
      {
        Effect: 'Allow',
        Action: 'elasticloadbalancing:DeregisterTargets',
        Resource: arn('elasticloadbalancing', ':targetgroup/*'),
        Condition: condition,
      },
    ]);
    expect(() => constructTemplate({ deregistrationTag: { value: 'x' } })).toThrow(
      /deregistrationTag needs deregistrationScope 'tagged'/,
    );
    expect(() =>
      constructTemplate({ deregistrationScope: 'tagged', restrictDeregistrationToConfigured: true }),
    ).toThrow(/means deregistrationScope 'listed'/);
  });

  test('a VPC: every function in its subnets with one shared security group, and the interfaces Lambda needs', () => {
    const app = new App();
    const stack = new Stack(app, 'Net');
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-0123456789abcdef0',
      availabilityZones: ['a', 'b'],
      privateSubnetIds: ['subnet-1', 'subnet-2'],
    });
    new EcsSingleTaskAutoscaling(stack, 'Sta', {
      clusterName: 'c',
      serviceName: 's',
      autoScalingGroupNames: ['g'],
      minTaskCount: 1,
      vpc,
      lambdaCode: () => unbuiltLambdaCode(),
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    const sg = Object.keys(t.findResources('AWS::EC2::SecurityGroup'))[0];
    for (const [, fn] of all(t, 'AWS::Lambda::Function')) {
      expect(fn.VpcConfig).toEqual({
        SubnetIds: ['subnet-1', 'subnet-2'],
        SecurityGroupIds: [{ 'Fn::GetAtt': [sg, 'GroupId'] }],
      });
    }
    const role = all(t, 'AWS::IAM::Role').find(([id]) => id.startsWith('StaSweeperFunctionRole'))![1];
    const create = inlineStatements(role).find((s) => s.Sid === 'VpcCreateInterfaces');
    expect(create!.Resource).toEqual([
      arn('ec2', ':network-interface/*'),
      arn('ec2', ':subnet/subnet-1'),
      arn('ec2', ':subnet/subnet-2'),
      {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':ec2:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':security-group/',
            { 'Fn::GetAtt': [sg, 'GroupId'] },
          ],
        ],
      },
    ]);
  });

  test('a permissions boundary on every role, tags on every resource that takes them', () => {
    const app = new App();
    const stack = new Stack(app, 'Bounded');
    new EcsSingleTaskAutoscaling(stack, 'Sta', {
      clusterName: 'c',
      serviceName: 's',
      autoScalingGroupNames: ['g'],
      minTaskCount: 1,
      permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(
        stack,
        'B',
        'arn:aws:iam::123456789012:policy/boundary',
      ),
      tags: { team: 'platform' },
      lambdaCode: () => unbuiltLambdaCode(),
    });
    const t = Template.fromStack(stack);
    const roles = all(t, 'AWS::IAM::Role');
    expect(roles.length).toBeGreaterThan(8);
    for (const [id, role] of roles) {
      expect({ id, boundary: role.PermissionsBoundary }).toEqual({
        id,
        boundary: 'arn:aws:iam::123456789012:policy/boundary',
      });
    }
    for (const type of [
      'AWS::Lambda::Function',
      'AWS::IAM::Role',
      'AWS::SQS::Queue',
      'AWS::SNS::Topic',
      'AWS::StepFunctions::StateMachine',
      'AWS::Logs::LogGroup',
    ]) {
      for (const [id, p] of all(t, type)) {
        expect({ id, tags: p.Tags ?? p.TagsEntries }).toEqual({
          id,
          tags: expect.arrayContaining([{ Key: 'team', Value: 'platform' }]) as unknown, // a matcher, `any` to @types/jest
        });
      }
    }
  });

  test("the log groups' removal policy is configurable", () => {
    const { template } = constructTemplate({ logRemovalPolicy: RemovalPolicy.DESTROY });
    for (const g of Object.values(resourcesOfType(template, 'AWS::Logs::LogGroup'))) {
      expect(g.DeletionPolicy).toBe('Delete');
    }
  });

  test('the state machine definition can come from the props', () => {
    const definition =
      '{"StartAt":"Done","States":{"Done":{"Type":"Pass","Comment":"${DrainDeadlineSeconds}","End":true}}}';
    const { template } = constructTemplate({ stateMachineDefinition: definition });
    expect(
      props(Object.values(resourcesOfType(template, 'AWS::StepFunctions::StateMachine'))[0]).DefinitionString,
    ).toBe(definition);
  });
});
