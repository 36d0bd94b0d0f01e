import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { buildApp } from '../lib/app-stack';
import { readConfig } from '../lib/config';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { props, resourcesOfType } from './cfn';
import { EXAMPLE_CONFIG } from './helpers';

const fromContext = (ctx: Record<string, unknown>) => readConfig((k) => ctx[k]);

describe('app parameters (CDK context)', () => {
  test('the example file', () => {
    const c = fromContext({ configFile: EXAMPLE_CONFIG });
    // Derived from the cluster: another cluster's config makes another stack.
    expect(c.stackName).toBe('EcsSingleTaskAutoscaling-test-cluster');
    expect(c.lambdaAssets).toBe('build');
    expect(c.construct).toMatchObject({
      clusterName: 'test-cluster',
      serviceName: 'web',
      autoScalingGroupNames: ['test-cluster-asg'],
      nCount: 1,
      minTaskCount: 2,
      maxTaskCount: 10,
      deadlineResult: 'CONTINUE',
      classicLoadBalancerNames: ['test-cluster-elb'],
      spotInterruptionHandling: true,
    });
    expect(c.construct.drainDeadline!.toSeconds()).toBe(3600);
    expect(c.construct.heartbeatTimeout!.toSeconds()).toBe(600);
    expect(c.construct.scheduleRate!.toMinutes()).toBe(1);
  });

  test('-c strings: comma lists, JSON arrays, numbers, booleans; -c wins over the file', () => {
    const c = fromContext({
      configFile: EXAMPLE_CONFIG,
      clusterName: 'prod',
      autoScalingGroupNames: 'asg-a, asg-b',
      targetGroupArns: '["arn:a","arn:b"]',
      minTaskCount: '0',
      spotInterruptionHandling: 'false',
      standaloneTaskGraceSeconds: '120',
      nlbDeregistrationSeconds: '180',
      lambdaAssets: 'auto',
    });
    expect(c.construct.clusterName).toBe('prod');
    expect(c.construct.serviceName).toBe('web');
    expect(c.construct.autoScalingGroupNames).toEqual(['asg-a', 'asg-b']);
    expect(c.construct.targetGroupArns).toEqual(['arn:a', 'arn:b']);
    expect(c.construct.minTaskCount).toBe(0);
    expect(c.construct.spotInterruptionHandling).toBe(false);
    expect(c.construct.standaloneTaskGrace).toEqual(Duration.seconds(120));
    expect(c.construct.nlbDeregistrationTime).toEqual(Duration.seconds(180));
    expect(c.lambdaAssets).toBe('auto');
  });

  test('sweeper, hook name, dashboard and log key parameters', () => {
    const c = fromContext({
      configFile: EXAMPLE_CONFIG,
      sweepRateMinutes: '3',
      lifecycleHookName: 'prod-drain',
      dashboard: 'false',
      logKmsKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/11111111-2222-3333-4444-555555555555',
    });
    expect(c.construct.sweepRate!.toMinutes()).toBe(3);
    expect(c.construct.lifecycleHookName).toBe('prod-drain');
    expect(c.construct.dashboard).toBe(false);
    expect(c.construct.logEncryptionKeyArn).toMatch(/:key\//);
    const defaults = fromContext({ configFile: EXAMPLE_CONFIG });
    expect(defaults.construct.sweepRate).toBeUndefined();
    expect(defaults.construct.dashboard).toBeUndefined();
    expect(() => fromContext({ sweepRateMinutes: 'often' })).toThrow(/sweepRateMinutes must be a non-negative integer/);

    const app = new App({
      context: { configFile: EXAMPLE_CONFIG, dashboard: 'false', logKmsKeyArn: c.construct.logEncryptionKeyArn },
    });
    const t = Template.fromStack(buildApp(app, () => unbuiltLambdaCode()));
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    for (const g of Object.values(resourcesOfType(t, 'AWS::Logs::LogGroup'))) {
      expect(props(g).KmsKeyId).toBe(c.construct.logEncryptionKeyArn);
    }
  });

  test('missing and malformed parameters are all named at once', () => {
    expect(() => fromContext({ nCount: 'two', spotInterruptionHandling: 'yes' })).toThrow(
      /clusterName is required[\s\S]*serviceName is required[\s\S]*autoScalingGroupNames is required[\s\S]*minTaskCount is required[\s\S]*/,
    );
    expect(() => fromContext({ nCount: 'two' })).toThrow(/nCount must be a non-negative integer, got "two"/);
    expect(() => fromContext({ spotInterruptionHandling: 'yes' })).toThrow(
      /spotInterruptionHandling must be true or false/,
    );
    expect(() => fromContext({ logRetentionDays: '31' })).toThrow(/logRetentionDays must be one of/);
    expect(() => fromContext({ lambdaAssets: 'none' })).toThrow(/lambdaAssets must be build or auto/);
  });

  test('an unknown key in the file is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sta-config-'));
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ clusterName: 'c', clustername: 'typo' }));
    expect(() => fromContext({ configFile: file })).toThrow(/unknown parameter clustername/);
  });

  test('without the Rust build, the default (deploy) mode refuses to synthesize and names make build', () => {
    const app = new App({ context: { configFile: EXAMPLE_CONFIG } });
    const assetsMissing = !fs.existsSync(
      path.resolve(__dirname, '..', '..', 'target', 'lambda', 'drain-ecs', 'bootstrap.zip'),
    );
    if (assetsMissing) {
      expect(() => buildApp(app)).toThrow(/bootstrap\.zip is missing: build the Lambdas first with 'make build'/);
    } else {
      expect(() => buildApp(app)).not.toThrow();
    }
  });

  test('with lambdaAssets=auto, a missing build is replaced by the stand-in and reported', () => {
    const app = new App({ context: { configFile: EXAMPLE_CONFIG, lambdaAssets: 'auto' } });
    expect(() => buildApp(app)).not.toThrow();
  });
});

