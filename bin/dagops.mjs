#!/usr/bin/env node
// `dagops`, the operator's command (ops/main.ts): its TypeScript runs through tsx's loader (the
// repository's own commands run compiled, see bin/run.mjs; an operator's command waits on the
// cluster, not on its start).
import { register } from "tsx/esm/api";

register();
const { runMain } = await import("../cli/kit.ts");
const { processMain } = await import("../ops/main.ts");
runMain(processMain);
