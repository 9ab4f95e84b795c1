/**
 * The stamps never change output, and check never passes a stale tree: random edit sequences
 * (add, change, rename and delete pipelines, tenants added, changed and removed, a tenant with a
 * warning, a template changed, a TypeScript pipeline changed, a helper it imports inside and
 * outside pipelines/, the platform configuration and a file only it imports, dagops's own
 * version, a definition that breaks) applied to two copies of the example repository; one is
 * synthesized incrementally, the other with --full. After every step both trees must be byte for
 * byte the same, with the same exit code and the same problems; and after the same edit made
 * without a synth, check in a fresh clone must agree with check --full. A hand-edited file is
 * still caught.
 */
import assert from "node:assert/strict";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { main as check, runCheck } from "../../src/commands/check.ts";
import { main as synth } from "../../src/commands/synth.ts";
import { captureIo, REPO, snapshot, tempRepo, yamlPipeline, type TempRepo } from "../support/helpers.ts";

/** A small deterministic PRNG (mulberry32): the same seed, the same sequence. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Edit = { readonly name: string; apply(repo: TempRepo): Promise<void> };

function edits(next: () => number, added: string[], broken: boolean): Edit {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const n = Math.floor(next() * 1000);
  const kinds: Edit[] = [
    {
      name: `add gen-${n}`,
      apply: async (r) => (
        added.push(`gen-${n}`),
        r.write(`pipelines/gen-${n}.yaml`, yamlPipeline(`gen-${n}`, `schedule: "H ${n % 24} * * *"\n`))
      ),
    },
    {
      name: "change a YAML pipeline",
      apply: async (r) =>
        r.write(
          "pipelines/daily-usage-report.yaml",
          (await r.read("pipelines/daily-usage-report.yaml")).replace(
            /maxParallel: \d+/,
            `maxParallel: ${1 + (n % 5)}`,
          ),
        ),
    },
    {
      name: "change the TypeScript pipeline",
      apply: async (r) =>
        r.write(
          "pipelines/customer-classification.ts",
          (await r.read("pipelines/customer-classification.ts")).replace(
            /maxParallel: \d+/,
            `maxParallel: ${3 + (n % 5)}`,
          ),
        ),
    },
    {
      name: "add a tenant",
      apply: async (r) =>
        r.write(
          "pipelines/tenant-export.tenants.yaml",
          `${await r.read("pipelines/tenant-export.tenants.yaml")}- { name: t${n}, params: { tenant: t${n} } }\n`,
        ),
    },
    // A warning (an override for a cluster the template does not deploy to) in a template's tenant.
    {
      name: "add a tenant with a warning",
      apply: async (r) =>
        r.write(
          "pipelines/tenant-export.tenants.yaml",
          `${await r.read("pipelines/tenant-export.tenants.yaml")}- { name: w${n}, params: { tenant: w${n} }, overrides: { staging: { maxParallel: 1 } } }\n`,
        ),
    },
    {
      name: "change a tenant",
      apply: async (r) =>
        r.write(
          "pipelines/tenant-export.tenants.yaml",
          (await r.read("pipelines/tenant-export.tenants.yaml")).replace(
            /maxParallel: \d+ \} \} \}/,
            `maxParallel: ${1 + (n % 3)} } } }`,
          ),
        ),
    },
    {
      name: "change the template",
      apply: async (r) =>
        r.write(
          "pipelines/tenant-export.yaml",
          (await r.read("pipelines/tenant-export.yaml")).replace(/^maxParallel: \d+$/m, `maxParallel: ${2 + (n % 3)}`),
        ),
    },
    {
      name: "remove a tenant",
      apply: async (r) => {
        const lines = (await r.read("pipelines/tenant-export.tenants.yaml")).split("\n");
        const tenants = lines.filter((l) => l.startsWith("- "));
        if (tenants.length > 1)
          await r.write("pipelines/tenant-export.tenants.yaml", lines.filter((l) => l !== tenants[0]).join("\n"));
      },
    },
    {
      name: "change the image tag in a helper outside pipelines/",
      apply: async (r) => r.write("lib/images.ts", `export const classifierTag = "2.8.${n}";\n`),
    },
    {
      name: "change a helper inside pipelines/",
      apply: async (r) => r.write("pipelines/_limits.ts", `export const classifyMemory = "${700 + (n % 5) * 10}Mi";\n`),
    },
    {
      name: "change a file only platform.config.ts imports",
      apply: async (r) => r.write("lib/run-manager.ts", `export const runManagerTag = "0.1.${n}";\n`),
    },
    {
      name: "change the platform configuration",
      apply: async (r) =>
        r.write(
          "platform.config.ts",
          (await r.read("platform.config.ts")).replace(
            /cpu: "\d+", memory: "800Gi"/,
            `cpu: "${200 + (n % 50)}", memory: "800Gi"`,
          ),
        ),
    },
    {
      name: "a new dagops version",
      apply: async (r) =>
        r.write("package.json", (await r.read("package.json")).replace(/"version": "[^"]+"/, `"version": "0.1.${n}"`)),
    },
    {
      name: "break a pipeline",
      apply: async (r) =>
        r.write(
          "pipelines/daily-usage-report.yaml",
          (await r.read("pipelines/daily-usage-report.yaml")).replace(/cpu: 250m/, "cpu: lots"),
        ),
    },
    {
      name: "fix it again",
      apply: async (r) =>
        r.write(
          "pipelines/daily-usage-report.yaml",
          (await r.read("pipelines/daily-usage-report.yaml")).replace("cpu: lots", "cpu: 250m"),
        ),
    },
  ];
  const fix = kinds.find((k) => k.name === "fix it again")!;
  if (broken) return fix;
  kinds.splice(kinds.indexOf(fix), 1);
  if (added.length) {
    const victim = pick(added);
    kinds.push({
      name: `delete ${victim}`,
      apply: async (r) => (added.splice(added.indexOf(victim), 1), r.remove(`pipelines/${victim}.yaml`)),
    });
    kinds.push({
      name: `rename ${victim}`,
      apply: async (r) => {
        const to = `${victim}-r${n}`;
        added.splice(added.indexOf(victim), 1, to);
        await r.write(
          `pipelines/${victim}.yaml`,
          (await r.read(`pipelines/${victim}.yaml`)).replace(`name: ${victim}`, `name: ${to}`),
        );
        await rename(join(r.root, `pipelines/${victim}.yaml`), join(r.root, `pipelines/${to}.yaml`));
      },
    });
  }
  return pick(kinds);
}

async function run(main: typeof synth, repo: TempRepo, ...args: string[]) {
  const io = captureIo(repo.root);
  const code = await main(args, io);
  return { code, err: io.err.join(""), out: io.out.join("") };
}

/** The problems a synth printed, without their order. */
const problemLines = (stderr: string) =>
  stderr
    .split("\n")
    .filter((l) => /^\s+\S+\s+[A-Z_]+( \(warning\))?\s/.test(l))
    .sort();

