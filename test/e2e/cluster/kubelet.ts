// The kubelet of the run-manager pods, emulated: when a pod that Fargate bound (fargate.ts) is
// on its node, start the run manager as a local process with the pod's environment and volumes,
// authenticated as the pod's own ServiceAccount (a TokenRequest bound to the pod, so the real
// RBAC decides every call it makes), and report the process in the pod's status as a kubelet
// does: Running with a start time, then Succeeded or Failed with the container's exit code. A
// pod being deleted gets SIGTERM, then SIGKILL after its grace period, and is then removed.
//
// What is not emulated: images (the process runs this checkout's run manager, bundled), the
// container's filesystem (a volume mount becomes a folder, and an argument naming a path under a
// mount is rewritten to the folder), and resource limits.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runManagerScript } from "../../support/built.ts";
import { type Api, isStatus, type KubeObject } from "./api.ts";
import { kubeconfig } from "./pki.ts";
import { FARGATE_SCHEDULER } from "./fargate.ts";

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number>;
  readonly pod: KubeObject;
  deleting: boolean;
}

/** The process's peak resident set (VmHWM), in bytes; undefined once it is gone. */
function peakRss(pid: number | undefined): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function fieldValue(pod: KubeObject, path: string): string {
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (label) return pod.metadata.labels?.[label[1]!] ?? "";
  const annotation = /^metadata\.annotations\['(.+)'\]$/.exec(path);
  if (annotation) return pod.metadata.annotations?.[annotation[1]!] ?? "";
  switch (path) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return pod.metadata.namespace ?? "";
    case "metadata.uid":
      return pod.metadata.uid ?? "";
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec.serviceAccountName ?? "";
    default:
      throw new Error(`kubelet emulation: fieldRef ${path} is not supported`);
  }
}

/** The one container's status: running (ready, started) or terminated. */
function containerStatus(pod: KubeObject, container: Container, running: boolean, state: object): object {
  return {
    name: container.name,
    image: pod.spec.containers[0].image,
    ready: running,
    restartCount: 0,
    started: running,
    state,
  };
}

export class RunManagerKubelet {
  readonly #started = new Map<string, Started>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  /** Extra environment for every run manager (DAGOPS_BACKOFF_SCALE in tests). */
  extraEnv: Record<string, string> = {};

  constructor(
    private readonly api: Api,
    private readonly dir: string,
  ) {}

