/** The run manager's waits leave nothing behind on the signal they share. */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import { delay } from "../../../src/runner/retry.ts";

test("a thousand waits on one signal leave no abort listener behind, and an abort ends a wait at once", async () => {
  const stop = new AbortController();
  for (let i = 0; i < 1000; i++) await delay(0, stop.signal);
  assert.equal(getEventListeners(stop.signal, "abort").length, 0);
  const started = Date.now();
  const waiting = delay(60_000, stop.signal);
  stop.abort();
  await waiting;
  assert.ok(Date.now() - started < 1000);
  await delay(60_000, stop.signal); // already aborted: at once
  assert.equal(getEventListeners(stop.signal, "abort").length, 0);
});
