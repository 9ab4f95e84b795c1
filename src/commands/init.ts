/**
 * `npx dagops init`: makes a fresh clone of dagops a team's own GitOps repository. It removes the
 * example pipelines and their generated/ tree, writes a minimal platform.config.ts for the team's
 * clusters (every value it cannot know is named after the cluster, as the docs' IAM and subnet
 * conventions do, for the team to check), and synthesizes. dagops's own code and tests stay as
 * they are: the tests use their own fixtures, so `npm test` stays green.
 */
import { readdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { EXIT, parseCommand, type Io } from "../cli/kit.ts";
import { GENERATED_DIR, PIPELINES_DIR, PLATFORM_FILE } from "../model/files.ts";
import { platformSchema } from "../model/platform-schema.ts";
import { formatProblems } from "../contract/problems.ts";
import { validateAgainst } from "../model/schema-validator.ts";

/** The AMI alias a new repository pins until the team chooses its own (docs/platform.md, "Platform configuration"). */
const DEFAULT_AMI_ALIAS = "al2023@v20251120";

const HELP = `Usage: npx dagops init --cluster <name>[=<eks-cluster-name>]... --account <id> --repo <git-url> --subnets <ids> [options]

Makes this repository your own: removes the example pipelines in ${PIPELINES_DIR}/ and the
generated/ tree made from them, writes a minimal ${PLATFORM_FILE} for your clusters, and runs
synth. Review ${PLATFORM_FILE} before the first commit: the IAM roles are named by the
conventions in docs/platform.md ("Platform configuration").

Options:
  --cluster <name>[=<eks>]  a cluster (repeatable): its name in dagops, and its EKS cluster's (default the same)
  --account <id>            the AWS account id of the clusters (12 digits)
  --region <region>         the AWS region (default us-east-1)
  --repo <git-url>          the URL Argo CD clones this repository from
  --subnets <id,id,...>     the private subnets of the Fargate profiles
  --run-manager-image <ref> the run-manager image your registry serves (default: an ECR path in the account)
  --ami-alias <alias>       the EC2NodeClass AMI alias, pinned (default ${DEFAULT_AMI_ALIAS})
  --force                   also when ${PIPELINES_DIR}/ holds pipelines other than the examples
  --root <dir>              repository root (default: the current directory)
  -h, --help                show this help

Examples:
  npx dagops init --cluster prod=data-prod --account 111122223333 --repo https://github.com/acme/data-gitops.git --subnets subnet-0a,subnet-0b

Exit codes:
  0  done
  1  synth found problems
  2  usage error, or pipelines that are not the examples (without --force)
`;

/** The example pipelines a fresh clone of dagops ships; anything else in pipelines/ is the team's. */
const EXAMPLES = [
  "customer-classification.ts",
  "daily-usage-report.yaml",
  "tenant-export.yaml",
  "tenant-export.tenants.yaml",
];

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "init",
    argv,
    io,
    {
      cluster: { type: "string", multiple: true },
      account: { type: "string" },
      region: { type: "string" },
      repo: { type: "string" },
      subnets: { type: "string" },
      "run-manager-image": { type: "string" },
      "ami-alias": { type: "string" },
      force: { type: "boolean" },
      root: { type: "string" },
    } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { values } = parsed;
  const fail = (message: string) => (io.stderr(`dagops init: ${message}\n`), EXIT.usage);
  const clusters = ((values.cluster ?? []) as string[]).map((c) => {
    const [name, eks] = c.split("=");
    return { name: name!, eks: eks || name! };
  });
  if (clusters.length === 0) return fail("name at least one cluster: --cluster prod=data-prod");
  const bad = clusters.find((c) => !/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(c.name));
  if (bad)
    return fail(
      `cluster name ${JSON.stringify(bad.name)}: expected a DNS label (lowercase letters, digits and -), as Argo CD and the folders under generated/ use it`,
    );
  if (!/^\d{12}$/.test(values.account ?? ""))
    return fail(`--account: expected a 12-digit AWS account id, found ${JSON.stringify(values.account ?? "")}`);
  if (!values.repo)
    return fail(
      "--repo: the URL Argo CD clones this repository from, for example https://github.com/acme/data-gitops.git",
    );
  const subnets = (values.subnets ?? "").split(",").filter(Boolean);
  if (subnets.length === 0) return fail(`--subnets: expected subnet ids (subnet-…), comma-separated`);
  const region = values.region ?? "us-east-1";
  const root = resolve(io.cwd, values.root ?? ".");
  const image =
    values["run-manager-image"] ?? `${values.account}.dkr.ecr.${region}.amazonaws.com/dagops-run-manager:0.1.0`;
  const config = {
    clusters: clusters.map((c) => ({
      name: c.name,
      eksClusterName: c.eks,
      argocd: { repoURL: values.repo!, targetRevision: "main" },
      aws: { region, accountId: values.account! },
      karpenter: {
        discoveryTag: c.eks,
        nodeRole: `KarpenterNodeRole-${c.eks}`,
        amiAlias: values["ami-alias"] ?? DEFAULT_AMI_ALIAS,
      },
      fargate: { podExecutionRoleArn: `arn:aws:iam::${values.account}:role/${c.eks}-fargate-pod-execution`, subnets },
      runManager: { image },
    })),
  };
  // Checked as synth will check it, before anything is removed: bad input loses nothing.
  const problems = validateAgainst(platformSchema, config, PLATFORM_FILE);
  if (problems.length) {
    io.stderr(
      `${formatProblems(problems.map((p) => ({ ...p, message: `${p.message} (from the options of dagops init)` })))}\ndagops init: nothing was changed.\n`,
    );
    return EXIT.usage;
  }

  let entries: string[] = [];
  try {
    entries = (await readdir(join(root, PIPELINES_DIR))).filter((f) => !f.startsWith("."));
  } catch {
    // no pipelines/ yet
  }
  const theirs = entries.filter((f) => !EXAMPLES.includes(f));
  if (theirs.length && !values.force)
    return fail(
      `${PIPELINES_DIR}/ holds files that are not dagops's examples (${theirs.join(", ")}); init removes everything in it. Pass --force to go on`,
    );
  for (const f of entries) await rm(join(root, PIPELINES_DIR, f), { recursive: true, force: true });
  await writeFile(join(root, PIPELINES_DIR, ".gitkeep"), "");
  await rm(join(root, GENERATED_DIR), { recursive: true, force: true });
  await writeFile(join(root, PLATFORM_FILE), platformConfig(config));
  io.stdout(
    `dagops init: removed the example pipelines; wrote ${PLATFORM_FILE} for ${clusters.map((c) => c.name).join(", ")}.\n`,
  );
  const { main: synth } = await import("./synth.ts");
  const code = await synth(["--root", root], io);
  if (code === 0)
    io.stdout(
      `Next: review ${PLATFORM_FILE}, add a pipeline to ${PIPELINES_DIR}/ (docs/pipelines.md, "Add a pipeline"), run \`npm run synth\`, and commit.\n`,
    );
  return code;
}

/** The platform configuration as TypeScript: the object, one cluster per block, as a person would write it. */
function platformConfig(config: { clusters: readonly unknown[] }): string {
  const body = JSON.stringify(config, null, 2).replace(/"([A-Za-z][A-Za-z0-9]*)":/g, "$1:");
  return `/**
 * Platform configuration: the clusters dagops generates for (written by \`npx dagops init\`).
 * Pipelines choose a subset with \`clusters:\`; by default they go to every cluster here. Every
 * field is described in docs/platform.md ("Platform configuration"); the Karpenter pool settings default to POOL_DEFAULTS.
 */
import { definePlatform } from "#dagops/platform";

export default definePlatform(${body});
`;
}
