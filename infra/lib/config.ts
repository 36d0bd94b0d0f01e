import * as fs from 'fs';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { EcsSingleTaskAutoscalingProps, LifecycleResult, StandaloneTasks } from './ecs-single-task-autoscaling';

/**
 * The app's parameters, read from CDK context (`-c key=value`, `cdk.json`, or a JSON
 * file named by `-c configFile=...`; `-c` wins over the file). See infra/README.md.
 */
export const CONTEXT_KEYS = {
  configFile: 'JSON file with any of these keys (relative to infra/)',
  stackName: 'CloudFormation stack name (default EcsSingleTaskAutoscaling)',
  clusterName: 'ECS cluster name (required)',
  serviceName: 'ECS service name (required)',
  autoScalingGroupNames: 'Auto Scaling group names, comma-separated or a JSON array (required)',
  nCount: 'spare instances (default 1)',
  minTaskCount: 'minimum desired count (required)',
  maxTaskCount: 'maximum desired count (default none)',
  drainDeadlineSeconds: 'give up draining after this many seconds (default 3600)',
  deadlineResult: 'CONTINUE or ABANDON on deadline (default CONTINUE)',
  heartbeatTimeoutSeconds: 'lifecycle hook heartbeat timeout, 30-7200 (default 600)',
  hookDefaultResult: 'CONTINUE or ABANDON when the hook times out (default CONTINUE)',
  classicElbNames: 'extra Classic ELB names, comma-separated (default none)',
  targetGroupArns: 'extra target group ARNs, comma-separated (default none)',
  restrictDeregistrationToConfigured: 'only allow deregistration from the configured ELBs/target groups (default false)',
  spotInterruptionHandling: 'also drain on Spot interruption warnings (default false)',
  scheduleRateMinutes: 'task scaler period in minutes (default 1)',
  sweepRateMinutes: 'sweeper period in minutes: how often lost lifecycle events are looked for (default 5)',
  lifecycleHookName: 'name of the terminate hook on every group (default unique to the stack)',
  dashboard: 'create the CloudWatch dashboard (default true)',
  logKmsKeyArn: 'KMS key ARN to encrypt the log groups with; its key policy must allow CloudWatch Logs (default none)',
  standaloneTasks: 'wait or stop (default wait)',
  standaloneTaskGraceSeconds: 'with stop: grace before stopping standalone tasks (default 300)',
  logRetentionDays: 'log retention in days, one CloudWatch Logs allows (default 30)',
  alarmEmail: 'e-mail address subscribed to the alarm topic (default none)',
  lambdaAssets: "'build' (default): the zips from 'make build', required; 'auto': a stand-in where a zip is missing (synth and tests only)",
} as const;

export type ContextKey = keyof typeof CONTEXT_KEYS;

export interface AppConfig {
  readonly stackName: string;
  /** The construct's props; a KMS key is given by ARN and imported in the stack. */
  readonly construct: Omit<EcsSingleTaskAutoscalingProps, 'lambdaCode' | 'logEncryptionKey'> & { readonly logEncryptionKeyArn?: string };
  readonly alarmEmail?: string;
  readonly lambdaAssets: 'build' | 'auto';
}

