/**
 * Commands on one repository at the same time, as real processes: they wait for each other
 * through `.dagops.lock` instead of crashing each other, a stale lock is taken over, and check
 * never deletes or moves anything.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { main as check } from "../../src/commands/check.ts";
import { main as synth } from "../../src/commands/synth.ts";
import { LOCK_FILE } from "../../src/write/lock.ts";
import { captureIo, REPO, tempRepo } from "../support/helpers.ts";

function command(
  name: string,
  root: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO, `src/commands/${name}.ts`), "--root", root], {
      cwd: REPO,
      env: { ...process.env, ...env },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

test("two synths and a check at once: all succeed, one after another, and the tree is right", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    await repo.write(
      "pipelines/daily-usage-report.yaml",
      (await repo.read("pipelines/daily-usage-report.yaml")).replace("maxParallel: 2", "maxParallel: 3"),
    );
    const runs = await Promise.all([
      command("synth", repo.root),
      command("synth", repo.root),
      command("check", repo.root),
    ]);
    for (const r of runs.slice(0, 2)) assert.equal(r.code, 0, r.err);
    assert.notEqual(runs[2]!.code, 2, `check must not crash: ${runs[2]!.err}`);
    assert.ok(
      runs.some((r) => /waiting for `npm run (synth|check)` \(pid \d+\)/.test(r.err)),
      "someone waited for the lock",
    );
    const after = captureIo(repo.root);
    assert.equal(await check([], after), 0, after.text());
    assert.deepEqual(
      (await readdir(repo.root)).filter((n) => n.startsWith(".generated") || n === LOCK_FILE),
      [],
      "no scratch folder or lock left behind",
    );
  } finally {
    await repo.cleanup();
  }
});

test("a live holder makes synth wait, and give up with a clear message when the wait runs out", async () => {
  const repo = await tempRepo({ generated: true });
  const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
  try {
    await writeFile(join(repo.root, LOCK_FILE), JSON.stringify({ pid: holder.pid, command: "synth" }));
    const io = captureIo(repo.root, { DAGOPS_LOCK_WAIT_SECONDS: "0.5" });
    assert.equal(await synth([], io), 2);
    assert.match(
      io.err.join(""),
      new RegExp(`another dagops command \\(npm run synth, pid ${holder.pid}\\) still holds \\.dagops\\.lock`),
    );
  } finally {
    holder.kill();
    await repo.cleanup();
  }
});

test("a stale lock (its holder is gone) is taken over", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    }).stdout;
    await writeFile(join(repo.root, LOCK_FILE), JSON.stringify({ pid: Number(dead), command: "synth" }));
    const io = captureIo(repo.root);
    assert.equal(await synth([], io), 0, io.text());
    assert.match(
      io.err.join(""),
      new RegExp(`took over a stale lock of \`npm run synth\` \\(pid ${dead}, no longer running\\)`),
    );
  } finally {
    await repo.cleanup();
  }
});

test("check deletes nothing: another writer's staging folder stays", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const staging = join(repo.root, `.generated.staging-${process.pid}`);
    await mkdir(staging);
    await writeFile(join(staging, "in-progress.yaml"), "kind: ConfigMap\n");
    const io = captureIo(repo.root);
    assert.equal(await check([], io), 0, io.text());
    assert.deepEqual(await readdir(staging), ["in-progress.yaml"]);
  } finally {
    await repo.cleanup();
  }
});

test("Ctrl-C releases the lock: the interrupted synth ends as by the signal, and leaves no .dagops.lock", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(REPO, "src/commands/synth.ts"), "--full", "--root", repo.root],
      { cwd: REPO, stdio: "ignore" },
    );
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    const lock = join(repo.root, LOCK_FILE);
    const { existsSync } = await import("node:fs");
    for (let i = 0; i < 500 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(existsSync(lock), "synth took the lock");
    child.kill("SIGINT");
    assert.equal(await ended, "SIGINT");
    assert.ok(!existsSync(lock), "the lock is released");
    const next = captureIo(repo.root);
    assert.equal(await synth([], next), 0, next.text());
    assert.doesNotMatch(next.text(), /stale lock/);
  } finally {
    await repo.cleanup();
  }
});
