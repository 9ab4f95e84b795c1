/**
 * One command at a time on a repository's generated/: `.dagops.lock` holds the pid and command
 * of the holder. A second synth or check waits for it (saying so once) instead of racing it; a
 * lock whose holder is gone (killed, crashed) is stale and taken over.
 */
import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Io } from "../cli/kit.ts";
import { DagopsError } from "../contract/errors.ts";

export const LOCK_FILE = ".dagops.lock";

interface Holder {
  readonly pid: number;
  readonly command: string;
}

/** Another synth or check held `.dagops.lock` for longer than `DAGOPS_LOCK_WAIT_SECONDS`; the message names the holder. */
export class LockTimeoutError extends DagopsError {
  readonly code = "LOCK_TIMEOUT";
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, "utf8")) as Holder;
    return typeof h.pid === "number" ? h : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock for `command`, waiting up to `waitMs` for a live holder. Returns the release
 * function. Throws LockTimeoutError (naming the holder) when the wait runs out.
 */
export async function acquireLock(root: string, command: string, io: Io, waitMs = 10 * 60_000): Promise<() => void> {
  const path = join(root, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  let said = false;
  // Ctrl-C (or a kill) releases the lock, then ends the process as the signal would have: the
  // writer's journal keeps generated/ whole either way (tree.ts). Listening before the lock is
  // taken, so that no signal falls between taking it and listening.
  let created = false;
  const release = () => {
    for (const s of SIGNALS) process.off(s, onSignal);
    if (!created) return;
    created = false;
    try {
      unlinkSync(path);
    } catch {
      // gone already
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    release();
    process.kill(process.pid, signal);
  };
  for (const s of SIGNALS) process.once(s, onSignal);
  try {
    return await take();
  } catch (e) {
    release();
    throw e;
  }

  async function take(): Promise<() => void> {
    for (;;) {
      try {
        const fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
        created = true;
        writeSync(fd, JSON.stringify({ pid: process.pid, command }));
        closeSync(fd);
        return release;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const holder = readHolder(path);
      if (holder === undefined || !isAlive(holder.pid)) {
        // Stale (its holder is gone) or half-written by a holder killed mid-write: take it over.
        // A holder still writing its pid has had 200 ms; a live one is never removed.
        if (holder !== undefined || (await ageMs(path)) > 200) {
          try {
            unlinkSync(path);
          } catch {
            // someone else took it over first
          }
          if (holder)
            io.stderr(
              `dagops ${command}: took over a stale lock of \`npm run ${holder.command}\` (pid ${holder.pid}, no longer running)\n`,
            );
          continue;
        }
      } else if (!said) {
        io.stderr(
          `dagops ${command}: waiting for \`npm run ${holder.command}\` (pid ${holder.pid}) to finish with this repository...\n`,
        );
        said = true;
      }
      if (Date.now() > deadline) {
        throw new LockTimeoutError(
          `another dagops command (${holder ? `npm run ${holder.command}, pid ${holder.pid}` : "unknown"}) still holds ${LOCK_FILE} after ${Math.round(waitMs / 1000)} s; wait for it, or stop it`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function ageMs(path: string): Promise<number> {
  const { stat } = await import("node:fs/promises");
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Infinity;
  }
}
