/**
 * The run-manager program: `run-manager run --plan /etc/dagops/plan/plan.yaml`.
 *
 * Exit codes (the generated CronJob's podFailurePolicy depends on them):
 * - 0: the run succeeded;
 * - 1: the run failed, timed out, or cannot run (missing or altered plan, wrong Job): final,
 *   the run-manager Job does not retry it;
 * - 143: stopped by SIGTERM; the run-manager Job starts a new pod, which adopts the running steps;
 * - 2: the API server kept failing transiently (no answer, 429, 5xx) for the whole retry budget;
 *   like a crash, the run-manager Job retries the pod (backoffLimit 2);
 * - anything else: a crash; the run-manager Job retries it.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { parsePlanText } from "./plan-text.ts";
import { PLAN_API_VERSION, type Plan } from "../contract/plan-format.ts";
import { graphProblems } from "../contract/graph.ts";
import { runIfMain, type Io } from "../cli/kit.ts";
import type { RunId } from "../contract/record.ts";
import { loadKubeConfig } from "../kube/config.ts";
import { KubeConfigError, KubeError } from "../kube/errors.ts";
import { kubeApi, type RunApi } from "../kube/kube.ts";
import { jsonLogger, type Logger } from "./log.ts";
import { IntentError } from "./intent.ts";
import { StoppedError, TransientError } from "./retry.ts";
import { runPipeline } from "./run.ts";
import type { RunOutcome } from "./state.ts";
import { RETRY_DELAY, type RetryDelay } from "../contract/scheduler.ts";

export const RUN_EXIT: Record<RunOutcome, number> & { unusable: number; transient: number } = {
  succeeded: 0,
  failed: 1,
  "timed-out": 1,
  cancelled: 1,
  skipped: 0,
  unusable: 1,
  stopped: 143,
  transient: 2,
};

const USAGE = "usage: run-manager run --plan <file>\n";

export interface MainOptions {
  /** Aborted on SIGTERM/SIGINT. */
  readonly stop?: AbortSignal;
  /** The Kubernetes API; by default from KUBECONFIG or the in-cluster ServiceAccount. */
  readonly api?: (namespace: string) => RunApi;
  readonly retryDelay?: RetryDelay;
}

/**
 * `DAGOPS_BACKOFF_SCALE` (a number, default 1) multiplies every wait: retries of failed steps
 * (10 s doubling to 10 min) and API backoffs. Tests and harnesses outside this process set it
 * (0.01: 100 ms instead of 10 s); production never does.
 */
function backoffScale(env: Io["env"]): number {
  const s = Number(env.DAGOPS_BACKOFF_SCALE);
  return env.DAGOPS_BACKOFF_SCALE !== undefined && Number.isFinite(s) && s > 0 && s <= 1 ? s : 1;
}

