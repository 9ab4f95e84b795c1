/**
 * The one kubeconfig loader, for the run manager and the `dagops` command. `KUBECONFIG` when it
 * is set; otherwise the run manager uses its pod's ServiceAccount (in-cluster), and an operator
 * `~/.kube/config`. Every way a kubeconfig cannot be used is a KubeConfigError that names the
 * file and what to do, said before any request is made (never client-node's own fallback, a
 * context for localhost:8080 when there is no file).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigError } from "./errors.ts";

export interface LoadedKubeConfig {
  readonly kc: KubeConfig;
  /** The kubeconfig's user name: who acts, when the API server cannot say. */
  readonly user: string;
}

const FIX = "for EKS run `aws eks update-kubeconfig --name <cluster>`";

export function loadKubeConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly without: "in-cluster" | "home"; readonly context?: string; readonly contextOf?: string } = {
    without: "in-cluster",
  },
): LoadedKubeConfig {
  const kc = new KubeConfig();
  const inCluster = !env.KUBECONFIG && options.without === "in-cluster";
  const file = env.KUBECONFIG || join(env.HOME || homedir(), ".kube", "config");
  const source = env.KUBECONFIG
    ? `KUBECONFIG ${env.KUBECONFIG}`
    : inCluster
      ? "the in-cluster ServiceAccount"
      : "~/.kube/config";
  if (!inCluster) {
    if (!existsSync(file))
      throw new KubeConfigError(
        env.KUBECONFIG
          ? `KUBECONFIG names ${file}, which does not exist; ${FIX}`
          : `KUBECONFIG is unset and ~/.kube/config does not exist; ${FIX}`,
      );
    if (statSync(file).isFile() && readFileSync(file, "utf8").trim() === "")
      throw new KubeConfigError(`${source} is empty; ${FIX}`);
  }
  try {
    if (inCluster) kc.loadFromCluster();
    else kc.loadFromFile(file);
  } catch (err) {
    throw new KubeConfigError(`cannot load ${source}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (options.context !== undefined) {
    const known = kc.getContexts().map((c) => c.name);
    if (!known.includes(options.context))
      throw new KubeConfigError(
        `${source} has no context ${JSON.stringify(options.context)}${options.contextOf ? ` (${options.contextOf})` : ""}; it has: ${known.join(", ") || "none"}`,
      );
    kc.setCurrentContext(options.context);
  }
  const at = inCluster ? "" : ` for context ${JSON.stringify(kc.getCurrentContext())}`;
  if (!kc.getCurrentCluster()?.server)
    throw new KubeConfigError(`${source} names no cluster with a server${at}; ${FIX}`);
  const user = kc.getCurrentUser();
  if (!user) throw new KubeConfigError(`${source} names no user to authenticate as${at}`);
  return { kc, user: user.name };
}
