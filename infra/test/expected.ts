/** What the construct tests expect, written out by hand (not derived from lib/): ARNs, and each role's statements in a canonical form. */
import { Template } from 'aws-cdk-lib/assertions';
import { LambdaName } from '../lib/permissions';
import { actionList, inlineStatements, PolicyStatement, props, resourcesOfType } from './cfn';
import { resourceById } from './helpers';
export const arn = (service: string, rest: string) => ({
  'Fn::Join': [
    '',
    ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, rest],
  ],
});
export const CLUSTER = arn('ecs', ':cluster/test-cluster');
export const CLUSTER_INSTANCES = arn('ecs', ':container-instance/test-cluster/*');
export const CLUSTER_TASKS = arn('ecs', ':task/test-cluster/*');
export const CLUSTER_SERVICES = arn('ecs', ':service/test-cluster/*');
export const SERVICE = arn('ecs', ':service/test-cluster/web');
export const ASG = (name: string) => arn('autoscaling', `:autoScalingGroup:*:autoScalingGroupName/${name}`);
export const ALL_CLASSIC_ELBS = arn('elasticloadbalancing', ':loadbalancer/*');
export const ALL_TARGET_GROUPS = arn('elasticloadbalancing', ':targetgroup/*');
export const IN_CLUSTER = { ArnEquals: { 'ecs:cluster': CLUSTER } };

export interface Stmt {
  actions: string[];
  resources: unknown[];
  condition?: unknown;
}

/** Statements in a canonical form: actions sorted, one entry per statement, statements sorted. */
export function canonical(statements: PolicyStatement[]): Stmt[] {
  return statements
    .map((s) => {
      expect(s.Effect).toBe('Allow');
      const actions = actionList(s).sort();
      const resources = ([] as unknown[]).concat(s.Resource);
      return s.Condition ? { actions, resources, condition: s.Condition } : { actions, resources };
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

export const FUNCTION_IDS: Record<LambdaName, string> = {
  'drain-ecs': 'StaDrainWorkflowDrainEcs',
  'deregister-lb': 'StaDrainWorkflowDeregisterLb',
  'check-drained': 'StaDrainWorkflowCheckDrained',
  'complete-lifecycle': 'StaDrainWorkflowCompleteLifecycle',
  'task-scaler': 'StaTaskScalerFunction',
  sweeper: 'StaSweeperFunction',
};

/** The Lambda function whose logical ID starts with `prefix`, the first of several. */
export function functionByPrefix(template: Template, prefix: string): Record<string, unknown> {
  return props(
    Object.entries(resourcesOfType(template, 'AWS::Lambda::Function')).find(([id]) => id.startsWith(prefix))![1],
  );
}

export function rolePolicy(template: Template, name: LambdaName): { statements: Stmt[]; logGroupId: string } {
  const role = resourceById(template, 'AWS::IAM::Role', `${FUNCTION_IDS[name]}Role`);
  expect(role.props.ManagedPolicyArns).toBeUndefined();
  expect(role.props.Policies).toHaveLength(1);
  const logGroupId = resourceById(template, 'AWS::Logs::LogGroup', `${FUNCTION_IDS[name]}Logs`).id;
  return { statements: canonical(inlineStatements(role.props)), logGroupId };
}

export function expectPolicy(template: Template, name: LambdaName, calls: Stmt[]) {
  const { statements, logGroupId } = rolePolicy(template, name);
  const logs: Stmt = {
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    resources: [{ 'Fn::GetAtt': [logGroupId, 'Arn'] }],
  };
  expect(statements).toEqual(
    canonical(
      [logs, ...calls].map((s) => ({
        Effect: 'Allow',
        Action: s.actions,
        Resource: s.resources,
        Condition: s.condition,
      })),
    ),
  );
}
