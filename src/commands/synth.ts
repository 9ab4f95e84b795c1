/** `npm run synth`: validate every pipeline and write `generated/` (atomically), or write nothing. */
import { rename, writeFile, readFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GENERATED_DIR, SCHEMA_FILE, TENANTS_SCHEMA_FILE } from "../model/files.ts";
import { formatProblems, hasErrors } from "../contract/problems.ts";
import { EXIT, parseCommand, plural, runIfMain, type Io } from "../cli/kit.ts";
import { formatTimings, timed, type Timings } from "../cli/timings.ts";
import { UnsafeTreeError, withRepository } from "../write/tree.ts";

const HELP = `Usage: npm run synth [-- --root <dir>]

Validates the platform configuration and every pipeline in pipelines/, renders them, validates
the output, and writes generated/ and ${SCHEMA_FILE} (with ${TENANTS_SCHEMA_FILE}). Nothing is written unless every check passes;
generated/ is written atomically (staged, then committed by one journal rename).

Options:
  --root <dir>   repository root (default: the current directory)
  --timings      print how long each phase took (stderr)
  --full         ignore the stamps (dagops.stamp): load and render every pipeline
  -h, --help     show this help

Examples:
  npm run synth
  npm run synth -- --root ../other-repo

Exit codes:
  0  generated/ is up to date (written, or already current)
  1  problems found; nothing was written
  2  usage or internal error
`;

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "synth",
    argv,
    io,
    { root: { type: "string" }, timings: { type: "boolean" }, full: { type: "boolean" } } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const { values } = parsed;
  return withRepository("synth", values.root, io, "write", async (root) => {
    const timings: Timings | undefined = values.timings ? new Map() : undefined;
    // Nothing changed since the last synth (proved by the stamps, see lib/survey.ts): done,
    // without loading cdk8s, ajv or a single definition.
    const { noChange, survey } = await import("../incremental/survey.ts");
    const surveyed = values.full ? undefined : await timed(timings, "survey the stamps", () => survey(root));
    const quick = surveyed && noChange(surveyed);
    if (quick) {
      const { schemaFiles } = await import("../synth/schemas.ts");
      let schemasUpToDate = true;
      for (const [file, content] of schemaFiles())
        if (await writeIfChanged(join(root, file), content)) schemasUpToDate = false;
      if (timings) io.stderr(formatTimings(timings));
      if (quick.problems.length > 0) io.stderr(`${formatProblems(quick.problems)}\n`);
      if (schemasUpToDate) {
        io.stdout(
          `dagops synth: ${GENERATED_DIR}/ is up to date (${plural(quick.counts.pipelines, "pipeline")}, ${plural(quick.clusters, "cluster")}, ${plural(quick.counts.files, "file")}).\n`,
        );
        return EXIT.ok;
      }
    }
    // Loaded only now: a no-op, `--help` and usage errors need none of cdk8s, ajv or the schemas.
    const { compile } = await import("../synth/compile.ts");
    const { schemaFiles } = await import("../synth/schemas.ts");
    let compiled;
    try {
      // The files are staged as they are rendered; nothing in generated/ changes before every check has passed.
      compiled = await compile(root, timings, {
        output: "stage",
        env: io.env,
        ...(surveyed ? { survey: surveyed } : {}),
      });
    } catch (err) {
      if (!(err instanceof UnsafeTreeError)) throw err;
      io.stderr(`dagops synth: ${err.message}\n`);
      return EXIT.problems;
    }
    if (compiled.problems.length > 0) io.stderr(`${formatProblems(compiled.problems)}\n`);
    if (hasErrors(compiled.problems) || !compiled.tree || !compiled.commit) {
      const errors = compiled.problems.filter((p) => p.severity === "error").length;
      io.stderr(`dagops synth: ${plural(errors, "error")}; ${GENERATED_DIR}/ was not changed.\n`);
      return EXIT.problems;
    }
    const tree = compiled.tree;
    await timed(timings, "write generated/", compiled.commit);
    const diff = {
      missing: tree.missing,
      stale: tree.stale,
      extra: [...tree.extra, ...tree.irregular.map((i) => i.path)].sort(),
    };
    if (timings) io.stderr(formatTimings(timings));
    const schemasChanged: string[] = [];
    for (const [file, content] of schemaFiles())
      if (await writeIfChanged(join(root, file), content)) schemasChanged.push(file);
    const schemaChanged = schemasChanged.length > 0;
    const clusters = compiled.project.clusters;
    const pipelines = { length: compiled.counts?.pipelines ?? compiled.project.pipelines.length };
    const fileCount = compiled.counts?.files ?? 0;
    if (diff.missing.length + diff.stale.length + diff.extra.length === 0 && !schemaChanged) {
      io.stdout(
        `dagops synth: ${GENERATED_DIR}/ is up to date (${plural(pipelines.length, "pipeline")}, ${plural(clusters.length, "cluster")}, ${plural(fileCount, "file")}).\n`,
      );
    } else {
      io.stdout(
        `dagops synth: wrote ${GENERATED_DIR}/ (${plural(pipelines.length, "pipeline")}, ${plural(clusters.length, "cluster")}, ${plural(fileCount, "file")}): ` +
          `${diff.missing.length} added, ${diff.stale.length} changed, ${diff.extra.length} removed${schemaChanged ? `; updated ${schemasChanged.join(", ")}` : ""}.\n`,
      );
      // What changed, so that the commit that follows holds no surprise.
      const lines = [
        ...diff.missing.map((p) => `  + ${p}`),
        ...diff.stale.map((p) => `  ~ ${p}`),
        ...diff.extra.map((p) => `  - ${p}`),
      ].sort((a, b) => (a.slice(4) < b.slice(4) ? -1 : 1));
      const shown = lines.slice(0, 40);
      if (shown.length)
        io.stdout(
          `${shown.join("\n")}\n${lines.length > shown.length ? `  ... and ${lines.length - shown.length} more (git status -- ${GENERATED_DIR})\n` : ""}`,
        );
    }
    return EXIT.ok;
  });
}

/** Atomic single-file write (temp file + rename), skipped when the content is already there. */
async function writeIfChanged(path: string, content: string): Promise<boolean> {
  try {
    if ((await readFile(path, "utf8")) === content) return false;
  } catch {
    // missing: write it
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp-${process.pid}`, content);
  await rename(`${path}.tmp-${process.pid}`, path);
  return true;
}

runIfMain(import.meta, main);
