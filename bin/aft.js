#!/usr/bin/env node
// The `aft` command: runs the bundled CLI (build it with `npm run build`).
require('../dist/sidecar/cli.js');
