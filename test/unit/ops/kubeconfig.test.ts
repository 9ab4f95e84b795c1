/** The operator's command without a usable kubeconfig: what is wrong and what to run, before any request. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../../../src/ops/main.ts";
import { captureIo, exampleTree } from "../../support/helpers.ts";

const EXAMPLE_ROOT = await exampleTree();

test("no kubeconfig at all: said so, with the EKS command, never client-node's localhost:8080 fallback", async () => {
  const home = await mkdtemp(join(tmpdir(), "dagops-home-"));
  try {
    const io = captureIo(EXAMPLE_ROOT, { HOME: home });
    assert.equal(await main(["runs"], io), 2);
    assert.equal(
      io.err.join(""),
      "dagops runs: KUBECONFIG is unset and ~/.kube/config does not exist; for EKS run `aws eks update-kubeconfig --name <cluster>`\n",
    );
    const named = captureIo(EXAMPLE_ROOT, { HOME: home, KUBECONFIG: join(home, "nope") });
    assert.equal(await main(["runs"], named), 2);
    assert.match(named.err.join(""), /KUBECONFIG names \S+nope, which does not exist; for EKS run/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test("an empty kubeconfig says it is empty, not a TypeError", async () => {
  const home = await mkdtemp(join(tmpdir(), "dagops-home-"));
  try {
    await writeFile(join(home, "config"), "\n");
    const io = captureIo(EXAMPLE_ROOT, { HOME: home, KUBECONFIG: join(home, "config") });
    assert.equal(await main(["status", "x-1"], io), 2);
    assert.match(
      io.err.join(""),
      /^dagops status: KUBECONFIG \S+config is empty; for EKS run `aws eks update-kubeconfig --name <cluster>`\n$/,
    );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
