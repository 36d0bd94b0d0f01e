import { App, CfnParameter, Stack, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EcsSingleTaskAutoscaling, EcsSingleTaskAutoscalingProps } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { BASE_PROPS, exampleApp } from './helpers';

/** Synthesizes with cdk-nag's AWS Solutions pack; CDK throws when any finding is not acknowledged. */
function synthWithNag(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
}

function constructApp(overrides: (stack: Stack) => Partial<EcsSingleTaskAutoscalingProps> = () => ({})): App {
  const app = new App();
  const stack = new Stack(app, 'Test');
  new EcsSingleTaskAutoscaling(stack, 'Sta', {
    ...BASE_PROPS,
    lambdaCode: () => unbuiltLambdaCode(),
    ...overrides(stack),
  });
  return app;
}

/** Every acknowledgement recorded in the tree: construct path, rule and reason. */
function acknowledgements(app: App): { path: string; id: string; reason: string }[] {
  const out: { path: string; id: string; reason: string }[] = [];
  for (const c of app.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          // CDK records an ID without a plugin prefix as `Annotation::<id>`; cdk-nag matches it without the prefix.
          out.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason });
        }
      }
    }
  }
  return out;
}

describe('cdk-nag AwsSolutions', () => {
  test('the example app has no unacknowledged finding', () => {
    expect(() => synthWithNag(exampleApp().app)).not.toThrow();
  });

  test('nor the construct with tokens for names, several groups, restricted load balancers, Spot off', () => {
    const app = constructApp((stack) => ({
      clusterName: new CfnParameter(stack, 'Cluster').valueAsString,
      serviceName: new CfnParameter(stack, 'Service').valueAsString,
      autoScalingGroupNames: [new CfnParameter(stack, 'AsgA').valueAsString, 'asg-b'],
      classicLoadBalancerNames: ['elb-a'],
      targetGroupArns: ['arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web/0123456789abcdef'],
      restrictDeregistrationToConfigured: true,
      spotInterruptionHandling: false,
    }));
    expect(() => synthWithNag(app)).not.toThrow();
  });

  test('is really checking: an unacknowledged finding fails the synth', () => {
    const app = constructApp((stack) => {
      new sqs.Queue(stack, 'Unrelated');
      return {};
    });
    expect(() => synthWithNag(app)).toThrow(/AwsSolutions-SQS3/);
  });

  test('the acknowledgements are exactly these, each with a reason', () => {
    const { app } = exampleApp();
    const acks = acknowledgements(app);
    const byRule = acks
      .map((a) => `${a.path.replace(/^EcsSingleTaskAutoscaling-test-cluster\/EcsSingleTaskAutoscaling\//, '')} ${a.id}`)
      .sort();
    // The log groups' acknowledgement (no customer managed key) is asserted in security.test.ts.
    const logGroupAcks = byRule.filter((r) => r.endsWith('-CloudWatchLogGroupEncrypted'));
    expect(logGroupAcks).toHaveLength(7 * 4);
    expect(byRule.filter((r) => !logGroupAcks.includes(r))).toEqual(
      [
        'DeadLetterQueue AwsSolutions-SQS3',
        'DrainWorkflow/CheckDrainedRole AwsSolutions-IAM5[Resource::*]',
        'DrainWorkflow/CheckDrainedRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/test-cluster-asg]',
        'DrainWorkflow/CheckDrainedRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/test-cluster/*]',
        'DrainWorkflow/CheckDrainedRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/test-cluster/*]',
        'DrainWorkflow/CheckDrainedRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/test-cluster/*]',
        'DrainWorkflow/CheckDrainedRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:loadbalancer/*]',
        'DrainWorkflow/CheckDrainedRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:targetgroup/*]',
        'DrainWorkflow/CompleteLifecycleRole AwsSolutions-IAM5[Resource::*]',
        'DrainWorkflow/CompleteLifecycleRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/test-cluster-asg]',
        'DrainWorkflow/DeregisterLbRole AwsSolutions-IAM5[Resource::*]',
        'DrainWorkflow/DeregisterLbRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/test-cluster-asg]',
        'DrainWorkflow/DeregisterLbRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/test-cluster/*]',
        'DrainWorkflow/DeregisterLbRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/test-cluster/*]',
        'DrainWorkflow/DeregisterLbRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:loadbalancer/*]',
        'DrainWorkflow/DeregisterLbRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:targetgroup/*]',
        'DrainWorkflow/DrainEcsRole AwsSolutions-IAM5[Resource::*]',
        'DrainWorkflow/DrainEcsRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/test-cluster-asg]',
        'DrainWorkflow/DrainEcsRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/test-cluster/*]',
        'DrainWorkflow/DrainEcsRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/test-cluster/*]',
        'DrainWorkflow/DrainStateMachine/Role AwsSolutions-IAM5[Resource::*]',
        'Monitoring/AlarmTopic AwsSolutions-SNS2',
        'Sweeper/FunctionRole AwsSolutions-IAM5[Resource::*]',
        'Sweeper/FunctionRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/test-cluster-asg]',
        'Sweeper/FunctionRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/test-cluster/*]',
        'Sweeper/FunctionRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<EcsSingleTaskAutoscalingDrainWorkflowDrainStateMachine0A4B38F9.Name>:*]',
        'TaskScaler/FunctionRole AwsSolutions-IAM5[Resource::*]',
        'TaskScaler/FunctionRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:container-instance/test-cluster/*]',
        'TaskScaler/FunctionRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/test-cluster/*]',
      ].sort(),
    );
    for (const a of acks) {
      expect(a.reason.length).toBeGreaterThan(80);
    }
  });
});
