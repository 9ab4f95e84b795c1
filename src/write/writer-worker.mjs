// The thread that creates a synth's staged files (tree.ts, TreeSink), so that the kernel's work
// of creating tens of thousands of files runs beside the compile instead of inside it. Plain
// JavaScript with no imports of the repository: it runs the same bundled or not.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parentPort } from "node:worker_threads";

const made = new Set();
parentPort.on("message", ({ id, files }) => {
  try {
    for (const [path, content] of files) {
      const dir = dirname(path);
      if (!made.has(dir)) {
        mkdirSync(dir, { recursive: true });
        made.add(dir);
      }
      writeFileSync(path, content);
    }
    parentPort.postMessage({ id });
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
