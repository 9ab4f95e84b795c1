/**
 * The part of the Kubernetes API the run manager uses, over @kubernetes/client-node. Every
 * call here needs a verb in the generated Role (`RUN_MANAGER_RULES`), and nothing else does.
 */
import {
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type CoreV1Event,
  type V1ConfigMap,
  type V1Job,
  type V1Pod,
  type V1Lease,
  type V1Node,
  type V1Secret,
} from "@kubernetes/client-node";
import { asKubeError } from "./errors.ts";
import type { IJob } from "kubernetes-models/batch/v1/Job";

export interface WatchEvent<T = V1Job> {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: T & { code?: number; message?: string };
}

export interface RunApi {
  getJob(name: string): Promise<V1Job>;
  listJobs(labelSelector: string): Promise<{ items: V1Job[]; resourceVersion: string }>;
  /** Resolves when the watch ends (server timeout, disconnect); rejects when it could not start. */
  watchJobs(
    labelSelector: string,
    resourceVersion: string,
    onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** The pods of the run's step Jobs: to name a failure early, and keep a failed container's last lines. */
  listPods(labelSelector: string): Promise<{ items: V1Pod[]; resourceVersion: string }>;
  watchPods(
    labelSelector: string,
    resourceVersion: string,
    onEvent: (e: WatchEvent<V1Pod>) => void,
    signal: AbortSignal,
  ): Promise<void>;
  createJob(job: IJob): Promise<V1Job>;
  /** Background propagation: the Job's pods are deleted too (without a policy they are orphaned and keep running). */
  deleteJob(name: string): Promise<void>;
  /** A JSON merge patch of the Job's annotations. */
  annotateJob(name: string, annotations: Record<string, string>): Promise<void>;
  createEvent(event: CoreV1Event): Promise<void>;
  /** The run's own ConfigMaps: the plan copy (`<run>-plan`) and the run record (`<run>-record`). */
  createConfigMap(configMap: V1ConfigMap): Promise<void>;
  getConfigMap(name: string): Promise<V1ConfigMap>;
  /** A JSON merge patch of data and labels. */
  patchConfigMap(
    name: string,
    patch: { data?: Record<string, string>; metadata?: { labels?: Record<string, string> } },
  ): Promise<void>;
  listConfigMaps(labelSelector: string): Promise<V1ConfigMap[]>;
  deleteConfigMap(name: string): Promise<void>;
  /** A Secret an alert rule names (the Role allows only those, by resourceNames). */
  getSecret(name: string): Promise<V1Secret>;
  /** The run's own Job, watched for a cancel request (`fieldSelector=metadata.name=<run>`). */
  watchRunJob(
    name: string,
    resourceVersion: string,
    onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
  /** The pipeline's Lease: one run at a time (`concurrency`). Replace is guarded by resourceVersion: a race is 409. */
  getLease(name: string): Promise<V1Lease>;
  createLease(lease: V1Lease): Promise<V1Lease>;
  replaceLease(name: string, lease: V1Lease): Promise<V1Lease>;
  /** The node a step ran on, for its instance type and capacity type (cluster-scoped: a ClusterRole allows get only). */
  getNode(name: string): Promise<V1Node>;
}

/** Seconds after which the API server ends a watch; the run manager then watches again. */
export const WATCH_TIMEOUT_SECONDS = 300;

export function kubeApi(kc: KubeConfig, namespace: string): RunApi {
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const watch = new Watch(kc);
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw asKubeError(what, err);
    }
  };
  function watchAt<T>(
    path: string,
    what: string,
    selector: string | { fieldSelector: string },
    resourceVersion: string,
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let started = false;
      const query = {
        ...(typeof selector === "string" ? { labelSelector: selector } : selector),
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: WATCH_TIMEOUT_SECONDS,
      };
      watch
        .watch(
          path,
          query,
          (type, object) => {
            started = true;
            onEvent({ type: type as WatchEvent["type"], object });
          },
          (err) => (err && !started && !signal.aborted ? reject(asKubeError(what, err)) : resolve()),
        )
        .then((controller) => signal.addEventListener("abort", () => controller.abort(), { once: true }), reject);
    });
  }
  return {
    getJob: (name) => call(`get job ${name}`, () => batch.readNamespacedJob({ name, namespace })),
    listJobs: (labelSelector) =>
      call("list jobs", async () => {
        const list = await batch.listNamespacedJob({ namespace, labelSelector });
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
      }),
    watchJobs: (labelSelector, resourceVersion, onEvent, signal) =>
      watchAt(
        `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`,
        "watch jobs",
        labelSelector,
        resourceVersion,
        onEvent,
        signal,
      ),
    listPods: (labelSelector) =>
      call("list pods", async () => {
        const list = await core.listNamespacedPod({ namespace, labelSelector });
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
      }),
    watchPods: (labelSelector, resourceVersion, onEvent, signal) =>
      watchAt(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
        "watch pods",
        labelSelector,
        resourceVersion,
        onEvent,
        signal,
      ),
    createJob: (job) =>
      call(`create job ${job.metadata?.name}`, () => batch.createNamespacedJob({ namespace, body: job as V1Job })),
    deleteJob: (name) =>
      call(`delete job ${name}`, async () => {
        await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" });
      }),
    annotateJob: (name, annotations) =>
      call(`annotate job ${name}`, async () => {
        // client-node sends a JSON patch unless told otherwise; a merge-style body would get 400.
        await batch.patchNamespacedJob(
          { name, namespace, body: { metadata: { annotations } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      }),
    createEvent: (event) =>
      call("create event", async () => {
        await core.createNamespacedEvent({ namespace, body: event });
      }),
    createConfigMap: (configMap) =>
      call(`create configmap ${configMap.metadata?.name}`, async () => {
        await core.createNamespacedConfigMap({ namespace, body: configMap });
      }),
    getConfigMap: (name) => call(`get configmap ${name}`, () => core.readNamespacedConfigMap({ name, namespace })),
    patchConfigMap: (name, patch) =>
      call(`patch configmap ${name}`, async () => {
        await core.patchNamespacedConfigMap(
          { name, namespace, body: patch },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      }),
    listConfigMaps: (labelSelector) =>
      call("list configmaps", async () => (await core.listNamespacedConfigMap({ namespace, labelSelector })).items),
    getSecret: (name) => call(`get secret ${name}`, () => core.readNamespacedSecret({ name, namespace })),
    watchRunJob: (name, resourceVersion, onEvent, signal) =>
      watchAt(
        `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`,
        "watch the run's Job",
        { fieldSelector: `metadata.name=${name}` },
        resourceVersion,
        onEvent,
        signal,
      ),
    getLease: (name) => call(`get lease ${name}`, () => coordination.readNamespacedLease({ name, namespace })),
    createLease: (lease) =>
      call(`create lease ${lease.metadata?.name}`, () =>
        coordination.createNamespacedLease({ namespace, body: lease }),
      ),
    replaceLease: (name, lease) =>
      call(`update lease ${name}`, () => coordination.replaceNamespacedLease({ name, namespace, body: lease })),
    getNode: (name) => call(`get node ${name}`, () => core.readNode({ name })),
    deleteConfigMap: (name) =>
      call(`delete configmap ${name}`, async () => {
        await core.deleteNamespacedConfigMap({ name, namespace });
      }),
  };
}
