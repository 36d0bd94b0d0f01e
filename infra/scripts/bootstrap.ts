/**
 * `npm run bootstrap -- -c configFile=<your parameters>.json [cdk bootstrap options]`: prepares the
 * account and Region of the current credentials for CDK deployments (the CDKToolkit stack), once.
 * `npm run deploy` never does this on its own.
 */
import { spawnSync } from 'child_process';
import { bootstrapCommand } from './cdk-commands';

const r = spawnSync('npx', ['--no-install', 'cdk', ...bootstrapCommand(process.argv.slice(2))], { stdio: 'inherit' });
process.exit(r.status ?? 1);