test("random edit sequences: the incremental synth writes exactly what a full synth writes, and check in a fresh clone agrees with check --full", {
  timeout: 600_000,
}, async () => {
  const a = await tempRepo({ generated: true, git: true });
  const b = await tempRepo({ generated: true });
  const clones = await mkdtemp(join(tmpdir(), "dagops-clones-"));
  try {
    let broken = false;
    // (Seed 13 adds a tenant with a warning at step 7, and removes another at step 8.)
    for (const seed of [7, 2026, 13]) {
      const next = random(seed);
      const addedA: string[] = [];
      const addedB: string[] = [];
      for (let step = 0; step < 10; step++) {
        const state = next();
        const edit = edits(() => state, addedA, broken);
        await edit.apply(a);
        // The same edit on the other copy (same PRNG value, same choices).
        await editsReplay(edit.name, b, state, addedB, broken);
        const label = `seed ${seed} step ${step}: ${edit.name}`;
        // The edit committed without a synth, as a pull request that forgot it: CI's fresh clone.
        const edited = git(a.root, "status", "--porcelain").trim() !== "";
        commitAll(a.root, label);
        const clone = join(clones, `${seed}-${step}`);
        execFileSync("git", ["clone", "-q", a.root, clone]);
        const fresh = await runCheck(clone);
        const full = await runCheck(clone, undefined, { full: true });
        assert.deepEqual(fresh, full, `${label}: check in a fresh clone and check --full disagree`);
        if (edited && !broken && edit.name !== "break a pipeline")
          assert.equal(fresh.ok, false, `${label}: the edit left generated/ stale, and check passed`);
        await rm(clone, { recursive: true, force: true });

        broken = edit.name === "break a pipeline";
        const inc = await run(synth, a);
        const whole = await run(synth, b, "--full");
        if (process.env.DEBUG_INCREMENTAL) process.stderr.write(`${label}: exit ${inc.code}\n`);
        assert.equal(inc.code, whole.code, `${label}\nincremental:\n${inc.err}\nfull:\n${whole.err}`);
        assert.deepEqual(problemLines(inc.err), problemLines(whole.err), label);
        assert.deepEqual(await snapshot(join(a.root, "generated")), await snapshot(join(b.root, "generated")), label);
        commitAll(a.root, `${label}: synth`);
        if (inc.code === 0) {
          const checked = await runCheck(a.root);
          assert.ok(checked.ok, `${label}: ${JSON.stringify(checked.problems.filter((p) => p.severity === "error"))}`);
        }
      }
    }
  } finally {
    await a.cleanup();
    await b.cleanup();
    await rm(clones, { recursive: true, force: true });
  }
});

