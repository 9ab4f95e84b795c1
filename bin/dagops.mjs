#!/usr/bin/env node
// `dagops`, the operator's command (ops/main.ts): its TypeScript runs through tsx's loader, as
// every other command of this repository does.
import { register } from "tsx/esm/api";

register();
const { runMain } = await import("../cli/kit.ts");
const { processMain } = await import("../ops/main.ts");
runMain(processMain);
