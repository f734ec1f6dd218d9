/** @type {import('jest').Config} */
const transform = { '^.+\\.(t|j)sx?$': ['@swc/jest'] };
// middy ships ESM only, so it has to go through the transform too.
const transformIgnorePatterns = ['/node_modules/(?!(@middy)/)'];
const common = { transform, transformIgnorePatterns, testEnvironment: 'node' };
// jest runs a project's global setup only when one of its tests runs, and each setup file once per run:
// the unit and infra tests need no Java, and integration and e2e share one DynamoDB Local.
const withoutDynamoDb = { ...common, globalSetup: '<rootDir>/test/support/env.ts' };
const withDynamoDb = {
  ...common,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

module.exports = {
  // DynamoDB Local on a 2-core machine takes tens of ms per transaction under load: give the
  // concurrency tests room rather than make them smaller.
  testTimeout: 60_000,
  projects: [
    { ...withoutDynamoDb, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...withDynamoDb, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...withDynamoDb, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    { ...withoutDynamoDb, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
  ],
};