/** Replays on the second copy the edit the first got (edits() draws from the same value). */
async function editsReplay(
  name: string,
  repo: TempRepo,
  state: number,
  added: string[],
  broken: boolean,
): Promise<void> {
  const edit = edits(() => state, added, broken);
  assert.equal(edit.name, name);
  await edit.apply(repo);
}

const git = (root: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
    cwd: root,
    encoding: "utf8",
  });
const commitAll = (root: string, message: string) => {
  git(root, "add", "-A");
  git(root, "commit", "-q", "--allow-empty", "-m", message);
};

test("a hand-edited file under generated/ is still caught, by check and by the next synth", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    assert.equal((await run(synth, repo)).code, 0);
    const file = "generated/prod/pipelines/daily-usage-report/cronjob-daily-usage-report.yaml";
    const original = await repo.read(file);
    await repo.write(file, original.replace("concurrencyPolicy: Forbid", "concurrencyPolicy: Allow"));
    const checked = await run(check, repo);
    assert.equal(checked.code, 1);
    assert.match(checked.err, /cronjob-daily-usage-report\.yaml: 1 problem[\s\S]*DRIFT_STALE/);
    // A stray file, and a folder no pipeline owns.
    await repo.write("generated/prod/pipelines/nobody/configmap-x.yaml", "a: 1\n");
    const strays = await run(check, repo);
    assert.match(strays.err, /generated\/prod\/pipelines\/nobody\/configmap-x\.yaml[\s\S]*DRIFT_EXTRA/);
    const fixed = await run(synth, repo);
    assert.equal(fixed.code, 0, fixed.err);
    assert.equal(await repo.read(file), original);
    assert.equal((await run(check, repo)).code, 0);
    assert.match((await run(synth, repo)).out, /is up to date/);
  } finally {
    await repo.cleanup();
  }
});

test("a hand-edited stamp proves nothing: check reports it stale, and the next synth renders that pipeline and writes it back", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    const file = "generated/prod/pipelines/daily-usage-report/dagops.stamp";
    const original = await repo.read(file);
    // Claims another definition: the stamp no longer proves the folder.
    const edited = original.replace(
      /("pipelines\/daily-usage-report\.yaml": ")[0-9a-f]{40}/,
      (_, k: string) => `${k}${"0".repeat(40)}`,
    );
    assert.notEqual(edited, original);
    await repo.write(file, edited);
    const checked = await run(check, repo);
    assert.equal(checked.code, 1);
    assert.match(checked.err, /daily-usage-report\/dagops\.stamp[\s\S]*DRIFT_STALE/);
    const timings = new Map<string, number>();
    const { compile } = await import("../../src/synth/compile.ts");
    await compile(repo.root, timings, { incremental: true, output: "compare" });
    assert.ok(timings.has("compile 1 definitions"), [...timings.keys()].join(", "));
    const fixed = await run(synth, repo);
    assert.equal(fixed.code, 0, fixed.err);
    assert.equal(await repo.read(file), original);
    // Not JSON at all, or another format: the same.
    await repo.write(file, "{");
    assert.doesNotMatch((await run(synth, repo)).out, /is up to date/);
    assert.equal(await repo.read(file), original);
  } finally {
    await repo.cleanup();
  }
});

