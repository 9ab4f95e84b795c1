import { ApiObject, type ApiObjectProps } from "cdk8s";
import type { Construct } from "constructs";

/** What every manifest has; the kinds' own interfaces (kubernetes-models) give the rest its types. */
export interface ManifestShape {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: object;
}

/**
 * The one kind of API object dagops's charts make: a Kubernetes manifest given whole, as plain
 * data, typed by its kind's interface from kubernetes-models (or its CRD's package), and written
 * as given. Its metadata is cdk8s's (so a chart's name, namespace and labels apply as they do
 * to any ApiObject); the rest is the manifest's own, with null and undefined values left out,
 * which is all cdk8s's toJson does to plain data. cdk8s's toJson walks every value through its
 * token resolvers (a context object and a copied key path for each), sanitizes and sorts a copy,
 * and a generated `Kube*` class copies it once more to convert it (what that cost, measured:
 * docs/architecture.md, "cdk8s"). Plain data has nothing to resolve: no
 * tokens, no lazy values, no quantities as objects (a value that is not plain data is refused
 * below), so the output is the same, and test/unit/charts/kube-object.test.ts proves it against cdk8s's own
 * toJson for every object the example pipelines render.
 */
export class KubeObject<M extends ManifestShape> extends ApiObject {
  private readonly body: Readonly<Record<string, unknown>>;
  /**
   * The name its file is called by (`<kind>-<fileStem>.yaml`) when metadata.name carries a
   * content hash: the path must not change when the hash does, so that a pull request shows an
   * edit, not a delete and an add. Default: metadata.name.
   */
  readonly fileStem: string | undefined;

  constructor(scope: Construct, id: string, manifest: M, options: { readonly fileStem?: string } = {}) {
    super(scope, id, manifest as unknown as ApiObjectProps);
    this.fileStem = options.fileStem;
    const { apiVersion: _apiVersion, kind: _kind, metadata: _metadata, ...body } = manifest;
    this.body = body;
  }

  override toJson(): any {
    return {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: this.metadata.toJson(),
      ...(plainData(this.body, this.node.path) as object),
    };
  }

  /**
   * cdk8s answers `instanceof` for every ApiObject alike (by a marker symbol, and subclasses
   * inherit it), so `x instanceof PlanObject` would be true of any object; dagops's own classes
   * answer by their prototype chain, as JavaScript does.
   */
  static override [Symbol.hasInstance](o: unknown): o is KubeObject<ManifestShape> {
    return Function.prototype[Symbol.hasInstance].call(this, o);
  }

  /** Patches are not applied to a KubeObject: build the manifest you want instead. */
  override addJsonPatch(): void {
    throw new Error(
      `${this.node.path}: a KubeObject is written as given; build the manifest you want instead of patching it`,
    );
  }
}

/**
 * `value` without null and undefined object values: the same value when it has none (shared,
 * frozen parts stay shared, and the serializer writes each once), else a copy of the parts that
 * do. Anything but plain objects, arrays, strings, numbers and booleans is refused, as cdk8s
 * refuses it.
 */
export function plainData(value: unknown, at: string): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const p = plainData(v, at);
      if (p !== v) (out ??= value.slice())[i] = p;
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    throw new Error(
      `${at}: cannot render a ${(value as object).constructor?.name ?? "non-plain object"} (a manifest holds plain data only)`,
    );
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = obj[k];
    const drop = v === null || v === undefined;
    const p = drop ? v : plainData(v, at);
    if (!out) {
      if (!drop && p === v) continue;
      // The first change: a copy of the keys before it, then of everything after.
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!];
    }
    if (!drop) out[k] = p;
  }
  return out ?? value;
}
