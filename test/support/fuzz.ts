/**
 * Property-based fuzzing of pipeline documents through the real synth and check, in a temp
 * repository: random mutations of a valid pipeline (wrong types, typos, odd numbers, strings with
 * the characters YAML readers disagree on, cycles, duplicate keys, broken syntax), each case
 * checked against the guarantees that must hold for any input:
 *
 * - synth exits 0 or 1, never 2 (no internal error, whatever the input);
 * - on exit 1, generated/ is exactly as it was, and every problem names a file and a code;
 * - on exit 0, check passes, a second synth changes nothing, and every file written is
 *   Go-safe YAML that parses back.
 *
 * `test/integration/fuzz.test.ts` runs a fixed seed in CI; `npm run fuzz -- --cases N [--seed S]` runs longer.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { main as check } from "../../src/commands/check.ts";
import { main as synth } from "../../src/commands/synth.ts";
import { captureIo, snapshot, tempRepo, type TempRepo } from "./helpers.ts";

/** A small, seedable generator (mulberry32): the same seed, the same cases, on every machine. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [
  "\u0085",
  "\u2028",
  "\u2029",
  "\u007f",
  "\u0080",
  "\u009f",
  "\ufeff",
  "\ufffe",
  "\uffff",
  "\t",
  "#",
  ": ",
  "'",
  '"',
  "\\",
  "é",
  "🚀",
  "\u0000",
  "\u001b",
  "{",
  "[",
  "*",
  "&",
  "!",
  "%",
  "@",
  "`",
  " ",
  "\n",
];
const FIELDS = [
  "name",
  "description",
  "schedule",
  "timeZone",
  "image",
  "clusters",
  "iamRole",
  "defaults",
  "maxParallel",
  "suspend",
  "overrides",
  "prewarm",
  "runTimeout",
  "steps",
  "dependson",
  "shedule",
  "imag",
  "__proto__",
  "constructor",
];
const STEP_FIELDS = [
  "name",
  "image",
  "command",
  "args",
  "env",
  "dependsOn",
  "resources",
  "retries",
  "timeout",
  "capacity",
  "estimate",
  "onDemandAfterInterruptions",
  "comand",
];

export function pipelineCase(rand: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const str = (): string => {
    const base = pick([
      "x",
      "etl",
      "0 3 * * *",
      "30 2 * * *",
      "0 0 * * 7",
      "Europe/Berlin",
      "europe/berlin",
      "300Mi",
      "300m",
      "1e3",
      "0.5",
      "on",
      "yes",
      "~",
      "",
      "registry.example.com/a:1.0.0",
      "registry.example.com/a:latest",
      "arn:aws:iam::111122223333:role/x",
      "postgres://u:p@h/db",
      "spott",
      "24h",
      "25h",
      "1h30m",
    ]);
    let s = base;
    for (let i = Math.floor(rand() * 3); i > 0; i--) {
      const at = Math.floor(rand() * (s.length + 1));
      s = s.slice(0, at) + pick(SPECIAL) + s.slice(at);
    }
    return s;
  };
  const value = (depth = 0): unknown => {
    const r = rand();
    if (r < 0.35) return str();
    if (r < 0.5) return pick([0, 1, -1, 2, 0.5, 1e21, 2 ** 53, 40, 300, 1000, 1001]);
    if (r < 0.58) return rand() < 0.5;
    if (r < 0.64) return null;
    if (depth > 2) return str();
    if (r < 0.82) return Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(rand() * 3) }, () => [
        pick([...STEP_FIELDS, "requests", "limits", "cpu", "memory", "staging", "prod"]),
        value(depth + 1),
      ]),
    );
  };
  const doc: Record<string, any> = {
    name: "fuzz",
    image: "registry.example.com/fuzz:1.0.0",
    defaults: { resources: { requests: { cpu: "100m", memory: "128Mi" } } },
    steps: [{ name: "a" }, { name: "b", dependsOn: ["a"] }],
  };
  // Half the cases stay valid in shape, with hostile text where text is allowed (what the
  // serializer must carry to Go's parser); the other half break something.
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const steps: any[] = Array.isArray(doc.steps)
      ? doc.steps.filter((x: unknown) => x !== null && typeof x === "object")
      : [];
    if (rand() < 0.5 && steps.length > 0) {
      const step = steps[Math.floor(rand() * steps.length)];
      const r = rand();
      if (r < 0.3) doc.description = str().replace(/[\ud800-\udfff]/g, "");
      else if (r < 0.6) step.args = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => str());
      else if (r < 0.8) step.env = [{ name: pick(["MODE", "LOG_LEVEL", "NOTE"]), value: str() }];
      else doc.schedule = pick(["0 3 * * *", "15 */6 * * *", "@daily", "0 0 * * SUN", "*/5 * * * *"]);
      continue;
    }
    const r = rand();
    if (r < 0.3) doc[pick(FIELDS)] = value();
    else if (r < 0.6 && Array.isArray(doc.steps)) {
      const step = doc.steps[Math.floor(rand() * doc.steps.length)];
      if (step && typeof step === "object")
        step[pick(STEP_FIELDS)] = rand() < 0.3 ? [pick(["a", "b", "c", "fuzz"])] : value();
    } else if (r < 0.75 && Array.isArray(doc.steps))
      doc.steps.push({
        name: rand() < 0.8 ? pick(["c", "d", "a", "Bad_Name", "x".repeat(41)]) : value(),
        dependsOn: [pick(["a", "b", "c", "d", "zz"])],
      });
    else if (r < 0.85)
      doc.overrides = {
        [pick(["staging", "prod", "stagin"])]: {
          [pick(["iamRole", "schedule", "suspend", "timeZone", "image", "maxParallel", "env", "retries"])]: value(),
        },
      };
    else doc.description = str();
  }
  let text = stringify(doc, { lineWidth: 0 });
  const r = rand();
  // Text-level damage the object model cannot express.
  if (r < 0.06) text += "name: again\n";
  else if (r < 0.1) text = text.replace(/\n/, "\n  broken: [\n");
  else if (r < 0.13) text += `description: "\\uD800"\n`;
  else if (r < 0.16) text = `${text}---\nname: second\n`;
  else if (r < 0.19) text = text.replace("steps:", "steps: !!js/function");
  return text;
}