test("a file's id is the same whether git's index tells it or the file is read; an edit git was told to ignore is still read", async () => {
  const { Blobs } = await import("../../src/incremental/blobs.ts");
  const repo = await tempRepo({ generated: true, git: true });
  try {
    const paths = [...(await snapshot(join(repo.root, "generated"))).keys()].map((p) => `generated/${p}`);
    const fromGit = await Blobs.start(repo.root);
    const read = await Blobs.start(repo.root, { git: false });
    assert.ok(fromGit.fromGit && !read.fromGit);
    for (const p of paths) assert.equal(fromGit.id(p), read.id(p), p);
    assert.equal(fromGit.id("generated/nothing-here.yaml"), undefined);
    // assume-unchanged and skip-worktree: git does not look at these files; dagops does.
    const [one, two, three] = paths;
    git(repo.root, "update-index", "--assume-unchanged", one!);
    git(repo.root, "update-index", "--skip-worktree", two!);
    for (const p of [one!, two!, three!]) await repo.write(p, `${await repo.read(p)}# edited\n`);
    const after = await Blobs.start(repo.root);
    const truth = await Blobs.start(repo.root, { git: false });
    for (const p of [one!, two!, three!]) assert.equal(after.id(p), truth.id(p), p);
    const checked = await runCheck(repo.root);
    assert.deepEqual(
      checked.problems
        .filter((p) => p.code === "DRIFT_STALE")
        .map((p) => p.file)
        .sort(),
      [one!, two!, three!].sort(),
    );
  } finally {
    await repo.cleanup();
  }
});

test("a price snapshot is validated again once its bytes change, though not while the stamps prove it unchanged", async () => {
  const repo = await tempRepo();
  try {
    await repo.write("prices/custom.json", readFileSync(join(REPO, "data/aws-us-east-1.json"), "utf8"));
    await repo.write(
      "platform.config.ts",
      (await repo.read("platform.config.ts")).replace(
        'name: "staging",',
        'name: "staging",\n      prices: "prices/custom.json",',
      ),
    );
    assert.equal((await run(synth, repo)).code, 0);
    assert.match((await run(synth, repo)).out, /is up to date/);
    // Valid JSON, not a price snapshot: an instance type without its price.
    const data = JSON.parse(await repo.read("prices/custom.json")) as { instanceTypes: Record<string, unknown>[] };
    delete data.instanceTypes[0]!.onDemandUsdPerHour;
    await repo.write("prices/custom.json", `${JSON.stringify(data, null, 2)}\n`);
    const broken = await run(synth, repo);
    assert.equal(broken.code, 1, broken.out);
    assert.match(broken.err, /BAD_PRICE_DATA[^\n]*prices\/custom\.json/);
    assert.match(broken.err, /onDemandUsdPerHour/);
  } finally {
    await repo.cleanup();
  }
});