export async function main(argv: string[], io: Io, options: MainOptions = {}): Promise<number> {
  const env = io.env;
  const base = env.DAGOPS_PIPELINE ? { pipeline: env.DAGOPS_PIPELINE, run: env.DAGOPS_JOB_NAME } : {};
  const log = jsonLogger(io.stdout, Date.now, base);
  const planFile = argv[0] === "run" && argv[1] === "--plan" && argv.length === 3 ? argv[2]! : undefined;
  if (!planFile) {
    io.stderr(USAGE);
    return RUN_EXIT.unusable;
  }
  const missing = ["DAGOPS_PIPELINE", "DAGOPS_NAMESPACE", "DAGOPS_JOB_NAME", "DAGOPS_JOB_UID"].filter((k) => !env[k]);
  if (missing.length) {
    log.error("run.unusable", {
      reason: "environment",
      message: `${missing.join(", ")} not set; the generated CronJob sets them from the pod's metadata`,
    });
    return RUN_EXIT.unusable;
  }
  const run: RunId = { name: env.DAGOPS_JOB_NAME!, uid: env.DAGOPS_JOB_UID!, namespace: env.DAGOPS_NAMESPACE! };
  const scale = backoffScale(env);
  const retryDelay =
    options.retryDelay ??
    (scale !== 1 ? { first: RETRY_DELAY.first * scale, max: RETRY_DELAY.max * scale } : undefined);
  let api: RunApi;
  try {
    api = options.api ? options.api(run.namespace) : kubeApi(loadKubeConfig(env).kc, run.namespace);
  } catch (err) {
    // A kubeconfig that cannot work will not work on the next try either: final, and said plainly.
    if (!(err instanceof KubeConfigError)) throw err;
    log.error("run.unusable", { reason: "kubeconfig", message: err.message });
    return RUN_EXIT.unusable;
  }
  const loaded = await loadPlan(planFile, env, log, api);
  if (!loaded) return RUN_EXIT.unusable;
  const { plan, text } = loaded;
  try {
    const result = await runPipeline({
      plan,
      run,
      api,
      log,
      stop: options.stop ?? new AbortController().signal,
      backoffScale: scale,
      planText: text,
      ...(env.DAGOPS_PLAN_CONFIGMAP ? { planRevision: env.DAGOPS_PLAN_CONFIGMAP } : {}),
      ...(env.DAGOPS_CLUSTER ? { cluster: env.DAGOPS_CLUSTER } : {}),
      ...(env.DAGOPS_ARTIFACTS ? { artifacts: env.DAGOPS_ARTIFACTS } : {}),
      logs: {
        ...(env.DAGOPS_LOG_GROUP ? { runManagerGroup: env.DAGOPS_LOG_GROUP } : {}),
        ...(env.DAGOPS_STEPS_LOG_GROUP ? { stepsGroup: env.DAGOPS_STEPS_LOG_GROUP } : {}),
      },
      ...(retryDelay ? { retryDelay } : {}),
      ...(env.DAGOPS_POD_NAME ? { instance: env.DAGOPS_POD_NAME } : {}),
    });
    return RUN_EXIT[result.outcome];
  } catch (err) {
    if (err instanceof StoppedError) {
      log.warn("run.stopping", { reason: "SIGTERM", message: err.message, running: [] });
      return RUN_EXIT.stopped;
    }
    if (err instanceof IntentError) {
      log.error("run.unusable", { reason: "run-job", message: err.message });
      return RUN_EXIT.unusable;
    }
    if (err instanceof TransientError) {
      log.error("run.api-unavailable", { message: err.message });
      return RUN_EXIT.transient;
    }
    // A definite refusal of what the run needs (its own Job: 401, 403, 404): retrying the pod
    // will not help. Anything else is a bug: let it crash, and the run-manager Job retries the pod.
    if (!(err instanceof KubeError)) throw err;
    log.error("run.unusable", { reason: "kubernetes", message: err.message });
    return RUN_EXIT.unusable;
  }
}

/**
 * The plan and its text, or undefined after logging why there is none to run. A plan ConfigMap
 * whose revision a sync pruned is mounted as an empty directory (`optional: true`). A pod
 * restarted during a run then reads the copy its run made at the start (`<run>-plan`); a run
 * that never started says so and runs nothing. The ConfigMap's name carries the hash of the
 * plan text, so a partial or altered plan, wherever it was read from, is caught.
 */
