/**
 * The part of the Kubernetes API the `dagops` command uses, over @kubernetes/client-node, with
 * the operator's own kubeconfig (kube/config.ts). Errors come back as KubeError with the HTTP
 * status, so every command words 401, 403, 404 and an unreachable API server the same way
 * (`explain`).
 */
import { existsSync } from "node:fs";
import { loadKubeConfig } from "../kube/config.ts";
import { loadPlatform } from "../load/load.ts";
import { PLATFORM_FILE } from "../model/files.ts";
import { formatProblems } from "../contract/problems.ts";
import { asKubeError, KubeConfigError, type KubeError } from "../kube/errors.ts";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  AuthenticationV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  Log,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1CronJob,
  type V1Job,
  type V1Lease,
  type V1Pod,
} from "@kubernetes/client-node";

export interface Cluster {
  /** The API server's URL and the context used, for messages. */
  readonly server: string;
  readonly context: string;
  /** The kubeconfig's user name: who started a run, when the API server cannot say (SelfSubjectReview). */
  readonly kubeUser: string;
  whoami(): Promise<string>;
  getCronJob(ns: string, name: string): Promise<V1CronJob>;
  getJob(ns: string, name: string): Promise<V1Job>;
  /** Jobs by label selector, in one namespace or (ns undefined) in all. */
  listJobs(ns: string | undefined, labelSelector: string): Promise<V1Job[]>;
  createJob(ns: string, job: V1Job): Promise<V1Job>;
  deleteJob(ns: string, name: string): Promise<void>;
  annotate(ns: string, kind: "job" | "configmap", name: string, annotations: Record<string, string>): Promise<void>;
  getConfigMap(ns: string, name: string): Promise<V1ConfigMap>;
  listConfigMaps(ns: string | undefined, labelSelector: string): Promise<V1ConfigMap[]>;
  deleteConfigMap(ns: string, name: string): Promise<void>;
  listPods(ns: string, labelSelector: string): Promise<V1Pod[]>;
  getLease(ns: string, name: string): Promise<V1Lease>;
  /** Writes the container's log to `out`; with `follow`, until the container ends. */
  podLog(
    ns: string,
    pod: string,
    container: string,
    out: (text: string) => void,
    options: { follow: boolean; tailLines?: number },
  ): Promise<void>;
}

/**
 * The operator's kubeconfig: `KUBECONFIG` or ~/.kube/config, and a context: `--context`, or the
 * context `--cluster <name>` maps to in platform.config.ts (`kubeContext`, default the cluster's
 * name), or the current one.
 */
export async function loadCluster(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  options: { context?: string; cluster?: string },
): Promise<Cluster> {
  const context =
    options.context ?? (options.cluster !== undefined ? await contextOfCluster(cwd, options.cluster) : undefined);
  const { kc, user } = loadKubeConfig(env, {
    without: "home",
    ...(context !== undefined ? { context } : {}),
    ...(options.cluster !== undefined && !options.context
      ? { contextOf: `the context of cluster ${options.cluster}` }
      : {}),
  });
  return clusterApi(kc, user);
}

/**
 * The kubeconfig context of a cluster from platform.config.ts in `cwd`, or the cluster's name.
 * The file is TypeScript: it is loaded as synth loads it (src/load/), never by a bare import,
 * which plain Node.js (the `dagops` command) refuses for a .ts file.
 */
async function contextOfCluster(cwd: string, name: string): Promise<string> {
  if (!existsSync(join(cwd, PLATFORM_FILE))) return name;
  const { clusters, problems } = await loadPlatform(cwd);
  const errors = problems.filter((p) => p.severity !== "warning");
  if (errors.length)
    throw new KubeConfigError(
      `cannot read ${PLATFORM_FILE} for the context of cluster ${name}:\n${formatProblems(errors)}`,
    );
  const found = clusters.find((c) => c.name === name);
  if (!found)
    throw new KubeConfigError(
      `${PLATFORM_FILE} has no cluster ${JSON.stringify(name)}; it has: ${clusters.map((c) => c.name).join(", ")}`,
    );
  return found.kubeContext;
}