test("one changed pipeline: only it is loaded and rendered; the rest is proved unchanged by its stamps and kept", async () => {
  const { compile } = await import("../../src/synth/compile.ts");
  const { noChange, survey } = await import("../../src/incremental/survey.ts");
  const repo = await tempRepo({ generated: true });
  try {
    assert.ok(noChange(await survey(repo.root)), "nothing changed: proved without rendering");
    await repo.write(
      "pipelines/daily-usage-report.yaml",
      (await repo.read("pipelines/daily-usage-report.yaml")).replace("maxParallel: 2", "maxParallel: 3"),
    );
    assert.equal(noChange(await survey(repo.root)), undefined);
    const c = await compile(repo.root, undefined, { incremental: true });
    const owners = (paths: readonly string[]) =>
      [...new Set(paths.map((p) => /^prod\/(pipelines\/[^/]+|apps|platform)/.exec(p)?.[1] ?? p))].sort();
    assert.deepEqual(owners(c.files!.map((f) => f.path)), ["apps", "pipelines/daily-usage-report", "platform"]);
    assert.deepEqual(
      c.project.pipelines.map((p) => p.name),
      ["daily-usage-report"],
      "only the changed definition was loaded",
    );
    const all = await snapshot(join(repo.root, "generated"));
    assert.deepEqual(c.counts, { pipelines: 5, files: all.size });
    // Compared with the tree: only that pipeline's files (its plan and its stamp) differ.
    const compared = await compile(repo.root, undefined, { incremental: true, output: "compare" });
    assert.deepEqual(
      compared.tree!.stale,
      [
        "prod/pipelines/daily-usage-report/configmap-plan.yaml",
        "prod/pipelines/daily-usage-report/cronjob-daily-usage-report.yaml",
        "prod/pipelines/daily-usage-report/dagops.stamp",
      ].filter((p) => compared.tree!.stale.includes(p)),
    );
    assert.ok(compared.tree!.stale.includes("prod/pipelines/daily-usage-report/dagops.stamp"));
    assert.deepEqual([compared.tree!.missing, compared.tree!.extra, compared.tree!.irregular], [[], [], []]);
  } finally {
    await repo.cleanup();
  }
});

test("two pull requests, one adding a pipeline and one changing another, merge without a conflict and the merge passes check without a synth; a merge resolved wrongly is caught", {
  timeout: 120_000,
}, async () => {
  const repo = await tempRepo({ generated: true, git: true });
  try {
    const root = repo.root;
    git(root, "branch", "-M", "main");
    // Branch one: a new pipeline.
    git(root, "checkout", "-q", "-b", "add-pipeline");
    await repo.write("pipelines/nightly-export.yaml", yamlPipeline("nightly-export", 'schedule: "0 2 * * *"\n'));
    assert.equal((await run(synth, repo)).code, 0);
    commitAll(root, "add nightly-export");
    // Branch two, from the same base: a changed pipeline.
    git(root, "checkout", "-q", "main");
    git(root, "checkout", "-q", "-b", "change-pipeline");
    await repo.write(
      "pipelines/daily-usage-report.yaml",
      (await repo.read("pipelines/daily-usage-report.yaml")).replace("maxParallel: 2", "maxParallel: 3"),
    );
    assert.equal((await run(synth, repo)).code, 0);
    commitAll(root, "change daily-usage-report");
    const touched = (branch: string) => git(root, "diff", "--name-only", "main", branch).trim().split("\n");
    const one = touched("add-pipeline");
    const two = touched("change-pipeline");
    assert.deepEqual(
      one.filter((p) => two.includes(p)),
      [],
      "the two branches touch disjoint paths",
    );
    git(root, "checkout", "-q", "main");
    git(root, "merge", "-q", "--no-edit", "add-pipeline");
    const merged = git(root, "merge", "--no-edit", "change-pipeline");
    assert.doesNotMatch(merged, /CONFLICT/);
    const checked = await run(check, repo);
    assert.equal(checked.code, 0, checked.err);
    process.stdout.write(
      `# the two-branch merge: ${one.length} and ${two.length} paths, none shared; git merge:\n# ${merged.trim().split("\n").join("\n# ")}\n# ${checked.out.trim()}\n`,
    );

    // A merge resolved by hand, wrongly: the other branch's definition kept with this one's output.
    git(root, "checkout", "-q", "-b", "wrong", "main~1");
    await repo.write(
      "pipelines/daily-usage-report.yaml",
      (await repo.read("pipelines/daily-usage-report.yaml")).replace("maxParallel: 2", "maxParallel: 4"),
    );
    commitAll(root, "a definition changed without its output");
    const wrong = await run(check, repo);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /DRIFT_STALE/);
  } finally {
    await repo.cleanup();
  }
});

