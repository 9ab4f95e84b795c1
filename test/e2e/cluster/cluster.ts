// One real control plane on loopback, in a temporary folder, from the binaries `npm run
// e2e:setup` built: etcd, kube-apiserver (RBAC, the admission plugins EKS enables, an audit log),
// kube-controller-manager, kube-scheduler, KWOK (the kubelet of step nodes), Karpenter's KWOK
// provider (nodes), and the harness's Fargate and run-manager-kubelet emulations.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { builtRoot } from "../pins.ts";
import { Api, eventually } from "./api.ts";
import { fargateProfileCrd } from "./crds.ts";
import { Fargate } from "./fargate.ts";
import { RunManagerKubelet } from "./kubelet.ts";
import { kubeconfig, makePki, type Pki } from "./pki.ts";
import { Processes } from "./processes.ts";
import { instanceTypes } from "./rewrites.ts";
import type { NodePoolManifest } from "../../../src/cost/pools.ts";
import { type Outcomes, stages } from "./stages.ts";

const run = promisify(execFile);

/**
 * The admission plugins EKS enables on Kubernetes 1.34 (its platform-versions page), beyond
 * the ones on by default. OwnerReferencesPermissionEnforcement is not among them.
 */
export const EKS_ADMISSION_PLUGINS = [
  "NamespaceLifecycle",
  "LimitRanger",
  "ServiceAccount",
  "DefaultStorageClass",
  "ResourceQuota",
  "DefaultTolerationSeconds",
  "NodeRestriction",
  "MutatingAdmissionWebhook",
  "ValidatingAdmissionWebhook",
  "PodSecurity",
  "TaintNodesByCondition",
  "Priority",
  "StorageObjectInUseProtection",
  "PersistentVolumeClaimResize",
  "ExtendedResourceToleration",
  "CertificateApproval",
  "CertificateSigning",
  "CertificateSubjectRestriction",
  "ClusterTrustBundleAttest",
  "DefaultIngressClass",
  "RuntimeClass",
  "ValidatingAdmissionPolicy",
];

/** Every request at Metadata level: who called what, for the request counts in docs/benchmarks.md. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface ClusterOptions {
  /** NodePools to size Karpenter's instance types from (the generated ones of the cluster under test). */
  readonly nodePools: readonly NodePoolManifest[];
  readonly pricesFile: string;
  readonly outcomes?: Outcomes;
  /** The admin kubeconfig's context: the cluster's name, as `dagops --cluster <name>` looks it up. */
  readonly context: string;
}

export class Cluster {
  readonly processes: Processes;
  readonly api: Api;
  readonly fargate: Fargate;
  readonly kubelet: RunManagerKubelet;
  readonly adminKubeconfig: string;
  readonly auditLog: string;
  #apiserverArgs: string[] = [];

  private constructor(
    readonly dir: string,
    readonly bin: string,
    readonly pki: Pki,
    readonly ports: {
      etcd: number;
      etcdPeer: number;
      apiserver: number;
      kwok: number;
      metrics: number;
      health: number;
    },
    readonly tokens: Record<string, string>,
  ) {
    this.processes = new Processes(join(dir, "logs"));
    this.api = new Api(`https://127.0.0.1:${ports.apiserver}`, pki.caPem, tokens.admin!);
    this.fargate = new Fargate(this.api, pki);
    this.kubelet = new RunManagerKubelet(this.api, dir);
    this.adminKubeconfig = join(dir, "admin.kubeconfig");
    this.auditLog = join(dir, "logs", "audit.log");
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const root = builtRoot();
    const bin = join(root, "bin");
    if (!existsSync(join(root, "ready"))) {
      throw new Error(
        `the e2e tier's programs are not built (${root}): run \`npm run e2e:setup\` first (needs Go ≥ 1.24)`,
      );
    }
    const dir = mkdtempSync(join(tmpdir(), "dagops-e2e-"));
    mkdirSync(join(dir, "logs"));
    mkdirSync(join(dir, "pki"));
    const pki = makePki(join(dir, "pki"));
    const ports = {
      etcd: await freePort(),
      etcdPeer: await freePort(),
      apiserver: await freePort(),
      kwok: await freePort(),
      metrics: await freePort(),
      health: await freePort(),
    };
    const tokens: Record<string, string> = {};
    for (const who of ["admin", "controller-manager", "scheduler", "kwok", "karpenter"])
      tokens[who] = randomBytes(24).toString("hex");
    const cluster = new Cluster(dir, bin, pki, ports, tokens);
    try {
      await cluster.#boot(options, root);
    } catch (err) {
      await cluster.stop({ keep: true });
      throw new Error(`${(err as Error).message}\n  logs: ${join(dir, "logs")}`);
    }
    return cluster;
  }

