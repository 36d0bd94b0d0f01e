/**
 * The construct from another CDK app, outside this checkout: the package `npm run package`
 * makes is copied into the node_modules of an app in a temporary directory, which imports it
 * by name, synthesizes it with the default definition (the package's copy) and runs cdk-nag's
 * AwsSolutions pack, version 3 (CDK's Validations) and version 2 (aspects).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writePackage } from '../scripts/package';
import { obj, parseJson, str, strs } from './cfn';

const INFRA = path.resolve(__dirname, '..');
const ASL = fs.readFileSync(path.resolve(INFRA, '..', 'statemachine', 'drain.asl.json'), 'utf8');

/** The other app: one stack with the construct, checked by the cdk-nag major version given as argv[2]. */
const APP = `
const { App, Aspects, Stack, Validations } = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const { EcsSingleTaskAutoscaling } = require('ecs-single-task-autoscaling');
const nag = process.argv[2];
const app = new App({ outdir: process.argv[3] });
const stack = new Stack(app, 'Theirs');
const sta = new EcsSingleTaskAutoscaling(stack, 'Drain', {
  clusters: [
    { clusterName: 'prod', autoScalingGroupNames: ['prod-a', 'prod-b'], services: [{ serviceName: 'web', minTaskCount: 2 }] },
    { clusterName: 'batch', autoScalingGroupNames: ['batch-a'], services: [{ serviceName: 'worker', minTaskCount: 0 }] },
  ],
  deregistrationScope: 'tagged',
  lambdaCode: () => lambda.Code.fromAsset(process.argv[4]),
});
if (process.argv[5] === 'unrelated-queue') {
  new (require('aws-cdk-lib/aws-sqs').Queue)(stack, 'Unrelated');
}
if (nag === 'v3') {
  const { AwsSolutionsChecks } = require('cdk-nag');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} else {
  const { AwsSolutionsChecks } = require('cdk-nag-v2');
  Aspects.of(app).add(new AwsSolutionsChecks());
}
let report = '';
let assembly;
try {
  assembly = app.synth();
} catch (e) {
  report = String(e.message);
}
const messages = assembly ? assembly.getStackArtifact(stack.artifactId).messages : [];
const errors = messages.filter((m) => m.level === 'error').map((m) => m.id + ' ' + String(m.entry.data).split('\\n')[0]);
const template = assembly ? assembly.getStackArtifact(stack.artifactId).template : {};
const definition = Object.values(template.Resources || {}).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
process.stdout.write(JSON.stringify({ report, errors, definition: definition && definition.Properties.DefinitionString }));
`;

/** What the other app prints: the synth's error report, the unacknowledged findings, the state machine's definition. */
interface OtherAppResult {
  report: string;
  errors: string[];
  definition: string | undefined;
}

function otherAppResult(stdout: string): OtherAppResult {
  const result = obj(parseJson(stdout), "the other app's output");
  return {
    report: str(result.report, 'report'),
    errors: strs(result.errors, 'errors'),
    definition: result.definition === undefined ? undefined : str(result.definition, 'definition'),
  };
}

describe('the construct from a CDK app outside this checkout, as a package', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sta-other-app-'));
  const modules = path.join(dir, 'node_modules');
  beforeAll(() => {
    // Transpiled only (the type check is tsc's, in npm test); `npm run package` also writes the .d.ts.
    writePackage(path.join(modules, 'ecs-single-task-autoscaling'), { lambdas: false, declarations: false });
    // The app's own dependencies (the same versions as here; nothing is fetched).
    for (const dep of ['aws-cdk-lib', 'constructs', 'cdk-nag', 'cdk-nag-v2']) {
      fs.symlinkSync(path.join(INFRA, 'node_modules', dep), path.join(modules, dep), 'dir');
    }
    fs.writeFileSync(path.join(dir, 'app.js'), APP);
    fs.mkdirSync(path.join(dir, 'code'));
    fs.writeFileSync(path.join(dir, 'code', 'bootstrap'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  }, 120_000);

  const run = (nag: 'v2' | 'v3', extra = ''): OtherAppResult =>
    otherAppResult(
      execFileSync(
        process.execPath,
        ['app.js', nag, path.join(dir, `cdk.out.${nag}${extra}`), path.join(dir, 'code'), extra],
        {
          cwd: dir,
          encoding: 'utf8',
          env: { ...process.env, NODE_PATH: '' },
        },
      ),
    );

  test('the package holds no path into this checkout', () => {
    const code = fs
      .readdirSync(path.join(modules, 'ecs-single-task-autoscaling', 'lib'))
      .filter((f) => f.endsWith('.js'));
    for (const file of code) {
      const text = fs.readFileSync(path.join(modules, 'ecs-single-task-autoscaling', 'lib', file), 'utf8');
      expect({ file, outside: text.includes(INFRA) || /['"]\.\.['"],\s*['"]\.\.['"]/.test(text) }).toEqual({
        file,
        outside: false,
      });
    }
  });

  test("cdk-nag 3: no unacknowledged finding; the definition is the package's copy of the ASL", () => {
    const result = run('v3');
    expect(result.report).toBe('');
    expect(result.errors).toEqual([]);
    expect(result.definition).toBe(ASL);
  });

  test('cdk-nag 2: no unacknowledged finding (the acknowledgements are also cdk-nag 2 suppressions)', () => {
    const result = run('v2');
    expect(result.report).toBe('');
    expect(result.errors).toEqual([]);
    // ...and it is really checking: a queue of the app's own is reported.
    expect(run('v2', 'unrelated-queue').errors).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/Theirs\/Unrelated\/Resource .*AwsSolutions-SQS3/)]),
    );
  });
});