test("a TypeScript pipeline that imports a file outside the repository is refused: nothing could tell when it changes", async () => {
  const repo = await tempRepo({ pipelines: false });
  const outside = await mkdtemp(join(tmpdir(), "dagops-outside-"));
  try {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(outside, "tag.ts"), 'export const tag = "1.0.0";\n');
    await repo.write(
      "pipelines/outsider.ts",
      `import { definePipeline } from "#dagops";\nimport { tag } from ${JSON.stringify(join(outside, "tag.ts"))};\nexport default definePipeline({ name: "outsider", image: \`111122223333.dkr.ecr.us-east-1.amazonaws.com/x:\${tag}\`, steps: [{ name: "a", command: ["a"], resources: { requests: { cpu: "100m", memory: "128Mi" } } }] });\n`,
    );
    const r = await run(synth, repo);
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /MODULE_LOAD_FAILED[^\n]*outside the repository/);
  } finally {
    await repo.cleanup();
    await rm(outside, { recursive: true, force: true });
  }
});

test("a tenant added to a template: only it is rendered; the other tenants' folders are proved intact and kept; a hand edit in one is still repaired", async () => {
  const { compile } = await import("../../src/synth/compile.ts");
  const repo = await tempRepo({ generated: true });
  const full = await tempRepo({ generated: true });
  try {
    assert.equal((await run(synth, repo)).code, 0);
    const list = "pipelines/tenant-export.tenants.yaml";
    const added = `${await repo.read(list)}- { name: umbrella, params: { tenant: umbrella } }\n`;
    await repo.write(list, added);
    await full.write(list, added);
    const folders = (paths: readonly string[]) => [
      ...new Set(paths.filter((p) => p.includes("/pipelines/")).map((p) => p.split("/").slice(0, 3).join("/"))),
    ];
    // Rendered (memory output holds what was rendered): the new tenant's folder only.
    const rendered = await compile(repo.root, undefined, { incremental: true });
    assert.deepEqual(folders(rendered.files!.map((f) => f.path)), ["prod/pipelines/tenant-export-umbrella"]);
    assert.deepEqual(rendered.counts?.pipelines, 6);
    const c = await compile(repo.root, undefined, { incremental: true, output: "compare" });
    assert.deepEqual(folders(c.tree!.missing), ["prod/pipelines/tenant-export-umbrella"]);
    assert.deepEqual([c.tree!.extra, c.tree!.irregular], [[], []]);
    assert.equal((await run(synth, repo)).code, 0);
    assert.equal((await run(synth, full, "--full")).code, 0);
    assert.deepEqual(
      await snapshot(join(repo.root, "generated")),
      await snapshot(join(full.root, "generated")),
      "the same tree as a full synth",
    );

    // A hand edit in a kept tenant's folder, then another change to the tenants file: the edited
    // tenant is rendered again (its folder no longer hashes to what the cache says).
    const edited = "prod/pipelines/tenant-export-acme";
    const file = [...(await snapshot(join(repo.root, "generated"))).keys()].find((p) =>
      p.startsWith(`${edited}/cronjob-`),
    )!;
    await repo.write(`generated/${file}`, `${await repo.read(`generated/${file}`)}# hand edit\n`);
    const again = `${added}- { name: vandelay, params: { tenant: vandelay } }\n`;
    await repo.write(list, again);
    await full.write(list, again);
    const d = await compile(repo.root, undefined, { incremental: true, output: "compare" });
    assert.ok(d.tree!.stale.includes(file), JSON.stringify(d.tree));
    assert.equal((await run(synth, repo)).code, 0);
    assert.equal((await run(synth, full, "--full")).code, 0);
    assert.deepEqual(await snapshot(join(repo.root, "generated")), await snapshot(join(full.root, "generated")));
  } finally {
    await repo.cleanup();
    await full.cleanup();
  }
});