/** Reads the parameters through `get` (usually `app.node.tryGetContext`), failing with every problem at once. */
export function readConfig(get: (key: string) => unknown, baseDir: string = path.resolve(__dirname, '..')): AppConfig {
  const fileName = get('configFile');
  let file: Record<string, unknown> = {};
  if (fileName !== undefined) {
    const p = path.resolve(baseDir, String(fileName));
    file = JSON.parse(fs.readFileSync(p, 'utf8'));
    for (const key of Object.keys(file)) {
      if (!(key in CONTEXT_KEYS) || key === 'configFile') {
        throw new Error(`${p}: unknown parameter ${key}; known: ${Object.keys(CONTEXT_KEYS).join(', ')}`);
      }
    }
  }
  const raw = (key: ContextKey): unknown => {
    const v = get(key);
    return v !== undefined ? v : file[key];
  };
  const errors: string[] = [];

  const str = (key: ContextKey): string | undefined => {
    const v = raw(key);
    return v === undefined || v === '' ? undefined : String(v);
  };
  const required = (key: ContextKey): string => {
    const v = str(key);
    if (v === undefined) {
      errors.push(`${key} is required (${CONTEXT_KEYS[key]})`);
      return '';
    }
    return v;
  };
  const int = (key: ContextKey): number | undefined => {
    const v = str(key);
    if (v === undefined) {
      return undefined;
    }
    if (!/^\d+$/.test(v)) {
      errors.push(`${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return Number(v);
  };
  const bool = (key: ContextKey): boolean | undefined => {
    const v = str(key);
    if (v === undefined) {
      return undefined;
    }
    if (v !== 'true' && v !== 'false') {
      errors.push(`${key} must be true or false, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v === 'true';
  };
  const list = (key: ContextKey): string[] | undefined => {
    const v = raw(key);
    if (v === undefined || v === '') {
      return undefined;
    }
    if (Array.isArray(v)) {
      return v.map(String);
    }
    const s = String(v).trim();
    if (s.startsWith('[')) {
      try {
        return (JSON.parse(s) as unknown[]).map(String);
      } catch {
        errors.push(`${key} is not a JSON array: ${s}`);
        return undefined;
      }
    }
    return s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  };
  const seconds = (key: ContextKey) => {
    const v = int(key);
    return v === undefined ? undefined : Duration.seconds(v);
  };

  const clusterName = required('clusterName');
  const serviceName = required('serviceName');
  const autoScalingGroupNames = list('autoScalingGroupNames') ?? [];
  if (autoScalingGroupNames.length === 0) {
    errors.push(`autoScalingGroupNames is required (${CONTEXT_KEYS.autoScalingGroupNames})`);
  }
  const minTaskCount = int('minTaskCount');
  if (str('minTaskCount') === undefined) {
    errors.push(`minTaskCount is required (${CONTEXT_KEYS.minTaskCount})`);
  }
  const rate = int('scheduleRateMinutes');
  const sweepRate = int('sweepRateMinutes');
  const retentionDays = int('logRetentionDays');
  if (retentionDays !== undefined && !Object.values(logs.RetentionDays).includes(retentionDays)) {
    errors.push(`logRetentionDays must be one of ${Object.values(logs.RetentionDays).filter((d) => typeof d === 'number').join(', ')}`);
  }
  const lambdaAssets = str('lambdaAssets') ?? 'build';
  if (lambdaAssets !== 'build' && lambdaAssets !== 'auto') {
    errors.push(`lambdaAssets must be build or auto, got ${JSON.stringify(lambdaAssets)}`);
  }

  const construct: AppConfig['construct'] = {
    clusterName,
    serviceName,
    autoScalingGroupNames,
    nCount: int('nCount'),
    minTaskCount: minTaskCount ?? 0,
    maxTaskCount: int('maxTaskCount'),
    drainDeadline: seconds('drainDeadlineSeconds'),
    deadlineResult: str('deadlineResult') as LifecycleResult | undefined,
    heartbeatTimeout: seconds('heartbeatTimeoutSeconds'),
    hookDefaultResult: str('hookDefaultResult') as LifecycleResult | undefined,
    classicLoadBalancerNames: list('classicElbNames'),
    targetGroupArns: list('targetGroupArns'),
    restrictDeregistrationToConfigured: bool('restrictDeregistrationToConfigured'),
    spotInterruptionHandling: bool('spotInterruptionHandling'),
    scheduleRate: rate === undefined ? undefined : Duration.minutes(rate),
    sweepRate: sweepRate === undefined ? undefined : Duration.minutes(sweepRate),
    lifecycleHookName: str('lifecycleHookName'),
    dashboard: bool('dashboard'),
    logEncryptionKeyArn: str('logKmsKeyArn'),
    standaloneTasks: str('standaloneTasks') as StandaloneTasks | undefined,
    standaloneTaskGrace: seconds('standaloneTaskGraceSeconds'),
    logRetention: retentionDays as logs.RetentionDays | undefined,
  };
  if (errors.length) {
    throw new Error(
      `Missing or invalid parameters:\n- ${errors.join('\n- ')}\n` +
        'Pass them as -c key=value or in a JSON file named by -c configFile=<file> (see infra/README.md).',
    );
  }
  return {
    stackName: str('stackName') ?? 'EcsSingleTaskAutoscaling',
    construct,
    alarmEmail: str('alarmEmail'),
    lambdaAssets: lambdaAssets as 'build' | 'auto',
  };
}
