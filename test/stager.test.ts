/** The stager (scripts/lib/stager.ts): staged files written from a thread of their own. */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Stager } from "../scripts/lib/stager.ts";

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "dagops-stager-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("every file arrives with its exact bytes, across batches, with multi-byte text and folders made on the way", async (t) => {
  const dir = scratch(t);
  const stager = new Stager();
  const files = new Map<string, string>();
  // Over a thousand files in a hundred folders: many batches, and over 40 MiB in all, so that
  // write() waits for the writer and every slot of the ring is filled again and again (at most
  // 16 MiB in flight); some files larger than a slot (1 MiB), which travel alone.
  for (let i = 0; i < 1200; i++) {
    const path = join(dir, `p${i % 100}`, "jobs", `f${i}.yaml`);
    const content = `# ${i}: ünïcødé — 数据 — 🚀 ${"x".repeat(i % 97 === 0 ? 1_500_000 : i % 7 === 0 ? 200_000 : i)}\n${i % 5 === 0 ? "" : "tail\n"}`;
    files.set(path, content);
    stager.write(path, content);
  }
  files.set(join(dir, "empty.yaml"), "");
  stager.write(join(dir, "empty.yaml"), "");
  await stager.close();
  for (const [path, content] of files) assert.equal(readFileSync(path, "utf8"), content, path);
});

test("while the writer is held up, write() waits rather than fill a slot still in flight", async (t) => {
  const dir = scratch(t);
  // The writer blocks on its first file, a named pipe, until a reader opens it a second later:
  // meanwhile this thread fills every slot of the ring and must wait, not write over them.
  const fifo = join(dir, "held.yaml");
  execFileSync("mkfifo", [fifo]);
  const reader = spawn("sh", ["-c", `sleep 1; cat "$0" > /dev/null`, fifo], { stdio: "ignore" });
  const exited = new Promise((resolve) => reader.on("exit", resolve));
  const stager = new Stager();
  const files = new Map<string, string>();
  stager.write(fifo, "held\n".repeat(100_000));
  for (let i = 0; i < 200; i++) {
    const path = join(dir, `f${i}.yaml`);
    const content = `${i}\n`.repeat(60_000 + i);
    files.set(path, content);
    stager.write(path, content);
  }
  await stager.close();
  await exited;
  for (const [path, content] of files) assert.equal(readFileSync(path, "utf8"), content, path);
});

test("a handful of files, one of them a megabyte (a one-pipeline change and the cache), is written without a thread, the same way", async (t) => {
  const dir = scratch(t);
  const stager = new Stager();
  const big = `${"cache line\n".repeat(100_000)}`;
  stager.write(join(dir, "a/b/one.yaml"), "one: 1\n");
  stager.write(join(dir, "a/two.yaml"), "two: 2\n");
  stager.write(join(dir, "cache.json"), big);
  const closed = await stager.close();
  // No thread: a thread would report how long it was busy.
  assert.deepEqual(closed, { files: 3 });
  assert.equal(readFileSync(join(dir, "a/b/one.yaml"), "utf8"), "one: 1\n");
  assert.equal(readFileSync(join(dir, "a/two.yaml"), "utf8"), "two: 2\n");
  assert.equal(readFileSync(join(dir, "cache.json"), "utf8"), big);
});

test("a file that cannot be written fails close() with its path; nothing after the failure is written", async (t) => {
  const dir = scratch(t);
  // A file where a folder must go: making its folder fails (EEXIST).
  writeFileSync(join(dir, "blocked"), "not a folder\n");
  const stager = new Stager();
  for (let i = 0; i < 300; i++) stager.write(join(dir, i === 150 ? "blocked/x.yaml" : `ok/f${i}.yaml`), `n: ${i}\n`);
  await assert.rejects(stager.close(), (e: Error) => /^cannot stage .*blocked\/x\.yaml: EEXIST/.test(e.message));
  assert.ok(existsSync(join(dir, "ok/f149.yaml")));
  assert.ok(!existsSync(join(dir, "ok/f151.yaml")));
  assert.throws(() => stager.write(join(dir, "late.yaml"), "x\n"), /closed/);
});

test("abort stops the writer: once it resolves, nothing more appears", async (t) => {
  const dir = scratch(t);
  const stager = new Stager();
  for (let i = 0; i < 2000; i++) stager.write(join(dir, `f${i % 50}/g${i}.yaml`), "x\n".repeat(2000));
  await stager.abort();
  const count = () => (existsSync(dir) ? readdirCount(dir) : 0);
  const after = count();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(count(), after);
  await stager.close(); // a no-op once aborted
});

function readdirCount(dir: string): number {
  let n = 0;
  for (let i = 0; i < 50; i++) {
    const folder = join(dir, `f${i}`);
    if (!existsSync(folder)) continue;
    for (let j = i; j < 2000; j += 50) if (existsSync(join(folder, `g${j}.yaml`))) n++;
  }
  return n;
}
