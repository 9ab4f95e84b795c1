/** Kubernetes resource quantities (the subset the pipeline schema admits), parsed exactly enough to compare. */
import { memoByText } from "./memo.ts";

const SUFFIX: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

/** A quantity's value and suffix, by text: thousands of steps repeat a handful of values ("500m", "1Gi"). */
const parsedQuantity = memoByText(10_000, (text): { value: number | undefined; suffix: string } => {
  const m = QUANTITY.exec(text);
  return m ? { value: Number(m[1]) * SUFFIX[m[2] ?? ""]!, suffix: m[2] ?? "" } : { value: undefined, suffix: "" };
});

/** The value in base units (cores, bytes), or undefined when it is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  return parsedQuantity(text).value;
}

/** CPU in whole millicores, rounded up the way the API server does. */
export function cpuMillis(text: string): number | undefined {
  const v = parseQuantity(text);
  return v === undefined ? undefined : Math.ceil(Math.round(v * 1e6) / 1e3);
}

/** Memory in bytes. */
export function memoryBytes(text: string): number | undefined {
  return parseQuantity(text);
}

/** The suffix of a quantity ("" when none). */
export function quantitySuffix(text: string): string {
  return parsedQuantity(text).suffix;
}
