import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { EcsSingleTaskAutoscaling } from '../lib/ecs-single-task-autoscaling';
import { unbuiltLambdaCode } from '../lib/lambda-code';
import { exampleApp } from './helpers';

const CFN_LINT = path.resolve(__dirname, '..', '..', '.venv', 'bin', 'cfn-lint');

function cfnLint(template: string): void {
  if (!fs.existsSync(CFN_LINT)) {
    throw new Error(`${CFN_LINT} is missing: run 'make deps-py' at the repository root (installs requirements-dev.txt into .venv).`);
  }
  try {
    execFileSync(CFN_LINT, ['--non-zero-exit-code', 'error', template], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e: any) {
    throw new Error(`cfn-lint found errors in ${template}:\n${e.stdout}${e.stderr}`);
  }
}

describe('cfn-lint --non-zero-exit-code error', () => {
  test('the example app template', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'sta-cfn-lint-'));
    const { app, stack } = exampleApp({}, outdir);
    app.synth();
    cfnLint(path.join(outdir, stack.templateFile));
  });

  test('the construct with tokens for names, several groups and restricted load balancers', () => {
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
      lambdaCode: () => unbuiltLambdaCode(),
    });
    app.synth();
    cfnLint(path.join(outdir, stack.templateFile));
  });
});
