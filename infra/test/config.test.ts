import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { buildApp } from '../lib/app-stack';
import { readConfig } from '../lib/config';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { EXAMPLE_CONFIG } from './helpers';

const fromContext = (ctx: Record<string, unknown>) => readConfig((k) => ctx[k]);

describe('app parameters (CDK context)', () => {
  test('the example file', () => {
    const c = fromContext({ configFile: EXAMPLE_CONFIG });
    expect(c.stackName).toBe('EcsSingleTaskAutoscaling');
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
      lambdaAssets: 'auto',
    });
    expect(c.construct.clusterName).toBe('prod');
    expect(c.construct.serviceName).toBe('web');
    expect(c.construct.autoScalingGroupNames).toEqual(['asg-a', 'asg-b']);
    expect(c.construct.targetGroupArns).toEqual(['arn:a', 'arn:b']);
    expect(c.construct.minTaskCount).toBe(0);
    expect(c.construct.spotInterruptionHandling).toBe(false);
    expect(c.construct.standaloneTaskGrace).toEqual(Duration.seconds(120));
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

    const app = new App({ context: { configFile: EXAMPLE_CONFIG, dashboard: 'false', logKmsKeyArn: c.construct.logEncryptionKeyArn } });
    const t = Template.fromStack(buildApp(app, () => unbuiltLambdaCode()));
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    for (const g of Object.values(t.findResources('AWS::Logs::LogGroup'))) {
      expect(g.Properties.KmsKeyId).toBe(c.construct.logEncryptionKeyArn);
    }
  });

  test('missing and malformed parameters are all named at once', () => {
    expect(() => fromContext({ nCount: 'two', spotInterruptionHandling: 'yes' })).toThrow(
      /clusterName is required[\s\S]*serviceName is required[\s\S]*autoScalingGroupNames is required[\s\S]*minTaskCount is required[\s\S]*/,
    );
    expect(() => fromContext({ nCount: 'two' })).toThrow(/nCount must be a non-negative integer, got "two"/);
    expect(() => fromContext({ spotInterruptionHandling: 'yes' })).toThrow(/spotInterruptionHandling must be true or false/);
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
    const assetsMissing = !fs.existsSync(path.resolve(__dirname, '..', '..', 'target', 'lambda', 'drain-ecs', 'bootstrap.zip'));
    if (assetsMissing) {
      expect(() => buildApp(app)).toThrow(/bootstrap\.zip is missing: build the Lambdas first with 'make build'/);
    } else {
      expect(() => buildApp(app)).not.toThrow();
    }
  });

  test("with lambdaAssets=auto, a missing build is replaced by the stand-in and reported", () => {
    const app = new App({ context: { configFile: EXAMPLE_CONFIG, lambdaAssets: 'auto' } });
    expect(() => buildApp(app)).not.toThrow();
  });
});
