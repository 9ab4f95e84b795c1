/**
 * The one YAML form dagops writes: keys sorted (apiVersion, kind, metadata, name, namespace
 * first, then alphabetical), no line folding, LF, trailing newline, and YAML 1.1 quoting so that
 * Go consumers (Argo CD, kubectl: sigs.k8s.io/yaml) never read "yes", "on" or "1:20" as
 * anything but strings.
 */
import { stringify } from "yaml";

const FIRST = ["apiVersion", "kind", "metadata", "name", "namespace"];

function rank(key: string): number {
  const i = FIRST.indexOf(key);
  return i < 0 ? FIRST.length : i;
}

function compareKeys(a: string, b: string): number {
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** A deep copy with object keys in canonical order and undefined values dropped. */
export function canonical<T>(value: T): T {
  if (Array.isArray(value)) return value.map(canonical) as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort(compareKeys)) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out as T;
  }
  return value;
}

export const YAML_OPTIONS = { version: "1.1", lineWidth: 0, minContentWidth: 0 } as const;

export function toYaml(value: unknown): string {
  return stringify(canonical(value), YAML_OPTIONS);
}
