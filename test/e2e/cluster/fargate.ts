// What EKS does to a pod that a Fargate profile selects, emulated in its two visible parts (the
// Fargate scheduler is not open source):
//
// 1. Admission: EKS's mutating webhook gives a pod that matches an ACTIVE profile (its namespace,
//    and every label of one of the profile's selectors, `*` and `?` wildcards allowed)
//    `schedulerName: fargate-scheduler` and the label `eks.amazonaws.com/fargate-profile`. Here a
//    real MutatingWebhookConfiguration calls this process, which reads the FargateProfile objects
//    applied to the cluster (every applied profile counts as ACTIVE: no ACK controller runs here).
// 2. Scheduling: the Fargate scheduler starts one micro-VM per pod, registers it as a Node named
//    `fargate-<ip>` with the compute-type label and taint, and binds the pod to it; the node goes
//    when the pod ends. Here the node is a Node object that KWOK keeps Ready (its lease), with the
//    same labels and taint, and the binding is a real `pods/binding` call.
//
// What runs in the pod is kubelet.ts's business.
import { createServer, type Server } from "node:https";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { type Api, isStatus, type KubeObject } from "./api.ts";
import type { Pki } from "./pki.ts";
import { ZONES } from "./rewrites.ts";

export const FARGATE_SCHEDULER = "fargate-scheduler";
export const FARGATE_LABEL = "eks.amazonaws.com/compute-type";
export const PROFILE_LABEL = "eks.amazonaws.com/fargate-profile";

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(value);
}

/** The profile that selects a pod, as EKS matches them: namespace and every selector label. */
export function matchingProfile(
  profiles: readonly KubeObject[],
  namespace: string,
  labels: Readonly<Record<string, string>>,
): string | undefined {
  for (const p of [...profiles].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1))) {
    for (const s of p.spec.selectors ?? []) {
      if (!glob(s.namespace, namespace)) continue;
      const wanted = Object.entries((s.labels ?? {}) as Record<string, string>);
      if (wanted.every(([k, v]) => labels[k] !== undefined && glob(v, labels[k]))) return p.spec.name as string;
    }
  }
  return undefined;
}

export class Fargate {
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #nodes = 0;
  /** Pods admitted, for the tests: namespace/name → profile. */
  readonly admitted = new Map<string, string>();

  constructor(
    private readonly api: Api,
    private readonly pki: Pki,
  ) {}

