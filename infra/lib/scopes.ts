import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ResourceScope } from './permissions';
import { Settings } from './settings';

/** What each scope of `lib/permissions.ts` resolves to, and the conditions that go with it. */
export interface Scopes {
  readonly resources: Readonly<Record<ResourceScope, string[]>>;
  /** The `ecs:cluster` condition's value: the managed cluster's ARN, or every managed cluster's. */
  readonly clusterCondition: string | string[];
  /** With the `tagged` deregistration scope: the tag condition on deregistration. */
  readonly loadBalancerCondition?: Record<string, Record<string, string>>;
}

/** The ARNs the functions' policies are scoped to. The state machine's are added by `withStateMachine`. */
export function resourceScopes(
  stack: Stack,
  settings: Settings,
  classicElbNames: string[],
  targetGroupArns: string[],
): Scopes {
  const ecsArn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'ecs', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  const elbArn = (resource: string, resourceName: string) =>
    stack.formatArn({
      service: 'elasticloadbalancing',
      resource,
      resourceName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  const clusters = settings.clusters;
  const clusterArns = clusters.map((c) => ecsArn('cluster', c.clusterName));
  const listed = settings.deregistrationScope === 'listed';
  const tag = settings.deregistrationTag;
  return {
    resources: {
      cluster: clusterArns,
      clusterContainerInstances: clusters.map((c) => ecsArn('container-instance', `${c.clusterName}/*`)),
      clusterTasks: clusters.map((c) => ecsArn('task', `${c.clusterName}/*`)),
      clusterServices: clusters.map((c) => ecsArn('service', `${c.clusterName}/*`)),
      service: clusters.flatMap((c) => c.services.map((s) => ecsArn('service', `${c.clusterName}/${s.serviceName}`))),
      autoScalingGroups: settings.autoScalingGroupNames.map((name) =>
        stack.formatArn({
          service: 'autoscaling',
          resource: 'autoScalingGroup',
          resourceName: `*:autoScalingGroupName/${name}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ),
      classicLoadBalancers: listed
        ? classicElbNames.map((name) => elbArn('loadbalancer', name))
        : [elbArn('loadbalancer', '*')],
      targetGroups: listed ? targetGroupArns : [elbArn('targetgroup', '*')],
      stateMachine: [],
      stateMachineExecutions: [],
      any: ['*'],
    },
    clusterCondition: clusterArns.length === 1 ? clusterArns[0] : clusterArns,
    loadBalancerCondition:
      settings.deregistrationScope === 'tagged'
        ? { StringEquals: { [`aws:ResourceTag/${tag.key}`]: tag.value } }
        : undefined,
  };
}

/** The scopes with the drain state machine and its executions filled in (for the sweeper). */
export function withStateMachine(scopes: Scopes, stateMachine: sfn.StateMachine): Scopes {
  const stack = Stack.of(stateMachine);
  return {
    ...scopes,
    resources: {
      ...scopes.resources,
      stateMachine: [stateMachine.stateMachineArn],
      stateMachineExecutions: [
        stack.formatArn({
          service: 'states',
          resource: 'execution',
          resourceName: `${stateMachine.stateMachineName}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    },
  };
}
