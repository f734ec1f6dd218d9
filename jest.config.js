/** @type {import('jest').Config} */
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest'] };
// middy ships ESM only, so it has to go through the transform too.
const transformIgnorePatterns = ['/node_modules/(?!(@middy)/)'];
const common = { transform, transformIgnorePatterns, testEnvironment: 'node' };

module.exports = {
  // DynamoDB Local on a 2-core machine takes tens of ms per transaction under load: give the
  // concurrency tests room rather than make them smaller.
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    { ...common, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
  ],
};
