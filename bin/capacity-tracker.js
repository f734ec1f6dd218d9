#!/usr/bin/env node
// Runs the CLI (cli/*.ts) from the checkout: tsx compiles it as it loads, so there is no build step to forget.
'use strict';

// Before the AWS SDK loads: its notice about Node 20 is noise in a terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs/api').register();
const { main } = require('../cli/main.ts');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