  #kubeconfigFor(who: string, user: string): string {
    const file = join(this.dir, `${who}.kubeconfig`);
    writeFileSync(file, kubeconfig(this.api.server, this.pki.caPem, this.tokens[who]!, user), { mode: 0o600 });
    return file;
  }

  async #boot(options: ClusterOptions, root: string): Promise<void> {
    const { dir, bin, pki, ports, tokens } = this;
    writeFileSync(
      join(dir, "tokens.csv"),
      [
        `${tokens.admin},dagops-e2e-admin,admin,system:masters`,
        `${tokens["controller-manager"]},system:kube-controller-manager,kcm`,
        `${tokens.scheduler},system:kube-scheduler,scheduler`,
        `${tokens.kwok},dagops-e2e-kwok,kwok,system:masters`,
        `${tokens.karpenter},dagops-e2e-karpenter,karpenter,system:masters`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    writeFileSync(join(dir, "audit-policy.yaml"), AUDIT_POLICY);
    writeFileSync(
      this.adminKubeconfig,
      kubeconfig(this.api.server, pki.caPem, tokens.admin!, "admin", options.context),
      {
        mode: 0o600,
      },
    );

    this.processes.start("etcd", join(bin, "etcd"), [
      "--name=e2e",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${ports.etcd}`,
      `--advertise-client-urls=http://127.0.0.1:${ports.etcd}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-cluster=e2e=http://127.0.0.1:${ports.etcdPeer}`,
      // A test cluster's data need not survive a power cut: fsync would only slow every write.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await this.#ready("etcd", async () => (await fetch(`http://127.0.0.1:${ports.etcd}/health`)).ok, 30_000);

    this.#apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${ports.apiserver}`,
      `--tls-cert-file=${pki.apiserverCert}`,
      `--tls-private-key-file=${pki.apiserverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--token-auth-file=${join(dir, "tokens.csv")}`,
      "--authorization-mode=Node,RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      `--enable-admission-plugins=${EKS_ADMISSION_PLUGINS.join(",")}`,
      "--allow-privileged=true",
      "--endpoint-reconciler-type=none",
      `--audit-log-path=${this.auditLog}`,
      `--audit-policy-file=${join(dir, "audit-policy.yaml")}`,
      "--audit-log-format=json",
      "--profiling=false",
      `--cert-dir=${join(dir, "apiserver-certs")}`,
    ];
    await this.startApiserver();

    // Both talk to the API server as their own users, serve nothing, and run alone (no election).
    const component = (who: string, user: string) => {
      const file = this.#kubeconfigFor(who, user);
      return [
        `--kubeconfig=${file}`,
        `--authentication-kubeconfig=${file}`,
        `--authorization-kubeconfig=${file}`,
        "--secure-port=0",
        "--leader-elect=false",
      ];
    };
    this.processes.start("kube-controller-manager", join(bin, "kube-controller-manager"), [
      ...component("controller-manager", "system:kube-controller-manager"),
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      "--controllers=*",
    ]);
    this.processes.start(
      "kube-scheduler",
      join(bin, "kube-scheduler"),
      component("scheduler", "system:kube-scheduler"),
    );

    // CRDs from the pinned modules, and the FargateProfile one made from our schema (crds.ts).
    writeFileSync(join(dir, "fargateprofile-crd.yaml"), stringify(fargateProfileCrd()));
    await this.kubectl([
      "apply",
      "--server-side",
      "-f",
      join(root, "crds"),
      "-f",
      join(dir, "fargateprofile-crd.yaml"),
    ]);
    await this.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);

    await this.setOutcomes(options.outcomes ?? {});
    this.processes.start("kwok", join(bin, "kwok"), [
      `--kubeconfig=${this.#kubeconfigFor("kwok", "dagops-e2e-kwok")}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--enable-crds=Stage",
      `--server-address=127.0.0.1:${ports.kwok}`,
      "--node-ip=10.0.0.1",
      "--cidr=10.0.0.1/16",
      "--node-lease-duration-seconds=40",
    ]);

    writeFileSync(
      join(dir, "instance-types.json"),
      JSON.stringify(instanceTypes(options.nodePools, options.pricesFile)),
    );
    this.processes.start("karpenter", join(bin, "karpenter-kwok"), [], {
      KUBECONFIG: this.#kubeconfigFor("karpenter", "dagops-e2e-karpenter"),
      INSTANCE_TYPES_FILE_PATH: join(dir, "instance-types.json"),
      DISABLE_LEADER_ELECTION: "true",
      METRICS_PORT: String(ports.metrics),
      HEALTH_PROBE_PORT: String(ports.health),
      LOG_LEVEL: "debug",
      // Karpenter's defaults (1 s idle, 10 s max): a batch as in EKS.
    });
    await this.#ready("karpenter", async () => (await fetch(`http://127.0.0.1:${ports.health}/healthz`)).ok, 60_000);

    await this.fargate.start();
    this.kubelet.start();
  }

  async startApiserver(): Promise<void> {
    this.processes.start("kube-apiserver", join(this.bin, "kube-apiserver"), this.#apiserverArgs);
    await this.#ready(
      "kube-apiserver",
      async () => (await this.api.call("GET", "/readyz", undefined, "", 2000)) !== null,
      90_000,
    );
  }

  /** A fault: the API server stops (SIGTERM, as a control-plane upgrade rolls it) and comes back `downMs` later. */
  async restartApiserver(downMs = 3000): Promise<void> {
    await this.processes.stop("kube-apiserver");
    await new Promise((r) => setTimeout(r, downMs));
    await this.startApiserver();
  }

  /**
   * A fault: etcd compacts its history up to now (what the API server asks for every 5 minutes),
   * so a watch or list from an older resourceVersion is answered 410 Gone. Returns the revision.
   */
  async compactEtcd(): Promise<number> {
    const etcd = `http://127.0.0.1:${this.ports.etcd}`;
    const status = (await (await fetch(`${etcd}/v3/maintenance/status`, { method: "POST", body: "{}" })).json()) as {
      header: { revision: string };
    };
    const revision = Number(status.header.revision);
    const res = await fetch(`${etcd}/v3/kv/compaction`, {
      method: "POST",
      body: JSON.stringify({ revision, physical: true }),
    });
    if (!res.ok) throw new Error(`etcd compaction at ${revision}: ${res.status} ${await res.text()}`);
    return revision;
  }

  async #ready(name: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    let died = false;
    void this.processes.exited(name).then(() => (died = true));
    await eventually(
      `${name} to be ready`,
      async () => {
        if (died) throw new Error(`${name} exited:\n${this.processes.tail(name)}`);
        return await probe();
      },
      timeoutMs,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${name} log ---\n${this.processes.tail(name)}`);
    });
  }

  async kubectl(args: readonly string[], input?: string): Promise<string> {
    const child = run(join(this.bin, "kubectl"), ["--kubeconfig", this.adminKubeconfig, ...args], {
      maxBuffer: 64 * 1024 * 1024,
      env: { PATH: process.env.PATH, HOME: this.dir },
    });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    try {
      return (await child).stdout;
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`kubectl ${args.join(" ")}: ${e.stderr || e.message}`);
    }
  }

  /** Replaces the KWOK stages: what each step's container does from now on (stages.ts). */
  async setOutcomes(outcomes: Outcomes, defaultSeconds = 1): Promise<void> {
    const wanted = stages(join(builtRoot(), "stages"), outcomes, defaultSeconds);
    const names = new Set(wanted.map((s) => s.metadata.name));
    for (const s of wanted) await this.api.apply(`/apis/kwok.x-k8s.io/v1alpha1/stages/${s.metadata.name}`, s);
    for (const s of await this.api.list("/apis/kwok.x-k8s.io/v1alpha1/stages")) {
      if (!names.has(s.metadata.name)) await this.api.delete(`/apis/kwok.x-k8s.io/v1alpha1/stages/${s.metadata.name}`);
    }
  }

  async stop(options: { keep?: boolean } = {}): Promise<void> {
    await this.kubelet.stop().catch(() => undefined);
    await this.fargate.stop().catch(() => undefined);
    await this.processes.stopAll();
    if (!options.keep && !process.env.DAGOPS_E2E_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}
