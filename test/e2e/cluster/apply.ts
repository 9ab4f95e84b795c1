// Applying a generated tree as Argo CD would: the bootstrap first (what the README tells an admin
// to apply), then each Application's folder in the order of the Applications' sync waves, and
// inside one folder by sync wave, then Argo CD's kind order, then name. Every batch is applied
// server-side with --dry-run=server first, then for real.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { ANNOTATION } from "../../../src/contract/labels.ts";
import type { KubeObject } from "./api.ts";
import type { Cluster } from "./cluster.ts";
import { forKwok, kwokNodeClass } from "./rewrites.ts";

/** gitops-engine's kind order (sync/common: kindOrder), for the kinds we emit. */
const KIND_ORDER = [
  "Namespace",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
  "Service",
  "Pod",
  "Deployment",
  "Job",
  "CronJob",
];

function kindRank(kind: string | undefined): number {
  const i = KIND_ORDER.indexOf(kind ?? "");
  return i === -1 ? KIND_ORDER.length : i;
}

export interface TreeObject {
  readonly file: string;
  readonly object: KubeObject;
}

function read(dir: string, root: string): TreeObject[] {
  const out: TreeObject[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...read(path, root));
    else if (entry.name.endsWith(".yaml")) {
      for (const doc of parseAllDocuments(readFileSync(path, "utf8"))) {
        const object = doc.toJS() as KubeObject | null;
        if (object) out.push({ file: relative(root, path), object });
      }
    }
  }
  return out;
}

const wave = (o: KubeObject) => Number(o.metadata.annotations?.[ANNOTATION.syncWave] ?? "0");

function sorted(objects: TreeObject[]): TreeObject[] {
  return [...objects].sort(
    (a, b) =>
      wave(a.object) - wave(b.object) ||
      kindRank(a.object.kind) - kindRank(b.object.kind) ||
      (a.object.metadata.name < b.object.metadata.name ? -1 : 1),
  );
}

/** The tree's batches in the order Argo CD applies them: [label, objects][]. */
export function batches(clusterDir: string): [string, TreeObject[]][] {
  const bootstrap = read(join(clusterDir, "bootstrap"), clusterDir);
  const apps = read(join(clusterDir, "apps"), clusterDir);
  const out: [string, TreeObject[]][] = [
    ["bootstrap", sorted(bootstrap)],
    ["apps", sorted(apps)],
  ];
  for (const app of sorted(apps)) {
    const path = app.object.spec?.source?.path as string | undefined;
    // The app's path is generated/<cluster>/<folder>: the folder inside this cluster's tree.
    const folder = path?.split("/").slice(2).join("/");
    if (!folder) continue;
    const objects = sorted(read(join(clusterDir, folder), clusterDir));
    // Inside one app, a wave is applied only after the one before it is (Argo's waves), and in a
    // wave one kind after another (Argo's kind order): a Namespace exists before what is in it.
    const steps = [...new Set(objects.map((o) => `${wave(o.object)} ${o.object.kind}`))];
    for (const step of steps) {
      const [w, kind] = step.split(" ");
      out.push([
        `${app.object.metadata.name} wave ${w} ${kind}`,
        objects.filter((o) => `${wave(o.object)} ${o.object.kind}` === step),
      ]);
    }
  }
  return out;
}

export interface Rejection {
  readonly batch: string;
  readonly message: string;
}

const toYaml = (objects: readonly KubeObject[]) => objects.map((o) => JSON.stringify(o)).join("\n---\n");

/**
 * Applies every batch (dry run, then for real), with the tier's rewrites (rewrites.ts). Returns
 * the rejections; an empty list means every object was accepted.
 */
export async function applyTree(cluster: Cluster, clusterDir: string): Promise<Rejection[]> {
  const rejections: Rejection[] = [];
  // Argo CD's own namespace, made by Argo CD's install (the bootstrap's objects live in it).
  await cluster.kubectl(["create", "namespace", "argocd"]).catch(() => undefined);
  for (const [label, objects] of batches(clusterDir)) {
    const applied = objects.map((o) => forKwok(o.object));
    for (const o of objects) if (o.object.kind === "EC2NodeClass") applied.push(kwokNodeClass(o.object.metadata.name));
    let accepted = true;
    for (const dryRun of [true, false]) {
      try {
        await cluster.kubectl(
          [
            "apply",
            "--server-side",
            "--field-manager=argocd-controller",
            ...(dryRun ? ["--dry-run=server"] : []),
            "-f",
            "-",
          ],
          toYaml(applied),
        );
      } catch (err) {
        rejections.push({ batch: `${label}${dryRun ? " (dry run)" : ""}`, message: (err as Error).message });
        accepted = false;
        break;
      }
    }
    for (const o of accepted ? applied : []) {
      if (o.kind === "KWOKNodeClass") {
        await cluster.api.mergePatch(`/apis/karpenter.kwok.sh/v1alpha1/kwoknodeclasses/${o.metadata.name}/status`, {
          status: {
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "Ready",
                message: "",
                lastTransitionTime: new Date().toISOString(),
                observedGeneration: 1,
              },
            ],
          },
        });
      }
    }
  }
  return rejections;
}

/** Every object of the tree, read back from its files (for assertions). */
export function treeObjects(clusterDir: string): TreeObject[] {
  return batches(clusterDir).flatMap(([, objects]) => objects);
}
