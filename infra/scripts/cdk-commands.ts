/**
 * The cdk commands `npm run deploy` and `npm run bootstrap` run, as plain functions of their
 * arguments and of whether a terminal is attached (tested in test/scripts.test.ts).
 */

/** Every `-c`/`--context` and `--profile` argument, the ones `cdk bootstrap` needs from a deploy command line. */
export function sharedArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-c' || a === '--context' || a === '--profile') {
      out.push(a, args[i + 1]);
      i++;
    } else if (a.startsWith('--context=') || a.startsWith('--profile=')) {
      out.push(a);
    }
  }
  return out;
}

const gives = (args: string[], flag: string) => args.some((a) => a === flag || a.startsWith(`${flag}=`));

/**
 * `cdk bootstrap` with the caller's arguments. The app is synthesized only to find its
 * environment, so a missing Rust build does not matter (`lambdaAssets=auto` unless given).
 */
export function bootstrapCommand(args: string[]): string[] {
  const assets = args.some((a) => /(^|=)lambdaAssets=/.test(a)) ? [] : ['-c', 'lambdaAssets=auto'];
  return ['bootstrap', ...args, ...assets];
}

export interface DeployPlan {
  readonly commands: string[][];
  readonly notes: string[];
}

/**
 * `cdk deploy` with every argument passed through; with `--bootstrap` (ours, removed), a
 * `cdk bootstrap` first. Without a terminal there is nobody to answer cdk's approval prompt:
 * unless the caller chose `--require-approval`, it is `never` there (CI).
 */
export function deployPlan(args: string[], terminal: boolean): DeployPlan {
  const notes: string[] = [];
  const bootstrap = args.includes('--bootstrap');
  const rest = args.filter((a) => a !== '--bootstrap');
  const approval = !terminal && !gives(rest, '--require-approval') ? ['--require-approval', 'never'] : [];
  if (approval.length) {
    notes.push(
      'no terminal: deploying without the approval prompt (--require-approval never); pass --require-approval to choose.',
    );
  }
  const commands = [...(bootstrap ? [bootstrapCommand(sharedArgs(rest))] : []), ['deploy', ...rest, ...approval]];
  return { commands, notes };
}

/** What to say when `cdk deploy` failed: the usual first-time cause and its one fix. */
export const NOT_BOOTSTRAPPED_HINT =
  'If the error above says the environment is not bootstrapped (no CDKToolkit stack, or no /cdk-bootstrap/ parameter), ' +
  'bootstrap it once for this account and Region: npm run bootstrap -- <the same -c arguments> ' +
  '(or npm run deploy -- --bootstrap ...).';