  async start(): Promise<void> {
    this.#server = createServer(
      { cert: readFileSync(this.pki.webhookCert), key: readFileSync(this.pki.webhookKey) },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          void this.#review(Buffer.concat(chunks).toString("utf8")).then(
            (body) => {
              res.writeHead(200, { "content-type": "application/json" });
              res.end(JSON.stringify(body));
            },
            (err: Error) => {
              res.writeHead(500);
              res.end(err.message);
            },
          );
        });
      },
    );
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    const port = (this.#server.address() as AddressInfo).port;
    await this.api.apply(
      "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/0500-amazon-eks-fargate-mutation.amazonaws.com",
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "MutatingWebhookConfiguration",
        metadata: { name: "0500-amazon-eks-fargate-mutation.amazonaws.com" },
        webhooks: [
          {
            name: "0500-amazon-eks-fargate-mutation.amazonaws.com",
            admissionReviewVersions: ["v1"],
            sideEffects: "None",
            failurePolicy: "Fail",
            timeoutSeconds: 10,
            clientConfig: {
              url: `https://127.0.0.1:${port}/mutate`,
              caBundle: Buffer.from(this.pki.caPem).toString("base64"),
            },
            rules: [
              {
                apiGroups: [""],
                apiVersions: ["v1"],
                operations: ["CREATE"],
                resources: ["pods"],
                scope: "Namespaced",
              },
            ],
            namespaceSelector: {
              matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system"] }],
            },
          },
        ],
      },
    );
    this.#timer = setInterval(() => void this.#tick(), 200);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    // close() alone waits for the API server's keep-alive connections to time out.
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #review(text: string): Promise<unknown> {
    const review = JSON.parse(text) as {
      request: { uid: string; namespace: string; object: KubeObject };
    };
    const { uid, namespace, object } = review.request;
    const profiles = await this.api.list("/apis/eks.services.k8s.aws/v1alpha1/fargateprofiles");
    const profile = matchingProfile(profiles, namespace, object.metadata.labels ?? {});
    const response: Record<string, unknown> = { uid, allowed: true };
    if (profile) {
      const patch = [
        { op: "replace", path: "/spec/schedulerName", value: FARGATE_SCHEDULER },
        ...(object.metadata.labels ? [] : [{ op: "add", path: "/metadata/labels", value: {} }]),
        { op: "add", path: `/metadata/labels/${PROFILE_LABEL.replace("/", "~1")}`, value: profile },
      ];
      response.patchType = "JSONPatch";
      response.patch = Buffer.from(JSON.stringify(patch)).toString("base64");
      this.admitted.set(`${namespace}/${object.metadata.name ?? object.metadata.generateName ?? ""}`, profile);
    }
    return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const pending = await this.api.list(
        `/api/v1/pods?fieldSelector=spec.schedulerName%3D${FARGATE_SCHEDULER},spec.nodeName%3D`,
      );
      for (const pod of pending) if (!pod.metadata.deletionTimestamp) await this.#place(pod);
      await this.#reap();
    } catch {
      // the API server may be restarting (a fault test): try again on the next tick
    } finally {
      this.#busy = false;
    }
  }

  async #place(pod: KubeObject): Promise<void> {
    const n = ++this.#nodes;
    const name = `fargate-ip-10-1-${Math.floor(n / 250)}-${n % 250}.ec2.internal`;
    await this.api.post("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        labels: {
          [FARGATE_LABEL]: "fargate",
          [PROFILE_LABEL]: pod.metadata.labels?.[PROFILE_LABEL] ?? "",
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
          "kubernetes.io/hostname": name,
          "topology.kubernetes.io/zone": ZONES[n % ZONES.length],
          "topology.kubernetes.io/region": "us-east-1",
          "kwok.x-k8s.io/node": "fake",
        },
        // KWOK keeps the node's lease and Ready condition; it runs none of its pods (stages.ts).
        annotations: {
          "kwok.x-k8s.io/node": "fake",
          "dagops.dev/e2e-pod": `${pod.metadata.namespace}/${pod.metadata.name}`,
        },
      },
      spec: { taints: [{ key: FARGATE_LABEL, value: "fargate", effect: "NoSchedule" }] },
      status: { capacity: { cpu: "2", memory: "4Gi", pods: "1" }, allocatable: { cpu: "2", memory: "4Gi", pods: "1" } },
    });
    try {
      await this.api.post(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/binding`, {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name: pod.metadata.name },
        target: { apiVersion: "v1", kind: "Node", name },
      });
    } catch (err) {
      await this.api.delete(`/api/v1/nodes/${name}`).catch(() => undefined);
      if (!isStatus(err, 404) && !isStatus(err, 409)) throw err;
    }
  }

  /** A Fargate node lives as long as its pod runs. */
  async #reap(): Promise<void> {
    const nodes = await this.api.list(`/api/v1/nodes?labelSelector=${encodeURIComponent(`${FARGATE_LABEL}=fargate`)}`);
    if (nodes.length === 0) return;
    const running = new Set(
      (await this.api.list(`/api/v1/pods?fieldSelector=spec.schedulerName%3D${FARGATE_SCHEDULER}`))
        .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
        .map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
    );
    for (const node of nodes) {
      if (running.has(node.metadata.annotations?.["dagops.dev/e2e-pod"] ?? "")) continue;
      await this.api.delete(`/api/v1/nodes/${node.metadata.name}`).catch(() => undefined);
    }
  }
}
