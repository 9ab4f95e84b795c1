#!/usr/bin/env node
// `dagops`, the operator's command (src/ops/main.ts): started as the repository's other commands are,
// compiled by src/cli/run.mjs, so that `--help`, usage errors and local refusals answer at once.
process.argv.splice(2, 0, "dagops");
await import("./run.mjs");
