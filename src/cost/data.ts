/**
 * The price and instance data the cost model and the will-it-schedule checks read: one dated
 * snapshot per region (`data/aws-us-east-1.json`, compiled by `src/commands/compile-prices.ts` from
 * public sources it names). Users in other regions bring their own file in the same shape and
 * point `platform.config.ts` (`prices`) at it.
 */
import { readFileSync } from "node:fs";
import { validatorOf } from "../model/schema-validator.ts";

export interface InstanceType {
  /** `m5.large` */
  readonly name: string;
  readonly family: string;
  /** `c`, `m`, `r`, … */
  readonly category: string;
  readonly generation: number;
  readonly arch: "amd64" | "arm64";
  readonly vcpu: number;
  readonly memoryMiB: number;
  readonly maxPods: number;
  /** What pods can request once kubelet, system and eviction reserves and VM overhead are taken. */
  readonly allocatable: { readonly cpuMillis: number; readonly memoryMiB: number };
  readonly onDemandUsdPerHour: number;
  /**
   * AWS Spot Advisor: savings over on-demand (30-day average) and the interruption band. Null
   * when the feed has no figure for the type (mostly the newest generations): such a type is
   * priced at on-demand on Spot, never as if it had a saving (`spotPrice` in src/cost/pools.ts).
   */
  readonly spot: { readonly savingsPct: number; readonly interruption: string } | null;
}

export interface FargateSize {
  readonly vcpu: number;
  readonly memoryGb: readonly number[];
}

export interface PriceData {
  /** The date the snapshot was taken; every report shows it. */
  readonly snapshot: string;
  readonly region: string;
  readonly currency: string;
  readonly sources: readonly { readonly what: string; readonly source: string }[];
  readonly notes: readonly string[];
  readonly instanceTypes: readonly InstanceType[];
  /** Types the sources list but price nowhere: left out of `instanceTypes` (Karpenter cannot price them either). */
  readonly unpricedTypes: readonly string[];
  readonly fargate: {
    readonly usdPerVcpuHour: number;
    readonly usdPerGbHour: number;
    /** Fargate adds this much memory for its own Kubernetes components before sizing. */
    readonly memoryOverheadMb: number;
    readonly minimumBilledSeconds: number;
    readonly sizes: readonly FargateSize[];
  };
}

import { DEFAULT_PRICES_FILE } from "../model/files.ts";

const num = { type: "number", minimum: 0 } as const;
const schema = {
  type: "object",
  required: ["snapshot", "region", "currency", "sources", "notes", "instanceTypes", "unpricedTypes", "fargate"],
  properties: {
    snapshot: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$" },
    region: { type: "string", minLength: 1 },
    currency: { type: "string", minLength: 1 },
    sources: {
      type: "array",
      items: {
        type: "object",
        required: ["what", "source"],
        properties: { what: { type: "string" }, source: { type: "string" } },
      },
    },
    notes: { type: "array", items: { type: "string" } },
    unpricedTypes: { type: "array", items: { type: "string" } },
    instanceTypes: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: [
          "name",
          "family",
          "category",
          "generation",
          "arch",
          "vcpu",
          "memoryMiB",
          "maxPods",
          "allocatable",
          "onDemandUsdPerHour",
          "spot",
        ],
        properties: {
          name: { type: "string", pattern: "^[a-z0-9-]+\\.[a-z0-9-]+$" },
          family: { type: "string" },
          category: { type: "string" },
          generation: { type: "integer", minimum: 1 },
          arch: { enum: ["amd64", "arm64"] },
          vcpu: num,
          memoryMiB: num,
          maxPods: { type: "integer", minimum: 1 },
          allocatable: {
            type: "object",
            required: ["cpuMillis", "memoryMiB"],
            properties: { cpuMillis: num, memoryMiB: num },
          },
          onDemandUsdPerHour: num,
          spot: {
            oneOf: [
              { type: "null" },
              {
                type: "object",
                required: ["savingsPct", "interruption"],
                properties: {
                  savingsPct: { type: "number", minimum: 0, maximum: 100 },
                  interruption: { type: "string" },
                },
              },
            ],
          },
        },
      },
    },
    fargate: {
      type: "object",
      required: ["usdPerVcpuHour", "usdPerGbHour", "memoryOverheadMb", "minimumBilledSeconds", "sizes"],
      properties: {
        usdPerVcpuHour: num,
        usdPerGbHour: num,
        memoryOverheadMb: num,
        minimumBilledSeconds: num,
        sizes: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["vcpu", "memoryGb"],
            properties: { vcpu: num, memoryGb: { type: "array", minItems: 1, items: num } },
          },
        },
      },
    },
  },
} as const;

/**
 * The snapshot in `file`, or an Error that names the file and the first bad field. `checked`: its
 * bytes are known to have passed this validation already (see UnitsSetup.pricesChecked).
 */
export function loadPriceData(file: string, checked = false): PriceData {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file}: cannot read the price data: ${(err as Error).message}`);
  }
  if (checked) return data as unknown as PriceData;
  const validate = validatorOf(schema);
  if (!validate(data)) {
    const e = validate.errors![0]!;
    throw new Error(
      `${file}: ${e.instancePath || "(root)"} ${e.message} (expected the shape of ${DEFAULT_PRICES_FILE}, documented in src/cost/data.ts)`,
    );
  }
  return data as unknown as PriceData;
}

/** Karpenter's allocatable for an AL2023 node (VPC CNI, no prefix delegation), from the rules in the snapshot's sources. */
export function karpenterAllocatable(t: Pick<InstanceType, "vcpu" | "memoryMiB" | "maxPods" | "arch">): {
  cpuMillis: number;
  memoryMiB: number;
} {
  const tiers: [number, number, number][] = [
    [0, 1000, 0.06],
    [1000, 2000, 0.01],
    [2000, 4000, 0.005],
    [4000, Infinity, 0.0025],
  ];
  const millis = t.vcpu * 1000;
  const reservedCpu = tiers.reduce((sum, [from, to, f]) => sum + Math.max(0, Math.min(millis, to) - from) * f, 0);
  // Graviton loses 64 MiB before the 7.5% VM overhead is taken from what is left.
  const capacity = t.memoryMiB - (t.arch === "arm64" ? 64 : 0);
  const vmOverhead = Math.ceil(capacity * 0.075);
  const kubeReserved = 11 * t.maxPods + 255;
  const eviction = 100;
  return { cpuMillis: Math.round(millis - reservedCpu), memoryMiB: capacity - vmOverhead - kubeReserved - eviction };
}
