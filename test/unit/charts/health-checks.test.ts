/**
 * The Lua health checks shipped in argocd-cm, read from the generated file and executed in a real
 * Lua VM against sample objects, as Argo CD would run them.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { lua51Violations, runHealthScript } from "../../support/lua.ts";

const cm = parse(readFileSync("generated/prod/bootstrap/configmap-argocd-cm.yaml", "utf8")) as {
  data: Record<string, string>;
};
const script = (kind: string) => {
  const s = cm.data[`resource.customizations.health.${kind}`];
  assert.ok(s, `argocd-cm has a health check for ${kind}`);
  return s;
};
const APP = script("argoproj.io_Application");
const CRON = script("batch_CronJob");
const FARGATE = script("eks.services.k8s.aws_FargateProfile");

describe("health checks: Lua 5.1 only (Argo CD runs gopher-lua)", () => {
  for (const [key, s] of Object.entries(cm.data)) {
    test(key, () => assert.deepEqual(lua51Violations(s), []));
  }
  test("the guard itself catches newer constructs", () => {
    assert.deepEqual(lua51Violations("local x = 7 // 2\nreturn table.unpack({x})"), [
      "integer division // (5.3)",
      "table.unpack/move/pack (5.2+)",
    ]);
    assert.deepEqual(lua51Violations('if a ~= b then return "a|b" end'), []);
  });
});

describe("health checks: dagops CronJobs never fail a sync", () => {
  const ours = (spec: object, status?: object) => ({
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "etl", labels: { "app.kubernetes.io/managed-by": "dagops" } },
    spec: { schedule: "0 2 * * *", ...spec },
    ...(status ? { status } : {}),
  });
  test("never run", () => {
    assert.deepEqual(runHealthScript(CRON, ours({})), { status: "Healthy", message: "no run yet" });
    assert.deepEqual(runHealthScript(CRON, ours({}, {})), { status: "Healthy", message: "no run yet" });
  });
  test("running", () => {
    const h = runHealthScript(
      CRON,
      ours(
        {},
        {
          active: [{ name: "etl-1" }],
          lastScheduleTime: "2026-12-01T02:00:00Z",
          lastSuccessfulTime: "2026-11-30T02:10:00Z",
        },
      ),
    );
    assert.deepEqual(h, { status: "Healthy", message: "a run is in progress" });
  });
  test("last run failed: Healthy, and the message says so", () => {
    const h = runHealthScript(
      CRON,
      ours({}, { lastScheduleTime: "2026-12-01T02:00:00Z", lastSuccessfulTime: "2026-11-30T02:10:00Z" }),
    );
    assert.equal(h.status, "Healthy");
    assert.match(h.message, /last run, started 2026-12-01T02:00:00Z, failed \(last success: 2026-11-30T02:10:00Z\)/);
    const never = runHealthScript(CRON, ours({}, { lastScheduleTime: "2026-12-01T02:00:00Z" }));
    assert.equal(never.status, "Healthy");
    assert.match(never.message, /last success: never/);
  });
  test("last run succeeded", () => {
    const h = runHealthScript(
      CRON,
      ours({}, { lastScheduleTime: "2026-12-01T02:00:00Z", lastSuccessfulTime: "2026-12-01T02:11:40Z" }),
    );
    assert.deepEqual(h, { status: "Healthy", message: "last run succeeded at 2026-12-01T02:11:40Z" });
  });
  test("suspended (no schedule): Healthy, not Suspended, so sync waves do not stall", () => {
    const h = runHealthScript(CRON, ours({ suspend: true }));
    assert.deepEqual(h, { status: "Healthy", message: "suspended: runs only when started by hand; no run yet" });
  });
  test("the generated CronJobs carry the label the check keys on", () => {
    const cron = parse(
      readFileSync("generated/prod/pipelines/customer-classification/cronjob-customer-classification.yaml", "utf8"),
    );
    assert.equal(
      runHealthScript(CRON, { ...cron, status: { lastScheduleTime: "2026-12-01T02:00:00Z" } }).status,
      "Healthy",
    );
  });
});

describe("health checks: other CronJobs keep Argo CD's built-in behaviour", () => {
  const theirs = (spec: object, status?: object) => ({
    metadata: { name: "backup" },
    spec: { schedule: "@daily", ...spec },
    ...(status ? { status } : {}),
  });
  test("last run failed: Degraded", () => {
    assert.equal(
      runHealthScript(
        CRON,
        theirs({}, { lastScheduleTime: "2026-12-01T02:00:00Z", lastSuccessfulTime: "2026-11-30T02:10:00Z" }),
      ).status,
      "Degraded",
    );
  });
  test("suspended: Suspended; no status: Progressing; succeeded or running: Healthy", () => {
    assert.equal(runHealthScript(CRON, theirs({ suspend: true })).status, "Suspended");
    assert.equal(runHealthScript(CRON, theirs({})).status, "Progressing");
    assert.equal(
      runHealthScript(
        CRON,
        theirs({}, { lastScheduleTime: "2026-12-01T02:00:00Z", lastSuccessfulTime: "2026-12-01T02:01:00Z" }),
      ).status,
      "Healthy",
    );
    assert.equal(
      runHealthScript(
        CRON,
        theirs(
          {},
          {
            active: [{ name: "b" }],
            lastScheduleTime: "2026-12-01T02:00:00Z",
            lastSuccessfulTime: "2026-11-30T02:01:00Z",
          },
        ),
      ).status,
      "Healthy",
    );
    assert.equal(runHealthScript(CRON, theirs({}, { lastScheduleTime: "2026-12-01T02:00:00Z" })).status, "Healthy");
  });
});

describe("health checks: child Applications wait for Synced as well as Healthy", () => {
  const app = (status?: object) => ({
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: { name: "dagops-platform" },
    spec: {},
    ...(status ? { status } : {}),
  });
  test("Synced and Healthy: Healthy", () => {
    assert.deepEqual(runHealthScript(APP, app({ sync: { status: "Synced" }, health: { status: "Healthy" } })), {
      status: "Healthy",
      message: "",
    });
  });
  test("OutOfSync but Healthy (the new commit not applied yet): Progressing, so the next wave waits", () => {
    assert.deepEqual(runHealthScript(APP, app({ sync: { status: "OutOfSync" }, health: { status: "Healthy" } })), {
      status: "Progressing",
      message: "waiting for sync (OutOfSync)",
    });
  });
  test("a sync running: Progressing", () => {
    assert.equal(
      runHealthScript(
        APP,
        app({ sync: { status: "Synced" }, health: { status: "Healthy" }, operationState: { phase: "Running" } }),
      ).status,
      "Progressing",
    );
  });
  test("Synced and Progressing: Progressing with the app's message", () => {
    assert.deepEqual(
      runHealthScript(
        APP,
        app({ sync: { status: "Synced" }, health: { status: "Progressing", message: "waiting for rollout" } }),
      ),
      { status: "Progressing", message: "waiting for rollout" },
    );
  });
  test("Synced and Degraded: Degraded", () => {
    assert.equal(
      runHealthScript(APP, app({ sync: { status: "Synced" }, health: { status: "Degraded" } })).status,
      "Degraded",
    );
  });
  test("a failed sync: Degraded with the reason, not an endless wait", () => {
    const h = runHealthScript(
      APP,
      app({
        sync: { status: "OutOfSync" },
        health: { status: "Healthy" },
        operationState: { phase: "Failed", message: "one or more objects failed to apply" },
      }),
    );
    assert.deepEqual(h, { status: "Degraded", message: "sync failed: one or more objects failed to apply" });
  });
  test("no status yet: Progressing", () => {
    assert.equal(runHealthScript(APP, app()).status, "Progressing");
  });
});

describe("health checks: ACK FargateProfiles are Healthy only when ACTIVE", () => {
  const profile = (status?: object) => ({
    apiVersion: "eks.services.k8s.aws/v1alpha1",
    kind: "FargateProfile",
    metadata: { name: "run-managers-1" },
    spec: {},
    ...(status ? { status } : {}),
  });
  test("no status yet, CREATING, DELETING: Progressing", () => {
    assert.equal(runHealthScript(FARGATE, profile()).status, "Progressing");
    const creating = runHealthScript(FARGATE, profile({ status: "CREATING" }));
    assert.equal(creating.status, "Progressing");
    assert.match(creating.message, /do not run on Fargate/);
    assert.deepEqual(runHealthScript(FARGATE, profile({ status: "DELETING" })), {
      status: "Progressing",
      message: "DELETING",
    });
  });
  test("ACTIVE: Healthy", () => {
    assert.deepEqual(
      runHealthScript(
        FARGATE,
        profile({ status: "ACTIVE", conditions: [{ type: "ACK.ResourceSynced", status: "True" }] }),
      ),
      { status: "Healthy", message: "ACTIVE" },
    );
  });
  test("a terminal ACK condition: Degraded with its message", () => {
    const h = runHealthScript(
      FARGATE,
      profile({
        conditions: [
          { type: "ACK.ResourceSynced", status: "False" },
          { type: "ACK.Terminal", status: "True", message: "InvalidParameterException: subnet-0a1b is not private" },
        ],
      }),
    );
    assert.equal(h.status, "Degraded");
    assert.match(h.message, /InvalidParameterException: subnet-0a1b is not private/);
  });
  test("CREATE_FAILED: Degraded with the health issues", () => {
    const h = runHealthScript(
      FARGATE,
      profile({
        status: "CREATE_FAILED",
        health: { issues: [{ code: "PodExecutionRoleAlreadyInUse", message: "role in use" }] },
      }),
    );
    assert.deepEqual(h, { status: "Degraded", message: "CREATE_FAILED PodExecutionRoleAlreadyInUse: role in use;" });
  });
});