function clusterApi(kc: KubeConfig, kubeUser: string): Cluster {
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const auth = kc.makeApiClient(AuthenticationV1Api);
  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw asKubeError(what, err);
    }
  };
  return {
    server: kc.getCurrentCluster()!.server,
    context: kc.getCurrentContext(),
    kubeUser,
    whoami: () =>
      call(
        "who am I (SelfSubjectReview)",
        async () =>
          (
            await auth.createSelfSubjectReview({
              body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
            })
          ).status?.userInfo?.username ?? kubeUser,
      ),
    getCronJob: (ns, name) =>
      call(`get cronjob ${ns}/${name}`, () => batch.readNamespacedCronJob({ name, namespace: ns })),
    getJob: (ns, name) => call(`get job ${ns}/${name}`, () => batch.readNamespacedJob({ name, namespace: ns })),
    listJobs: (ns, labelSelector) =>
      call(
        `list jobs${ns ? ` in ${ns}` : " in all namespaces"}`,
        async () =>
          (ns
            ? await batch.listNamespacedJob({ namespace: ns, labelSelector })
            : await batch.listJobForAllNamespaces({ labelSelector })
          ).items,
      ),
    createJob: (ns, job) =>
      call(`create job ${ns}/${job.metadata?.name}`, () => batch.createNamespacedJob({ namespace: ns, body: job })),
    deleteJob: (ns, name) =>
      call(`delete job ${ns}/${name}`, async () => {
        await batch.deleteNamespacedJob({ name, namespace: ns, propagationPolicy: "Background" });
      }),
    annotate: (ns, kind, name, annotations) =>
      call(`annotate ${kind} ${ns}/${name}`, async () => {
        const body = { metadata: { annotations } };
        if (kind === "job") await batch.patchNamespacedJob({ name, namespace: ns, body }, merge);
        else await core.patchNamespacedConfigMap({ name, namespace: ns, body }, merge);
      }),
    getConfigMap: (ns, name) =>
      call(`get configmap ${ns}/${name}`, () => core.readNamespacedConfigMap({ name, namespace: ns })),
    listConfigMaps: (ns, labelSelector) =>
      call(
        `list configmaps${ns ? ` in ${ns}` : " in all namespaces"}`,
        async () =>
          (ns
            ? await core.listNamespacedConfigMap({ namespace: ns, labelSelector })
            : await core.listConfigMapForAllNamespaces({ labelSelector })
          ).items,
      ),
    deleteConfigMap: (ns, name) =>
      call(`delete configmap ${ns}/${name}`, async () => {
        await core.deleteNamespacedConfigMap({ name, namespace: ns });
      }),
    listPods: (ns, labelSelector) =>
      call(`list pods in ${ns}`, async () => (await core.listNamespacedPod({ namespace: ns, labelSelector })).items),
    getLease: (ns, name) =>
      call(`get lease ${ns}/${name}`, () => coordination.readNamespacedLease({ name, namespace: ns })),
    podLog: (ns, pod, container, out, options) =>
      call(`read the log of pod ${ns}/${pod}`, async () => {
        const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (out(chunk.toString("utf8")), done()) });
        const ended = new Promise<void>((resolve, reject) => {
          sink.on("finish", resolve);
          sink.on("error", reject);
        });
        // Resolves once the stream is open; `sink` finishes when the log ends.
        await new Log(kc).log(ns, pod, container, sink, {
          follow: options.follow,
          ...(options.tailLines !== undefined ? { tailLines: options.tailLines } : {}),
        });
        await ended;
      }),
  };
}

/** What an operator reads for an API error: what happened and what to do, never a stack. */
export function explain(err: KubeError, cluster: Pick<Cluster, "server" | "context">): string {
  switch (err.status) {
    case undefined:
      return `cannot reach the API server ${cluster.server} (context ${cluster.context}): ${err.detail}. Check the network path (VPN, endpoint access) and the context: kubectl --context ${cluster.context} get ns`;
    case 401:
      return `the API server ${cluster.server} refused the credentials of context ${cluster.context} (401 Unauthorized): the token or certificate is wrong or expired. For EKS: aws eks update-kubeconfig --name <cluster>`;
    case 403:
      return `${err.what}: forbidden (403): ${err.detail}. Ask for the dagops operator rights in that namespace (docs/operating.md, "Operating runs")`;
    case 404:
      return `${err.what}: not found (404): ${err.detail}`;
    default:
      return `${err.what}: the API server answered ${err.status}: ${err.detail}`;
  }
}
