/**
 * What fuzzing and fault injection broke, one case each, in real temp repositories with real git:
 * links and other non-files under generated/, a generated/ that is itself a link, read-only
 * folders, files the review cannot read, and paths git quotes.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, mkdir, readFile, rename, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { main as check } from "../../src/commands/check.ts";
import { main as diff } from "../../src/commands/diff.ts";
import { main as synth } from "../../src/commands/synth.ts";
import type { ReviewDocument } from "../../src/review/markdown.ts";
import { captureIo, git, snapshot, tempRepo, type TempRepo } from "../support/helpers.ts";

const CC = "generated/prod/pipelines/customer-classification";
const SNEAKY = `${CC}/rolebinding-sneaky.yaml`;
const PAYLOAD =
  "kind: RoleBinding\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: { name: sneaky, namespace: dagops-customer-classification }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin }\nsubjects: [{ kind: ServiceAccount, name: steps, namespace: dagops-customer-classification }]\n";

async function committedRepo(): Promise<TempRepo> {
  const repo = await tempRepo({ generated: true });
  git(repo.root, "init", "-q", "-b", "main");
  git(repo.root, "add", "-A", "generated", "pipelines", "platform.config.ts", "schema");
  git(repo.root, "commit", "-q", "-m", "base");
  return repo;
}

describe("non-files under generated/", () => {
  test("a symlink to a helper file: check refuses it, diff reports it as high risk, synth removes it", async () => {
    const repo = await committedRepo();
    try {
      await repo.write("pipelines/_payload.yaml", PAYLOAD);
      await symlink("../../../../pipelines/_payload.yaml", join(repo.root, SNEAKY));
      const io = captureIo(repo.root);
      assert.equal(await check([], io), 1, io.text());
      assert.match(
        io.err.join(""),
        /rolebinding-sneaky\.yaml: 1 problem\n.*UNSAFE_ENTRY .*is a symlink to \.\.\/\.\.\/\.\.\/\.\.\/pipelines\/_payload\.yaml/,
      );
      assert.doesNotMatch(io.text(), /ClusterRole/, "the link's target is never read or echoed");

      const review = captureIo(repo.root);
      assert.equal(await diff(["--base", "HEAD", "--json"], review), 0, review.text());
      const doc = JSON.parse(review.out.join("")) as ReviewDocument;
      assert.ok(
        doc.risks.some((r) => r.level === "high" && /rolebinding-sneaky\.yaml is a symlink/.test(r.message)),
        JSON.stringify(doc.risks),
      );

      // Committed, the link is reported from git's objects too.
      git(repo.root, "add", "-A", "generated");
      git(repo.root, "commit", "-q", "-m", "sneaky");
      const atRef = captureIo(repo.root);
      assert.equal(await diff(["--base", "HEAD~1", "--head", "HEAD", "--json"], atRef), 0, atRef.text());
      assert.ok(
        (JSON.parse(atRef.out.join("")) as ReviewDocument).risks.some(
          (r) =>
            r.level === "high" && /is a symlink to \.\.\/\.\.\/\.\.\/\.\.\/pipelines\/_payload\.yaml/.test(r.message),
        ),
      );

      const s = captureIo(repo.root);
      assert.equal(await synth([], s), 0, s.text());
      assert.match(s.out.join(""), /- prod\/pipelines\/customer-classification\/rolebinding-sneaky\.yaml/);
      const after = captureIo(repo.root);
      assert.equal(await check([], after), 0, after.text());
    } finally {
      await repo.cleanup();
    }
  });

  test("a FIFO: check refuses it without blocking on it", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      execFileSync("mkfifo", [join(repo.root, "generated/prod/fifo.yaml")]);
      const io = captureIo(repo.root);
      assert.equal(await check([], io), 1);
      assert.match(io.err.join(""), /generated\/prod\/fifo\.yaml is a FIFO/);
    } finally {
      await repo.cleanup();
    }
  });

  test("a generated/ that is itself a symlink: synth and check refuse it and leave the target alone", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      await rename(join(repo.root, "generated"), join(repo.root, "elsewhere"));
      await symlink("elsewhere", join(repo.root, "generated"));
      const before = await snapshot(join(repo.root, "elsewhere"));
      const s = captureIo(repo.root);
      assert.equal(await synth([], s), 1, s.text());
      assert.match(
        s.err.join(""),
        /generated\/ is a symlink to elsewhere; .*Remove it and let synth create the folder/,
      );
      const c = captureIo(repo.root);
      assert.equal(await check([], c), 1);
      assert.match(c.err.join(""), /UNSAFE_ENTRY/);
      assert.deepEqual(await snapshot(join(repo.root, "elsewhere")), before);
    } finally {
      await repo.cleanup();
    }
  });

  test("a read-only folder inside generated/ does not wedge later commands", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      await chmod(join(repo.root, "generated/prod/pipelines/daily-usage-report"), 0o555);
      await repo.write(
        "pipelines/daily-usage-report.yaml",
        (await repo.read("pipelines/daily-usage-report.yaml")).replace("maxParallel: 2", "maxParallel: 3"),
      );
      for (let i = 0; i < 2; i++) {
        const s = captureIo(repo.root);
        assert.equal(await synth([], s), 0, s.text());
      }
      const c = captureIo(repo.root);
      assert.equal(await check([], c), 0, c.text());
    } finally {
      await repo.cleanup();
    }
  });
});

describe("files the review cannot read are reported, not crashed on", () => {
  const broken: [string, string, RegExp][] = [
    [
      "merge-conflict markers",
      "<<<<<<< HEAD\nkind: ConfigMap\n=======\nkind: Secret\n>>>>>>> branch\n",
      /holds merge-conflict markers/,
    ],
    [
      "two documents",
      "kind: ConfigMap\nmetadata: { name: a }\n---\nkind: ConfigMap\nmetadata: { name: b }\n",
      /holds 2 YAML documents/,
    ],
    ["malformed YAML", "kind: ConfigMap\nmetadata: { name: [\n", /cannot be read as YAML/],
    ["no kind", "just: data\n", /holds no Kubernetes object/],
  ];
  for (const [what, text, message] of broken) {
    test(what, async () => {
      const repo = await committedRepo();
      try {
        await writeFile(join(repo.root, `${CC}/configmap-plan.yaml`), text);
        const io = captureIo(repo.root);
        assert.equal(await diff(["--base", "HEAD", "--json"], io), 0, io.text());
        const doc = JSON.parse(io.out.join("")) as ReviewDocument;
        assert.ok(
          doc.risks.some(
            (r) => r.level === "high" && r.message.startsWith(`${CC}/configmap-plan.yaml `) && message.test(r.message),
          ),
          JSON.stringify(doc.risks),
        );
      } finally {
        await repo.cleanup();
      }
    });
  }

  test("an empty check report is a failed check in the review", async () => {
    const repo = await committedRepo();
    try {
      await repo.write("check.json", "");
      const io = captureIo(repo.root);
      assert.equal(
        await diff(["--base", "HEAD", "--check-report", join(repo.root, "check.json"), "--json"], io),
        0,
        io.text(),
      );
      const doc = JSON.parse(io.out.join("")) as ReviewDocument;
      assert.equal(doc.checks.ok, false);
      assert.match(doc.checks.problems![0]!.message, /the check report is empty/);
    } finally {
      await repo.cleanup();
    }
  });

  test("the raw diff keeps files whose paths hold a space, a tab or a quote", async () => {
    const repo = await committedRepo();
    try {
      const names = ["with space.yaml", "with\ttab.yaml", 'with"quote.yaml'];
      for (const n of names) await repo.write(`generated/prod/${n}`, "kind: ConfigMap\n");
      git(repo.root, "add", "-A", "generated");
      git(repo.root, "commit", "-q", "-m", "odd names");
      for (const n of names) await repo.write(`generated/prod/${n}`, "kind: ConfigMap\ndata: { a: b }\n");
      const io = captureIo(repo.root);
      assert.equal(await diff(["--base", "HEAD", "--json"], io), 0, io.text());
      const doc = JSON.parse(io.out.join("")) as ReviewDocument;
      for (const n of names)
        assert.ok(
          doc.files.some((f) => f.path === `prod/${n}`),
          `${JSON.stringify(n)} in ${JSON.stringify(doc.files.map((f) => f.path))}`,
        );
    } finally {
      await repo.cleanup();
    }
  });
});

describe("pipeline files that are not regular files inside the repository", () => {
  const cases: [string, (repo: TempRepo) => Promise<void>, RegExp][] = [
    [
      "a symlink to /dev/zero",
      (repo) => symlink("/dev/zero", join(repo.root, "pipelines/zero.yaml")),
      /zero\.yaml is a symlink that leads out of the repository/,
    ],
    [
      "a FIFO",
      async (repo) => void execFileSync("mkfifo", [join(repo.root, "pipelines/fifo.yaml")]),
      /fifo\.yaml is not a regular file \(a FIFO\)/,
    ],
    [
      "a symlink to /etc/passwd",
      (repo) => symlink("/etc/passwd", join(repo.root, "pipelines/passwd.yaml")),
      /passwd\.yaml is a symlink that leads out of the repository/,
    ],
    [
      "a folder named like a pipeline",
      (repo) => mkdir(join(repo.root, "pipelines/folder.yaml")),
      /folder\.yaml is not a regular file \(a folder\)/,
    ],
    [
      "a TypeScript pipeline linked from outside",
      (repo) => symlink("/etc/hostname", join(repo.root, "pipelines/outside.ts")),
      /outside\.ts is a symlink that leads out of the repository/,
    ],
  ];
  for (const [what, make, message] of cases) {
    test(what, async () => {
      const repo = await tempRepo({ generated: true });
      try {
        await make(repo);
        const io = captureIo(repo.root);
        assert.equal(await check([], io), 1, io.text());
        assert.match(io.err.join(""), /FILE_UNREADABLE/);
        assert.match(io.err.join(""), message);
        assert.doesNotMatch(io.text(), /root:x:0:0/, "never the target's content");
      } finally {
        await repo.cleanup();
      }
    });
  }
  test("a symlink that stays inside the repository is read as usual", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      await repo.write("common/usage.yaml", await repo.read("pipelines/daily-usage-report.yaml"));
      await repo.remove("pipelines/daily-usage-report.yaml");
      await symlink("../common/usage.yaml", join(repo.root, "pipelines/daily-usage-report.yaml"));
      const io = captureIo(repo.root);
      assert.equal(await check([], io), 0, io.text());
    } finally {
      await repo.cleanup();
    }
  });
});

describe("hostile TypeScript pipelines: a problem naming the file, exit 1, never a hang or a crash", () => {
  const header = 'import { definePipeline } from "#dagops";\n';
  const body =
    'definePipeline({ name: "hostile", image: "registry.example.com/a:1.0.0", defaults: { resources: { requests: { cpu: "100m", memory: "128Mi" } } }, steps: [{ name: "a" }] })';
  const cases: [string, string, RegExp][] = [
    [
      "a top-level await that never settles",
      `${header}await new Promise(() => {});\nexport default ${body};\n`,
      /did not finish loading within 1 s/,
    ],
    ["an endless loop", `${header}for (;;) {}\nexport default ${body};\n`, /did not finish loading within 1 s/],
    [
      "a cycle in the export",
      `${header}const p: any = ${body};\np.self = p;\nexport default p;\n`,
      /not plain data: .*circular/i,
    ],
    ["a BigInt", `${header}export default { ...${body}, maxParallel: 2n as any };\n`, /not plain data: .*BigInt/],
    [
      "a throwing getter",
      `${header}export default { ...${body}, get description(): string { throw new Error("boom"); } };\n`,
      /not plain data: boom/,
    ],
    [
      "toJSON that returns undefined",
      `${header}export default { ...${body}, toJSON: () => undefined };\n`,
      /turns into nothing as JSON/,
    ],
    [
      "process.exit while loading",
      `${header}process.exit(0);\nexport default ${body};\n`,
      /loading pipelines\/hostile\.ts stopped: .*exit code 0/,
    ],
  ];
  for (const [what, source, message] of cases) {
    test(what, async () => {
      const repo = await tempRepo({ generated: true });
      // A 1 s limit where the case is a hang; the others keep the default, so that a loaded
      // machine (tsx compiling in a fresh worker) cannot turn them into timeouts.
      const env = message.source.includes("within 1 s") ? { DAGOPS_LOAD_TIMEOUT_SECONDS: "1" } : {};
      try {
        await repo.write("pipelines/hostile.ts", source);
        const gen = await snapshot(join(repo.root, "generated"));
        const s = captureIo(repo.root, env);
        assert.equal(await synth([], s), 1, s.text());
        assert.match(s.err.join(""), /pipelines\/hostile\.ts: 1 problem\n.*MODULE_LOAD_FAILED/);
        assert.match(s.err.join(""), message);
        assert.deepEqual(await snapshot(join(repo.root, "generated")), gen, "nothing written");
        const json = captureIo(repo.root, env);
        assert.equal(await check(["--json"], json), 1);
        assert.equal(
          (JSON.parse(json.out.join("")) as { ok: boolean }).ok,
          false,
          "check --json says so: the CI gate fails",
        );
      } finally {
        await repo.cleanup();
      }
    });
  }

  test("a timer that throws after the import does not change the outcome of a good synth", async () => {
    const repo = await tempRepo({ generated: true });
    try {
      await repo.write(
        "pipelines/late.ts",
        `${header}setTimeout(() => { throw new Error("late"); }, 50);\nexport default ${body.replace('"hostile"', '"late"')};\n`,
      );
      const s = captureIo(repo.root);
      assert.equal(await synth([], s), 0, s.text());
      await new Promise((r) => setTimeout(r, 200));
      const c = captureIo(repo.root);
      assert.equal(await check([], c), 0, c.text());
    } finally {
      await repo.cleanup();
    }
  });
});

test("a reader that closes stdout early (`| head -1`) ends no command: synth still writes and exits 0", async () => {
  const repo = await tempRepo({ generated: true });
  try {
    await repo.write(
      "pipelines/daily-usage-report.yaml",
      (await repo.read("pipelines/daily-usage-report.yaml")).replace("maxParallel: 2", "maxParallel: 3"),
    );
    const { spawn } = await import("node:child_process");
    const { REPO } = await import("../support/helpers.ts");
    const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(REPO, "src/commands/synth.ts"), "--root", repo.root],
        { cwd: REPO },
      );
      child.stdout.destroy();
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      child.on("close", (code) => resolve({ code, err }));
    });
    assert.equal(result.code, 0, result.err);
    assert.doesNotMatch(result.err, /EPIPE/);
    const c = captureIo(repo.root);
    assert.equal(await check([], c), 0, c.text());
  } finally {
    await repo.cleanup();
  }
});
