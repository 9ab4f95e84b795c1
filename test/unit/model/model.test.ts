/** Unit tests of the model's value parsers and graph functions. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pipelineSchema } from "../../../src/model/pipeline-schema.ts";
import { compileSchema, validateAgainst, validatorFile, validatorOf } from "../../../src/model/schema-validator.ts";
import { parse } from "yaml";
import { cronError } from "../../../src/model/cron.ts";
import { dstClashes, FIXED_OFFSET_ZONE, scanTransitions } from "../../../src/model/dst.ts";
import { PIPELINE_DEFAULTS } from "../../../src/model/pipeline.ts";
import { timeZoneError } from "../../../src/model/resolve.ts";
import { loadProject } from "../../../src/load/load.ts";
import { REPO, tempRepo, yamlPipeline, exampleTree } from "../../support/helpers.ts";
import { formatDuration, parseDuration } from "../../../src/contract/duration.ts";
import { findCycle, waves } from "../../../src/contract/graph.ts";
import { isPinned, parseImage } from "../../../src/model/image.ts";
import { fieldPath, formatProblems, problem } from "../../../src/contract/problems.ts";
import { cpuMillis, memoryBytes } from "../../../src/model/quantity.ts";
import { isSecretName, secretInValue } from "../../../src/model/secrets.ts";

/** The tests' own example repository, synthesized (test/support/helpers.ts). */
const EXAMPLE_ROOT = await exampleTree();

