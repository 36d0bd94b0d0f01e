import { Duration, Token } from 'aws-cdk-lib';
import { DEFAULT_DEREGISTRATION_TAG_KEY, MAX_LIFECYCLE_WAIT_SECONDS } from './constants';
import {
  DeregistrationScope,
  EcsSingleTaskAutoscalingProps,
  LifecycleResult,
  ManagedCluster,
  StandaloneTasks,
} from './props';

/** A scaled service with every default applied. */
export interface ServiceSettings {
  readonly serviceName: string;
  readonly minTaskCount: number;
  readonly maxTaskCount?: number;
  readonly nCount: number;
  /** The scaler's `asg_name`; `undefined` or `''` for none. */
  readonly autoScalingGroupName?: string;
}

/** A managed cluster with every default applied. */
export interface ClusterSettings {
  readonly clusterName: string;
  readonly autoScalingGroupNames: string[];
  readonly services: ServiceSettings[];
}

/** The props, checked and with every default applied. */
export interface Settings {
  readonly clusters: ClusterSettings[];
  /** Every managed group, cluster after cluster. */
  readonly autoScalingGroupNames: string[];
  readonly drainDeadlineSeconds: number;
  readonly deadlineResult: LifecycleResult;
  readonly heartbeatTimeoutSeconds: number;
  readonly hookDefaultResult: LifecycleResult;
  readonly standaloneTasks: StandaloneTasks;
  readonly standaloneTaskGraceSeconds: number;
  readonly nlbDeregistrationSeconds: number;
  readonly scheduleRateMinutes: number;
  readonly sweepRateMinutes: number;
  readonly deregistrationScope: DeregistrationScope;
  readonly deregistrationTag: { readonly key: string; readonly value: string };
}

const known = (v: unknown): boolean => v !== undefined && !Token.isUnresolved(v);

/** The task scaler's constant input for one service, in the predecessor's format (new keys optional). */
export function scalerInput(cluster: ClusterSettings, service: ServiceSettings): Record<string, unknown> {
  return {
    cluster_name: cluster.clusterName,
    service_name: service.serviceName,
    min_task_count: service.minTaskCount,
    n_count: service.nCount,
    ...(service.maxTaskCount !== undefined ? { max_task_count: service.maxTaskCount } : {}),
    ...(service.autoScalingGroupName ? { asg_name: service.autoScalingGroupName } : {}),
  };
}

/** The clusters the props name: `clusters`, or the one cluster of the single-cluster props. */
function clustersOf(
  props: EcsSingleTaskAutoscalingProps,
  errors: string[],
): { where: string; cluster: ManagedCluster }[] {
  const single = {
    clusterName: props.clusterName,
    serviceName: props.serviceName,
    autoScalingGroupNames: props.autoScalingGroupNames,
  };
  const singleKeys = [
    ...Object.entries(single),
    ['minTaskCount', props.minTaskCount],
    ['maxTaskCount', props.maxTaskCount],
  ]
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  if (props.clusters !== undefined) {
    if (singleKeys.length > 0) {
      errors.push(`give either clusters or ${singleKeys.join(', ')}, not both`);
    }
    if (props.clusters.length === 0) {
      errors.push('clusters must name at least one cluster');
    }
    return props.clusters.map((cluster, i) => ({ where: `clusters[${i}].`, cluster }));
  }
  if (props.clusterName === undefined) {
    errors.push('clusterName (with autoScalingGroupNames) or clusters is required');
    return [];
  }
  if ((props.serviceName === undefined) !== (props.minTaskCount === undefined)) {
    errors.push('serviceName and minTaskCount go together: give both for the task scaler, or neither (drain only)');
  }
  if (props.serviceName === undefined && props.maxTaskCount !== undefined) {
    errors.push('maxTaskCount needs serviceName');
  }
  const services =
    props.serviceName !== undefined
      ? [{ serviceName: props.serviceName, minTaskCount: props.minTaskCount ?? 0, maxTaskCount: props.maxTaskCount }]
      : [];
  return [
    {
      where: '',
      cluster: { clusterName: props.clusterName, autoScalingGroupNames: props.autoScalingGroupNames ?? [], services },
    },
  ];
}

