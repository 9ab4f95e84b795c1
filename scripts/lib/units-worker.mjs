// A worker thread of compile.ts: compiles the batches of definition files it is sent with
// units.ts (see there), one message per batch, and answers with what the batch reported.
// Plain JavaScript: it registers tsx in this thread before loading the TypeScript it runs.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { compileUnits, unitsContext } = await import("./units.ts");
const ctx = unitsContext(workerData);

parentPort.on("message", async ({ id, files }) => {
  try {
    parentPort.postMessage({ id, result: await compileUnits(workerData, ctx, files) });
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
parentPort.postMessage({ ready: true });
