/**
 * `node --import tsx src/commands/compile-prices.ts --from <dir> [--out data/aws-us-east-1.json]`:
 * compiles the public facts gathered in <dir> (ec2-instance-types-<region>.csv,
 * fargate-pricing.json, eks-karpenter-node-overhead.json; see their README) into one dated price
 * snapshot. It refuses a row whose allocatable differs from Karpenter's rules (src/cost/data.ts), so
 * the snapshot and the model agree. Run it again to refresh the snapshot.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PRICES_FILE } from "../model/files.ts";
import { karpenterAllocatable, type InstanceType, type PriceData } from "../cost/data.ts";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";

const HELP = `Usage: node --import tsx src/commands/compile-prices.ts --from <dir> [--out <file>] [--snapshot YYYY-MM-DD]\n`;

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "compile-prices",
    argv,
    io,
    { from: { type: "string" }, out: { type: "string" }, snapshot: { type: "string" } } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { from, out = DEFAULT_PRICES_FILE, snapshot = "2026-12-01" } = parsed.values;
  if (!from) {
    io.stderr(HELP);
    return EXIT.usage;
  }
  const [header, ...rows] = readFileSync(join(from, "ec2-instance-types-us-east-1.csv"), "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(","));
  const col = (row: string[], name: string) => {
    const i = header!.indexOf(name);
    if (i < 0) throw new Error(`the CSV has no column ${name}`);
    return row[i]!;
  };
  const types: InstanceType[] = [];
  const unpricedTypes: string[] = [];
  for (const r of rows) {
    if (r.length !== header!.length) throw new Error(`${r[0]}: ${r.length} cells, the header has ${header!.length}`);
    // An empty cell means "the source has no value", never zero.
    if (col(r, "od_usd_per_hour") === "") {
      unpricedTypes.push(col(r, "instance_type"));
      continue;
    }
    const savings = col(r, "spot_savings_pct");
    const t: InstanceType = {
      name: col(r, "instance_type"),
      family: col(r, "family"),
      category: col(r, "category"),
      generation: Number(col(r, "generation")),
      arch: col(r, "arch") as "amd64" | "arm64",
      vcpu: Number(col(r, "vcpu")),
      memoryMiB: Number(col(r, "memory_gib")) * 1024,
      maxPods: Number(col(r, "max_pods")),
      allocatable: {
        cpuMillis: Number(col(r, "karpenter_alloc_cpu_millicores")),
        memoryMiB: Number(col(r, "karpenter_alloc_memory_mib")),
      },
      onDemandUsdPerHour: Number(col(r, "od_usd_per_hour")),
      spot: savings === "" ? null : { savingsPct: Number(savings), interruption: col(r, "interruption_band") },
    };
    const computed = karpenterAllocatable(t);
    if (computed.cpuMillis !== t.allocatable.cpuMillis || computed.memoryMiB !== t.allocatable.memoryMiB) {
      throw new Error(
        `${t.name}: allocatable ${JSON.stringify(t.allocatable)} in the CSV, ${JSON.stringify(computed)} by Karpenter's rules`,
      );
    }
    types.push(t);
  }
  const noSpot = types.filter((t) => t.spot === null).length;
  const fargate = JSON.parse(readFileSync(join(from, "fargate-pricing.json"), "utf8"));
  const data: PriceData = {
    snapshot,
    region: "us-east-1",
    currency: "USD",
    sources: [
      {
        what: "instance types (every Linux type Karpenter documents: all families and sizes), max pods, Karpenter allocatable",
        source:
          "aws/karpenter-provider-aws website/content/en/docs/reference/instance-types.md @ 692ccdd0629e488300821443f0fa0bc3c3e08047 (v1.14.0, 2026-07-11); max pods cross-checked with pkg/providers/instancetype/zz_generated.vpclimits.go @ 7f27b4e85d3157418ab84eb04a3c91da7cb8fbba",
      },
      {
        what: "on-demand prices (Linux, USD/h)",
        source:
          "aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go @ 6fc13b5236fd04fd16ff3f9dc7490d0813994099 (generated 2026-07-20 for us-east-1)",
      },
      {
        what: "Spot savings and interruption bands",
        source:
          "AWS Spot Advisor feed (spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json) as vendored by alexei-led/spotinfo internal/spot/data/spot-advisor-data.json @ 5eedf20a99614443af215f4aaf09bd10805cac72 (payload of 2025-06-28), key spot_advisor[us-east-1][Linux]; 30-day averages across AZs",
      },
      {
        what: "allocatable rules (kube-reserved, eviction, VM overhead)",
        source:
          "aws/karpenter-provider-aws pkg/providers/instancetype/types.go @ 7695b3c49c78efe10bb823213b3888330182a40e; awslabs/amazon-eks-ami nodeadm config.go",
      },
      {
        what: "Fargate rates and sizes",
        source: `AWS Price List offer AmazonECS us-east-1 ${fargate.price_source.offer_version} (via opencost/opencost testdata @ ${fargate.price_source.commit}); sizes from the EKS user guide fargate-pod-configuration`,
      },
    ],
    notes: [
      "Prices are a snapshot: on-demand from 2026-07-20, Fargate from an offer published 2025-08-28. Check them against the AWS Pricing API before quoting a bill.",
      "Spot savings are Spot Advisor 30-day averages, not prices: they moved by up to 17 points between two snapshots a year apart.",
      `${noSpot} of ${types.length} types (mostly generations 8 and 9) have no Spot Advisor figure (spot: null). The cost model prices them at on-demand on Spot, never as if they had a saving, and npm run cost says which ones a pool allows.`,
      `${unpricedTypes.length} types have no on-demand price in Karpenter's us-east-1 table and are left out (unpricedTypes): nothing can price them, and they may not be offered in us-east-1.`,
      "Allocatable and max pods assume AL2023, the VPC CNI without prefix delegation, and no kubelet overrides.",
      `The Fargate minimum of ${fargate.billing.minimum_billed_seconds_linux} s rests on a secondary source.`,
    ],
    instanceTypes: types,
    unpricedTypes,
    fargate: {
      usdPerVcpuHour: fargate.on_demand.linux_x86.usd_per_vcpu_hour,
      usdPerGbHour: fargate.on_demand.linux_x86.usd_per_gb_hour,
      memoryOverheadMb: fargate.pod_sizing.k8s_components_memory_overhead_mb,
      minimumBilledSeconds: fargate.billing.minimum_billed_seconds_linux,
      sizes: fargate.pod_sizing.combinations.map((c: { vcpu: number; memory_gb: number[] }) => ({
        vcpu: c.vcpu,
        memoryGb: c.memory_gb,
      })),
    },
  };
  // One instance type per line: a refreshed snapshot diffs as one line per changed type.
  const text = JSON.stringify({ ...data, instanceTypes: [] }, null, 2).replace(
    '"instanceTypes": []',
    `"instanceTypes": [\n${types.map((t) => `    ${JSON.stringify(t)}`).join(",\n")}\n  ]`,
  );
  writeFileSync(out, `${text}\n`);
  io.stdout(
    `wrote ${out}: ${types.length} instance types (${noSpot} without Spot data; ${unpricedTypes.length} unpriced, left out), snapshot ${snapshot}\n`,
  );
  return EXIT.ok;
}

runIfMain(import.meta, main);