/** The clusters and services, checked, with the defaults of nCount and asg_name. */
function clusterSettings(props: EcsSingleTaskAutoscalingProps, errors: string[]): ClusterSettings[] {
  const nonNegativeInt = (what: string, v: number | undefined) => {
    if (known(v) && (!Number.isInteger(v) || (v as number) < 0)) {
      errors.push(`${what} must be a non-negative integer, got ${v}`);
    }
  };
  nonNegativeInt('nCount', props.nCount);
  const seenClusters = new Set<string>();
  const seenGroups = new Set<string>();
  const named = clustersOf(props, errors);
  if (named.length > 0 && named.every(({ cluster }) => (cluster.services ?? []).length === 0)) {
    errors.push(
      'the task scaler needs at least one service: serviceName with minTaskCount, or services in one of the clusters',
    );
  }
  // The permissions name each resource by name within its ARN: an ARN given as a name would
  // make every statement about it match nothing.
  const aName = (what: string, v: string | undefined) => {
    if (known(v) && (v as string).startsWith('arn:')) {
      errors.push(`${what} must be a name, not an ARN, got ${v}`);
    }
  };
  return named.map(({ where, cluster }) => {
    aName(`${where}clusterName`, cluster.clusterName);
    cluster.autoScalingGroupNames.forEach((g, i) => aName(`${where}autoScalingGroupNames[${i}]`, g));
    (cluster.services ?? []).forEach((s, i) =>
      aName(`${where ? `${where}services[${i}].` : ''}serviceName`, s.serviceName),
    );
    if (known(cluster.clusterName)) {
      if (seenClusters.has(cluster.clusterName)) {
        errors.push(`${where}clusterName ${cluster.clusterName} is given twice`);
      }
      seenClusters.add(cluster.clusterName);
    }
    const groups = cluster.autoScalingGroupNames;
    if (groups.length === 0) {
      errors.push(`${where}autoScalingGroupNames must name at least one Auto Scaling group`);
    }
    for (const g of groups.filter((x) => known(x))) {
      if (seenGroups.has(g)) {
        errors.push(`${where}autoScalingGroupNames has duplicates (${g}); a group belongs to one cluster`);
      }
      seenGroups.add(g);
    }
    const services = (cluster.services ?? []).map((s, i): ServiceSettings => {
      const at = where ? `${where}services[${i}].` : '';
      nonNegativeInt(`${at}nCount`, s.nCount);
      nonNegativeInt(`${at}minTaskCount`, s.minTaskCount);
      nonNegativeInt(`${at}maxTaskCount`, s.maxTaskCount);
      if (known(s.maxTaskCount) && known(s.minTaskCount) && (s.maxTaskCount as number) < s.minTaskCount) {
        errors.push(`${at}maxTaskCount (${s.maxTaskCount}) must not be below ${at}minTaskCount (${s.minTaskCount})`);
      }
      return {
        serviceName: s.serviceName,
        minTaskCount: s.minTaskCount,
        maxTaskCount: s.maxTaskCount,
        nCount: s.nCount ?? props.nCount ?? 1,
        // With one group, usable instances are also checked to be InService there.
        autoScalingGroupName: s.autoScalingGroupName ?? (groups.length === 1 ? groups[0] : undefined),
      };
    });
    const names = services.map((s) => s.serviceName).filter((n) => known(n));
    if (new Set(names).size !== names.length) {
      errors.push(`${where}services name a service twice`);
    }
    return { clusterName: cluster.clusterName, autoScalingGroupNames: groups, services };
  });
}

/** Checks the props against the limits of Auto Scaling, the ASL and the scaler, naming the prop that is wrong. */
export function validate(props: EcsSingleTaskAutoscalingProps): Settings {
  const errors: string[] = [];
  const result = (what: string, v: string | undefined): LifecycleResult => {
    const r = v ?? 'CONTINUE';
    if (known(r) && r !== 'CONTINUE' && r !== 'ABANDON') {
      errors.push(`${what} must be CONTINUE or ABANDON, got ${JSON.stringify(v)}`);
    }
    return r as LifecycleResult;
  };
  const clusters = clusterSettings(props, errors);
  if (props.spotInterruptionHandling && clusters.length > 1) {
    errors.push(
      'spotInterruptionHandling needs exactly one cluster: a Spot warning names no cluster, so the drain takes it from ECS_CLUSTER',
    );
  }
  const hookName = props.lifecycleHookName;
  if (known(hookName) && !/^[A-Za-z0-9\-_/]{1,255}$/.test(hookName as string)) {
    errors.push(`lifecycleHookName must be 1 to 255 of A-Z a-z 0-9 - _ /, got ${JSON.stringify(hookName)}`);
  }
  const settings: Settings = {
    clusters,
    autoScalingGroupNames: clusters.flatMap((c) => c.autoScalingGroupNames),
    ...drainTimes(props, errors),
    deadlineResult: result('deadlineResult', props.deadlineResult),
    hookDefaultResult: result('hookDefaultResult', props.hookDefaultResult),
    scheduleRateMinutes: wholeMinutes('scheduleRate', props.scheduleRate ?? Duration.minutes(1), errors),
    sweepRateMinutes: wholeMinutes('sweepRate', props.sweepRate ?? Duration.minutes(5), errors),
    deregistrationScope: deregistrationScopeOf(props, errors),
    deregistrationTag: {
      key: props.deregistrationTag?.key ?? DEFAULT_DEREGISTRATION_TAG_KEY,
      value: props.deregistrationTag?.value ?? 'true',
    },
  };
  if (errors.length) {
    throw new Error(`EcsSingleTaskAutoscaling: invalid props:\n- ${errors.join('\n- ')}`);
  }
  return settings;
}

