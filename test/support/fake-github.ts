/**
 * A local HTTP server that speaks the GitHub REST shapes pr-comment uses: issue comments list
 * (paginated with Link headers), create, update and delete; GitHub's errors and rate-limit
 * headers on demand. Bodies over 65,536 characters get GitHub's 422.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Comment {
  id: number;
  body: string;
  user: { login: string; type: string };
  html_url: string;
}

export interface Fault {
  readonly method: string;
  /** Matched against the path. */
  readonly path: RegExp;
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly message: string;
  /** How many requests it answers. Default: 1. */
  times?: number;
  /** Answer with this body instead of `{ message }` (a malformed answer). */
  readonly body?: unknown;
  /** Never answer. */
  readonly hang?: boolean;
}

export class FakeGitHub {
  readonly token = "ghs_fake0123456789abcdefghijklmnopqrstuv";
  readonly comments: Comment[] = [];
  readonly requests: { method: string; path: string; authorization?: string }[] = [];
  faults: Fault[] = [];
  perPage = 100;
  private nextId = 1000;
  private server: Server;
  url = "";

  constructor(
    readonly owner = "example-org",
    readonly repo = "data-platform-gitops",
    readonly pr = 42,
  ) {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "http://x");
        this.requests.push({
          method: req.method!,
          path: url.pathname,
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        });
        const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, {
            "content-type": "application/json; charset=utf-8",
            "x-github-api-version-selected": "2022-11-28",
            ...headers,
          });
          res.end(data === undefined ? "" : JSON.stringify(data));
        };
        const fault = this.faults.find(
          (f) => f.method === req.method && f.path.test(url.pathname) && (f.times ?? 1) > 0,
        );
        if (fault) {
          fault.times = (fault.times ?? 1) - 1;
          if (fault.hang) return;
          return send(
            fault.status,
            "body" in fault
              ? fault.body
              : { message: fault.message, documentation_url: "https://docs.github.com/rest" },
            fault.headers,
          );
        }
        const auth = req.headers.authorization ?? "";
        if (auth !== `token ${this.token}` && auth !== `bearer ${this.token}` && auth !== `Bearer ${this.token}`)
          return send(401, { message: "Bad credentials" });
        const base = `/repos/${this.owner}/${this.repo}`;
        if (url.pathname === `${base}/issues/${this.pr}/comments`) {
          if (req.method === "GET") {
            const per = Math.min(Number(url.searchParams.get("per_page") ?? 30), this.perPage);
            const page = Number(url.searchParams.get("page") ?? 1);
            const items = this.comments.slice((page - 1) * per, page * per);
            const last = Math.max(1, Math.ceil(this.comments.length / per));
            const link: Record<string, string> =
              page < last
                ? {
                    link: `<${this.url}${url.pathname}?per_page=${per}&page=${page + 1}>; rel="next", <${this.url}${url.pathname}?per_page=${per}&page=${last}>; rel="last"`,
                  }
                : {};
            return send(200, items, link);
          }
          if (req.method === "POST") {
            const text = (JSON.parse(body) as { body: string }).body;
            if (text.length > 65536)
              return send(422, {
                message: "Validation Failed",
                errors: [
                  {
                    resource: "IssueComment",
                    code: "custom",
                    field: "body",
                    message: "body is too long (maximum is 65536 characters)",
                  },
                ],
              });
            const c = {
              id: this.nextId++,
              body: text,
              user: { login: "github-actions[bot]", type: "Bot" },
              html_url: `https://github.com/${this.owner}/${this.repo}/pull/${this.pr}#issuecomment-${this.nextId}`,
            };
            this.comments.push(c);
            return send(201, c);
          }
        }
        const m = new RegExp(`^${base}/issues/comments/(\\d+)$`).exec(url.pathname);
        if (m) {
          const c = this.comments.find((x) => x.id === Number(m[1]));
          if (!c) return send(404, { message: "Not Found" });
          if (req.method === "PATCH") {
            const text = (JSON.parse(body) as { body: string }).body;
            if (text.length > 65536) return send(422, { message: "Validation Failed" });
            c.body = text;
            return send(200, c);
          }
          if (req.method === "DELETE") {
            this.comments.splice(this.comments.indexOf(c), 1);
            return send(204, undefined);
          }
        }
        send(404, { message: "Not Found" });
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Someone else's comments, to make the list span pages. */
  addOthers(n: number): void {
    for (let i = 0; i < n; i++)
      this.comments.push({
        id: this.nextId++,
        body: `comment ${i}`,
        user: { login: "someone", type: "User" },
        html_url: "",
      });
  }
}