export async function loadPlan(
  file: string,
  env: Io["env"],
  log: Logger,
  api?: RunApi,
): Promise<{ plan: Plan; text: string } | undefined> {
  const configMap = env.DAGOPS_PLAN_CONFIGMAP;
  const fail = (reason: string, message: string) => (
    log.error("run.unusable", { reason, message, plan: file, ...(configMap ? { configMap } : {}) }), undefined
  );
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      return fail("plan-unreadable", `cannot read ${file}: ${(err as Error).message}`);
  }
  if (text === undefined && api && env.DAGOPS_JOB_NAME) {
    const copy = `${env.DAGOPS_JOB_NAME}-plan`;
    try {
      text = (await api.getConfigMap(copy)).data?.["plan.yaml"];
      if (text !== undefined)
        log.info("plan.from-copy", {
          configMap: copy,
          message: `the plan mount is empty (a sync pruned ${configMap}); using the copy this run made at its start`,
        });
    } catch (err) {
      if (!(err instanceof KubeError) || err.status !== 404)
        log.warn("plan.copy-unreadable", { configMap: copy, error: (err as Error).message });
    }
  }
  if (text === undefined) {
    return fail(
      "plan-superseded",
      `plan ConfigMap ${configMap ?? "(unknown)"} is not mounted: a sync pruned this revision of the pipeline after the run was created. ` +
        `Nothing was started. The CronJob already names the new revision; to run it now: npx dagops start ${env.DAGOPS_PIPELINE} (or kubectl -n ${env.DAGOPS_NAMESPACE} create job --from=cronjob/${env.DAGOPS_PIPELINE} ${env.DAGOPS_PIPELINE}-manual-$(date +%s))`,
    );
  }
  const expected = configMap?.match(/-plan-([0-9a-f]{10})$/)?.[1];
  const actual = createHash("sha256").update(text).digest("hex").slice(0, 10);
  if (expected && expected !== actual)
    return fail(
      "plan-altered",
      `${file} hashes to ${actual}, but its ConfigMap ${configMap} was named for ${expected}: the plan is partial or was altered; not running it`,
    );
  let plan: Plan;
  try {
    plan = parsePlanText(text) as Plan;
  } catch (err) {
    return fail("plan-invalid", `${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const problems = planProblems(plan, env);
  return problems.length ? fail("plan-invalid", `${file}: ${problems.join("; ")}`) : { plan, text };
}

function planProblems(plan: Plan, env: Io["env"]): string[] {
  if (plan?.apiVersion !== PLAN_API_VERSION || plan.kind !== "Plan")
    return [`expected apiVersion ${PLAN_API_VERSION} kind Plan, found ${plan?.apiVersion} ${plan?.kind}`];
  const problems: string[] = [];
  if (plan.pipeline !== env.DAGOPS_PIPELINE)
    problems.push(`plan is for pipeline ${plan.pipeline}, this run is for ${env.DAGOPS_PIPELINE}`);
  if (plan.namespace !== env.DAGOPS_NAMESPACE)
    problems.push(`plan is for namespace ${plan.namespace}, this pod runs in ${env.DAGOPS_NAMESPACE}`);
  if (!Array.isArray(plan.steps) || plan.steps.length === 0) return [...problems, "plan has no steps"];
  // The shape graphProblems relies on, checked first so that a damaged plan is plan-invalid, not a TypeError.
  const shape: string[] = [];
  plan.steps.forEach((s: unknown, i) => {
    const step = s as { name?: unknown; dependsOn?: unknown } | null;
    if (step === null || typeof step !== "object" || Array.isArray(step))
      return void shape.push(`steps[${i}] is ${step === null ? "null" : typeof step}, not a step`);
    if (typeof step.name !== "string" || step.name === "") shape.push(`steps[${i}].name must be a non-empty string`);
    if (!Array.isArray(step.dependsOn) || !step.dependsOn.every((d) => typeof d === "string"))
      shape.push(`steps[${i}].dependsOn must be a list of step names`);
  });
  if (shape.length) return [...problems, ...shape];
  if (!(Number.isInteger(plan.maxParallel) && plan.maxParallel >= 1))
    problems.push(`maxParallel must be a positive integer, found ${plan.maxParallel}`);
  if (!(Number.isInteger(plan.runTimeoutSeconds) && plan.runTimeoutSeconds >= 1))
    problems.push(`runTimeoutSeconds must be a positive integer, found ${plan.runTimeoutSeconds}`);
  plan.steps.forEach((s, i) => {
    if (!s?.job?.spec?.template?.spec) problems.push(`steps[${i}] has no Job template`);
  });
  problems.push(...graphProblems(plan.steps, "plan").map((p) => `${p.path}: ${p.message}`));
  return problems;
}

runIfMain(import.meta, async (argv, io) => {
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
  const code = await main(argv, io, { stop: stop.signal });
  // A request the API server never answered would keep the process alive past the pod's grace
  // period (and a SIGKILL): once the outcome is decided, leave shortly even if one is pending.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
});
