/**
 * Kill synth at arbitrary moments: generated/ is the old tree or the new one, never a mix. The
 * writer stages the new files, commits the write with one rename of a journal, then applies it;
 * a kill after the commit leaves a journal that the next writer applies (recover()).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { recover } from "../../src/write/tree.ts";
import { snapshot, tempRepo } from "../support/helpers.ts";

function runSynth(root: string, killAfterMs: number): Promise<void> {
  return new Promise((resolve) => {
    // One process (not the tsx wrapper, whose child would survive the kill).
    const child = spawn(process.execPath, ["--import", "tsx", "src/commands/synth.ts"], { cwd: root, stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test("SIGKILL at any moment leaves the old tree or the new one", { timeout: 240_000 }, async (t) => {
  const repo = await tempRepo({ generated: true });
  try {
    const small = await snapshot(join(repo.root, "generated"));
    // Many pipelines make the write phase long enough to be hit.
    const base = await repo.read("pipelines/daily-usage-report.yaml");
    for (let i = 0; i < 150; i++)
      await repo.write(`pipelines/bulk-${i}.yaml`, base.replace("name: daily-usage-report", `name: bulk-${i}`));
    await runSynth(repo.root, 60_000);
    const big = await snapshot(join(repo.root, "generated"));
    assert.ok(big.size > small.size + 1000);
    for (let i = 0; i < 150; i++) await repo.remove(`pipelines/bulk-${i}.yaml`);
    // Now every synth goes from the big tree (old) back to the small one (new); kill it at spread-out moments.
    let sawOld = 0;
    let sawNew = 0;
    for (const delay of [700, 1300, 1900, 2500, 3100, 3700]) {
      await runSynth(repo.root, delay);
      await recover(repo.root, "generated");
      const tree = await snapshot(join(repo.root, "generated"));
      const isOld = sameTree(tree, big);
      const isNew = sameTree(tree, small);
      assert.ok(isOld || isNew, `after a kill at ${delay} ms generated/ is neither tree (${tree.size} files)`);
      if (isOld) sawOld++;
      else sawNew++;
      if (isNew) {
        // Put the big tree back for the next round.
        for (let i = 0; i < 150; i++)
          await repo.write(`pipelines/bulk-${i}.yaml`, base.replace("name: daily-usage-report", `name: bulk-${i}`));
        await runSynth(repo.root, 60_000);
        for (let i = 0; i < 150; i++) await repo.remove(`pipelines/bulk-${i}.yaml`);
      }
    }
    assert.equal(sawOld + sawNew, 6);
    t.diagnostic(`kills that left the old tree: ${sawOld}, the new tree: ${sawNew}`);
  } finally {
    await repo.cleanup();
  }
});

function sameTree(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
