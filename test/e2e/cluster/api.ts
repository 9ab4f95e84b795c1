// The harness's own small client for the real API server: HTTPS with the cluster's CA and a
// bearer token. (The code under test uses its own client, src/kube/; this one only sets the
// stage: it plays the kubelet and Fargate, and reads what the tests assert on.)
import { request } from "node:https";

export interface ApiError extends Error {
  readonly status: number;
  readonly body: string;
}

export class Api {
  constructor(
    readonly server: string,
    readonly ca: string,
    readonly token: string,
  ) {}

  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    timeoutMs = 30_000,
  ): Promise<T> {
    const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const url = new URL(path, this.server);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: this.ca,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: "application/json",
            ...(data === undefined ? {} : { "content-type": contentType, "content-length": Buffer.byteLength(data) }),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              let value: unknown = text;
              try {
                value = text ? JSON.parse(text) : undefined;
              } catch {
                // a plain-text answer (/readyz, logs)
              }
              resolve(value as T);
            } else {
              const err = new Error(`${method} ${path}: ${status} ${text.slice(0, 500)}`) as Error & {
                status: number;
                body: string;
              };
              err.status = status;
              err.body = text;
              reject(err);
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.on("error", reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  delete<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("DELETE", path, body);
  }

  mergePatch<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.call<T>("PATCH", path, body, "application/merge-patch+json");
  }

  /** Server-side apply of one object as `manager`. */
  apply<T = unknown>(path: string, body: unknown, manager = "dagops-e2e"): Promise<T> {
    const sep = path.includes("?") ? "&" : "?";
    return this.call<T>(
      "PATCH",
      `${path}${sep}fieldManager=${manager}&force=true`,
      body,
      "application/apply-patch+yaml",
    );
  }

  async list<T = KubeObject>(path: string): Promise<T[]> {
    return (await this.get<{ items: T[] }>(path)).items;
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.get(path);
      return true;
    } catch (err) {
      if ((err as ApiError).status === 404) return false;
      throw err;
    }
  }
}

export function isStatus(err: unknown, status: number): boolean {
  return (err as Partial<ApiError>)?.status === status;
}

/** The fields of any object the harness reads. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string; uid: string }[];
    resourceVersion?: string;
  };
  // biome-ignore lint/suspicious/noExplicitAny: the harness reads spec and status of many kinds
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  status?: any;
  /** A ConfigMap's. */
  data?: Record<string, string>;
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
