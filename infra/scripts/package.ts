/**
 * `npm run package [-- --out DIR] [-- --without-lambdas]`: an npm package of the construct that works
 * from any CDK app, outside this repository: the compiled `lib/`, the drain definition
 * (`statemachine/drain.asl.json`) and the functions' zips (`lambda/<name>.zip`, from `make build`).
 * `npm pack dist/package` then makes the tarball to `npm install`.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { builtLambdaZip, missingLambdaZips } from '../lib/lambda-code';
import { DRAIN_ASL_PATH } from '../lib/package-files';
import { LAMBDA_NAMES } from '../lib/permissions';

const INFRA = path.resolve(__dirname, '..');

/**
 * Writes the package to `outDir`. `declarations: false` only transpiles `lib/` (no type check, no
 * `.d.ts`): enough for a test that requires it from JavaScript, in a fraction of the time.
 */
export function writePackage(outDir: string, options: { lambdas: boolean; declarations?: boolean }): void {
  if (options.lambdas) {
    const missing = missingLambdaZips(LAMBDA_NAMES);
    if (missing.length) {
      throw new Error(
        `no Rust build for ${missing.join(', ')}: run 'make build' at the repository root first (or --without-lambdas)`,
      );
    }
  }
  fs.rmSync(outDir, { recursive: true, force: true });
  if (options.declarations ?? true) {
    execFileSync(
      path.join(INFRA, 'node_modules', '.bin', 'tsc'),
      ['-p', path.join(INFRA, 'tsconfig.package.json'), '--outDir', path.join(outDir, 'lib')],
      {
        stdio: 'inherit',
      },
    );
  } else {
    fs.mkdirSync(path.join(outDir, 'lib'), { recursive: true });
    for (const file of fs.readdirSync(path.join(INFRA, 'lib')).filter((f) => f.endsWith('.ts'))) {
      const source = fs.readFileSync(path.join(INFRA, 'lib', file), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      });
      fs.writeFileSync(path.join(outDir, 'lib', file.replace(/\.ts$/, '.js')), outputText);
    }
  }
  fs.mkdirSync(path.join(outDir, 'statemachine'), { recursive: true });
  fs.copyFileSync(DRAIN_ASL_PATH, path.join(outDir, 'statemachine', 'drain.asl.json'));
  if (options.lambdas) {
    fs.mkdirSync(path.join(outDir, 'lambda'), { recursive: true });
    for (const name of LAMBDA_NAMES) {
      fs.copyFileSync(builtLambdaZip(name), path.join(outDir, 'lambda', `${name}.zip`));
    }
  }
  const infra = JSON.parse(fs.readFileSync(path.join(INFRA, 'package.json'), 'utf8')) as {
    version: string;
    description: string;
    license: string;
    dependencies: Record<string, string>;
  };
  const manifest = {
    name: 'ecs-single-task-autoscaling',
    version: infra.version,
    description: infra.description,
    license: infra.license,
    main: 'lib/index.js',
    types: 'lib/index.d.ts',
    files: ['lib/', 'statemachine/', 'lambda/', 'README.md'],
    peerDependencies: {
      'aws-cdk-lib': `^${infra.dependencies['aws-cdk-lib']}`,
      constructs: `^${infra.dependencies.constructs}`,
    },
  };
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.copyFileSync(path.join(INFRA, 'README.md'), path.join(outDir, 'README.md'));
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--out');
  const out = path.resolve(INFRA, i >= 0 ? args[i + 1] : path.join('dist', 'package'));
  try {
    writePackage(out, { lambdas: !args.includes('--without-lambdas') });
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
  console.log(
    `${path.relative(process.cwd(), out)}: the package; npm pack ${path.relative(process.cwd(), out)} makes its tarball`,
  );
}
