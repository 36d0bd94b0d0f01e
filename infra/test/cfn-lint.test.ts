import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { EcsSingleTaskAutoscaling } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { standaloneTemplate } from '../lib/standalone';
import { obj } from './cfn';
import { exampleApp } from './helpers';

const CFN_LINT = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'cfn-lint');

/**
 * Runs cfn-lint once over all the templates (one Python start-up instead of one per
 * template) and returns its error findings by template.
 */
function cfnLintErrors(templates: string[]): Map<string, string[]> {
  if (!fs.existsSync(CFN_LINT)) {
    throw new Error(
      `${CFN_LINT} is missing: run 'make deps-py' at the repository root (installs requirements-dev.txt into .venv).`,
    );
  }
  let out: string;
  try {
    out = execFileSync(CFN_LINT, ['--non-zero-exit-code', 'error', '--format', 'parseable', ...templates], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (e: unknown) {
    // execFileSync's error: the exit status and the output (strings, with encoding utf8).
    const { status, stdout, stderr } = obj(e, "execFileSync's error");
    if (status !== 2 || typeof stdout !== 'string' || !stdout) {
      throw new Error(`cfn-lint failed (exit ${String(status)}):\n${String(stdout)}${String(stderr)}`, { cause: e });
    }
    out = stdout; // exit code 2: errors found
  }
  // parseable: <file>:<line>:<column>:<end line>:<end column>:<rule>:<message>
  const errors = new Map(templates.map((t) => [t, [] as string[]]));
  for (const line of out.split('\n').filter((l) => l.trim() !== '')) {
    const template = templates.find((t) => line.startsWith(`${t}:`));
    const rule = template ? line.slice(template.length + 1).split(':')[4] : undefined;
    if (!template || !rule) {
      throw new Error(`unexpected cfn-lint output: ${line}`);
    }
    if (rule.startsWith('E')) {
      errors.get(template)!.push(line);
    }
  }
  return errors;
}

function exampleTemplate(): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'sta-cfn-lint-'));
  const { app, stack } = exampleApp({}, outdir);
  app.synth();
  return path.join(outdir, stack.templateFile);
}

function variantTemplate(): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'sta-cfn-lint-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'Variant');
  new EcsSingleTaskAutoscaling(stack, 'Sta', {
    clusterName: new CfnParameter(stack, 'Cluster').valueAsString,
    serviceName: new CfnParameter(stack, 'Service').valueAsString,
    autoScalingGroupNames: ['asg-a', 'asg-b'],
    minTaskCount: 0,
    classicLoadBalancerNames: ['elb-a'],
    restrictDeregistrationToConfigured: true,
    standaloneTasks: 'stop',
    sweepRate: Duration.minutes(2),
    dashboard: false,
    lambdaCode: () => unbuiltLambdaCode(),
  });
  app.synth();
  return path.join(outdir, stack.templateFile);
}

/** What `make template` writes: the standalone template for plain CloudFormation. */
function standaloneTemplateFile(): string {
  const file = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'sta-cfn-lint-')),
    'ecs-single-task-autoscaling.template.json',
  );
  fs.writeFileSync(file, JSON.stringify(standaloneTemplate(), null, 2));
  return file;
}

describe('cfn-lint --non-zero-exit-code error', () => {
  const example = exampleTemplate();
  const variant = variantTemplate();
  const standalone = standaloneTemplateFile();
  let errors: Map<string, string[]>;
  beforeAll(() => {
    errors = cfnLintErrors([example, variant, standalone]);
  });

  test('the standalone template (make template): parameters, conditions, code from S3', () => {
    expect(errors.get(standalone)).toEqual([]);
  });

  test('the example app template', () => {
    expect(errors.get(example)).toEqual([]);
  });

  test('the construct with tokens for names, several groups, restricted load balancers, no dashboard', () => {
    expect(errors.get(variant)).toEqual([]);
  });
});
