/**
 * `npm run diff` on a real git repository built here, one commit per kind of change, each made
 * the way a user makes it (edit a pipeline or the platform configuration, run synth, commit).
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { renderMarkdown, type ReviewDocument } from "../../src/review/markdown.ts";
import { main as diff, review, reviewScope } from "../../src/commands/diff.ts";
import { readTreeAt } from "../../src/review/git.ts";
import { main as synth } from "../../src/commands/synth.ts";
import { captureIo, git, REPO, tempRepo, type TempRepo } from "../support/helpers.ts";

const DEMO = "pipelines/demo.yaml";
const demo = (steps: string, schedule = "0 3 * * *") => `name: demo
image: registry.example.com/team/app:1.0.0
schedule: "${schedule}"
defaults:
  resources:
    requests: { cpu: 100m, memory: 128Mi }
steps:
${steps}`;
const STEPS = `  - name: extract
  - name: transform
    dependsOn: [extract]
  - name: load
    dependsOn: [transform]
`;

let repo: TempRepo;
const commits = new Map<string, string>();

async function commit(label: string, change: () => Promise<void>, runSynth = true): Promise<void> {
  await change();
  if (runSynth) {
    const io = captureIo(repo.root);
    assert.equal(await synth([], io), 0, io.text());
  }
  git(repo.root, "add", "-A", "generated", "pipelines", "platform.config.ts", "schema");
  git(repo.root, "commit", "-q", "--allow-empty", "-m", label);
  commits.set(label, git(repo.root, "rev-parse", "HEAD").trim());
}

const between = (from: string, to: string) => review(repo.root, commits.get(from)!, commits.get(to)!);

describe("npm run diff", () => {
  before(async () => {
    repo = await tempRepo({ generated: true });
    git(repo.root, "init", "-q", "-b", "main");
    await commit("base", () => repo.write(DEMO, demo(STEPS)));
    await commit("step added", () => repo.write(DEMO, demo(`${STEPS}  - name: audit\n    dependsOn: [load]\n`)));
    await commit("step removed", () => repo.write(DEMO, demo(STEPS)));
    await commit("step renamed", () => repo.write(DEMO, demo(STEPS.replace("name: load", "name: publish"))));
    await commit("resources", () =>
      repo.write(
        DEMO,
        demo(
          STEPS.replace("name: publish", "name: load").replace(
            "  - name: transform\n",
            "  - name: transform\n    resources: { requests: { cpu: 250m, memory: 6Gi } }\n",
          ),
        ),
      ),
    );
    await commit("schedule", async () =>
      repo.write(DEMO, (await repo.read(DEMO)).replace('"0 3 * * *"', '"30 4 * * *"')),
    );
    await commit("nodepool", async () =>
      repo.write(
        "platform.config.ts",
        (await repo.read("platform.config.ts")).replace(
          'pools: { limits: { cpu: "200", memory: "800Gi" } }',
          'pools: { limits: { cpu: "200", memory: "800Gi" }, categories: ["c", "m"] }',
        ),
      ),
    );
    await commit("pipeline removed", () => repo.remove(DEMO));
    // A Fargate profile selector change, as a future dagops version (or a hand edit) would make it.
    await commit(
      "fargate selector",
      async () => {
        const file = join(repo.root, "generated/staging/platform/fargateprofile-run-managers.yaml");
        const text = await readFile(file, "utf8");
        const name = /name: (dagops-run-managers-[0-9a-f]+)/.exec(text)![1]!;
        await writeFile(
          file,
          text
            .replaceAll(name, "dagops-run-managers-0123abcd")
            .replace("dagops.dev/role: run-manager", "dagops.dev/role: manager"),
        );
      },
      false,
    );
    await commit("demo again", () => repo.write(DEMO, demo(STEPS)));
    await commit("overrides", () =>
      repo.write(
        DEMO,
        `${demo(STEPS)}overrides:\n  staging:\n    iamRole: arn:aws:iam::111122223333:role/demo-staging\n    schedule: "0 5 * * *"\n  prod:\n    maxParallel: 2\n    env: [{ name: LOG_LEVEL, value: warn }]\n`,
      ),
    );
    await commit("template", async () => {
      await repo.write(
        "pipelines/export.yaml",
        `${demo(STEPS, "H 2 * * *").replace("name: demo", "name: export")}template: true\nparams: { tenant: { type: string, default: none } }\n`,
      );
      await repo.write(
        "pipelines/export.tenants.yaml",
        "- { name: acme, params: { tenant: acme } }\n- { name: globex, params: { tenant: globex } }\n",
      );
    });
    await commit("tenants changed", () =>
      repo.write(
        "pipelines/export.tenants.yaml",
        "- { name: acme, params: { tenant: acme } }\n- { name: hooli, params: { tenant: hooli } }\n- { name: initech, params: { tenant: initech } }\n",
      ),
    );
    await commit("on-demand pipeline added", () =>
      repo.write(
        "pipelines/ondemand.yaml",
        demo(
          `  - name: settle\n    command: [settle, --all]\n    capacity: on-demand\n    retries: 1\n    resources: { requests: { cpu: 250m, memory: 16Gi }, limits: { memory: 16Gi } }\n`,
        ).replace("name: demo", "name: ondemand"),
      ),
    );
  });
  after(() => repo.cleanup());

  test("tenants of a template: the comment lists those added and removed; the schedule shown is the resolved one", async () => {
    const doc = await between("template", "tenants changed");
    assert.deepEqual(
      doc.pipelines.map((p) => [p.pipeline, p.status, p.template]),
      [
        ["export-globex", "removed", "export"],
        ["export-hooli", "added", "export"],
        ["export-initech", "added", "export"],
      ],
    );
    const md = renderMarkdown({ ...doc, checks: [] } as unknown as ReviewDocument);
    assert.match(md, /Tenants of template `export`: added hooli, initech; removed globex/);
    const added = await between("overrides", "template");
    const schedule = added.pipelines
      .find((p) => p.pipeline === "export-acme")!
      .settings.find((f) => f.field === "schedule")!;
    assert.match(String(schedule.after), /^\d+ 2 \* \* \*/, "H resolved, in the comment as in the CronJob");
  });

  test("the base is listed only where a change is, and nothing the review reads is missed", async () => {
    const labels = [...commits.keys()];
    let scoped = 0;
    for (let i = 1; i < labels.length; i++) {
      const base = commits.get(labels[i - 1]!)!;
      const label = labels[i]!;
      const scope = await reviewScope(repo.root, base, commits.get(label)!);
      if (!scope) continue; // a node pool changed: every pipeline is repriced, everything is read
      assert.ok(scope.paths, label);
      const part = await readTreeAt(repo.root, base, "generated", scope.wanted, scope.paths);
      const whole = await readTreeAt(repo.root, base, "generated", scope.wanted);
      assert.deepEqual(part, whole, `${labels[i - 1]} → ${label}`);
      assert.ok(
        [...whole.files.keys()].some((p) => /\/platform\/nodepool-/.test(p)),
        "the node pools are read, for the cost",
      );
      scoped++;
    }
    assert.ok(scoped >= 5, `${scoped} changes were read in part`);
  });

  test("a step added", async () => {
    const doc = await between("base", "step added");
    const p = doc.pipelines.find((x) => x.pipeline === "demo")!;
    assert.deepEqual(p.clusters, ["prod", "staging"]);
    assert.deepEqual(
      p.steps.map((s) => [s.step, s.status]),
      [["audit", "added"]],
    );
    assert.match(p.mermaid, /\["audit"\]:::added/);
    assert.deepEqual(
      doc.clusters.map((c) => [c.cluster, c.create, c.update, c.prune, c.applications]),
      [
        ["prod", 1, 1, 1, ["pipeline-demo"]],
        ["staging", 1, 1, 1, ["pipeline-demo"]],
      ],
    );
    // The plan ConfigMap is replaced (a new hashed name), and the CronJob is updated to mount it.
    assert.deepEqual(
      doc.objects.filter((o) => o.cluster === "prod").map((o) => [o.op, o.kind]),
      [
        ["create", "ConfigMap"],
        ["prune", "ConfigMap"],
        ["update", "CronJob"],
      ],
    );
  });

  test("an added pipeline: each step with image, command, requests, limits, retries and capacity; a new on-demand step is no move to on-demand", async () => {
    const doc = await between("tenants changed", "on-demand pipeline added");
    const md = renderMarkdown({ ...doc, checks: [] } as unknown as ReviewDocument);
    const section = md.slice(md.indexOf("### Pipeline `ondemand` — added"));
    assert.match(
      section,
      /\| step \| image \| command \| requests \(cpu \/ memory\) \| limits \(cpu \/ memory\) \| retries \| capacity \|/,
    );
    // The 16Gi request is in the table, not only in the folded raw diff.
    assert.match(
      section,
      /\| `settle` \| `registry\.example\.com\/team\/app:1\.0\.0` \| `\["settle","--all"\]` \| `250m \/ 16Gi` \| `- \/ 16Gi` \| 1 \| on-demand \|/,
    );
    assert.ok(!doc.risks.some((r) => /move to on-demand/.test(r.message)), JSON.stringify(doc.risks));
  });

  test("a step removed", async () => {
    const p = (await between("step added", "step removed")).pipelines[0]!;
    assert.deepEqual(
      p.steps.map((s) => [s.step, s.status]),
      [["audit", "removed"]],
    );
    assert.match(p.mermaid, /\["audit"\]:::removed/);
  });

  test("a step renamed", async () => {
    const p = (await between("step removed", "step renamed")).pipelines[0]!;
    assert.deepEqual(
      p.steps.map((s) => [s.step, s.status, s.renamedFrom]),
      [["publish", "renamed", "load"]],
    );
    assert.match(p.mermaid, /\["load → publish"\]:::changed/);
  });

  test("a resource change: the step's fields from → to", async () => {
    const p = (await between("step renamed", "resources")).pipelines[0]!;
    const transform = p.steps.find((s) => s.step === "transform")!;
    assert.equal(transform.status, "changed");
    assert.deepEqual(transform.fields, [
      { field: "cpu request", before: "100m", after: "250m" },
      { field: "memory request", before: "128Mi", after: "6Gi" },
    ]);
  });

  test("the cost section: a resource change moves the cost per run and per month", async () => {
    const doc = await between("step renamed", "resources");
    const [change] = doc.cost!.changes;
    assert.deepEqual(change!.clusters, ["prod", "staging"]);
    assert.ok(change!.after!.perRun > change!.before!.perRun, JSON.stringify(change));
    assert.equal(change!.after!.perMonth! / change!.after!.perRun, 365 / 12, "a daily schedule");
    assert.match(
      renderMarkdown(doc),
      /### Cost \(prices: us-east-1 2026-12-01 snapshot, USD\)[\s\S]*\| `demo` \| prod, staging \| \$0\.\d{4} → \$0\.\d{4} \(\+\d+\.\d%\) \| \$\d+\.\d{2} → \$\d+\.\d{2} /,
    );
  });

  test("per-cluster overrides: each cluster's own change, reported per cluster", async () => {
    const doc = await between("demo again", "overrides");
    const byCluster = Object.fromEntries(doc.pipelines.map((p) => [p.clusters.join(","), p]));
    assert.deepEqual(Object.keys(byCluster).sort(), ["prod", "staging"]);
    assert.deepEqual(byCluster.staging!.settings, [
      { field: "schedule", before: "0 3 * * *", after: "0 5 * * *" },
      { field: "iamRole", after: "arn:aws:iam::111122223333:role/demo-staging" },
    ]);
    assert.deepEqual(byCluster.staging!.steps, []);
    assert.deepEqual(byCluster.prod!.settings, [{ field: "maxParallel", before: "10", after: "2" }]);
    // Both clusters are priced, though their changes differ (the schedule changed in staging only).
    assert.deepEqual(
      doc
        .cost!.changes.map((c) => c.clusters)
        .flat()
        .sort(),
      ["prod", "staging"],
    );
    assert.deepEqual(
      byCluster.prod!.steps.map((s) => [s.step, s.fields.map((f) => [f.field, f.after])]),
      ["extract", "transform", "load"].map((step) => [step, [["env", "LOG_LEVEL=warn"]]]),
    );
  });

  test("a schedule change", async () => {
    const doc = await between("resources", "schedule");
    const p = doc.pipelines[0]!;
    assert.deepEqual(p.settings, [{ field: "schedule", before: "0 3 * * *", after: "30 4 * * *" }]);
    assert.deepEqual(p.steps, []);
    assert.deepEqual(
      doc.objects.map((o) => [o.op, o.kind]),
      [
        ["update", "CronJob"],
        ["update", "CronJob"],
      ],
    );
  });

  test("a NodePool change: its requirements drift the nodes", async () => {
    const doc = await between("schedule", "nodepool");
    assert.deepEqual(
      doc.clusters.map((c) => c.cluster),
      ["staging"],
    );
    const pools = doc.platform.filter((p) => p.kind === "NodePool");
    assert.ok(pools.length >= 1);
    assert.ok(pools.every((p) => p.risk === "medium" && /drifted and replaces them/.test(p.consequence)));
    assert.ok(
      pools[0]!.fields.some(
        (f) =>
          f.field.startsWith("spec.template.spec.requirements") &&
          f.before?.includes('"r"') &&
          !f.after?.includes('"r"'),
      ),
    );
    assert.ok(doc.risks.some((r) => r.cluster === "staging" && /NodePool dagops-steps/.test(r.message)));
  });

  test("a pipeline removed: its namespace is pruned, flagged high", async () => {
    const doc = await between("nodepool", "pipeline removed");
    const p = doc.pipelines.find((x) => x.pipeline === "demo")!;
    assert.equal(p.status, "removed");
    assert.ok(
      doc.objects.every((o) => o.op === "prune" || o.kind === "AppProject" || o.kind === "ClusterRoleBinding"),
      "pruned, and the run managers' node reader binds one service account less",
    );
    assert.ok(
      doc.risks.some(
        (r) =>
          r.level === "high" &&
          /Namespace dagops-demo: deleting the namespace deletes everything in it/.test(r.message),
      ),
    );
  });

  test("a FargateProfile selector change: replaced, flagged high with what deletion does", async () => {
    const doc = await between("pipeline removed", "fargate selector");
    const [change] = doc.platform;
    assert.equal(change!.op, "replace");
    assert.equal(change!.risk, "high");
    assert.match(
      change!.consequence,
      /immutable.*every pod it scheduled: in-flight run managers, the Karpenter controller/,
    );
    assert.ok(
      change!.fields.some(
        (f) =>
          f.field === "spec.selectors[0].labels.dagops.dev/role" && f.before === "run-manager" && f.after === "manager",
      ),
    );
    assert.deepEqual(doc.objects.map((o) => o.op).sort(), ["create", "prune"]);
  });

  test("no change at all", async () => {
    const doc = await between("fargate selector", "fargate selector");
    assert.deepEqual(
      [doc.clusters, doc.objects, doc.pipelines, doc.platform, doc.risks, doc.files],
      [[], [], [], [], [], []],
    );
    assert.match(renderMarkdown(doc), /No change to `generated\/`/);
  });

  test("golden Markdown: the resource change", async () => {
    const doc = await between("step renamed", "resources");
    const text = renderMarkdown(doc)
      .replaceAll(doc.base.commit.slice(0, 7), "BASE")
      .replaceAll(doc.head.commit!.slice(0, 7), "HEAD");
    const golden = join(REPO, "test/golden/diff-resource-change.md");
    if (process.env.UPDATE_GOLDEN) await writeFile(golden, text);
    assert.equal(text, await readFile(golden, "utf8"));
  });

  test("the command: working tree against a ref, with the head's checks; JSON and --out", async () => {
    await repo.write("pipelines/fresh.yaml", demo(STEPS).replace("name: demo", "name: fresh"));
    try {
      const io = captureIo(repo.root);
      assert.equal(await synth([], io), 0);
      const out = join(repo.root, "review.md");
      const cli = captureIo(repo.root);
      assert.equal(await diff(["--base", "HEAD", "--json", "--out", out], cli), 0, cli.text());
      const doc = JSON.parse(cli.out.join("")) as ReviewDocument;
      assert.equal(doc.head.ref, "working tree");
      assert.deepEqual(doc.checks.ran && doc.checks.ok, true);
      assert.equal(doc.pipelines[0]!.status, "added");
      assert.ok(
        doc.files.some((f) => /not yet tracked by git/.test(f.diff)),
        "untracked new files are in the raw diff",
      );
      assert.match(await readFile(out, "utf8"), /### Pipeline `fresh` — added/);
    } finally {
      git(repo.root, "checkout", "-q", "HEAD", "--", ".");
      git(repo.root, "clean", "-fdq");
    }
  });

  test("an unknown ref: exit 2, and the message names it", async () => {
    const io = captureIo(repo.root);
    assert.equal(await diff(["--base", "no-such-branch"], io), 2);
    assert.match(io.err.join(""), /unknown git ref "no-such-branch"/);
    const missing = captureIo(repo.root);
    assert.equal(await diff([], missing), 2);
    assert.match(missing.err.join(""), /--base <ref> is required/);
  });
});
