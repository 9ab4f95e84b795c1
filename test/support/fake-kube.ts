/**
 * A simulated Kubernetes API server: the subset the run manager uses (batch/v1 Jobs create, get,
 * list, watch, delete and merge-patch; core/v1 Events create), over real HTTP, with
 * resourceVersions, label selectors, watch streams that can be dropped, and `410 Gone` after
 * compaction. It is not a cluster: no controllers run, the test decides when a Job completes,
 * fails or is interrupted, as the Job controller would report it.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

type Obj = Record<string, any>;

export type Resource =
  | "jobs"
  | "events"
  | "configmaps"
  | "secrets"
  | "pods"
  | "pods/log"
  | "leases"
  | "nodes"
  | "cronjobs"
  | "selfsubjectreviews";

export interface Request {
  readonly method: string;
  readonly resource: Resource;
  /** The namespace, or undefined for a cluster-scoped or all-namespaces request. */
  readonly namespace?: string;
  readonly verb: "create" | "get" | "list" | "watch" | "delete" | "patch" | "update";
  readonly name?: string;
  readonly query: URLSearchParams;
  readonly contentType?: string;
}

export type Outcome = {
  readonly outcome: "succeed" | "fail" | "interrupt" | "timeout" | "hang";
  readonly afterMs?: number;
  /** The step pod stays waiting with this container state (the kubelet's view), while the Job stays active. */
  readonly waiting?: { readonly reason: string; readonly message: string };
  /** The step pod stays Pending: the scheduler's Unschedulable condition, with this message. */
  readonly unschedulable?: string;
  /** How the container ends when the Job fails: `{ reason: "OOMKilled", exitCode: 137 }`, or a log tail in `message`. */
  readonly terminated?: { readonly reason: string; readonly exitCode: number; readonly message?: string };
};

export class FakeKube {
  readonly token = `test-token-${randomUUID()}`;
  readonly requests: Request[] = [];
  readonly events: Obj[] = [];
  readonly deletes: { name: string; propagationPolicy: string | null }[] = [];
  /** What happens to each step Job the run manager creates, by step name and attempt. */
  script: (step: string | undefined, attempt: number, job: Obj) => Outcome = () => ({
    outcome: "succeed",
    afterMs: 20,
  });
  /** Create the next Job, then drop the connection without answering (a lost response). */
  loseNextCreateResponse = false;
  /**
   * Fault injection, asked about every request before it is served: answer with this status
   * (a Status body, as the API server sends), never answer (`hang`), or close the connection
   * without an answer (`drop`, what a restarting API server or a refused connection looks like).
   */
  fault: (r: Request) => { readonly status: number } | { readonly delayMs: number } | "hang" | "drop" | undefined =
    () => undefined;
  /** Lists answer with the items as they were when the request arrived, this much later (a slow list racing writes). */
  listDelayMs = 0;
  /** When each request arrived (ms since the epoch), in the order of `requests`. */
  readonly arrivals: number[] = [];

  private jobs = new Map<string, Obj>();
  /** Leases by name, nodes by name, CronJobs by name (one namespace each is enough for these tests). */
  readonly leases = new Map<string, Obj>();
  readonly nodes = new Map<string, Obj>();
  readonly cronJobs = new Map<string, Obj>();
  /** The user SelfSubjectReview answers with. */
  username = "jane@example.com";
  /** Called when a Job without a dagops step role is created: the test's CronJob/Job controller (it may start a run manager). */
  onRunJob: (job: Obj) => void = () => {};
  /** Log lines of pods, by pod name: what `pods/<name>/log` serves. */
  readonly podLogs = new Map<string, string[]>();
  /** ConfigMaps by name (one namespace is enough for these tests). */
  readonly configMaps = new Map<string, Obj>();
  /** Secrets by name, `data` base64 as the API serves it. */
  readonly secrets = new Map<string, Obj>();
  private log: { rv: number; type: string; object: Obj }[] = [];
  private rv = 100;
  private compactedBelow = 0;
  private watches = new Set<{ res: ServerResponse; selector: Selector; ns: string; kind: string }>();
  private outcomes = new Map<string, Outcome>();
  private timers = new Set<NodeJS.Timeout>();
  private server: Server;
  private running = new Map<string, number>();
  /** Most step Jobs that were running at the same time. */
  peakRunning = 0;

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
    // The node step pods land on, as Karpenter labels it.
    this.nodes.set("ip-10-0-1-23.ec2.internal", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: "ip-10-0-1-23.ec2.internal",
        labels: {
          "node.kubernetes.io/instance-type": "m6i.large",
          "karpenter.sh/capacity-type": "spot",
          "karpenter.sh/nodepool": "dagops-steps",
        },
      },
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Folders of the kubeconfig files handed out, removed on stop(). */
  private readonly tempDirs: string[] = [];

