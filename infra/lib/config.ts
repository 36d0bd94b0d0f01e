import * as fs from 'fs';
import * as path from 'path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ConfigReader, textOf } from './config-reader';
import { EcsSingleTaskAutoscalingProps, ManagedCluster } from './props';

/**
 * The app's parameters, read from CDK context (`-c key=value`, `cdk.json`, or a JSON
 * file named by `-c configFile=...`; `-c` wins over the file). See infra/README.md.
 */
export const CONTEXT_KEYS = {
  configFile: 'JSON file with any of these keys (relative to infra/)',
  stackName:
    'CloudFormation stack name (default EcsSingleTaskAutoscaling-<clusterName>; required with several clusters)',
  clusterName: 'ECS cluster name (one cluster; or clusters)',
  serviceName: 'ECS service the task scaler keeps at N+1 (one cluster, one service; or services)',
  autoScalingGroupNames: 'Auto Scaling group names, comma-separated or a JSON array (one cluster)',
  services:
    'JSON array of {serviceName, minTaskCount, maxTaskCount?, nCount?, autoScalingGroupName?} (one cluster, several services)',
  clusters: 'JSON array of {clusterName, autoScalingGroupNames, services} (several clusters)',
  nCount: 'spare instances, for every service that does not say (default 1)',
  minTaskCount: 'minimum desired count (with serviceName)',
  maxTaskCount: 'maximum desired count (with serviceName; default none)',
  drainDeadlineSeconds: 'give up draining after this many seconds (default 3600)',
  deadlineResult: 'CONTINUE or ABANDON on deadline (default CONTINUE)',
  heartbeatTimeoutSeconds: 'lifecycle hook heartbeat timeout, 30-7200 (default 600)',
  hookDefaultResult: 'CONTINUE or ABANDON when the hook times out (default CONTINUE)',
  classicElbNames: 'extra Classic ELB names, comma-separated (default none)',
  targetGroupArns: 'extra target group ARNs, comma-separated (default none)',
  deregistrationScope:
    'account, listed or tagged: which load balancers the drain may deregister from (default account)',
  deregistrationTagKey: 'with tagged: the tag key (default ecs-single-task-autoscaling:drain)',
  deregistrationTagValue: 'with tagged: the tag value (default true)',
  restrictDeregistrationToConfigured: 'same as deregistrationScope=listed (default false)',
  spotInterruptionHandling: 'also drain on Spot interruption warnings; one cluster only (default false)',
  scheduleRateMinutes: 'task scaler period in minutes (default 1)',
  sweepRateMinutes: 'sweeper period in minutes: how often lost lifecycle events are looked for (default 5)',
  lifecycleHookName: 'name of the terminate hook on every group (default unique to the stack)',
  dashboard: 'create the CloudWatch dashboard (default true)',
  logKmsKeyArn: 'KMS key ARN to encrypt the log groups with; its key policy must allow CloudWatch Logs (default none)',
  standaloneTasks: 'wait or stop (default wait)',
  standaloneTaskGraceSeconds: 'with stop: grace before stopping standalone tasks (default 300)',
  nlbDeregistrationSeconds:
    'how long a Network Load Balancer may still route to an instance it deregistered; the drain waits it out (default 300)',
  logRetentionDays: 'log retention in days, one CloudWatch Logs allows (default 30)',
  logRemovalPolicy:
    'retain, destroy or retain-on-update-or-delete: what happens to the log groups (default retain-on-update-or-delete)',
  alarmEmail: 'e-mail address subscribed to the alarm topic (default none)',
  vpcId: 'run the functions in this VPC (with subnetIds; default not in a VPC)',
  subnetIds: "the functions' subnets, comma-separated (with vpcId)",
  securityGroupIds: "the functions' security groups, comma-separated (with vpcId; default one the stack creates)",
  permissionsBoundaryArn: 'a managed policy ARN set as permissions boundary on every role (default none)',
  tags: 'JSON object of tags for the stack and every resource that takes tags (default none)',
  lambdaAssets:
    "'build' (default): the zips from 'make build', required; 'auto': a stand-in where a zip is missing (synth and tests only)",
} as const;

export type ContextKey = keyof typeof CONTEXT_KEYS;

/** The construct's props as the app gives them: objects (key, VPC, boundary) by ID or ARN, imported in the stack. */
export type ConfigConstructProps = Omit<
  EcsSingleTaskAutoscalingProps,
  'lambdaCode' | 'logEncryptionKey' | 'vpc' | 'vpcSubnets' | 'securityGroups' | 'permissionsBoundary' | 'tags'
