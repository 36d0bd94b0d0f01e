import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './constants';

/** One of the functions' own metrics for one cluster. */
export type CustomMetric = (
  cluster: string,
  name: string,
  statistic: string,
  period: Duration,
  label?: string,
) => cloudwatch.Metric;

export interface DashboardProps {
  readonly stateMachine: sfn.StateMachine;
  readonly alarms: cloudwatch.Alarm[];
  readonly clusterNames: string[];
  readonly functions: { label: string; fn: lambda.Function }[];
  /** Where the task scaler logs its decisions. */
  readonly scalerLogGroup: logs.ILogGroup;
  readonly customMetric: CustomMetric;
  readonly period: Duration;
}

/**
 * The Logs Insights query for the task scaler's latest decision per service: each run logs
 * one `scaler decision` line inside a span that names the cluster and the service.
 */
export const SCALER_DECISIONS_QUERY = [
  'fields @timestamp',
  'filter `fields.message` = "scaler decision"',
  'stats latest(`fields.decision`) as decision, latest(`fields.new`) as desired, max(@timestamp) as at by `span.cluster`, `span.service`',
];

/** One dashboard: the drain executions and their metrics, the scaler, the sweeper, the functions, the alarms. */
export function createDashboard(scope: Construct, id: string, props: DashboardProps): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, id, { defaultInterval: Duration.days(1) });
  const names = props.clusterNames;
  dashboard.addWidgets(
    new cloudwatch.TextWidget({
      markdown:
        `## ECS single-task autoscaling: ${names.length === 1 ? 'cluster' : 'clusters'} ${names.join(', ')}\n` +
        'Drains of container instances before termination (Step Functions), the N+1 task scaler, and the sweeper ' +
        `that starts drains whose lifecycle event was lost. Custom metrics: namespace \`${METRICS_NAMESPACE}\`, dimension \`Cluster\`.`,
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(...executionWidgets(props));
  dashboard.addWidgets(...customMetricWidgets(props));
  dashboard.addWidgets(
    new cloudwatch.LogQueryWidget({
      title: 'Task scaler: the latest decision per service',
      logGroupNames: [props.scalerLogGroup.logGroupName],
      queryLines: SCALER_DECISIONS_QUERY,
      view: cloudwatch.LogQueryVisualizationType.TABLE,
      width: 24,
      height: HEIGHT,
    }),
  );
  dashboard.addWidgets(...functionWidgets(props));
  return dashboard;
}

const WIDTH = 8;
const HEIGHT = 6;

function graph(
  title: string,
  left: cloudwatch.IMetric[],
  right: cloudwatch.IMetric[] = [],
  leftLabel?: string,
  rightLabel?: string,
) {
  return new cloudwatch.GraphWidget({
    title,
    left,
    right,
    width: WIDTH,
    height: HEIGHT,
    leftYAxis: { min: 0, label: leftLabel, showUnits: false },
    rightYAxis: { min: 0, label: rightLabel, showUnits: false },
  });
}

/** The state machine's executions and execution time, and every alarm's state. */
function executionWidgets(props: DashboardProps): cloudwatch.IWidget[] {
  const { stateMachine: sm, period } = props;
  const sum = { period, statistic: cloudwatch.Stats.SUM };
  return [
    graph(
      'Drain executions',
      [
        sm.metricStarted(sum).with({ label: 'Started' }),
        sm.metricSucceeded(sum).with({ label: 'Succeeded' }),
        sm.metricFailed(sum).with({ label: 'Failed' }),
        sm.metricTimedOut(sum).with({ label: 'TimedOut' }),
      ],
      [],
      'executions',
    ),
    graph(
      'Drain execution time',
      [
        sm.metricTime({ period, statistic: cloudwatch.Stats.AVERAGE }).with({ label: 'ExecutionTime average' }),
        sm.metricTime({ period, statistic: cloudwatch.Stats.MAXIMUM }).with({ label: 'ExecutionTime maximum' }),
      ],
      [],
      'milliseconds',
    ),
    new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: WIDTH, height: HEIGHT }),
  ];
}

/** The functions' own metrics, one series per cluster (with several, the label says which). */
function customMetricWidgets(props: DashboardProps): cloudwatch.IWidget[] {
  const names = props.clusterNames;
  const custom = (name: string, statistic: string, label?: string) =>
    names.map((cluster) =>
      props.customMetric(
        cluster,
        name,
        statistic,
        props.period,
        names.length === 1 ? label : `${label ?? name} ${cluster}`,
      ),
    );
  return [
    graph(
      'Drain duration and waits',
      [
        ...custom('DrainDurationSeconds', cloudwatch.Stats.AVERAGE, 'DrainDurationSeconds average'),
        ...custom('DrainDurationSeconds', cloudwatch.Stats.MAXIMUM, 'DrainDurationSeconds maximum'),
        ...custom('TaskWaitSeconds', cloudwatch.Stats.MAXIMUM, 'TaskWaitSeconds maximum'),
        ...custom('LoadBalancerWaitSeconds', cloudwatch.Stats.MAXIMUM, 'LoadBalancerWaitSeconds maximum'),
      ],
      [],
      'seconds',
    ),
    graph(
      'Drain events',
      [
        ...custom('HeartbeatsSent', cloudwatch.Stats.SUM),
        ...custom('DrainDeadlineReached', cloudwatch.Stats.SUM),
        ...custom('SweeperExecutionsStarted', cloudwatch.Stats.SUM),
      ],
      [],
      'count',
    ),
    graph(
      'Task scaler',
      custom('ScalerDesiredCount', cloudwatch.Stats.MAXIMUM),
      custom('ScalerDesiredCountChanges', cloudwatch.Stats.SUM),
      'desired count',
      'changes',
    ),
  ];
}

/** Each function's errors and duration. */
function functionWidgets(props: DashboardProps): cloudwatch.IWidget[] {
  const { period } = props;
  const perFunction = (metric: (fn: lambda.Function) => cloudwatch.Metric) =>
    props.functions.map(({ label, fn }) => metric(fn).with({ label }));
  return [
    graph(
      'Function errors',
      perFunction((fn) => fn.metricErrors({ period, statistic: cloudwatch.Stats.SUM })),
      [],
      'errors',
    ),
    graph(
      'Function duration (maximum)',
      perFunction((fn) => fn.metricDuration({ period, statistic: cloudwatch.Stats.MAXIMUM })),
      [],
      'milliseconds',
    ),
    graph(
      'Function duration (average)',
      perFunction((fn) => fn.metricDuration({ period, statistic: cloudwatch.Stats.AVERAGE })),
      [],
      'milliseconds',
    ),
  ];
}