  async stop(): Promise<void> {
    for (const d of this.tempDirs.splice(0)) await rm(d, { recursive: true, force: true });
    for (const t of this.timers) clearTimeout(t);
    for (const w of this.watches) w.res.end();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** A kubeconfig file that points at this server with a bearer token. */
  async kubeconfig(url: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "fake-kube-"));
    this.tempDirs.push(dir);
    const file = join(dir, "config");
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        // Plain HTTP on loopback: client-node allows http only with TLS verification off.
        clusters: [{ name: "fake", cluster: { server: url, "insecure-skip-tls-verify": true } }],
        users: [{ name: "run-manager", user: { token: this.token } }],
        contexts: [{ name: "fake", context: { cluster: "fake", user: "run-manager" } }],
        "current-context": "fake",
      }),
    );
    return file;
  }

  /** The run-manager Job, as the CronJob controller would have created it. */
  addRunJob(namespace: string, name: string, createdAt = new Date()): { name: string; uid: string } {
    const uid = randomUUID();
    this.put("ADDED", {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace, uid, creationTimestamp: createdAt.toISOString(), labels: {}, annotations: {} },
      spec: {},
      status: {},
    });
    return { name, uid };
  }

  job(name: string): Obj | undefined {
    return this.jobs.get(name);
  }

  stepJobs(): Obj[] {
    return [...this.jobs.values()]
      .filter((j) => j.metadata.labels?.["dagops.dev/role"] === "step")
      .sort((a, b) => a.metadata.resourceVersion - b.metadata.resourceVersion);
  }

  /** Jobs that are neither steps nor placeholders: run Jobs. */
  runJobs(): Obj[] {
    return [...this.jobs.values()]
      .filter((j) => !["step", "placeholder"].includes(j.metadata.labels?.["dagops.dev/role"]))
      .sort((a, b) => a.metadata.resourceVersion - b.metadata.resourceVersion);
  }

  placeholders(): Obj[] {
    return [...this.jobs.values()].filter((j) => j.metadata.labels?.["dagops.dev/role"] === "placeholder");
  }

  /** Ends every open watch, as a load balancer or an API server restart would. */
  dropWatches(): void {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
  }

  /**
   * Forgets history: a watch from a resourceVersion before now gets `410 Gone`. As in etcd, the
   * revision moves on past the compaction, so a list made afterwards returns a version that can
   * be watched from.
   */
  compact(): void {
    this.rv += 1;
    this.compactedBelow = this.rv;
  }

  /** Reports a Job finished as the Job controller would: a terminal condition. */
  finish(name: string, outcome: Outcome["outcome"]): void {
    const job = this.jobs.get(name);
    if (!job || job.status.conditions?.length) return;
    const now = new Date().toISOString();
    const failed = (reason: string, message: string) => [
      { type: "FailureTarget", status: "True", reason, message, lastTransitionTime: now },
      { type: "Failed", status: "True", reason, message, lastTransitionTime: now },
    ];
    job.status = {
      ...job.status,
      ...(outcome === "succeed"
        ? {
            succeeded: 1,
            completionTime: now,
            conditions: [
              { type: "SuccessCriteriaMet", status: "True", lastTransitionTime: now },
              { type: "Complete", status: "True", lastTransitionTime: now },
            ],
          }
        : outcome === "interrupt"
          ? {
              failed: 1,
              conditions: failed(
                "PodFailurePolicy",
                `Pod ${job.metadata.namespace}/${job.metadata.name}-x7k2p has condition DisruptionTarget matching FailJob rule at index 0`,
              ),
            }
          : outcome === "timeout"
            ? { failed: 1, conditions: failed("DeadlineExceeded", "Job was active longer than specified deadline") }
            : { failed: 1, conditions: failed("BackoffLimitExceeded", "Job has reached the specified backoff limit") }),
      active: 0,
    };
    this.running.delete(name);
    this.put("MODIFIED", job);
    this.endPod(job, outcome === "succeed", this.outcomes.get(name));
  }

  private put(type: string, object: Obj): void {
    this.rv += 1;
    object.metadata.resourceVersion = String(this.rv);
    const store = object.kind === "Pod" ? this.pods : this.jobs;
    if (type === "DELETED") store.delete(object.metadata.name);
    else store.set(object.metadata.name, object);
    const copy = structuredClone(object);
    this.log.push({ rv: this.rv, type, object: copy });
    for (const w of this.watches)
      if (w.kind === copy.kind && w.ns === object.metadata.namespace && w.selector(copy))
        w.res.write(JSON.stringify({ type, object: copy }) + "\n");
  }

  /** Step pods, as the Job controller and the kubelet would report them. */
  readonly pods = new Map<string, Obj>();

  /** The pod of a step Job, created with it: Running, or in the waiting state the script says. */
  private startPod(job: Obj, plan: Outcome): void {
    const labels = { ...job.spec.template.metadata?.labels, "batch.kubernetes.io/job-name": job.metadata.name };
    const container = job.spec.template.spec.containers[0];
    const status: Obj = plan.unschedulable
      ? {
          phase: "Pending",
          conditions: [
            {
              type: "PodScheduled",
              status: "False",
              reason: "Unschedulable",
              message: plan.unschedulable,
              lastTransitionTime: new Date().toISOString(),
            },
          ],
        }
      : {
          phase: plan.waiting ? "Pending" : "Running",
          conditions: [{ type: "PodScheduled", status: "True" }],
          containerStatuses: [
            {
              name: container.name,
              image: container.image,
              ready: !plan.waiting,
              restartCount: 0,
              state: plan.waiting ? { waiting: plan.waiting } : { running: { startedAt: new Date().toISOString() } },
            },
          ],
        };
    this.put("ADDED", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${job.metadata.name}-x7k2p`,
        namespace: job.metadata.namespace,
        uid: randomUUID(),
        labels,
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name, uid: job.metadata.uid }],
      },
      spec: {
        ...(plan.unschedulable ? {} : { nodeName: "ip-10-0-1-23.ec2.internal" }),
        containers: [{ name: container.name, image: container.image }],
      },
      status,
    });
  }

  /** The pod's container ends with the Job: exit 0, or a failure with the script's reason and log tail. */
  private endPod(job: Obj, succeeded: boolean, plan: Outcome | undefined): void {
    const pod = [...this.pods.values()].find(
      (p) => p.metadata.labels["batch.kubernetes.io/job-name"] === job.metadata.name,
    );
    if (!pod || !pod.status.containerStatuses) return;
    const t = succeeded ? { reason: "Completed", exitCode: 0 } : (plan?.terminated ?? { reason: "Error", exitCode: 1 });
    pod.status = {
      ...pod.status,
      phase: succeeded ? "Succeeded" : "Failed",
      containerStatuses: [
        {
          ...pod.status.containerStatuses[0],
          ready: false,
          state: { terminated: { ...t, finishedAt: new Date().toISOString() } },
        },
      ],
    };
    this.put("MODIFIED", pod);
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => (this.timers.delete(t), f()), ms);
    this.timers.add(t);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const send = (status: number, body: Obj) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const status = (code: number, reason: string, message: string) =>
      send(code, { kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code });
    if (req.headers.authorization !== `Bearer ${this.token}`) return status(401, "Unauthorized", "Unauthorized");
    const body = await new Promise<string>((r) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => r(data));
    });
    const route = routeOf(url.pathname);
    if (!route) return status(404, "NotFound", `the server could not find the requested resource (${url.pathname})`);
    const { namespace, resource, name } = route;
    const ns = namespace ?? "";
    const watch = url.searchParams.get("watch") === "true";
    const verb: Request["verb"] =
      req.method === "POST"
        ? "create"
        : req.method === "DELETE"
          ? "delete"
          : req.method === "PATCH"
            ? "patch"
            : req.method === "PUT"
              ? "update"
              : name
                ? "get"
                : watch
                  ? "watch"
                  : "list";
    const request: Request = {
      method: req.method!,
      resource,
      ...(namespace ? { namespace } : {}),
      verb,
      ...(name ? { name } : {}),
      query: url.searchParams,
      ...(req.headers["content-type"] ? { contentType: req.headers["content-type"] } : {}),
    };
    this.requests.push(request);
    this.arrivals.push(Date.now());
    const fault = this.fault(request);
    if (fault === "hang") return;
    if (fault === "drop") return void req.socket.destroy();
    if (fault && "delayMs" in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    else if (fault)
      return status(
        fault.status,
        fault.status === 429 ? "TooManyRequests" : fault.status >= 500 ? "ServiceUnavailable" : "Failure",
        `injected ${fault.status}`,
      );

    if (resource === "events") {
      if (verb !== "create") return status(405, "MethodNotAllowed", "events: create only here");
      this.events.push(JSON.parse(body));
      return send(201, JSON.parse(body));
    }
    const labels = parseSelector(url.searchParams.get("labelSelector") ?? "");
    const field = url.searchParams.get("fieldSelector");
    const fieldName = field?.match(/^metadata\.name=(.+)$/)?.[1];
    if (field && fieldName === undefined)
      return status(400, "BadRequest", `test server: only metadata.name field selectors, found ${field}`);
    const selector: Selector = (o) => labels(o) && (fieldName === undefined || o.metadata?.name === fieldName);
    if (resource === "selfsubjectreviews") {
      if (verb !== "create") return status(405, "MethodNotAllowed", "selfsubjectreviews: create only");
      return send(201, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "SelfSubjectReview",
        metadata: {},
        status: { userInfo: { username: this.username, groups: ["system:authenticated"] } },
      });
    }
    if (resource === "nodes") {
      if (verb !== "get") return status(405, "MethodNotAllowed", "nodes: get only here");
      const node = this.nodes.get(name!);
      return node ? send(200, node) : status(404, "NotFound", `nodes "${name}" not found`);
    }
    if (resource === "cronjobs") {
      if (verb !== "get") return status(405, "MethodNotAllowed", "cronjobs: get only here");
      const cj = this.cronJobs.get(name!);
      return cj && cj.metadata.namespace === ns
        ? send(200, cj)
        : status(404, "NotFound", `cronjobs.batch "${name}" not found`);
    }
    if (resource === "leases") return this.lease(verb, ns, name, body, send, status);
    if (resource === "pods/log") return this.podLog(ns, name!, url.searchParams, res, status);
    if (namespace === undefined && verb !== "list")
      return status(405, "MethodNotAllowed", `${resource}: only list across namespaces`);
    if (resource === "pods" && verb === "list") {
      const items = [...this.pods.values()].filter(
        (p) => (namespace === undefined || p.metadata.namespace === ns) && selector(p),
      );
      return send(200, { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (resource === "pods" && verb !== "watch")
      return status(405, "MethodNotAllowed", "pods: list and watch only here");
    if (resource === "secrets") {
      const secret = verb === "get" ? this.secrets.get(name!) : undefined;
      if (verb !== "get") return status(405, "MethodNotAllowed", "secrets: get only here");
      return secret ? send(200, secret) : status(404, "NotFound", `secrets "${name}" not found`);
    }
    if (resource === "configmaps")
      return this.configMap(verb, ns, name, body, selector, req.headers["content-type"], send, status);
    switch (verb) {
      case "list": {
        const items = [...this.jobs.values()]
          .filter((j) => (namespace === undefined || j.metadata.namespace === ns) && selector(j))
          .map((j) => JSON.parse(JSON.stringify(j)));
        const list = { kind: "JobList", apiVersion: "batch/v1", metadata: { resourceVersion: String(this.rv) }, items };
        if (this.listDelayMs > 0) return void setTimeout(() => send(200, list), this.listDelayMs);
        return send(200, list);
      }
      case "watch": {
        const from = Number(url.searchParams.get("resourceVersion") ?? "0");
        res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
        const kind = resource === "pods" ? "Pod" : "Job";
        if (from < this.compactedBelow) {
          res.end(
            JSON.stringify({
              type: "ERROR",
              object: {
                kind: "Status",
                apiVersion: "v1",
                status: "Failure",
                reason: "Expired",
                code: 410,
                message: `too old resource version: ${from}`,
              },
            }) + "\n",
          );
          return;
        }
        for (const e of this.log)
          if (e.rv > from && e.object.kind === kind && e.object.metadata.namespace === ns && selector(e.object))
            res.write(JSON.stringify({ type: e.type, object: e.object }) + "\n");
        const w = { res, selector, ns, kind };
        this.watches.add(w);
        res.on("close", () => this.watches.delete(w));
        return;
      }
      case "get": {
        const job = this.jobs.get(name!);
        return job && job.metadata.namespace === ns
          ? send(200, job)
          : status(404, "NotFound", `jobs.batch "${name}" not found`);
      }
      case "create": {
        const job = JSON.parse(body) as Obj;
        const jobName: string = job.metadata?.name ?? "";
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(jobName) || jobName.length > 63)
          return status(
            422,
            "Invalid",
            `Job.batch "${jobName}" is invalid: metadata.name: must be no more than 63 characters and a DNS-1123 label`,
          );
        if (this.jobs.has(jobName)) return status(409, "AlreadyExists", `jobs.batch "${jobName}" already exists`);
        const owner = job.metadata.ownerReferences?.[0];
        const isStep = ["step", "placeholder"].includes(job.metadata.labels?.["dagops.dev/role"]);
        const ownerObj =
          owner && (owner.kind === "CronJob" ? this.cronJobs.get(owner.name) : this.jobs.get(owner.name));
        if (isStep && (!ownerObj || ownerObj.metadata.uid !== owner.uid))
          return status(
            422,
            "Invalid",
            "test server: a step Job must be owned by its run's Job (the garbage collector would delete it)",
          );
        if (!isStep && owner && (!ownerObj || ownerObj.metadata.uid !== owner.uid))
          return status(
            422,
            "Invalid",
            `test server: owner ${owner.kind} ${owner.name} with uid ${owner.uid} does not exist`,
          );
        if (!isStep) {
          job.metadata = {
            ...job.metadata,
            namespace: ns,
            uid: randomUUID(),
            creationTimestamp: new Date().toISOString(),
          };
          job.status = { startTime: new Date().toISOString(), active: 1 };
          this.put("ADDED", job);
          send(201, job);
          this.onRunJob(job);
          return;
        }
        job.metadata = {
          ...job.metadata,
          namespace: ns,
          uid: randomUUID(),
          creationTimestamp: new Date().toISOString(),
        };
        job.status = { startTime: new Date().toISOString(), active: 1 };
        this.put("ADDED", job);
        this.running.set(jobName, 1);
        this.peakRunning = Math.max(this.peakRunning, this.running.size);
        const labels = job.metadata.labels;
        const plan = this.script(labels["dagops.dev/step"], Number(labels["dagops.dev/attempt"]), job);
        this.outcomes.set(jobName, plan);
        if (labels["dagops.dev/role"] === "step") this.startPod(job, plan);
        if (plan.outcome !== "hang" && !plan.waiting && !plan.unschedulable)
          this.later(plan.afterMs ?? 20, () => this.finish(jobName, plan.outcome));
        if (this.loseNextCreateResponse) {
          this.loseNextCreateResponse = false;
          res.socket?.destroy();
          return;
        }
        send(201, job);
        return;
      }
      case "delete": {
        const job = this.jobs.get(name!);
        if (!job) return status(404, "NotFound", `jobs.batch "${name}" not found`);
        this.deletes.push({ name: name!, propagationPolicy: url.searchParams.get("propagationPolicy") });
        this.running.delete(name!);
        this.put("DELETED", job);
        this.collectGarbage(job);
        return send(200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
      case "patch": {
        if (req.headers["content-type"] !== "application/merge-patch+json") {
          return status(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          );
        }
        const job = this.jobs.get(name!);
        if (!job) return status(404, "NotFound", `jobs.batch "${name}" not found`);
        const patch = JSON.parse(body) as Obj;
        job.metadata.annotations = { ...job.metadata.annotations, ...patch.metadata?.annotations };
        if (patch.status) job.status = { ...job.status, ...patch.status };
        this.put("MODIFIED", job);
        return send(200, job);
      }
    }
  }

  /**
   * The garbage collector, for what these tests need: objects whose ownerReference names a
   * deleted object's uid go with it (Jobs and ConfigMaps).
   */
  private collectGarbage(owner: Obj): void {
    const uid = owner.metadata.uid;
    const owned = (o: Obj) => (o.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === uid);
    for (const [n, cm] of [...this.configMaps]) if (owned(cm)) this.configMaps.delete(n);
    for (const pod of [...this.pods.values()]) if (owned(pod)) this.put("DELETED", pod);
    for (const job of [...this.jobs.values()]) {
      if (owned(job)) {
        this.running.delete(job.metadata.name);
        this.put("DELETED", job);
        this.collectGarbage(job);
      }
    }
  }

  /** Deletes a Job as `kubectl delete job` would, with its dependents (foreground or background alike here). */
  deleteJob(name: string): void {
    const job = this.jobs.get(name);
    if (!job) return;
    this.running.delete(name);
    this.put("DELETED", job);
    this.collectGarbage(job);
  }

  /** Leases as the API server serves them: MicroTime fields parsed strictly, replace guarded by resourceVersion. */
  private lease(
    verb: Request["verb"],
    ns: string,
    name: string | undefined,
    body: string,
    send: (s: number, b: Obj) => void,
    status: (c: number, r: string, m: string) => void,
  ): void {
    const micro = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
    const invalid = (l: Obj) =>
      ["acquireTime", "renewTime"].find((k) => l.spec?.[k] !== undefined && !micro.test(l.spec[k]));
    switch (verb) {
      case "get": {
        const l = this.leases.get(name!);
        return l ? send(200, l) : status(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`);
      }
      case "create": {
        const l = JSON.parse(body) as Obj;
        const bad = invalid(l);
        if (bad)
          return status(
            400,
            "BadRequest",
            `Lease in version "v1" cannot be handled as a Lease: parsing time "${l.spec[bad]}" as "2006-01-02T15:04:05.000000Z07:00"`,
          );
        if (this.leases.has(l.metadata.name))
          return status(409, "AlreadyExists", `leases.coordination.k8s.io "${l.metadata.name}" already exists`);
        this.rv += 1;
        l.metadata = {
          ...l.metadata,
          namespace: ns,
          uid: randomUUID(),
          creationTimestamp: new Date().toISOString(),
          resourceVersion: String(this.rv),
        };
        this.leases.set(l.metadata.name, l);
        return send(201, l);
      }
      case "update": {
        const l = JSON.parse(body) as Obj;
        const current = this.leases.get(name!);
        if (!current) return status(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`);
        const bad = invalid(l);
        if (bad)
          return status(
            400,
            "BadRequest",
            `Lease in version "v1" cannot be handled as a Lease: parsing time "${l.spec[bad]}" as "2006-01-02T15:04:05.000000Z07:00"`,
          );
        if (!l.metadata?.resourceVersion)
          return status(
            422,
            "Invalid",
            `Lease.coordination.k8s.io "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
          );
        if (l.metadata.resourceVersion !== current.metadata.resourceVersion)
          return status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        this.rv += 1;
        l.metadata = { ...current.metadata, resourceVersion: String(this.rv) };
        this.leases.set(name!, l);
        return send(200, l);
      }
      default:
        return status(405, "MethodNotAllowed", `leases: ${verb} is not served here`);
    }
  }

  /** `pods/<name>/log`: the lines the test gave; with follow=true, new lines as they come, until the pod ends. */
  private podLog(
    ns: string,
    name: string,
    query: URLSearchParams,
    res: ServerResponse,
    status: (c: number, r: string, m: string) => void,
  ): void {
    const pod = this.pods.get(name);
    if (!pod || pod.metadata.namespace !== ns) return status(404, "NotFound", `pods "${name}" not found`);
    const lines = this.podLogs.get(name) ?? [];
    res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
    let sent = 0;
    const flush = () => {
      const all = this.podLogs.get(name) ?? [];
      while (sent < all.length) res.write(`${all[sent++]}\n`);
    };
    const tail = query.get("tailLines");
    if (tail !== null) sent = Math.max(0, lines.length - Number(tail));
    flush();
    const ended = () => {
      const p = this.pods.get(name);
      return !p || ["Succeeded", "Failed"].includes(p.status.phase);
    };
    if (query.get("follow") !== "true" || ended()) return void res.end();
    const timer = setInterval(() => {
      flush();
      if (ended()) clearInterval(timer), res.end();
    }, 20);
    res.on("close", () => clearInterval(timer));
  }

  private configMap(
    verb: Request["verb"],
    ns: string,
    name: string | undefined,
    body: string,
    selector: Selector,
    contentType: string | undefined,
    send: (s: number, b: Obj) => void,
    status: (c: number, r: string, m: string) => void,
  ): void {
    const now = () => new Date().toISOString();
    switch (verb) {
      case "create": {
        const cm = JSON.parse(body) as Obj;
        const n: string = cm.metadata?.name ?? "";
        if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n) || n.length > 253)
          return status(422, "Invalid", `ConfigMap "${n}" is invalid: metadata.name`);
        if (this.configMaps.has(n)) return status(409, "AlreadyExists", `configmaps "${n}" already exists`);
        const size = Buffer.byteLength(JSON.stringify(cm.data ?? {}));
        if (size > 1024 * 1024)
          return status(422, "Invalid", `ConfigMap "${n}" is invalid: []: Too long: must have at most 1048576 bytes`);
        this.rv += 1;
        cm.metadata = {
          ...cm.metadata,
          namespace: ns,
          uid: randomUUID(),
          creationTimestamp: now(),
          resourceVersion: String(this.rv),
        };
        this.configMaps.set(n, cm);
        return send(201, cm);
      }
      case "get": {
        const cm = this.configMaps.get(name!);
        return cm ? send(200, cm) : status(404, "NotFound", `configmaps "${name}" not found`);
      }
      case "list": {
        const items = [...this.configMaps.values()].filter(
          (c) => (ns === "" || c.metadata.namespace === ns) && selector(c),
        );
        return send(200, {
          kind: "ConfigMapList",
          apiVersion: "v1",
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
      case "patch": {
        if (contentType !== "application/merge-patch+json")
          return status(415, "UnsupportedMediaType", "the body of the request was in an unknown format");
        const cm = this.configMaps.get(name!);
        if (!cm) return status(404, "NotFound", `configmaps "${name}" not found`);
        const patch = JSON.parse(body) as Obj;
        cm.metadata.labels = { ...cm.metadata.labels, ...patch.metadata?.labels };
        if (patch.metadata?.annotations)
          cm.metadata.annotations = { ...cm.metadata.annotations, ...patch.metadata.annotations };
        cm.data = { ...cm.data, ...patch.data };
        const size = Buffer.byteLength(JSON.stringify(cm.data ?? {}));
        if (size > 1024 * 1024)
          return status(
            422,
            "Invalid",
            `ConfigMap "${name}" is invalid: []: Too long: must have at most 1048576 bytes`,
          );
        this.rv += 1;
        cm.metadata.resourceVersion = String(this.rv);
        return send(200, cm);
      }
      case "delete": {
        const cm = this.configMaps.get(name!);
        if (!cm) return status(404, "NotFound", `configmaps "${name}" not found`);
        this.configMaps.delete(name!);
        return send(200, { kind: "Status", apiVersion: "v1", status: "Success" });
      }
      default:
        return status(405, "MethodNotAllowed", `configmaps: ${verb} is not served here`);
    }
  }
}