> & {
  readonly logEncryptionKeyArn?: string;
  readonly network?: { readonly vpcId: string; readonly subnetIds: string[]; readonly securityGroupIds?: string[] };
  readonly permissionsBoundaryArn?: string;
};

export interface AppConfig {
  readonly stackName: string;
  readonly construct: ConfigConstructProps;
  readonly tags?: Record<string, string>;
  readonly alarmEmail?: string;
  readonly lambdaAssets: 'build' | 'auto';
}

const REMOVAL_POLICIES: Record<string, RemovalPolicy> = {
  retain: RemovalPolicy.RETAIN,
  destroy: RemovalPolicy.DESTROY,
  'retain-on-update-or-delete': RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
};

/** Reads the parameters through `get` (usually `app.node.tryGetContext`), failing with every problem at once. */
export function readConfig(get: (key: string) => unknown, baseDir: string = path.resolve(__dirname, '..')): AppConfig {
  const file = configFile(get('configFile'), baseDir);
  const r = new ConfigReader((key) => (get(key) !== undefined ? get(key) : file[key]), CONTEXT_KEYS);
  const seconds = (key: ContextKey) => {
    const v = r.int(key);
    return v === undefined ? undefined : Duration.seconds(v);
  };
  const minutes = (key: ContextKey) => {
    const v = r.int(key);
    return v === undefined ? undefined : Duration.minutes(v);
  };
  const retentionDays = retentionDaysOf(r);
  const lambdaAssets = r.oneOf('lambdaAssets', ['build', 'auto']) ?? 'build';
  const removal = r.oneOf('logRemovalPolicy', Object.keys(REMOVAL_POLICIES));
  const clusters = clustersOf(r);
  const tagKey = r.str('deregistrationTagKey');
  const tagValue = r.str('deregistrationTagValue');

  const construct: ConfigConstructProps = {
    ...clusters,
    nCount: r.int('nCount'),
    drainDeadline: seconds('drainDeadlineSeconds'),
    deadlineResult: r.str('deadlineResult') as ConfigConstructProps['deadlineResult'],
    heartbeatTimeout: seconds('heartbeatTimeoutSeconds'),
    hookDefaultResult: r.str('hookDefaultResult') as ConfigConstructProps['hookDefaultResult'],
    classicLoadBalancerNames: r.list('classicElbNames'),
    targetGroupArns: r.list('targetGroupArns'),
    deregistrationScope: r.oneOf('deregistrationScope', [
      'account',
      'listed',
      'tagged',
    ]) as ConfigConstructProps['deregistrationScope'],
    deregistrationTag:
      tagKey !== undefined || tagValue !== undefined ? { key: tagKey, value: tagValue ?? 'true' } : undefined,
    restrictDeregistrationToConfigured: r.bool('restrictDeregistrationToConfigured'),
    spotInterruptionHandling: r.bool('spotInterruptionHandling'),
    scheduleRate: minutes('scheduleRateMinutes'),
    sweepRate: minutes('sweepRateMinutes'),
    lifecycleHookName: r.str('lifecycleHookName'),
    dashboard: r.bool('dashboard'),
    logEncryptionKeyArn: r.str('logKmsKeyArn'),
    standaloneTasks: r.str('standaloneTasks') as ConfigConstructProps['standaloneTasks'],
    standaloneTaskGrace: seconds('standaloneTaskGraceSeconds'),
    nlbDeregistrationTime: seconds('nlbDeregistrationSeconds'),
    logRetention: retentionDays,
    logRemovalPolicy: removal === undefined ? undefined : REMOVAL_POLICIES[removal],
    network: networkOf(r),
    permissionsBoundaryArn: r.str('permissionsBoundaryArn'),
  };
  const stackName = stackNameOf(r, construct);
  const tags = r.stringMap('tags');
  if (r.errors.length) {
    throw new Error(
      `Missing or invalid parameters:\n- ${r.errors.join('\n- ')}\n` +
        'Pass them as -c key=value or in a JSON file named by -c configFile=<file> (see infra/README.md).',
    );
  }
  return {
    stackName,
    construct,
    tags,
    alarmEmail: r.str('alarmEmail'),
    lambdaAssets: lambdaAssets as 'build' | 'auto',
  };
}

