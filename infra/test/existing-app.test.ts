import { App, Annotations as CoreAnnotations, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { EcsSingleTaskAutoscaling } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { dig, props, resourcesOfType } from './cfn';

test('drops into a CDK app that defines the cluster, service and Auto Scaling group itself', () => {
  const app = new App();
  const stack = new Stack(app, 'Existing');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
  const asg = new autoscaling.AutoScalingGroup(stack, 'Asg', {
    vpc,
    instanceType: new ec2.InstanceType('t4g.small'),
    machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.ARM),
    minCapacity: 2,
    maxCapacity: 4,
  });
  // The group's size is the user's; the task scaler follows it (see "Capacity providers" in the README).
  const capacity = new ecs.AsgCapacityProvider(stack, 'Capacity', {
    autoScalingGroup: asg,
    enableManagedScaling: false,
    enableManagedTerminationProtection: false,
    // Explicitly on: CDK then adds no InstanceDrainHook of its own.
    enableManagedDraining: true,
  });
  cluster.addAsgCapacityProvider(capacity);
  const taskDefinition = new ecs.Ec2TaskDefinition(stack, 'Task', { networkMode: ecs.NetworkMode.HOST });
  taskDefinition.addContainer('web', {
    image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:stable'),
    memoryLimitMiB: 256,
  });
  const service = new ecs.Ec2Service(stack, 'Service', { cluster, taskDefinition, desiredCount: 1 });

  const sta = new EcsSingleTaskAutoscaling(stack, 'Drain', {
    clusterName: cluster.clusterName,
    serviceName: service.serviceName,
    autoScalingGroupNames: [asg.autoScalingGroupName],
    minTaskCount: 1,
    lambdaCode: () => unbuiltLambdaCode(),
  });
  // ECS managed draining stays on (the default): both drains run, which is said once and acknowledged here.
  CoreAnnotations.of(sta).acknowledgeWarning(
    'ecs-single-task-autoscaling:managed-draining',
    'ECS drains too; both hooks complete',
  );

  const t = Template.fromStack(stack);
  const asgId = stack.getLogicalId(asg.node.defaultChild as autoscaling.CfnAutoScalingGroup);
  const clusterId = stack.getLogicalId(cluster.node.defaultChild as ecs.CfnCluster);
  t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
    AutoScalingGroupName: { Ref: asgId },
    NotificationMetadata: { 'Fn::Join': ['', ['{"cluster":"', { Ref: clusterId }, '"}']] },
  });
  t.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { detail: { AutoScalingGroupName: [{ Ref: asgId }] } },
  });
  const schedule = props(
    Object.values(resourcesOfType(t, 'AWS::Scheduler::Schedule')).find(
      (s) => dig(props(s), 'Target', 'Input') !== '{}',
    )!,
  );
  expect(JSON.stringify(dig(schedule, 'Target', 'Input'))).toContain(clusterId);
  expect(sta.functions['task-scaler']).toBeDefined();
  const annotations = Annotations.fromStack(stack);
  expect(annotations.findError('*', Match.anyValue())).toEqual([]);
  expect(annotations.findWarning('/Existing/Drain', Match.anyValue())).toEqual([]);
});
