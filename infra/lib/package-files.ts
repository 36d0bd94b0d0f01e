import * as fs from 'fs';
import * as path from 'path';

/**
 * The files the construct needs besides its code: the state machine definition and the
 * functions' zips. They are looked up inside this package first (`npm run package` puts them
 * there), then in the repository checkout this package sits in (`infra/` beside
 * `statemachine/` and `target/`). Props override both (`stateMachineDefinition`, `lambdaCode`).
 */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

/** The repository checkout around this package, when it is one (`<repo>/infra`). */
const CHECKOUT_ROOT = path.dirname(PACKAGE_ROOT);

/** Where the packaged copy of the drain definition lives. */
export const PACKAGED_ASL_PATH = path.join(PACKAGE_ROOT, 'statemachine', 'drain.asl.json');

/** The drain definition: the packaged copy, else the checkout's `statemachine/drain.asl.json`. */
export const DRAIN_ASL_PATH = firstExisting([
  PACKAGED_ASL_PATH,
  path.join(CHECKOUT_ROOT, 'statemachine', 'drain.asl.json'),
]);

/** Where a packaged function zip lives: `lambda/<name>.zip`. */
export function packagedLambdaZip(name: string): string {
  return path.join(PACKAGE_ROOT, 'lambda', `${name}.zip`);
}

/** The drain definition's text; fails naming the prop to use when the package has none. */
export function drainDefinition(): string {
  if (!fs.existsSync(DRAIN_ASL_PATH)) {
    throw new Error(
      `The drain state machine definition is missing (${DRAIN_ASL_PATH}): pass stateMachineDefinition ` +
        '(the text of statemachine/drain.asl.json), or use a package built with npm run package.',
    );
  }
  return fs.readFileSync(DRAIN_ASL_PATH, 'utf8');
}

function firstExisting(candidates: string[]): string {
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}
