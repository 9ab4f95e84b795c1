/** Unit tests of the model's value parsers and graph functions. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cronError } from "../model/cron.ts";
import { formatDuration, parseDuration } from "../model/duration.ts";
import { findCycle, waves } from "../model/graph.ts";
import { isPinned, parseImage } from "../model/image.ts";
import { fieldPath, formatProblems, problem } from "../model/problems.ts";
import { cpuMillis, memoryBytes } from "../model/quantity.ts";
import { isSecretName, secretInValue } from "../model/secrets.ts";

describe("cron", () => {
  for (const ok of ["* * * * *", "15 */6 * * *", "0 0 1 1 *", "0 9-17/2 * * MON-FRI", "30 2 1,15 * ?", "0 0 * JAN,JUL 0", "0 0 * * 7", "@daily", "@hourly", "5 4 * * sun"]) {
    test(`accepts ${JSON.stringify(ok)}`, () => assert.equal(cronError(ok), undefined));
  }
  for (const [bad, why] of [
    ["60 * * * *", /minute/],
    ["* 24 * * *", /hour/],
    ["* * 0 * *", /day of month/],
    ["* * * 13 *", /month/],
    ["* * * * 8", /day of week/],
    ["* * * *", /5 fields/],
    ["* * * * * *", /5 fields/],
    ["*/0 * * * *", /step/],
    ["5-1 * * * *", /backwards/],
    ["? * * * *", /only allowed/],
    ["@every 5m", /macro/],
    ["CRON_TZ=UTC 0 * * * *", /timeZone/],
  ] as const) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.match(cronError(bad) ?? "", why));
  }
});

test("durations", () => {
  assert.equal(parseDuration("30s"), 30);
  assert.equal(parseDuration("45m"), 2700);
  assert.equal(parseDuration("2h"), 7200);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("1h30"), undefined);
  assert.equal(parseDuration(""), undefined);
  assert.equal(parseDuration("m"), undefined);
  assert.equal(formatDuration(5400), "1h30m");
});

test("quantities", () => {
  assert.equal(cpuMillis("200m"), 200);
  assert.equal(cpuMillis("1.5"), 1500);
  assert.equal(cpuMillis("0.0005"), 1);
  assert.equal(memoryBytes("300Mi"), 300 * 2 ** 20);
  assert.equal(memoryBytes("1G"), 1e9);
  assert.equal(memoryBytes("1Gi"), 2 ** 30);
});

test("image references", () => {
  assert.deepEqual(parseImage("111122223333.dkr.ecr.us-east-1.amazonaws.com/scanner:1.4.2"), { repository: "111122223333.dkr.ecr.us-east-1.amazonaws.com/scanner", tag: "1.4.2" });
  assert.ok(isPinned(parseImage(`busybox@sha256:${"a".repeat(64)}`)!));
  assert.ok(isPinned(parseImage("localhost:5000/a/b:v1")!));
  assert.ok(!isPinned(parseImage("busybox")!));
  assert.ok(!isPinned(parseImage("busybox:latest")!));
  assert.equal(parseImage("Busybox:1"), undefined);
  assert.equal(parseImage("a b"), undefined);
});

test("graph: cycles are reported as a closed path; waves follow dependsOn", () => {
  assert.deepEqual(findCycle([{ name: "a", dependsOn: ["b"] }, { name: "b", dependsOn: ["a"] }]), ["a", "b", "a"]);
  const cycle = findCycle([{ name: "a" }, { name: "b", dependsOn: ["a", "d"] }, { name: "c", dependsOn: ["b"] }, { name: "d", dependsOn: ["c"] }])!;
  assert.equal(cycle[0], cycle.at(-1));
  assert.deepEqual(new Set(cycle), new Set(["b", "c", "d"]));
  assert.equal(findCycle([{ name: "a" }, { name: "b", dependsOn: ["a"] }]), undefined);
  assert.deepEqual(waves([{ name: "a" }, { name: "b", dependsOn: ["a"] }, { name: "c", dependsOn: ["a"] }, { name: "d", dependsOn: ["b", "c"] }]), [["a"], ["b", "c"], ["d"]]);
});

test("secrets: names and values that look like credentials", () => {
  assert.ok(isSecretName("DB_PASSWORD"));
  assert.ok(isSecretName("api_key"));
  assert.ok(!isSecretName("PASSWORD_FILE"));
  assert.ok(!isSecretName("LOG_LEVEL"));
  assert.equal(secretInValue("AKIAIOSFODNN7EXAMPLE"), "an AWS access key ID");
  assert.equal(secretInValue("postgres://u:p@h/db"), "a URL with a password");
  assert.equal(secretInValue("https://example.com/path"), undefined);
});

test("problem formatting: file, path, line, code, message", () => {
  assert.equal(fieldPath(["steps", 2, "dependsOn", 0]), "steps[2].dependsOn[0]");
  assert.equal(fieldPath(["data", "plan.yaml"]), 'data["plan.yaml"]');
  const text = formatProblems([{ ...problem("UNKNOWN_STEP", "pipelines/x.yaml", "steps[2].dependsOn[0]", 'unknown step "extrct"'), line: 9 }, problem("CYCLE", "pipelines/x.yaml", "steps", "dependency cycle: a → b → a")]);
  assert.equal(text, ['✖ pipelines/x.yaml: 2 problems', `  ${"steps".padEnd("steps[2].dependsOn[0] (line 9)".length)}  CYCLE  dependency cycle: a → b → a`, '  steps[2].dependsOn[0] (line 9)  UNKNOWN_STEP  unknown step "extrct"'].join("\n"));
});
