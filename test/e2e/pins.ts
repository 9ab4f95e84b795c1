// What the e2e tier builds, from which pinned module, and where the result is cached. The
// versions themselves live only in test/e2e/build/<component>/go.mod (and go.sum); this file
// names the programs and reads the versions from there, so a pin is changed in one place.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const E2E_DIR = fileURLToPath(new URL(".", import.meta.url));
export const BUILD_DIR = join(E2E_DIR, "build");

export interface Program {
  readonly binary: string;
  readonly package: string;
  readonly ldflags: readonly string[];
}

export interface Component {
  /** The folder under test/e2e/build/ holding the component's go.mod and go.sum. */
  readonly name: string;
  readonly programs: readonly Program[];
}

/** The version a build module requires of `module` (its `require` line, or its `replace` target). */
export function moduleVersion(component: string, module: string): string {
  const goMod = readFileSync(join(BUILD_DIR, component, "go.mod"), "utf8");
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const m = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(goMod);
  if (!m) throw new Error(`test/e2e/build/${component}/go.mod: no requirement of ${module}`);
  return m[1] as string;
}

const KUBERNETES = moduleVersion("kubernetes", "k8s.io/kubernetes");
const [, KUBE_MAJOR, KUBE_MINOR] = /^v(\d+)\.(\d+)\./.exec(KUBERNETES) ?? [];

/** `/version` and `kubectl version` tell the truth: upstream stamps these at build time. */
const KUBE_VERSION_FLAGS = [
  `-X k8s.io/component-base/version.gitVersion=${KUBERNETES}`,
  `-X k8s.io/component-base/version.gitMajor=${KUBE_MAJOR}`,
  `-X k8s.io/component-base/version.gitMinor=${KUBE_MINOR}`,
  "-X k8s.io/component-base/version.gitTreeState=clean",
];

const kube = (binary: string): Program => ({
  binary,
  package: `k8s.io/kubernetes/cmd/${binary}`,
  ldflags: KUBE_VERSION_FLAGS,
});

export const COMPONENTS: readonly Component[] = [
  {
    name: "kubernetes",
    programs: [kube("kube-apiserver"), kube("kube-controller-manager"), kube("kube-scheduler"), kube("kubectl")],
  },
  { name: "etcd", programs: [{ binary: "etcd", package: "go.etcd.io/etcd/server/v3", ldflags: [] }] },
  {
    name: "kwok",
    programs: [
      { binary: "kwok", package: "sigs.k8s.io/kwok/cmd/kwok", ldflags: [] },
      { binary: "kwokctl", package: "sigs.k8s.io/kwok/cmd/kwokctl", ldflags: [] },
    ],
  },
  { name: "karpenter", programs: [{ binary: "karpenter-kwok", package: "sigs.k8s.io/karpenter/kwok", ldflags: [] }] },
];

export interface CrdSource {
  readonly module: string;
  /** The build module whose go.mod pins `module`; or `version` for a module the tier only reads. */
  readonly versionFrom?: string;
  readonly version?: string;
  readonly files: readonly string[];
  /** Prefixed to each file's name in the cache, so two modules' files never collide. */
  readonly prefix: string;
}

/**
 * The CRDs the tier installs, each read from its pinned module in the module cache (`go mod
 * download -json` verifies it against the checksum database). Karpenter's NodePool and NodeClaim
 * come from the AWS provider's copy, the one an EKS cluster installs: it adds the rules for the
 * karpenter.k8s.aws label domain that the core copy leaves out. Its version matches the core
 * module the KWOK provider is built from. ACK's FargateProfile CRD is not served by the module
 * proxy (aws-controllers-k8s/eks-controller is refused at every version), so the tier makes one
 * from dagops's own FargateProfile schema (test/e2e/cluster/crds.ts): see the tier's README.
 */
export const CRD_SOURCES: readonly CrdSource[] = [
  {
    module: "github.com/aws/karpenter-provider-aws",
    version: moduleVersion("karpenter", "sigs.k8s.io/karpenter"),
    files: [
      "pkg/apis/crds/karpenter.sh_nodepools.yaml",
      "pkg/apis/crds/karpenter.sh_nodeclaims.yaml",
      "pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml",
    ],
    prefix: "karpenter-provider-aws",
  },
  {
    module: "sigs.k8s.io/karpenter",
    versionFrom: "karpenter",
    files: ["kwok/apis/crds/karpenter.kwok.sh_kwoknodeclasses.yaml"],
    prefix: "karpenter",
  },
  {
    module: "sigs.k8s.io/kwok",
    versionFrom: "kwok",
    files: ["kustomize/crd/bases/kwok.x-k8s.io_stages.yaml"],
    prefix: "kwok",
  },
  {
    module: "github.com/argoproj/argo-cd/v3",
    version: "v3.2.11",
    files: ["manifests/crds/application-crd.yaml", "manifests/crds/appproject-crd.yaml"],
    prefix: "argo-cd",
  },
];

/**
 * KWOK's own stages (its fast node and pod lifecycle), read from the pinned KWOK module like the
 * CRDs; test/e2e/cluster/stages.ts narrows their selectors and adds the tests' step outcomes.
 */
export const KWOK_STAGES: CrdSource = {
  module: "sigs.k8s.io/kwok",
  versionFrom: "kwok",
  files: [
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
  ],
  prefix: "stage",
};

/** `go mod download -json` of one pinned module (verified against the checksum database): its cache entry. */
export function goModDownload(path: string, version: string): { Dir?: string; GoMod?: string; Error?: string } {
  const out = execFileSync("go", ["mod", "download", "-json", `${path}@${version}`], {
    cwd: BUILD_DIR,
    env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" },
    encoding: "utf8",
  });
  return JSON.parse(out) as { Dir?: string; GoMod?: string; Error?: string };
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.DAGOPS_E2E_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "dagops-e2e");
}

/** A hash of every pin (each build module's go.mod and go.sum) and of this recipe. */
export function pinsHash(): string {
  const hash = createHash("sha256");
  for (const component of readdirSync(BUILD_DIR, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const file of ["go.mod", "go.sum"]) {
      hash.update(`${component.name}/${file}\0`);
      hash.update(readFileSync(join(BUILD_DIR, component.name, file)));
    }
  }
  hash.update(JSON.stringify({ COMPONENTS, CRD_SOURCES, KWOK_STAGES }));
  return hash.digest("hex").slice(0, 16);
}

/** The folder holding the built programs and CRDs, once `npm run e2e:setup` has run. */
export function builtRoot(): string {
  return join(cacheRoot(), pinsHash());
}
