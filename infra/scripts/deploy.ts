/**
 * The one deploy command: `npm run deploy -- -c configFile=<your parameters>.json [cdk deploy options]`
 * (or -c key=value for each parameter; see infra/README.md).
 *
 * Refuses to start without the Rust build (`make build` at the repository root), then runs
 * `cdk deploy` with every argument given. It does not bootstrap: run `npm run bootstrap` once per
 * account and Region, or add `--bootstrap` here. Without a terminal (CI) it does not wait for an
 * approval nobody can give (`--require-approval never` unless given).
 */
import { spawnSync } from 'child_process';
import { builtLambdaZip, missingLambdaZips } from '../lib/lambda-code';
import { LAMBDA_NAMES } from '../lib/permissions';
import { deployPlan, NOT_BOOTSTRAPPED_HINT } from './cdk-commands';

const args = process.argv.slice(2);
if (args.some((a) => /lambdaAssets=auto/.test(a))) {
  console.error('error: lambdaAssets=auto would deploy stand-in functions; deploy the real build instead.');
  process.exit(1);
}
const missing = missingLambdaZips(LAMBDA_NAMES);
if (missing.length > 0) {
  console.error(
    `error: no Rust build for ${missing.join(', ')} (e.g. ${builtLambdaZip(missing[0])} is missing).\n` +
      "Run 'make build' at the repository root (cargo lambda build --release --arm64 --output-format zip), then deploy again.",
  );
  process.exit(1);
}

const plan = deployPlan(args, Boolean(process.stdin.isTTY && process.stdout.isTTY));
for (const note of plan.notes) {
  console.error(`note: ${note}`);
}
for (const command of plan.commands) {
  const r = spawnSync('npx', ['--no-install', 'cdk', ...command], { stdio: 'inherit' });
  if (r.status !== 0) {
    if (command[0] === 'deploy') {
      console.error(`\n${NOT_BOOTSTRAPPED_HINT}`);
    }
    process.exit(r.status ?? 1);
  }
}