test("a tenant changed in its list: only it is resolved and rendered, the others are kept by their recorded definitions; a warning in the template turns that off", async () => {
  const { compile } = await import("../../src/synth/compile.ts");
  const repo = await tempRepo({ generated: true });
  const full = await tempRepo({ generated: true });
  const both = async (path: string, edit: (text: string) => string) => {
    const text = edit(await repo.read(path));
    assert.notEqual(text, await repo.read(path), `the edit changes ${path}`);
    await repo.write(path, text);
    await full.write(path, text);
  };
  const same = async (label: string) => {
    const inc = await run(synth, repo);
    const all = await run(synth, full, "--full");
    assert.equal(inc.code, all.code, label);
    assert.deepEqual(problemLines(inc.err), problemLines(all.err), label);
    assert.deepEqual(await snapshot(join(repo.root, "generated")), await snapshot(join(full.root, "generated")), label);
    return inc;
  };
  // Memory output holds what was compiled: the pipelines resolved, the files rendered.
  const resolved = async () =>
    (await compile(repo.root, undefined, { incremental: true })).project.pipelines.map((p) => p.name);
  const list = "pipelines/tenant-export.tenants.yaml";
  try {
    assert.equal((await run(synth, repo)).code, 0);
    await both(list, (t) => t.replace("maxParallel: 1 } } }", "maxParallel: 2 } } }"));
    assert.deepEqual(await resolved(), ["tenant-export-globex"]);
    await same("one tenant changed");

    // The template changed: every tenant's definition changed with it.
    await both("pipelines/tenant-export.yaml", (t) => t.replace(/^maxParallel: 2$/m, "maxParallel: 3"));
    assert.deepEqual(await resolved(), ["tenant-export-acme", "tenant-export-globex", "tenant-export-initech"]);
    await same("the template changed");

    // A tenant whose override has no effect: a warning. Kept tenants could not report theirs, so
    // while the template has one, a change resolves every tenant, and the warning is reported again.
    await both(
      list,
      (t) => `${t}- { name: wayne, params: { tenant: wayne }, overrides: { staging: { maxParallel: 1 } } }\n`,
    );
    const warned = await same("a tenant with a warning");
    assert.match(warned.err, /UNKNOWN_CLUSTER \(warning\)/);
    await both(list, (t) => t.replace("maxParallel: 2 } } }", "maxParallel: 1 } } }"));
    assert.deepEqual(await resolved(), [
      "tenant-export-acme",
      "tenant-export-globex",
      "tenant-export-initech",
      "tenant-export-wayne",
    ]);
    assert.match((await same("a change beside the warning")).err, /UNKNOWN_CLUSTER \(warning\)/);

    // Without it, definitions are recorded again (every tenant resolved once more), then used.
    await both(list, (t) =>
      t
        .split("\n")
        .filter((l) => !l.includes("wayne"))
        .join("\n"),
    );
    await same("the warning gone");
    await both(list, (t) => t.replace("maxParallel: 1 } } }", "maxParallel: 2 } } }"));
    assert.deepEqual(await resolved(), ["tenant-export-globex"]);
    await same("one tenant changed again");
  } finally {
    await repo.cleanup();
    await full.cleanup();
  }
});

test("a pipeline folder replaced by a link to an identical copy is never proved unchanged: check reports it, synth puts a real folder back", async () => {
  const { cp: copy, rm: remove, symlink: link, lstat } = await import("node:fs/promises");
  const repo = await tempRepo({ generated: true });
  try {
    assert.equal((await run(synth, repo)).code, 0);
    const folder = join(repo.root, "generated/prod/pipelines/daily-usage-report");
    const elsewhere = join(repo.root, "elsewhere");
    await copy(folder, elsewhere, { recursive: true });
    await remove(folder, { recursive: true });
    await link(elsewhere, folder, "dir");
    const checked = await runCheck(repo.root);
    assert.equal(checked.ok, false);
    assert.ok(
      checked.problems.some(
        (p) => p.code === "UNSAFE_ENTRY" && p.file === "generated/prod/pipelines/daily-usage-report",
      ),
      JSON.stringify(checked.problems),
    );
    assert.equal((await run(synth, repo)).code, 0);
    assert.ok((await lstat(folder)).isDirectory(), "a real folder again");
    assert.equal((await runCheck(repo.root)).ok, true);
  } finally {
    await repo.cleanup();
  }
});