describe('app parameters for several clusters and services, and deployment options', () => {
  const clusters = [
    {
      clusterName: 'blue',
      autoScalingGroupNames: ['blue-a'],
      services: [{ serviceName: 'web', minTaskCount: 2, maxTaskCount: 6 }],
    },
    { clusterName: 'green', autoScalingGroupNames: ['green-a', 'green-b'], services: [] },
  ];

  test('clusters (a JSON array in the file or as -c) need a stackName', () => {
    const c = fromContext({ clusters: JSON.stringify(clusters), stackName: 'drain-all' });
    expect(c.stackName).toBe('drain-all');
    expect(c.construct.clusters).toEqual([
      {
        clusterName: 'blue',
        autoScalingGroupNames: ['blue-a'],
        services: [
          { serviceName: 'web', minTaskCount: 2, maxTaskCount: 6, nCount: undefined, autoScalingGroupName: undefined },
        ],
      },
      { clusterName: 'green', autoScalingGroupNames: ['green-a', 'green-b'], services: [] },
    ]);
    expect(() => fromContext({ clusters })).toThrow(/stackName is required with several clusters/);
    expect(() => fromContext({ clusters, stackName: 's', clusterName: 'x' })).toThrow(/either clusters or clusterName/);
    expect(() =>
      fromContext({
        clusters: [{ clusterName: 'x', autoScalingGroupNames: [], services: [{ minTaskCount: 'a', typo: 1 }] }],
        stackName: 's',
      }),
    ).toThrow(
      /clusters\[0\]\.autoScalingGroupNames must be a non-empty array[\s\S]*clusters\[0\]\.services\[0\]: unknown field typo[\s\S]*minTaskCount must be a non-negative integer/,
    );
  });

  test('one cluster, several services; the stack name follows the cluster', () => {
    const c = fromContext({
      clusterName: 'prod_eu',
      autoScalingGroupNames: 'a',
      services: '[{"serviceName":"web","minTaskCount":1},{"serviceName":"api","minTaskCount":0,"nCount":2}]',
    });
    expect(c.stackName).toBe('EcsSingleTaskAutoscaling-prod-eu');
    expect(c.construct.clusters![0].services!.map((s) => [s.serviceName, s.minTaskCount, s.nCount])).toEqual([
      ['web', 1, undefined],
      ['api', 0, 2],
    ]);
    expect(() =>
      fromContext({ clusterName: 'c', autoScalingGroupNames: 'a', services: '[]', serviceName: 'web' }),
    ).toThrow(/either services or serviceName/);
  });

  test('log removal policy, VPC, permissions boundary, tags, deregistration scope', () => {
    const c = fromContext({
      configFile: EXAMPLE_CONFIG,
      logRemovalPolicy: 'destroy',
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: 'subnet-1,subnet-2',
      securityGroupIds: 'sg-1',
      permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/boundary',
      tags: '{"team":"platform"}',
      deregistrationScope: 'tagged',
      deregistrationTagValue: 'prod',
    });
    expect(c.construct.logRemovalPolicy).toBe('destroy');
    expect(c.construct.network).toEqual({
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: ['subnet-1', 'subnet-2'],
      securityGroupIds: ['sg-1'],
    });
    expect(c.construct.deregistrationTag).toEqual({ key: undefined, value: 'prod' });
    expect(c.tags).toEqual({ team: 'platform' });
    const t = Template.fromStack(
      buildApp(
        new App({
          context: {
            configFile: EXAMPLE_CONFIG,
            subnetIds: 'subnet-0123456789abcdef0',
            vpcId: 'vpc-0123456789abcdef0',
            securityGroupIds: 'sg-0123456789abcdef0',
            permissionsBoundaryArn: c.construct.permissionsBoundaryArn,
            tags: '{"team":"platform"}',
          },
        }),
        () => unbuiltLambdaCode(),
      ),
    );
    for (const fn of Object.values(resourcesOfType(t, 'AWS::Lambda::Function'))) {
      expect(props(fn).VpcConfig).toEqual({
        SubnetIds: ['subnet-0123456789abcdef0'],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      });
      expect(props(fn).Tags).toContainEqual({ Key: 'team', Value: 'platform' });
    }
    for (const role of Object.values(resourcesOfType(t, 'AWS::IAM::Role'))) {
      expect(props(role).PermissionsBoundary).toBe(c.construct.permissionsBoundaryArn);
    }
    expect(() => fromContext({ configFile: EXAMPLE_CONFIG, logRemovalPolicy: 'keep' })).toThrow(
      /logRemovalPolicy must be retain, destroy or retain-on-update-or-delete/,
    );
    expect(() => fromContext({ configFile: EXAMPLE_CONFIG, subnetIds: 'subnet-1' })).toThrow(
      /subnetIds and securityGroupIds need vpcId/,
    );
    expect(() => fromContext({ configFile: EXAMPLE_CONFIG, tags: '["a"]' })).toThrow(
      /tags must be a JSON object of strings/,
    );
  });
});
