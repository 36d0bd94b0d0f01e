import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';
import { acknowledge, flattenForNag } from './nag';
import { LambdaName, PERMISSIONS, ResourceScope } from './permissions';
import { Scopes } from './scopes';

/** Where the functions run when they are in a VPC. */
export interface Network {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** What every function of the construct shares. */
export interface FunctionDeps {
  readonly code: (name: LambdaName) => lambda.Code;
  readonly logGroup: (scope: Construct, id: string, name?: string) => logs.LogGroup;
  readonly network?: Network;
}

export interface RustFunctionSpec {
  readonly name: LambdaName;
  readonly description: string;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  readonly scopes: Scopes;
}

/**
 * One Rust function (`provided.al2023`, arm64, JSON logs) with its own log group (`<id>Logs`)
 * and its own role (`<id>Role`), whose only policy is built from `lib/permissions.ts`.
 */
export function rustFunction(
  scope: Construct,
  id: string,
  deps: FunctionDeps,
  spec: RustFunctionSpec,
): lambda.Function {
  const logGroup = deps.logGroup(scope, `${id}Logs`);
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `The ${spec.name} Lambda: only the calls it makes.`,
    inlinePolicies: { Calls: policyFor(spec.name, spec.scopes, logGroup, deps.network) },
  });
  acknowledgeWildcards(role, spec.name, spec.scopes, deps.network);
  return new lambda.Function(scope, id, {
    description: spec.description,
    runtime: lambda.Runtime.PROVIDED_AL2023,
    architecture: lambda.Architecture.ARM_64,
    handler: 'bootstrap',
    code: deps.code(spec.name),
    role,
    memorySize: 128,
    timeout: spec.timeout,
    environment: Object.keys(spec.environment).length ? spec.environment : undefined,
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
    systemLogLevelV2: lambda.SystemLogLevel.WARN,
    logGroup,
    vpc: deps.network?.vpc,
    vpcSubnets: deps.network?.vpcSubnets,
    securityGroups: deps.network?.securityGroups,
  });
}

/** The function's inline policy: its log group, its network interfaces in a VPC, then every call from PERMISSIONS. */
function policyFor(name: LambdaName, scopes: Scopes, logGroup: logs.LogGroup, network?: Network): iam.PolicyDocument {
  const statements = [
    new iam.PolicyStatement({
      sid: 'Logs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
    ...(network ? vpcStatements(Stack.of(logGroup), network) : []),
  ];
  // One statement per (scope, condition), actions sorted: stable and easy to review.
  const groups = new Map<string, { scope: ResourceScope; condition: boolean; actions: string[] }>();
  for (const p of PERMISSIONS[name]) {
    const key = `${p.scope}/${p.clusterCondition ? 'c' : ''}`;
    const group = groups.get(key) ?? { scope: p.scope, condition: !!p.clusterCondition, actions: [] };
    group.actions.push(p.action);
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    const resources = scopes.resources[group.scope];
    const loadBalancers = group.scope === 'classicLoadBalancers' || group.scope === 'targetGroups';
    if (resources.length === 0) {
      if (loadBalancers) {
        continue; // restricted to configured load balancers, and none configured
      }
      throw new Error(`${name}: the ${group.scope} scope is not known yet where its role is made`);
    }
    const conditions = group.condition
      ? { ArnEquals: { 'ecs:cluster': scopes.clusterCondition } }
      : loadBalancers
        ? scopes.loadBalancerCondition
        : undefined;
    statements.push(new iam.PolicyStatement({ actions: [...new Set(group.actions)].sort(), resources, conditions }));
  }
  return new iam.PolicyDocument({ statements });
}

/** What Lambda needs to attach a function to the VPC: network interfaces in exactly its subnets and security groups. */
function vpcStatements(stack: Stack, network: Network): iam.PolicyStatement[] {
  const ec2Arn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'ec2', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  const interfaces = ec2Arn('network-interface', '*');
  const subnets = network.vpc.selectSubnets(network.vpcSubnets).subnetIds.map((id) => ec2Arn('subnet', id));
  const groups = network.securityGroups.map((g) => ec2Arn('security-group', g.securityGroupId));
  return [
    new iam.PolicyStatement({
      sid: 'VpcCreateInterfaces',
      actions: ['ec2:CreateNetworkInterface'],
      resources: [interfaces, ...subnets, ...groups],
    }),
    new iam.PolicyStatement({
      sid: 'VpcManageInterfaces',
      actions: ['ec2:AssignPrivateIpAddresses', 'ec2:DeleteNetworkInterface', 'ec2:UnassignPrivateIpAddresses'],
      resources: [interfaces],
    }),
    new iam.PolicyStatement({
      sid: 'VpcDescribe',
      actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
      resources: ['*'],
    }),
  ];
}

const VPC_WHY: Record<string, string> = {
  '*': 'ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets (Lambda attaching the function to its VPC) have no resource-level permissions.',
  'network-interface':
    "Lambda creates the function's network interfaces in its VPC; their IDs are assigned when they are created, so the ARN is network-interface/*.",
};

/** Acknowledges each wildcard resource of a function's policy with the reason PERMISSIONS gives for it. */
function acknowledgeWildcards(role: IConstruct, name: LambdaName, scopes: Scopes, network?: Network): void {
  const stack = Stack.of(role);
  const reasons = new Map<string, Set<string>>();
  const add = (flat: string, why: string) => reasons.set(flat, (reasons.get(flat) ?? new Set()).add(why));
  for (const p of PERMISSIONS[name]) {
    for (const resource of scopes.resources[p.scope]) {
      const flat = flattenForNag(stack.resolve(resource));
      if (!flat.includes('*')) {
        continue;
      }
      if (!p.why) {
        throw new Error(`permissions.ts: ${name} ${p.action} has a wildcard resource but no reason`);
      }
      add(flat, `${p.action}: ${p.why}`);
    }
  }
  if (network) {
    add('*', VPC_WHY['*']);
    add(
      flattenForNag(
        stack.resolve(stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' })),
      ),
      VPC_WHY['network-interface'],
    );
  }
  for (const [flat, why] of reasons) {
    acknowledge(role, `AwsSolutions-IAM5[Resource::${flat}]`, [...why].join(' '));
  }
}