describe("cron", () => {
  for (const ok of [
    "* * * * *",
    "15 */6 * * *",
    "0 0 1 1 *",
    "0 9-17/2 * * MON-FRI",
    "30 2 1,15 * ?",
    "0 0 * JAN,JUL 0",
    "@daily",
    "@hourly",
    "5 4 * * sun",
  ]) {
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
  assert.deepEqual(parseImage("111122223333.dkr.ecr.us-east-1.amazonaws.com/scanner:1.4.2"), {
    repository: "111122223333.dkr.ecr.us-east-1.amazonaws.com/scanner",
    tag: "1.4.2",
  });
  assert.ok(isPinned(parseImage(`busybox@sha256:${"a".repeat(64)}`)!));
  assert.ok(isPinned(parseImage("localhost:5000/a/b:v1")!));
  assert.ok(!isPinned(parseImage("busybox")!));
  assert.ok(!isPinned(parseImage("busybox:latest")!));
  assert.equal(parseImage("Busybox:1"), undefined);
  assert.equal(parseImage("a b"), undefined);
});

test("graph: cycles are reported as a closed path; waves follow dependsOn", () => {
  assert.deepEqual(
    findCycle([
      { name: "a", dependsOn: ["b"] },
      { name: "b", dependsOn: ["a"] },
    ]),
    ["a", "b", "a"],
  );
  const cycle = findCycle([
    { name: "a" },
    { name: "b", dependsOn: ["a", "d"] },
    { name: "c", dependsOn: ["b"] },
    { name: "d", dependsOn: ["c"] },
  ])!;
  assert.equal(cycle[0], cycle.at(-1));
  assert.deepEqual(new Set(cycle), new Set(["b", "c", "d"]));
  assert.equal(findCycle([{ name: "a" }, { name: "b", dependsOn: ["a"] }]), undefined);
  assert.deepEqual(
    waves([
      { name: "a" },
      { name: "b", dependsOn: ["a"] },
      { name: "c", dependsOn: ["a"] },
      { name: "d", dependsOn: ["b", "c"] },
    ]),
    [["a"], ["b", "c"], ["d"]],
  );
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
  const text = formatProblems([
    { ...problem("UNKNOWN_STEP", "pipelines/x.yaml", "steps[2].dependsOn[0]", 'unknown step "extrct"'), line: 9 },
    problem("CYCLE", "pipelines/x.yaml", "steps", "dependency cycle: a → b → a"),
  ]);
  assert.equal(
    text,
    [
      "✖ pipelines/x.yaml: 2 problems",
      `  ${"steps".padEnd("steps[2].dependsOn[0] (line 9)".length)}  CYCLE  dependency cycle: a → b → a`,
      '  steps[2].dependsOn[0] (line 9)  UNKNOWN_STEP  unknown step "extrct"',
    ].join("\n"),
  );
});

describe("daylight saving", () => {
  const start = new Date("2026-12-01T00:00:00Z");
  test("a Berlin 02:30 schedule: skipped in March, doubled in October, with the dates of the next year", () => {
    assert.deepEqual(dstClashes("30 2 * * *", "Europe/Berlin", start), [
      { date: "2027-03-28", kind: "gap", times: ["02:30"], window: "02:00–03:00" },
      { date: "2027-10-31", kind: "overlap", times: ["02:30"], window: "02:00–03:00" },
    ]);
  });
  test("UTC, a safe hour, or a weekday that misses the change: nothing", () => {
    assert.deepEqual(dstClashes("30 2 * * *", "Etc/UTC", start), []);
    assert.deepEqual(dstClashes("30 4 * * *", "Europe/Berlin", start), []);
    assert.deepEqual(dstClashes("30 2 * * 1", "Europe/Berlin", start), []);
  });
  test("the default time zone (not checked per pipeline) is one the API server accepts, and has no daylight saving", () => {
    assert.equal(timeZoneError(PIPELINE_DEFAULTS.timeZone), undefined);
    assert.ok(FIXED_OFFSET_ZONE.test(PIPELINE_DEFAULTS.timeZone));
  });
  test("zones taken to have one offset all year are not scanned: the scan finds no change in any of them", () => {
    const fixed = [
      "Etc/UTC",
      "UTC",
      "etc/utc",
      "Etc/UCT",
      "Etc/GMT",
      "GMT",
      "Etc/GMT0",
      "Etc/GMT+5",
      "Etc/GMT-14",
      "Etc/GMT+12",
      "Etc/Universal",
      "Etc/Zulu",
      "Etc/Greenwich",
      "Zulu",
      "Universal",
      "Greenwich",
    ];
    for (const zone of fixed) {
      assert.ok(FIXED_OFFSET_ZONE.test(zone), zone);
      assert.deepEqual(scanTransitions(zone, start.getTime()), [], zone);
    }
    // Zones with daylight saving, or a name that only starts like one, are scanned.
    for (const zone of ["Europe/London", "Europe/Dublin", "America/New_York", "Etc/UTC/x", "GMT+5x"])
      assert.ok(!FIXED_OFFSET_ZONE.test(zone), zone);
    assert.ok(scanTransitions("Europe/London", start.getTime()).length > 0);
  });
  test("an hourly schedule in New York, and a half-hour shift (Lord Howe)", () => {
    assert.deepEqual(
      dstClashes("0 * * * *", "America/New_York", start).map((c) => [c.date, c.kind, c.times]),
      [
        ["2027-03-14", "gap", ["02:00"]],
        ["2027-11-07", "overlap", ["01:00"]],
      ],
    );
    assert.deepEqual(
      dstClashes("0 2 * * *", "Australia/Lord_Howe", start).map((c) => [c.date, c.kind, c.window]),
      [["2027-10-03", "gap", "02:00–02:30"]],
    );
  });
  test("synth warns, naming the field, the dates and the fix; an override's own schedule is named at its path", async () => {
    const repo = await tempRepo({ pipelines: false });
    try {
      await repo.write(
        "pipelines/berlin.yaml",
        `${yamlPipeline("berlin")}schedule: "30 2 * * *"\ntimeZone: Europe/Berlin\noverrides:\n  staging:\n    schedule: "0 3 * * *"\n  prod:\n    schedule: "15 2 * * 0"\n`,
      );
      const { problems } = await loadProject(repo.root, start);
      const dst = problems.filter((p) => p.code === "DST_SCHEDULE");
      assert.deepEqual(
        dst.map((p) => [p.path, p.severity]),
        [
          ["schedule", "warning"],
          ["overrides.prod.schedule", "warning"],
        ],
      );
      assert.match(
        dst[0]!.message,
        /2027-03-28 \(02:30 does not exist.*2027-10-31 \(02:30 happens twice.*Choose a time outside 02:00–03:00, or a schedule in timeZone: Etc\/UTC/,
      );
      assert.match(dst[1]!.message, /\(cluster prod\).*2027-03-28.*2027-10-31/);
    } finally {
      await repo.cleanup();
    }
  });
});

describe("secret scan: linear in the input", () => {
  test("detections are unchanged: URLs with passwords and JSON Web Tokens", () => {
    assert.equal(secretInValue("postgres://app:s3cret@db:5432/app"), "a URL with a password");
    assert.equal(secretInValue("see 9x+y://a:b@c"), "a URL with a password");
    assert.equal(secretInValue("https://user@host/x"), undefined);
    assert.equal(secretInValue("https://host:8080/x@y"), undefined);
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert.equal(secretInValue(jwt), "a JSON Web Token");
    assert.equal(secretInValue(`Bearer ${jwt}`), "a JSON Web Token");
    assert.equal(secretInValue(`x${jwt}`), undefined, "no word boundary before eyJ");
  });
  // A quadratic pattern needs minutes to half an hour on these; a linear scan, milliseconds. The
  // limits are 30 s so that only a return of the quadratic behaviour, not a slow machine, fails them.
  test("1 MiB adversarial values are scanned in linear time", { timeout: 30_000 }, () => {
    for (const value of [
      "b".repeat(2 ** 20),
      `a://${"b".repeat(2 ** 20)}`,
      "eyJ-".repeat(2 ** 18),
      "a://a:".repeat(2 ** 17),
      "eyJaaaa.".repeat(2 ** 17),
    ]) {
      assert.equal(secretInValue(value), undefined);
    }
  });
  test("a 1 MiB pipeline of adversarial strings is checked quickly", { timeout: 30_000 }, async () => {
    const repo = await tempRepo({ pipelines: false });
    try {
      const long = (prefix: string) => JSON.stringify(prefix + "b".repeat(32_000 - prefix.length));
      const args = ["b", "a://", "x-eyJaaaaaaaaaaaa."].flatMap((p) => Array.from({ length: 10 }, () => long(p)));
      const text = `${yamlPipeline("adversarial", `    args: [${args.join(", ")}]\n`)}`;
      assert.ok(text.length > 800_000 && text.length < 1024 * 1024, `${text.length} bytes`);
      await repo.write("pipelines/adversarial.yaml", text);
      const { problems } = await loadProject(repo.root);
      assert.deepEqual(
        problems.filter((p) => p.severity === "error"),
        [],
      );
    } finally {
      await repo.cleanup();
    }
  });
});

describe("run parameters", async () => {
  const { settleParams, parseParamArgs, combinations, MAX_EXPANSION } = await import("../../../src/contract/params.ts");
  const declared = {
    date: { type: "date", default: "scheduled-date" },
    at: { type: "string", default: "scheduled-time" },
    batch: { type: "int", default: 100 },
    dry: { type: "bool", default: false },
    tenant: { type: "string", pattern: "^[a-z]+$" },
  } as const;
  test("defaults: scheduled-date is the scheduled day in the pipeline's time zone; literals as written; given values checked", () => {
    const clock = { at: new Date("2026-11-30T23:30:00Z"), timeZone: "Europe/Berlin" };
    const { values, errors } = settleParams(declared, { tenant: "acme", batch: "007" }, clock);
    assert.deepEqual(errors, []);
    assert.deepEqual(values, {
      at: "2026-11-30T23:30:00Z",
      batch: "7",
      date: "2026-12-01",
      dry: "false",
      tenant: "acme",
    });
    assert.equal(
      settleParams(declared, { tenant: "acme" }, { ...clock, timeZone: "America/New_York" }).values.date,
      "2026-11-30",
    );
  });
  test("every problem names the parameter: missing, unknown, wrong type, pattern", () => {
    const { errors } = settleParams(
      declared,
      { dry: "yes", batch: "1.5", region: "eu" },
      { at: new Date(), timeZone: "Etc/UTC" },
    );
    assert.deepEqual(errors, [
      "unknown parameter region; the pipeline declares: at, batch, date, dry, tenant",
      'parameter batch is an int: expected a whole number such as 7, found "1.5"',
      'parameter dry is a bool: expected true or false, found "yes"',
      "parameter tenant has no default: give it with --param tenant=<string>",
    ]);
  });
  test("ranges and lists for backfills: days across a month end, integers; a backwards or huge range is refused", () => {
    const parsed = parseParamArgs(["date=2026-11-29..2026-12-02", "batch=1,2"], declared);
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.values.date, ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"]);
    assert.equal(combinations(parsed.values).length, 8);
    assert.deepEqual(combinations(parsed.values)[1], { batch: "1", date: "2026-11-30" });
    assert.match(parseParamArgs(["date=2026-12-02..2026-11-29"], declared).errors[0]!, /runs backwards/);
    assert.match(
      parseParamArgs(["batch=1..5000"], declared).errors[0]!,
      new RegExp(`at most ${MAX_EXPANSION} at once`),
    );
    assert.deepEqual(
      parseParamArgs(["tenant=a,b"], declared).values.tenant,
      ["a,b"],
      "a string value keeps its commas",
    );
  });
});

describe("H in schedules and tenant templates", async () => {
  const { resolveHashed, cronError } = await import("../../../src/model/cron.ts");
  test("H is a stable value from the pipeline's name, in the field's range; H/n an offset below n; the rest as written", () => {
    const a = resolveHashed("H H/4 * * *", "classify-acme");
    assert.equal(a, resolveHashed("H H/4 * * *", "classify-acme"), "the same name, the same schedule");
    const [minute, hour] = a.split(" ");
    assert.ok(Number(minute) >= 0 && Number(minute) <= 59);
    assert.match(hour!, /^[0-3]-23\/4$/);
    assert.equal(cronError(a), undefined);
    assert.equal(resolveHashed("30 2 * * *", "x"), "30 2 * * *");
    assert.equal(resolveHashed("@daily", "x"), "@daily");
    const day = Number(resolveHashed("0 0 H * *", "x").split(" ")[2]);
    assert.ok(day >= 1 && day <= 28, "a day every month has");
    assert.match(resolveHashed("H(10-20) * * * *", "x"), /^(1\d|20) /);
    // 2,000 tenants spread over the hour instead of starting together.
    const minutes = new Set(Array.from({ length: 2000 }, (_, i) => resolveHashed("H * * * *", `t-${i}`)));
    assert.equal(minutes.size, 60);
  });
  test("the example template: one pipeline per tenant, with its params, role and overrides, marked with its template", () => {
    const read = (path: string) => parse(readFileSync(join(EXAMPLE_ROOT, "generated", path), "utf8"));
    const acme = read("prod/pipelines/tenant-export-acme/cronjob-tenant-export-acme.yaml");
    assert.equal(acme.metadata.annotations["dagops.dev/template"], "tenant-export");
    assert.match(acme.spec.schedule, /^\d+ [0-3]-23\/4 \* \* \*$/);
    assert.notEqual(
      acme.spec.schedule,
      read("prod/pipelines/tenant-export-globex/cronjob-tenant-export-globex.yaml").spec.schedule,
    );
    const plan = (p: string) => parse(read(`prod/pipelines/${p}/configmap-plan.yaml`).data["plan.yaml"]);
    assert.equal(plan("tenant-export-acme").params.tenant.default, "acme");
    assert.equal(plan("tenant-export-globex").maxParallel, 1, "globex's own override");
    assert.equal(plan("tenant-export-acme").maxParallel, 2);
    assert.equal(
      read("prod/pipelines/tenant-export-initech/serviceaccount-steps.yaml").metadata.annotations[
        "eks.amazonaws.com/role-arn"
      ],
      "arn:aws:iam::444455556666:role/tenant-export-initech",
    );
    assert.ok(!existsSync(join(EXAMPLE_ROOT, "generated/staging/pipelines/tenant-export-acme")), "clusters: [prod]");
  });
});

describe("validator cache", () => {
  // Invalid in every way the problems distinguish: an unknown field, a wrong type, a missing
  // field, a value out of an enum, a pattern (x-expected), a number out of range.
  const bad: unknown[] = [
    {
      name: "x",
      steps: [{ name: "a", image: "busybox:1.36", command: ["true"], retries: "three" }],
      sechedule: "@daily",
    },
    { name: "Not_A_Label", steps: [] },
    {
      name: "x",
      steps: [{ name: "a", command: ["true"], resources: { requests: { cpu: "lots" } } }],
      spot: { interruptionTolerance: 99 },
    },
    { steps: [{ name: "a", image: "busybox:1.36", command: "true", timeout: "forever" }], notify: { format: "xml" } },
    "not a pipeline",
  ];

  test("a kept validator reports exactly what ajv's own compile reports", () => {
    const req = createRequire(import.meta.url);
    const file = validatorFile(pipelineSchema);
    rmSync(file, { force: true });
    delete req.cache[file];
    // A copy: a schema object this process has not compiled yet, with the same key.
    validatorOf(structuredClone(pipelineSchema));
    assert.ok(existsSync(file), "the compiled validator is kept as code");
    delete req.cache[file];
    const kept = req(file) as ReturnType<typeof compileSchema>["validate"];
    const fresh = compileSchema(pipelineSchema).validate;
    for (const data of bad) {
      assert.equal(fresh(data), false);
      assert.equal(kept(data), false);
      // The same errors, parentSchema included (the problems read x-expected from it).
      assert.deepEqual(JSON.parse(JSON.stringify(kept.errors)), JSON.parse(JSON.stringify(fresh.errors)));
    }
    assert.match(
      validateAgainst(pipelineSchema, bad[1], "p.yaml")
        .map((p) => p.message)
        .join("\n"),
      /a DNS-1123 label/,
    );
  });

  test("a kept validator that does not load is compiled again and replaced", async () => {
    const schema = {
      type: "object",
      properties: { n: { type: "integer", minimum: 1, "x-expected": "a positive count" } },
      additionalProperties: false,
      required: ["n"],
    };
    const file = validatorFile(schema);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, "module.exports = (");
    const validate = validatorOf(schema);
    assert.equal(validate({ n: 2 }), true);
    assert.deepEqual(
      validateAgainst(schema, { n: 0 }, "f.yaml").map((p) => p.message),
      ["expected a positive count, found 0"],
    );
    assert.match(readFileSync(file, "utf8"), /^"use strict";/);
    rmSync(file, { force: true });
  });
});