const GO_HAZARD =
  /[\u007f-\u009f\u2028\u2029\ufffe\uffff]|\\u[dD][89a-fA-F][0-9a-fA-F]{2}|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export interface FuzzFailure {
  readonly case: number;
  readonly input: string;
  readonly why: string;
}

/** Runs `cases` fuzz cases from `seed` in one temp repository; returns the cases that broke a guarantee. */
export interface FuzzResult {
  readonly failures: FuzzFailure[];
  /** Cases synth accepted (exit 0) and refused (exit 1): both paths must be exercised. */
  readonly accepted: number;
  readonly refused: number;
}

export async function fuzz(seed: number, cases: number, onCase?: (i: number) => void): Promise<FuzzResult> {
  const rand = random(seed);
  const repo: TempRepo = await tempRepo({ generated: true });
  const failures: FuzzFailure[] = [];
  let accepted = 0;
  let refused = 0;
  try {
    const committed = await snapshot(join(repo.root, "generated"));
    for (let i = 0; i < cases; i++) {
      onCase?.(i);
      const input = pipelineCase(rand);
      const fail = (why: string) => failures.push({ case: i, input, why });
      await repo.write("pipelines/fuzz.yaml", input);
      const io = captureIo(repo.root);
      let code: number;
      try {
        code = await synth([], io);
      } catch (err) {
        fail(`synth threw: ${(err as Error).stack}`);
        continue;
      }
      if (code === 1) refused++;
      if (code === 0) accepted++;
      if (code === 1) {
        if (!(await sameTree(repo, committed))) fail("synth exited 1 but changed generated/");
        if (!/✖ \S+: \d+ problems?\n {2}\S/.test(io.err.join("")))
          fail(`exit 1 without a problem naming a file: ${io.text().slice(0, 300)}`);
      } else if (code === 0) {
        const c = captureIo(repo.root);
        if ((await check([], c)) !== 0) fail(`synth exited 0 but check did not pass: ${c.text().slice(0, 300)}`);
        const again = captureIo(repo.root);
        if ((await synth([], again)) !== 0 || !/is up to date/.test(again.out.join("")))
          fail(`a second synth was not a no-op: ${again.text().slice(0, 300)}`);
        for (const [path, text] of await snapshot(join(repo.root, "generated"))) {
          if (GO_HAZARD.test(text)) fail(`${path} holds text Go's YAML parser reads differently`);
          try {
            parse(text, { version: "1.1" });
          } catch (err) {
            fail(`${path} does not parse: ${(err as Error).message}`);
          }
        }
      } else fail(`synth exited ${code}: ${io.text().slice(0, 500)}`);
      // Back to the committed tree for the next case.
      await repo.remove("pipelines/fuzz.yaml");
      if (code === 0 && (await synth([], captureIo(repo.root))) !== 0) fail("could not restore the tree");
    }
  } finally {
    await repo.cleanup();
  }
  return { failures, accepted, refused };
}

async function sameTree(repo: TempRepo, committed: Map<string, string>): Promise<boolean> {
  const now = await snapshot(join(repo.root, "generated"));
  if (now.size !== committed.size) return false;
  for (const [p, t] of now) if (committed.get(p) !== t) return false;
  return (await readFile(join(repo.root, "generated/prod/platform/nodepool-dagops-steps.yaml"), "utf8")).length > 0;
}

// `npm run fuzz -- --cases N [--seed S]`
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const cases = arg("cases", 500);
  const seed = arg("seed", Date.now() % 2 ** 31);
  const started = Date.now();
  process.stdout.write(`dagops fuzz: ${cases} cases, seed ${seed}\n`);
  const { failures, accepted, refused } = await fuzz(
    seed,
    cases,
    (i) => i % 50 === 0 && process.stderr.write(`  case ${i}\n`),
  );
  process.stdout.write(`synth accepted ${accepted} cases and refused ${refused}\n`);
  for (const f of failures.slice(0, 20)) process.stdout.write(`\ncase ${f.case}: ${f.why}\n--- input\n${f.input}---\n`);
  process.stdout.write(
    `\n${cases - new Set(failures.map((f) => f.case)).size} passed, ${new Set(failures.map((f) => f.case)).size} failed (seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
  process.exitCode = failures.length ? 1 : 0;
}
