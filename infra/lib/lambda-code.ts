import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { PACKAGE_ROOT, packagedLambdaZip } from './package-files';
import { LambdaName } from './permissions';

/**
 * Where `cargo lambda build --release --arm64 --output-format zip` (run at the repository
 * root) puts the zips, when this package is the `infra/` of a checkout.
 */
export const DEFAULT_LAMBDA_ASSETS_DIR = path.join(path.dirname(PACKAGE_ROOT), 'target', 'lambda');

/** The stand-in asset used when synthesizing without a Rust build (tests, `npm run synth`). Never deploy it. */
export const UNBUILT_LAMBDA_ASSET_DIR = path.join(PACKAGE_ROOT, 'assets', 'unbuilt-lambda');

/** `<dir>/<name>/bootstrap.zip`, the file cargo-lambda writes for one binary. */
export function builtLambdaZip(name: LambdaName, dir: string = DEFAULT_LAMBDA_ASSETS_DIR): string {
  return path.join(dir, name, 'bootstrap.zip');
}

/** The names whose zip is missing from `dir`. */
export function missingLambdaZips(names: readonly LambdaName[], dir: string = DEFAULT_LAMBDA_ASSETS_DIR): LambdaName[] {
  return names.filter((name) => !fs.existsSync(builtLambdaZip(name, dir)));
}

/**
 * The code of one function from the cargo-lambda build. Fails with the build command
 * when the zip is not there, so a deployment can never pick up a stand-in by accident.
 */
export function builtLambdaCode(name: LambdaName, dir: string = DEFAULT_LAMBDA_ASSETS_DIR): lambda.Code {
  const zip = builtLambdaZip(name, dir);
  if (!fs.existsSync(zip)) {
    throw new Error(
      `${zip} is missing: build the Lambdas first with 'make build' ` +
        `(cargo lambda build --release --arm64 --output-format zip, at the repository root), ` +
        'or pass lambdaCode to the construct.',
    );
  }
  return lambda.Code.fromAsset(zip);
}

/** The construct's default code: the zip shipped in this package, else the checkout's build. */
export function defaultLambdaCode(name: LambdaName): lambda.Code {
  const packaged = packagedLambdaZip(name);
  return fs.existsSync(packaged) ? lambda.Code.fromAsset(packaged) : builtLambdaCode(name);
}

/**
 * A stand-in for every function: a `bootstrap` that only fails. It lets the template be
 * synthesized, linted and tested without building Rust.
 */
export function unbuiltLambdaCode(): lambda.Code {
  return lambda.Code.fromAsset(UNBUILT_LAMBDA_ASSET_DIR);
}