/** The parameters of the JSON file named by `configFile` (none without one); an unknown key fails. */
function configFile(fileName: unknown, baseDir: string): Record<string, unknown> {
  if (fileName === undefined) {
    return {};
  }
  const p = path.resolve(baseDir, textOf(fileName));
  const file = JSON.parse(fs.readFileSync(p, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(file)) {
    if (!(key in CONTEXT_KEYS) || key === 'configFile') {
      throw new Error(`${p}: unknown parameter ${key}; known: ${Object.keys(CONTEXT_KEYS).join(', ')}`);
    }
  }
  return file;
}

/** `logRetentionDays`, one of the periods CloudWatch Logs keeps logs for. */
function retentionDaysOf(r: ConfigReader<ContextKey>): number | undefined {
  const retentionDays = r.int('logRetentionDays');
  if (retentionDays !== undefined && !Object.values(logs.RetentionDays).includes(retentionDays)) {
    r.errors.push(
      `logRetentionDays must be one of ${Object.values(logs.RetentionDays)
        .filter((d) => typeof d === 'number')
        .join(', ')}`,
    );
  }
  return retentionDays;
}

/** The clusters: `clusters`, or one cluster with `serviceName` (and its counts) or `services`. */
function clustersOf(
  r: ConfigReader<ContextKey>,
): Pick<
  EcsSingleTaskAutoscalingProps,
  'clusters' | 'clusterName' | 'serviceName' | 'autoScalingGroupNames' | 'minTaskCount' | 'maxTaskCount'
> {
  const single = [
    'clusterName',
    'serviceName',
    'autoScalingGroupNames',
    'services',
    'minTaskCount',
    'maxTaskCount',
  ] as const;
  const clusters = r.json('clusters');
  if (clusters !== undefined) {
    const given = single.filter((k) => r.raw(k) !== undefined && r.raw(k) !== '');
    if (given.length) {
      r.errors.push(`give either clusters or ${given.join(', ')}, not both`);
    }
    return { clusters: r.clusters('clusters', clusters) };
  }
  const clusterName = r.required('clusterName');
  const services = r.json('services');
  const serviceName = services === undefined ? r.required('serviceName') : undefined;
  const autoScalingGroupNames = r.list('autoScalingGroupNames') ?? [];
  if (autoScalingGroupNames.length === 0) {
    r.errors.push(`autoScalingGroupNames is required (${CONTEXT_KEYS.autoScalingGroupNames})`);
  }
  if (services !== undefined) {
    const given = (['serviceName', 'minTaskCount', 'maxTaskCount'] as const).filter((k) => r.raw(k) !== undefined);
    if (given.length) {
      r.errors.push(`give either services or ${given.join(', ')}, not both`);
    }
    const cluster: ManagedCluster = { clusterName, autoScalingGroupNames, services: r.services('services', services) };
    return { clusters: [cluster] };
  }
  const minTaskCount = r.int('minTaskCount');
  if (r.str('minTaskCount') === undefined) {
    r.errors.push(`minTaskCount is required (${CONTEXT_KEYS.minTaskCount})`);
  }
  return {
    clusterName,
    serviceName,
    autoScalingGroupNames,
    minTaskCount: minTaskCount ?? 0,
    maxTaskCount: r.int('maxTaskCount'),
  };
}

function networkOf(r: ConfigReader<ContextKey>): ConfigConstructProps['network'] {
  const vpcId = r.str('vpcId');
  const subnetIds = r.list('subnetIds');
  const securityGroupIds = r.list('securityGroupIds');
  if (vpcId === undefined) {
    if (subnetIds || securityGroupIds) {
      r.errors.push('subnetIds and securityGroupIds need vpcId');
    }
    return undefined;
  }
  if (!subnetIds?.length) {
    r.errors.push("vpcId needs subnetIds (the functions' subnets, with a route to the AWS APIs)");
  }
  return { vpcId, subnetIds: subnetIds ?? [], securityGroupIds };
}

/**
 * The stack name: given, or derived from the one cluster, so that a second cluster's config
 * makes a second stack instead of retargeting the first. Required with several clusters.
 */
function stackNameOf(r: ConfigReader<ContextKey>, construct: ConfigConstructProps): string {
  const given = r.str('stackName');
  if (given !== undefined) {
    if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(given)) {
      r.errors.push(
        `stackName must start with a letter and hold at most 128 letters, digits and hyphens, got ${JSON.stringify(given)}`,
      );
    }
    return given;
  }
  const clusters =
    construct.clusters?.map((c) => c.clusterName) ?? (construct.clusterName ? [construct.clusterName] : []);
  if (clusters.length > 1) {
    r.errors.push('stackName is required with several clusters (it names the deployment that manages them all)');
    return '';
  }
  return `EcsSingleTaskAutoscaling-${(clusters[0] ?? '').replace(/[^A-Za-z0-9-]/g, '-')}`.slice(0, 128);
}
