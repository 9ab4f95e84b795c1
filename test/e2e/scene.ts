// One e2e test file's stage: a generated tree (the repository's own, or one synthesized from
// pipelines the file writes), a real cluster sized from that tree's NodePools with the tree
// applied, and the operator's `dagops` command pointed at it. The helpers read what the tests
// assert on: run Jobs, step Jobs, records.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { captureIo, REPO, tempRepo, type TempRepo } from "../support/helpers.ts";
import { eventually, type KubeObject } from "./cluster/api.ts";
import { applyTree } from "./cluster/apply.ts";
import { Cluster } from "./cluster/cluster.ts";
import { LABEL } from "../../src/contract/labels.ts";
import { recordName, RUN_KEY, type RunHead, type StepRecord } from "../../src/contract/record.ts";
import type { NodePoolManifest } from "../../src/cost/pools.ts";

/** The cluster of platform.config.ts every scene applies (the example's and the fixture's smaller one). */
export const CLUSTER = "staging";
const exec = promisify(execFile);

export interface SceneOptions {
  /**
   * Pipeline definitions by file name, synthesized into a temp repository beside the example's
   * platform configuration; without them the scene is the repository's own generated/ tree.
   */
  readonly pipelines?: Readonly<Record<string, string>>;
  /** Apply the tree before the first test (default true; tier.e2e.test.ts applies it as its first test). */
  readonly apply?: boolean;
}

export class Scene {
  private constructor(
    readonly cluster: Cluster,
    /** The repository `dagops` runs in: its platform.config.ts resolves `--cluster`. */
    readonly root: string,
    readonly tree: string,
    private readonly repo: TempRepo | undefined,
  ) {}

  static async start(options: SceneOptions = {}): Promise<Scene> {
    let repo: TempRepo | undefined;
    let root = REPO;
    if (options.pipelines) {
      repo = await tempRepo({ pipelines: false });
      for (const [file, text] of Object.entries(options.pipelines)) await repo.write(join("pipelines", file), text);
      const { main } = await import("../../src/commands/synth.ts");
      const io = captureIo(repo.root);
      if ((await main(["--full"], io)) !== 0) throw new Error(`synth of the scene's pipelines failed:\n${io.text()}`);
      root = repo.root;
    }
    const tree = join(root, "generated", CLUSTER);
    const platform = join(tree, "platform");
    const nodePools = readdirSync(platform)
      .filter((f) => f.startsWith("nodepool-"))
      .map((f) => parse(readFileSync(join(platform, f), "utf8")) as NodePoolManifest);
    const cluster = await Cluster.start({
      nodePools,
      pricesFile: join(REPO, "data", "aws-us-east-1.json"),
      context: CLUSTER,
    });
    const scene = new Scene(cluster, root, tree, repo);
    // Retries of failed steps wait 10 s doubling; a twentieth of that here.
    cluster.kubelet.extraEnv = { DAGOPS_BACKOFF_SCALE: "0.05" };
    if (options.apply !== false) {
      const rejections = await applyTree(cluster, tree).catch(async (err: Error) => {
        await scene.stop();
        throw err;
      });
      if (rejections.length) {
        await scene.stop();
        throw new Error(`the tree was rejected:\n${rejections.join("\n")}`);
      }
    }
    return scene;
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
    await this.repo?.cleanup();
  }

  /** `dagops <args> --cluster staging`, as an operator runs it: the built command, an admin kubeconfig. */
  async dagops(...args: string[]): Promise<string> {
    try {
      const { stdout } = await exec(
        process.execPath,
        [join(REPO, "src/cli/dagops.mjs"), ...args, "--cluster", CLUSTER],
        {
          cwd: this.root,
          env: { PATH: process.env.PATH, HOME: this.cluster.dir, KUBECONFIG: this.cluster.adminKubeconfig },
        },
      );
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`dagops ${args.join(" ")}: ${e.stderr ?? ""}${e.stdout ?? ""}`);
    }
  }

  /** `dagops start <pipeline> …`: the run's name. */
  async start(pipeline: string, ...args: string[]): Promise<string> {
    const output = await this.dagops("start", pipeline, ...args);
    const m = /started run (\S+)/.exec(output);
    assert.ok(m, `dagops start said: ${output}`);
    return m[1]!;
  }

  job(namespace: string, name: string): Promise<KubeObject> {
    return this.cluster.api.get<KubeObject>(`/apis/batch/v1/namespaces/${namespace}/jobs/${name}`);
  }

  /** The run's Job once it has ended (Complete or Failed). */
  finished(namespace: string, name: string, timeoutMs = 240_000): Promise<KubeObject> {
    return eventually(
      `run ${name} to end`,
      async () => {
        const job = await this.job(namespace, name);
        return ended(job) ? job : undefined;
      },
      timeoutMs,
      1000,
    );
  }

  /** Step Jobs of a run (every attempt), optionally of one step. */
  stepJobs(namespace: string, run: string, step?: string): Promise<KubeObject[]> {
    const selector = `${LABEL.run}=${run}${step ? `,${LABEL.step}=${step}` : ""}`;
    return this.cluster.api.list(
      `/apis/batch/v1/namespaces/${namespace}/jobs?labelSelector=${encodeURIComponent(selector)}`,
    );
  }

  /** The pods of a run's steps that exist now. */
  stepPods(namespace: string, run: string, step?: string): Promise<KubeObject[]> {
    const selector = `${LABEL.run}=${run},${LABEL.role}=step${step ? `,${LABEL.step}=${step}` : ""}`;
    return this.cluster.api.list(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`);
  }

  /** A run's pods: the run manager's (the run Job's pods). */
  runPods(namespace: string, run: string): Promise<KubeObject[]> {
    return this.cluster.api.list(
      `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(`job-name=${run}`)}`,
    );
  }

  /** A run's record as the API server holds it: its head and each step's attempts. */
  async record(namespace: string, run: string): Promise<{ head: RunHead; steps: Map<string, StepRecord> }> {
    const cm = await this.cluster.api.get<KubeObject & { data: Record<string, string> }>(
      `/api/v1/namespaces/${namespace}/configmaps/${recordName({ name: run, uid: "", namespace })}`,
    );
    const steps = new Map<string, StepRecord>();
    for (const [key, text] of Object.entries(cm.data)) {
      if (key === RUN_KEY || !key.startsWith("step.")) continue;
      const step = JSON.parse(text) as StepRecord;
      steps.set(step.step, step);
    }
    return { head: JSON.parse(cm.data[RUN_KEY]!) as RunHead, steps };
  }

  /** Waits until a step's pod of the run is Running (on a node KWOK runs). */
  running(namespace: string, run: string, step: string, timeoutMs = 120_000): Promise<KubeObject> {
    return eventually(
      `${step} of ${run} to be running`,
      async () => (await this.stepPods(namespace, run, step)).find((p) => p.status?.phase === "Running"),
      timeoutMs,
      500,
    );
  }
}

export function condition(object: KubeObject, type: string): { status: string; reason?: string } | undefined {
  return (object.status?.conditions ?? []).find((c: { type: string }) => c.type === type);
}

export function ended(job: KubeObject): boolean {
  return ["Complete", "Failed"].some((t) => condition(job, t)?.status === "True");
}
