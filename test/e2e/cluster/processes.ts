// The processes of one e2e cluster: each in its own process group with its output in a log file,
// stopped with SIGTERM then SIGKILL, and killed whatever happens when the test process exits (a
// crash, an assertion, Ctrl-C), so no control-plane process outlives the test that started it.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

const everyGroup = new Set<number>();
let hooked = false;

/** Last resort: SIGKILL every process group still known when this process exits. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const pid of everyGroup) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

export class Processes {
  readonly #running = new Map<string, Running>();

  constructor(readonly logDir: string) {
    hookExit();
  }

  logPath(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /** The last `lines` lines a process wrote, for a failure message. */
  tail(name: string, lines = 30): string {
    try {
      return readFileSync(this.logPath(name), "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  start(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    if (this.#running.has(name)) throw new Error(`${name} is already running`);
    const fd = openSync(this.logPath(name), "a");
    const child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`${name}: ${command} did not start`);
    const pid = child.pid;
    everyGroup.add(pid);
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code, signal) => {
        everyGroup.delete(pid);
        resolve(code ?? (signal ? -1 : null));
      });
    });
    this.#running.set(name, { child, exited });
    return child;
  }

  /** Resolves when `name` exits by itself (for readiness checks that should fail fast). */
  exited(name: string): Promise<number | null> {
    return this.#running.get(name)?.exited ?? Promise.resolve(null);
  }

  async stop(name: string, graceMs = 5000): Promise<void> {
    const running = this.#running.get(name);
    if (!running) return;
    this.#running.delete(name);
    const pid = running.child.pid as number;
    signalGroup(pid, "SIGTERM");
    const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
    await running.exited;
    clearTimeout(timer);
    // The group may hold children of the process (none of ours fork, but be sure).
    signalGroup(pid, "SIGKILL");
    everyGroup.delete(pid);
  }

  /** Stops every process, the last started first. */
  async stopAll(): Promise<void> {
    for (const name of [...this.#running.keys()].reverse()) await this.stop(name);
  }

  pids(): number[] {
    return [...this.#running.values()].map((r) => r.child.pid as number);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}
