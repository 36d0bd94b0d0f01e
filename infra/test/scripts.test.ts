import { bootstrapCommand, deployPlan, sharedArgs } from '../scripts/cdk-commands';

describe('npm run deploy and npm run bootstrap', () => {
  const config = ['-c', 'configFile=prod.json'];

  test('every argument goes to cdk deploy; nothing is added at a terminal (cdk asks for approval there)', () => {
    expect(deployPlan([...config, '--require-approval', 'never'], true).commands).toEqual([
      ['deploy', ...config, '--require-approval', 'never'],
    ]);
    expect(deployPlan(config, true)).toEqual({ commands: [['deploy', ...config]], notes: [] });
  });

  test('without a terminal (CI) it does not wait for an approval, unless the caller chose', () => {
    const ci = deployPlan(config, false);
    expect(ci.commands).toEqual([['deploy', ...config, '--require-approval', 'never']]);
    expect(ci.notes).toEqual([expect.stringMatching(/no terminal/)]);
    expect(deployPlan([...config, '--require-approval=broadening'], false).commands).toEqual([
      ['deploy', ...config, '--require-approval=broadening'],
    ]);
  });

  test('no bootstrap unless asked; --bootstrap bootstraps with the same context and profile first', () => {
    expect(deployPlan(config, true).commands.map((c) => c[0])).toEqual(['deploy']);
    const plan = deployPlan(['--bootstrap', ...config, '--profile', 'prod', '--hotswap'], true);
    expect(plan.commands).toEqual([
      ['bootstrap', ...config, '--profile', 'prod', '-c', 'lambdaAssets=auto'],
      ['deploy', ...config, '--profile', 'prod', '--hotswap'],
    ]);
  });

  test('bootstrap synthesizes without the Rust build unless told otherwise', () => {
    expect(bootstrapCommand(config)).toEqual(['bootstrap', ...config, '-c', 'lambdaAssets=auto']);
    expect(bootstrapCommand([...config, '-c', 'lambdaAssets=build'])).toEqual([
      'bootstrap',
      ...config,
      '-c',
      'lambdaAssets=build',
    ]);
    expect(sharedArgs(['--context=a=b', '--profile=p', '--force', '-c', 'x=y'])).toEqual([
      '--context=a=b',
      '--profile=p',
      '-c',
      'x=y',
    ]);
  });
});