/** A duration in whole seconds; one given as a parameter (`Duration.seconds(token)`) is checked where it is given. */
function wholeSeconds(what: string, d: Duration, errors: string[]): number {
  if (d.isUnresolved()) {
    return d.toSeconds();
  }
  const ms = d.toMilliseconds();
  if (ms % 1000 !== 0) {
    errors.push(`${what} must be a whole number of seconds, got ${ms} ms`);
  }
  return Math.floor(ms / 1000);
}

/** A rate in whole minutes, known at synth time (it is written into the schedule expression). */
function wholeMinutes(what: string, d: Duration, errors: string[]): number {
  const secs = wholeSeconds(what, d, errors);
  if (!known(secs)) {
    errors.push(`${what} must be known at synth time (it is written into the schedule expression)`);
  } else if (secs < 60 || secs % 60 !== 0) {
    errors.push(`${what} must be a whole number of minutes, at least 1, got ${secs} s`);
  }
  return secs / 60;
}

/** The hook's timeout, the drain's deadline and the standalone tasks' grace, against Auto Scaling's limits and each other. */
function drainTimes(props: EcsSingleTaskAutoscalingProps, errors: string[]) {
  const heartbeatTimeoutSeconds = wholeSeconds(
    'heartbeatTimeout',
    props.heartbeatTimeout ?? Duration.minutes(10),
    errors,
  );
  const heartbeatKnown = known(heartbeatTimeoutSeconds);
  if (heartbeatKnown && (heartbeatTimeoutSeconds < 30 || heartbeatTimeoutSeconds > 7200)) {
    errors.push(`heartbeatTimeout must be 30 to 7200 seconds (Auto Scaling's limits), got ${heartbeatTimeoutSeconds}`);
  }
  const maxWait = Math.min(MAX_LIFECYCLE_WAIT_SECONDS, 100 * heartbeatTimeoutSeconds);
  const drainDeadlineSeconds = wholeSeconds('drainDeadline', props.drainDeadline ?? Duration.hours(1), errors);
  if (heartbeatKnown && known(drainDeadlineSeconds) && (drainDeadlineSeconds <= 0 || drainDeadlineSeconds >= maxWait)) {
    errors.push(
      `drainDeadline must be above 0 and below min(48 h, 100 x heartbeatTimeout) = ${maxWait} s, ` +
        `the longest a lifecycle action can be kept open; got ${drainDeadlineSeconds} s`,
    );
  }
  const standaloneTasks = props.standaloneTasks ?? 'wait';
  if (known(standaloneTasks) && standaloneTasks !== 'wait' && standaloneTasks !== 'stop') {
    errors.push(`standaloneTasks must be wait or stop, got ${JSON.stringify(props.standaloneTasks)}`);
  }
  const standaloneTaskGraceSeconds = wholeSeconds(
    'standaloneTaskGrace',
    props.standaloneTaskGrace ?? Duration.minutes(5),
    errors,
  );
  const bothKnown = known(drainDeadlineSeconds) && known(standaloneTaskGraceSeconds);
  if (standaloneTasks === 'stop' && bothKnown && standaloneTaskGraceSeconds >= drainDeadlineSeconds) {
    errors.push(
      `standaloneTaskGrace (${standaloneTaskGraceSeconds} s) must be below drainDeadline (${drainDeadlineSeconds} s), ` +
        'or standalone tasks would never be stopped before the deadline',
    );
  }
  const nlbDeregistrationSeconds = wholeSeconds(
    'nlbDeregistrationTime',
    props.nlbDeregistrationTime ?? Duration.minutes(5),
    errors,
  );
  if (known(nlbDeregistrationSeconds) && (nlbDeregistrationSeconds < 0 || nlbDeregistrationSeconds > 3600)) {
    errors.push(`nlbDeregistrationTime must be between 0 and 3600 s, got ${nlbDeregistrationSeconds} s`);
  }
  return {
    heartbeatTimeoutSeconds,
    drainDeadlineSeconds,
    standaloneTasks,
    standaloneTaskGraceSeconds,
    nlbDeregistrationSeconds,
  };
}

function deregistrationScopeOf(props: EcsSingleTaskAutoscalingProps, errors: string[]): DeregistrationScope {
  const restricted = props.restrictDeregistrationToConfigured ?? false;
  const scope = props.deregistrationScope ?? (restricted ? 'listed' : 'account');
  if (!['account', 'listed', 'tagged'].includes(scope)) {
    errors.push(`deregistrationScope must be account, listed or tagged, got ${JSON.stringify(scope)}`);
  }
  if (restricted && scope !== 'listed') {
    errors.push(`restrictDeregistrationToConfigured means deregistrationScope 'listed', not '${scope}'`);
  }
  if (props.deregistrationTag !== undefined && scope !== 'tagged') {
    errors.push("deregistrationTag needs deregistrationScope 'tagged'");
  }
  return scope;
}
