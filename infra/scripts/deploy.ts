/**
 * The one deploy command: `npm run deploy -- -c configFile=<your parameters>.json`
 * (or -c key=value for each parameter; see infra/README.md).
 *
 * Refuses to start without the Rust build (`make build` at the repository root), then
 * bootstraps the account and Region of the current credentials for CDK (a no-op when
 * already done) and deploys the stack. Arguments are passed to both cdk commands.
 */
import { spawnSync } from 'child_process';
import { builtLambdaZip, missingLambdaZips } from '../lib/lambda-code';
import { LAMBDA_NAMES } from '../lib/permissions';

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

function cdk(...cdkArgs: string[]): void {
  const r = spawnSync('npx', ['--no-install', 'cdk', ...cdkArgs], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.exit(r.status ?? 1);
  }
}

cdk('bootstrap', ...args);
cdk('deploy', '--require-approval', 'broadening', ...args);
