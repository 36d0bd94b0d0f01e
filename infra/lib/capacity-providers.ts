import { Annotations, Aspects, IAspect, Stack, Token } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct, IConstruct } from 'constructs';
import { Settings } from './settings';

const README = 'see "Capacity providers" in infra/README.md';

/** The fields read from a capacity provider's resolved `AutoScalingGroupProvider` (values may still be tokens). */
interface ResolvedAsgProvider {
  readonly managedDraining?: string;
  readonly managedScaling?: { readonly status?: string; readonly targetCapacity?: number };
}

/**
 * Looks, at synth time, for what else in the app drains or scales the managed groups: an ECS
 * capacity provider (`AsgCapacityProvider`) with managed draining or with managed scaling at a
 * target capacity of 100 %, and CDK's `InstanceDrainHook`. Reported on `construct`: a warning,
 * or an error where the two cannot work together (managed scaling at 100 % under the N+1 scaler).
 */
export function checkCapacityProviders(construct: Construct, settings: Settings): void {
  Aspects.of(construct.node.root).add(new CapacityProviderCheck(construct, settings));
}

class CapacityProviderCheck implements IAspect {
  /** Managed group name (resolved token string) to whether its cluster has a scaled service. */
  private readonly groups = new Map<string, boolean>();

  constructor(
    private readonly construct: Construct,
    settings: Settings,
  ) {
    for (const cluster of settings.clusters) {
      for (const name of cluster.autoScalingGroupNames) {
        this.groups.set(name, cluster.services.length > 0);
      }
    }
  }

  public visit(node: IConstruct): void {
    if (node instanceof ecs.AsgCapacityProvider) {
      this.checkProvider(node);
    } else if (
      node.constructor.name === 'InstanceDrainHook' &&
      node.node.scope instanceof autoscaling.AutoScalingGroup
    ) {
      if (this.groups.has(node.node.scope.autoScalingGroupName)) {
        Annotations.of(this.construct).addWarningV2(
          'ecs-single-task-autoscaling:instance-drain-hook',
          `${node.node.path} (CDK's InstanceDrainHook) also drains the instances of a managed group through its own terminate ` +
            'hook and Lambda: each instance then waits for both drains. CDK adds it to an AsgCapacityProvider whose ' +
            'enableManagedDraining and enableManagedTerminationProtection are both unset or false: set enableManagedDraining: true ' +
            `explicitly (ECS's own draining, which this drain works beside) to leave it out; ${README}.`,
        );
      }
    }
  }

  private checkProvider(provider: ecs.AsgCapacityProvider): void {
    const groupName = provider.autoScalingGroup.autoScalingGroupName;
    if (!this.groups.has(groupName)) {
      return;
    }
    const scaled = this.groups.get(groupName)!;
    const cfn = provider.node.children.find((c): c is ecs.CfnCapacityProvider => c instanceof ecs.CfnCapacityProvider);
    const resolved: unknown = cfn && Stack.of(provider).resolve(cfn.autoScalingGroupProvider);
    const asgProvider = (resolved ?? {}) as ResolvedAsgProvider;
    const path = provider.node.path;
    if (asgProvider.managedDraining !== 'DISABLED') {
      Annotations.of(this.construct).addWarningV2(
        'ecs-single-task-autoscaling:managed-draining',
        `${path} (AsgCapacityProvider) has ECS managed draining on (the default): ECS drains the same instances through its ` +
          'own terminate hook, and each instance waits for both drains (ECS completes its hook when the tasks are gone; this ' +
          'one also deregisters load balancers and holds its hook up to drainDeadline). That works; acknowledge this warning ' +
          `to keep both, or turn managed draining off; ${README}.`,
      );
    }
    const scaling = asgProvider.managedScaling;
    if (scaling?.status !== 'ENABLED') {
      return;
    }
    const target = scaling.targetCapacity ?? 100;
    const full = !Token.isUnresolved(target) && target >= 100;
    const why = full
      ? `${path} (AsgCapacityProvider) has managed scaling at target capacity 100 %: it keeps no spare instance, which N+1 needs`
      : `${path} (AsgCapacityProvider) has managed scaling at target capacity ${target} %: it sizes the group from the tasks ` +
        'while the task scaler sizes the tasks from the group, and the two meet only at nCount / (1 - target) instances, ' +
        'an unstable point: above it the group grows to its maximum, below it shrinks to its minimum';
    const fix = `Set enableManagedScaling: false (and enableManagedTerminationProtection: false) and size the group yourself; ${README}.`;
    if (full && scaled) {
      Annotations.of(this.construct).addError(
        `${why}. With the task scaler it ratchets down: the scaler lowers the desired count to usable instances - nCount, ` +
          `managed scaling removes the instance that is now empty, and so on down to minTaskCount. ${fix}`,
      );
    } else if (scaled) {
      Annotations.of(this.construct).addWarningV2('ecs-single-task-autoscaling:managed-scaling', `${why}. ${fix}`);
    } else if (full) {
      Annotations.of(this.construct).addWarningV2(
        'ecs-single-task-autoscaling:managed-scaling',
        `${why}: a drained task waits for a new instance. ${fix}`,
      );
    }
  }
}
