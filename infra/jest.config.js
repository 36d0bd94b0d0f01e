/** Assertion tests on the synthesized template. No Rust is built: the functions use a stand-in asset. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: { isolatedModules: true } }],
  },
  testTimeout: 120000,
};
