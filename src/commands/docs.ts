/**
 * `npm run docs`: writes the parts of docs/ that are generated from the code, between
 * `<!-- generated: <name> -->` and `<!-- end: <name> -->`: the pipeline fields table (from the
 * pipeline schema) and the problem-code table (from the code list). `--check` writes nothing and
 * exits 1 when a document is out of date; a test runs the same comparison.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXIT, parseCommand, runIfMain, type Io } from "../cli/kit.ts";
import { PROBLEM_CODE_MEANINGS } from "../contract/problems.ts";
import { pipelineSchema } from "../model/pipeline-schema.ts";

const HELP = `Usage: npm run docs [-- --check] [--root <dir>]

Writes the tables of docs/ that are generated from the code: the pipeline fields
(docs/pipelines.md, from the pipeline schema) and the problem codes (docs/checks.md).

Options:
  --check        write nothing; exit 1 if a document is out of date
  --root <dir>   the repository (default: the current directory)
  -h, --help     show this help
`;

/** Each generated region: the document it is in, and its content. */
export function generatedRegions(): { file: string; name: string; content: string }[] {
  return [
    { file: "docs/pipelines.md", name: "fields", content: fieldsTable() },
    { file: "docs/checks.md", name: "problem-codes", content: problemCodesTable() },
  ];
}

type SchemaNode = {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly "x-expected"?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly items?: SchemaNode;
  readonly required?: readonly string[];
};

const LEAVES = new Set(["resources", "env", "notify", "overrides", "tenants"]);

/** One row per field a pipeline author writes, in the schema's order, nested fields by path. */
export function fieldsRows(): { field: string; means: string; default: string }[] {
  const rows: { field: string; means: string; default: string }[] = [];
  const visit = (node: SchemaNode, path: string, required = false) => {
    const means = [
      node.description,
      node["x-expected"] ? `Expected: ${node["x-expected"]}.` : "",
      node.enum ? `One of ${node.enum.map((v) => `\`${String(v)}\``).join(", ")}.` : "",
    ]
      .filter(Boolean)
      .join(" ");
    const inherited =
      path.startsWith("steps[].") && defaults?.[path.slice("steps[].".length)]
        ? `from \`defaults.${path.slice("steps[].".length)}\``
        : "";
    if (path)
      rows.push({
        field: `\`${path}\``,
        means,
        default: required ? "required" : node.default === undefined ? inherited : `\`${JSON.stringify(node.default)}\``,
      });
    // Nested fields: an object's properties, a map's values, a list's items; the fields of
    // resources, env, notify, overrides and tenants are told in their own rows' words.
    if (LEAVES.has(path.replace(/^steps\[\]\.|^defaults\./, ""))) return;
    const children =
      node.properties ??
      (typeof node.additionalProperties === "object" ? node.additionalProperties.properties : undefined) ??
      node.items?.properties;
    if (!children) return;
    const prefix = node.properties
      ? `${path}${path ? "." : ""}`
      : typeof node.additionalProperties === "object"
        ? `${path}.<${path === "overrides" ? "cluster" : "name"}>.`
        : `${path}[].`;
    const parent = node.properties
      ? node
      : typeof node.additionalProperties === "object"
        ? node.additionalProperties
        : node.items;
    for (const [name, child] of Object.entries(children))
      if (name !== "$schema") visit(child, `${prefix}${name}`, parent?.required?.includes(name) ?? false);
  };
  const defaults = (pipelineSchema as SchemaNode).properties?.defaults?.properties;
  visit(pipelineSchema as SchemaNode, "");
  return rows;
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function fieldsTable(): string {
  return [
    "| field | what it holds | default |",
    "|---|---|---|",
    ...fieldsRows().map((r) => `| ${r.field} | ${cell(r.means)} | ${r.default} |`),
  ].join("\n");
}

function problemCodesTable(): string {
  return [
    "| code | stage | meaning |",
    "|---|---|---|",
    ...Object.entries(PROBLEM_CODE_MEANINGS).map(
      ([code, [stage, meaning]]) => `| \`${code}\` | ${stage} | ${cell(meaning)} |`,
    ),
  ].join("\n");
}

/** `text` with the region `name` replaced by `content`, or an error naming what is missing. */
export function withRegion(text: string, name: string, content: string): string | Error {
  const begin = `<!-- generated: ${name} (npm run docs) -->\n`;
  const end = `\n<!-- end: ${name} -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end, i);
  if (i < 0 || j < 0) return new Error(`has no region ${JSON.stringify(begin.trim())} … ${JSON.stringify(end.trim())}`);
  return `${text.slice(0, i + begin.length)}${content}${text.slice(j)}`;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(
    "docs",
    argv,
    io,
    { check: { type: "boolean" }, root: { type: "string" } } as const,
    HELP,
  );
  if (parsed.kind === "exit") return parsed.exit;
  const root = (parsed.values.root as string | undefined) ?? io.cwd;
  let stale = 0;
  for (const { file, name, content } of generatedRegions()) {
    const text = await readFile(join(root, file), "utf8").catch(() => undefined);
    if (text === undefined) {
      io.stderr(`dagops docs: cannot read ${file}\n`);
      return EXIT.usage;
    }
    const next = withRegion(text, name, content);
    if (next instanceof Error) {
      io.stderr(`dagops docs: ${file} ${next.message}\n`);
      return EXIT.usage;
    }
    if (next === text) continue;
    stale += 1;
    if (parsed.values.check) io.stderr(`dagops docs: ${file}: the ${name} table is out of date; run npm run docs\n`);
    else await writeFile(join(root, file), next);
  }
  io.stdout(
    parsed.values.check
      ? stale
        ? ""
        : "docs: up to date\n"
      : `docs: ${stale ? `${stale} table${stale === 1 ? "" : "s"} written` : "up to date"}\n`,
  );
  return parsed.values.check && stale ? EXIT.problems : EXIT.ok;
}

runIfMain(import.meta, main);