type Selector = (o: Obj) => boolean;

/** The API paths served here: namespaced, cluster-scoped (nodes, selfsubjectreviews) and all-namespaces lists. */
function routeOf(path: string): { namespace?: string; resource: Resource; name?: string } | undefined {
  const namespaced = path.match(
    /^\/(?:apis\/batch\/v1|api\/v1|apis\/coordination\.k8s\.io\/v1)\/namespaces\/([^/]+)\/(jobs|events|configmaps|secrets|pods|leases|cronjobs)(?:\/([^/]+))?(\/log)?$/,
  );
  if (namespaced) {
    const [, namespace, resource, name, log] = namespaced;
    const group = path.startsWith("/apis/batch/")
      ? "batch"
      : path.startsWith("/apis/coordination")
        ? "coordination"
        : "core";
    const served = {
      batch: ["jobs", "cronjobs"],
      coordination: ["leases"],
      core: ["events", "configmaps", "secrets", "pods"],
    }[group]!;
    if (!served.includes(resource!)) return undefined;
    if (log && resource !== "pods") return undefined;
    return { namespace: namespace!, resource: log ? "pods/log" : (resource as Resource), ...(name ? { name } : {}) };
  }
  const node = path.match(/^\/api\/v1\/nodes\/([^/]+)$/);
  if (node) return { resource: "nodes", name: node[1]! };
  if (path === "/apis/authentication.k8s.io/v1/selfsubjectreviews") return { resource: "selfsubjectreviews" };
  if (path === "/apis/batch/v1/jobs") return { resource: "jobs" };
  if (path === "/api/v1/configmaps") return { resource: "configmaps" };
  if (path === "/api/v1/pods") return { resource: "pods" };
  return undefined;
}

function parseSelector(text: string): Selector {
  const terms = text
    .split(",")
    .filter(Boolean)
    .map((t) => t.split("="));
  return (o) => terms.every(([k, v]) => o.metadata?.labels?.[k!] === v);
}