  start(): void {
    runManagerScript();
    this.#timer = setInterval(() => void this.#tick(), 200);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    for (const s of this.#started.values()) s.child.kill("SIGKILL");
    await Promise.all([...this.#started.values()].map((s) => s.exited));
  }

  running(): string[] {
    return [...this.#started.keys()];
  }

  /** Peak RSS of every run-manager process so far, by pod (`namespace/name`), sampled each tick. */
  readonly peakRss = new Map<string, number>();

  /** The run manager's log of one pod (`namespace`, `name`): what its container wrote. */
  logOf(namespace: string, name: string): string {
    try {
      return readFileSync(join(this.dir, "pods", `${namespace}_${name}`, "run-manager.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Kills a run manager as an OOM kill or a node failure would: SIGKILL, no grace; its pod then fails with 137. */
  kill(namespace: string, name: string): void {
    const started = this.#started.get(`${namespace}/${name}`);
    if (!started) throw new Error(`kubelet emulation: no run manager runs for pod ${namespace}/${name}`);
    started.child.kill("SIGKILL");
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (const [key, s] of this.#started) {
        const rss = peakRss(s.child.pid);
        if (rss !== undefined) this.peakRss.set(key, Math.max(rss, this.peakRss.get(key) ?? 0));
      }
      const pods = await this.api.list(`/api/v1/pods?fieldSelector=spec.schedulerName%3D${FARGATE_SCHEDULER}`);
      for (const pod of pods) {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
        const started = this.#started.get(key);
        if (!started && pod.spec.nodeName && pod.status?.phase === "Pending" && !pod.metadata.deletionTimestamp) {
          await this.#run(key, pod);
        } else if (started && pod.metadata.deletionTimestamp && !started.deleting) {
          started.deleting = true;
          void this.#terminate(key, started, pod);
        } else if (!started && pod.metadata.deletionTimestamp) {
          await this.#remove(pod);
        }
      }
    } catch {
      // the API server may be restarting (a fault test): try again on the next tick
    } finally {
      this.#busy = false;
    }
  }

  async #run(key: string, pod: KubeObject): Promise<void> {
    const container = pod.spec.containers[0] as Container;
    const podDir = join(this.dir, "pods", `${pod.metadata.namespace}_${pod.metadata.name}`);
    mkdirSync(podDir, { recursive: true });
    // Volumes: a ConfigMap's keys as files (nothing for a missing optional one), an emptyDir empty.
    const mounts = new Map<string, string>();
    for (const volume of pod.spec.volumes ?? []) {
      const dir = join(podDir, "volumes", volume.name);
      mkdirSync(dir, { recursive: true });
      if (volume.configMap) {
        try {
          const cm = await this.api.get<KubeObject & { data?: Record<string, string> }>(
            `/api/v1/namespaces/${pod.metadata.namespace}/configmaps/${volume.configMap.name}`,
          );
          for (const [file, text] of Object.entries(cm.data ?? {})) writeFileSync(join(dir, file), text);
        } catch (err) {
          if (!(isStatus(err, 404) && volume.configMap.optional)) throw err;
        }
      }
      const mount = container.volumeMounts?.find((m) => m.name === volume.name);
      if (mount) mounts.set(mount.mountPath, dir);
    }
    const hostPath = (arg: string) => {
      for (const [mountPath, dir] of mounts)
        if (arg.startsWith(`${mountPath}/`)) return dir + arg.slice(mountPath.length);
      return arg;
    };
    // Credentials: a token of the pod's own ServiceAccount, bound to the pod (what the kubelet projects).
    const sa = pod.spec.serviceAccountName ?? "default";
    const tr = await this.api.post<{ status: { token: string } }>(
      `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          expirationSeconds: 3600,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid },
        },
      },
    );
    const kubeconfigFile = join(podDir, "kubeconfig");
    writeFileSync(
      kubeconfigFile,
      kubeconfig(
        this.api.server,
        this.api.ca,
        tr.status.token,
        `system:serviceaccount:${pod.metadata.namespace}:${sa}`,
      ),
      {
        mode: 0o600,
      },
    );
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: podDir,
      TMPDIR: mounts.get("/tmp") ?? podDir,
    };
    for (const e of container.env ?? []) {
      env[e.name] = e.valueFrom?.fieldRef ? fieldValue(pod, e.valueFrom.fieldRef.fieldPath) : (e.value ?? "");
    }
    Object.assign(env, this.extraEnv, { KUBECONFIG: kubeconfigFile, NODE_ENV: "production" });
    const log = openSync(join(podDir, "run-manager.log"), "a");
    // The image's entrypoint (Dockerfile), with this checkout's run manager.
    const child = spawn(
      process.execPath,
      [
        "--max-old-space-size=128",
        "--max-semi-space-size=4",
        runManagerScript(),
        ...(container.args ?? []).map(hostPath),
      ],
      { env, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    const exited = new Promise<number>((resolve) =>
      child.once("exit", (code, signal) =>
        resolve(code ?? (signal === "SIGKILL" ? 137 : signal === "SIGTERM" ? 143 : 128)),
      ),
    );
    const started: Started = { child, exited, pod, deleting: false };
    this.#started.set(key, started);
    const now = new Date().toISOString();
    await this.#status(pod, {
      phase: "Running",
      startTime: now,
      hostIP: "10.1.0.1",
      podIP: "10.1.0.2",
      conditions: [
        { type: "Initialized", status: "True", lastTransitionTime: now },
        { type: "Ready", status: "True", lastTransitionTime: now },
        { type: "ContainersReady", status: "True", lastTransitionTime: now },
        { type: "PodScheduled", status: "True", lastTransitionTime: now },
      ],
      containerStatuses: [containerStatus(pod, container, true, { running: { startedAt: now } })],
    }).catch(() => undefined);
    void exited.then(async (code) => {
      if (!started.deleting) await this.#finished(pod, container, code, now).catch(() => undefined);
      this.#started.delete(key);
    });
  }

  async #finished(pod: KubeObject, container: Container, code: number, startedAt: string): Promise<void> {
    const now = new Date().toISOString();
    await this.#status(pod, {
      phase: code === 0 ? "Succeeded" : "Failed",
      // A merge patch replaces the whole list: every condition a kubelet keeps, as it leaves them.
      conditions: [
        { type: "Initialized", status: "True", lastTransitionTime: startedAt },
        { type: "Ready", status: "False", reason: "PodCompleted", lastTransitionTime: now },
        { type: "ContainersReady", status: "False", reason: "PodCompleted", lastTransitionTime: now },
        { type: "PodScheduled", status: "True", lastTransitionTime: startedAt },
      ],
      containerStatuses: [
        containerStatus(pod, container, false, {
          terminated: { exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt, finishedAt: now },
        }),
      ],
    });
  }

  async #terminate(key: string, started: Started, pod: KubeObject): Promise<void> {
    started.child.kill("SIGTERM");
    const grace = (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const timer = setTimeout(() => started.child.kill("SIGKILL"), grace);
    const code = await started.exited;
    clearTimeout(timer);
    await this.#finished(
      pod,
      pod.spec.containers[0] as Container,
      code,
      pod.status?.startTime ?? new Date().toISOString(),
    ).catch(() => undefined);
    await this.#remove(pod);
    this.#started.delete(key);
  }

  async #remove(pod: KubeObject): Promise<void> {
    await this.api
      .delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      })
      .catch(() => undefined);
  }

  #status(pod: KubeObject, status: Record<string, unknown>): Promise<unknown> {
    return this.api.mergePatch(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
      status,
    });
  }
}
