import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { EcsSingleTaskAutoscaling } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';

/**
 * A cluster whose group is attached through an AsgCapacityProvider made with `capacity`,
 * managed by the construct with a scaled service or drain only; returns the construct's messages.
 */
function messages(
  capacity: Partial<ecs.AsgCapacityProviderProps>,
  scaled = true,
): { errors: string[]; warnings: string[] } {
  const app = new App();
  const stack = new Stack(app, 'Cp');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 1,
    natGateways: 0,
    subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }],
  });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
  const group = (id: string) =>
    new autoscaling.AutoScalingGroup(stack, id, {
      vpc,
      instanceType: new ec2.InstanceType('t4g.small'),
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.ARM),
    });
  const asg = group('Asg');
  const other = group('Other'); // a group of the app the construct does not manage
  cluster.addAsgCapacityProvider(
    new ecs.AsgCapacityProvider(stack, 'Capacity', { autoScalingGroup: asg, ...capacity }),
  );
  cluster.addAsgCapacityProvider(new ecs.AsgCapacityProvider(stack, 'OtherCapacity', { autoScalingGroup: other }));
  const services = scaled ? [{ serviceName: 'web', minTaskCount: 1 }] : [];
  new EcsSingleTaskAutoscaling(stack, 'Drain', {
    clusters: [
      { clusterName: cluster.clusterName, autoScalingGroupNames: [asg.autoScalingGroupName], services },
      {
        clusterName: 'elsewhere',
        autoScalingGroupNames: ['elsewhere-asg'],
        services: scaled ? [] : [{ serviceName: 'api', minTaskCount: 1 }],
      },
    ],
    lambdaCode: () => unbuiltLambdaCode(),
  });
  const a = Annotations.fromStack(stack);
  const text = (m: { entry: { data?: unknown } }) => String(m.entry.data);
  return {
    errors: a.findError('/Cp/Drain', Match.anyValue()).map(text),
    warnings: a.findWarning('/Cp/Drain', Match.anyValue()).map(text),
  };
}

describe('capacity providers on a managed group, found at synth time', () => {
  test('the defaults: managed scaling at 100 % is refused under the task scaler; both other drains are named', () => {
    const { errors, warnings } = messages({ enableManagedTerminationProtection: false });
    expect(errors).toEqual([
      expect.stringMatching(/Cp\/Capacity .*target capacity 100 %.*ratchets down.*minTaskCount/),
    ]);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Cp\/Capacity .*ECS managed draining on/),
        expect.stringMatching(/Cp\/Asg\/DrainECSHook .*InstanceDrainHook/),
      ]),
    );
    expect(warnings).toHaveLength(2);
    // Nothing about the group the construct does not manage.
    expect([...errors, ...warnings].filter((m) => m.includes('OtherCapacity') || m.includes('Cp/Other/'))).toEqual([]);
  });

  test('managed scaling below 100 % is warned about (the two loops have only an unstable meeting point)', () => {
    const { errors, warnings } = messages({
      targetCapacityPercent: 80,
      enableManagedDraining: true,
      enableManagedTerminationProtection: false,
    });
    expect(errors).toEqual([]);
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/target capacity 80 %.*unstable point/),
        expect.stringMatching(/ECS managed draining on/),
      ]),
    );
    expect(warnings).toHaveLength(2);
  });

  test('a drain-only cluster: managed scaling at 100 % is only a warning (no task scaler to ratchet with)', () => {
    const { errors, warnings } = messages({ enableManagedDraining: true }, false);
    expect(errors).toEqual([]);
    expect(warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/target capacity 100 %.*a drained task waits for a new instance/)]),
    );
  });

  test('managed scaling off, managed draining explicitly on: only the managed-draining note', () => {
    const { errors, warnings } = messages({
      enableManagedScaling: false,
      enableManagedTerminationProtection: false,
      enableManagedDraining: true,
    });
    expect(errors).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/ECS managed draining on/)]);
  });

  test('managed scaling and draining off: CDK adds its InstanceDrainHook, which is named', () => {
    const { errors, warnings } = messages({
      enableManagedScaling: false,
      enableManagedTerminationProtection: false,
      enableManagedDraining: false,
    });
    expect(errors).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/InstanceDrainHook.*enableManagedDraining: true/)]);
  });
});
