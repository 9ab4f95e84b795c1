/** What every command gets from the outside world, so tests can hand in their own. */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";

export interface Io {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  stdout(text: string): void;
  stderr(text: string): void;
}

export const EXIT = { ok: 0, problems: 1, usage: 2 } as const;

/** Set once a reader closed our stdout (`npm run -s synth | head -1`): later output is dropped. */
let stdoutClosed = false;

export const processIo: Io = {
  cwd: process.cwd(),
  env: process.env,
  stdout: (t) => void (stdoutClosed || process.stdout.write(t)),
  stderr: (t) => process.stderr.write(t),
};

/**
 * A closed stdout is the reader saying "enough", not a failure of the command: the command
 * finishes its work (a synth still writes generated/) and exits as it would have.
 */
function tolerateClosedStdout(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    stdoutClosed = true;
  });
}

/** Runs `main` when the module is the entry point; sets the exit code, never calls process.exit(). */
export function runIfMain(meta: ImportMeta, main: (argv: string[], io: Io) => Promise<number>): void {
  if (process.argv[1] && isSameFile(process.argv[1], fileURLToPath(meta.url))) runMain(main);
}

/** Runs `main` with the process's arguments and streams (a `bin` entry calls this directly). */
export function runMain(main: (argv: string[], io: Io) => Promise<number>): void {
  tolerateClosedStdout();
  main(process.argv.slice(2), processIo).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`dagops: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = EXIT.usage;
    },
  );
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function isSameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses a command's flags (strict, no positionals) and handles `--help`. Returns the values,
 * or the exit code when the command is already done (help shown, or a usage error reported).
 */
export type Values<O extends Options> = {
  readonly [K in keyof O]?: O[K] extends { type: "boolean" } ? boolean : string;
};

export function parseCommand<O extends Options>(
  name: string,
  argv: string[],
  io: Io,
  options: O,
  help: string,
  allowPositionals = false,
): { kind: "args"; values: Values<O>; positionals: string[] } | { kind: "exit"; exit: number } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals,
    });
    if ((values as { help?: boolean }).help) {
      io.stdout(help);
      return { kind: "exit", exit: EXIT.ok };
    }
    return { kind: "args", values: values as Values<O>, positionals };
  } catch (e) {
    io.stderr(`dagops ${name}: ${(e as Error).message}\n\n${help}`);
    return { kind: "exit", exit: EXIT.usage };
  }
}
