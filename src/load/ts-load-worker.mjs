// Loads TypeScript definition files for src/load/load.ts, one per message, in a worker
// thread: a file whose top-level await never settles, that loops forever, calls process.exit,
// or leaves a timer that throws later cannot hang or crash the command that loads it (the
// command terminates this worker when a file overruns its time, and when loading is done).
// Each answer names every module the file imports, directly or through others, as resolved
// (import-hooks.mjs): the modules a file shares with one loaded before are loaded once, and
// their imports are remembered from then.
// Plain JavaScript: it must run before tsx is registered in this thread.
import { register as registerHooks } from "node:module";
import { MessageChannel, parentPort, receiveMessageOnPort } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { port1, port2 } = new MessageChannel();
registerHooks("./import-hooks.mjs", import.meta.url, { data: { port: port2 }, transferList: [port2] });

/** Module URL → the URLs it imports. */
const imports = new Map();

/** The imports of every module `url` imports, transitively, as [parent, child] pairs (the hooks' messages read first: they were posted before the import finished). */
function importsOf(url) {
  for (let m; (m = receiveMessageOnPort(port1)); ) {
    const [from, to] = m.message;
    if (!imports.has(from)) imports.set(from, new Set());
    imports.get(from).add(to);
  }
  const seen = new Set([url]);
  const pairs = [];
  const stack = [url];
  while (stack.length) {
    const parent = stack.pop();
    for (const child of imports.get(parent) ?? []) {
      pairs.push([parent, child]);
      if (!seen.has(child)) stack.push(child), seen.add(child);
    }
  }
  return pairs;
}

parentPort.on("message", async ({ id, url }) => {
  let mod;
  try {
    mod = await import(url);
  } catch (e) {
    parentPort.postMessage({
      id,
      kind: "loadError",
      message: e instanceof Error ? e.message : String(e),
      code: e && typeof e === "object" ? e.code : undefined,
    });
    return;
  }
  let value = mod.default;
  // Outside a `"type": "module"` package tsx compiles the file to CommonJS, and `import()` then
  // sees its exports object ({ default: … }) as the default: unwrap it.
  if (
    value &&
    typeof value === "object" &&
    Object.keys(value).every((k) => k === "default" || k === "__esModule") &&
    "default" in value
  )
    value = value.default;
  if (value === undefined || value === null || typeof value !== "object") {
    parentPort.postMessage({
      id,
      kind: "noDefault",
      found: value === undefined ? "no default export" : value === null ? "null" : typeof value,
    });
    return;
  }
  // Plain data from here on: what YAML pipelines can express, nothing more (drops undefined and
  // functions). Cycles, BigInts, throwing getters and a toJSON that returns nothing are problems
  // of the file, reported as such.
  let json;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    parentPort.postMessage({ id, kind: "dataError", message: e instanceof Error ? e.message : String(e) });
    return;
  }
  if (json === undefined) {
    parentPort.postMessage({
      id,
      kind: "dataError",
      message: "it turns into nothing as JSON (a toJSON that returns undefined?)",
    });
    return;
  }
  parentPort.postMessage({ id, kind: "loaded", json, imports: importsOf(url) });
});
