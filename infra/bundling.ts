// How every Lambda entry is bundled, in one place: the stack (infra/ledger-function.ts) and scripts/build.ts,
// whose bundles the bench times and sizes, must make the same file.
export const BUNDLE = {
  target: 'node22',
  minify: true,
  sourcemap: false,
  // The nodejs22.x runtime ships the AWS SDK v3.
  external: ['@aws-sdk/*'],
} as const;
