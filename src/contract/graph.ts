/** The step graph: duplicate and unknown steps, cycles (with their path), and topological waves. */
import { didYouMean, fieldPath, problem, type Problem } from "./problems.ts";

interface GraphStep {
  readonly name: string;
  readonly dependsOn?: readonly string[];
}

export function graphProblems(steps: readonly GraphStep[], file: string): Problem[] {
  const problems: Problem[] = [];
  const firstIndex = new Map<string, number>();
  steps.forEach((s, i) => {
    const first = firstIndex.get(s.name);
    if (first === undefined) firstIndex.set(s.name, i);
    else
      problems.push(
        problem(
          "DUPLICATE_STEP",
          file,
          fieldPath(["steps", i, "name"]),
          `step ${JSON.stringify(s.name)} is already defined at steps[${first}]; step names must be unique`,
        ),
      );
  });
  const names = [...firstIndex.keys()];
  steps.forEach((s, i) => {
    (s.dependsOn ?? []).forEach((d, j) => {
      const path = fieldPath(["steps", i, "dependsOn", j]);
      if (d === s.name)
        problems.push(
          problem(
            "SELF_DEPENDENCY",
            file,
            path,
            `step ${JSON.stringify(s.name)} depends on itself; remove it from its own dependsOn`,
          ),
        );
      else if (!firstIndex.has(d)) {
        problems.push(
          problem(
            "UNKNOWN_STEP",
            file,
            path,
            `unknown step ${JSON.stringify(d)}; known: ${names.join(", ")}.${didYouMean(d, names)}`,
          ),
        );
      }
    });
  });
  const cycle = findCycle(steps);
  if (cycle)
    problems.push(problem("CYCLE", file, "steps", `dependency cycle: ${cycle.join(" → ")}; a pipeline must be a DAG`));
  return problems;
}

/** One cycle as a path that ends where it starts (`a → b → a`), or undefined. Self-edges are reported elsewhere. */
export function findCycle(steps: readonly GraphStep[]): string[] | undefined {
  const deps = new Map(steps.map((s) => [s.name, (s.dependsOn ?? []).filter((d) => d !== s.name)]));
  const state = new Map<string, 1 | 2>(); // 1: on the stack, 2: done
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      if (!deps.has(d)) continue;
      const s = state.get(d);
      if (s === 1) return [...stack.slice(stack.indexOf(d)), d].reverse();
      if (s === undefined) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const s of steps) {
    if (!state.has(s.name)) {
      const c = visit(s.name);
      if (c) return c;
    }
  }
  return undefined;
}

/** Steps grouped by depth: wave 0 has no dependencies, wave n depends on waves < n. Assumes a DAG. */
export function waves(steps: readonly GraphStep[]): string[][] {
  const depth = new Map<string, number>();
  const byName = new Map(steps.map((s) => [s.name, s]));
  const depthOf = (n: string): number => {
    const known = depth.get(n);
    if (known !== undefined) return known;
    const d = Math.max(-1, ...(byName.get(n)?.dependsOn ?? []).map(depthOf)) + 1;
    depth.set(n, d);
    return d;
  };
  const out: string[][] = [];
  for (const s of steps) (out[depthOf(s.name)] ??= []).push(s.name);
  return out;
}

/**
 * The critical path: the chain of dependencies with the largest total weight (a duration), and
 * that total. Ties go to the step listed first, so the answer is deterministic. Assumes a DAG.
 */
export function criticalPath(
  steps: readonly GraphStep[],
  weight: (step: string) => number,
): { path: string[]; total: number } {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const best = new Map<string, { total: number; via?: string }>();
  const bestOf = (n: string): { total: number; via?: string } => {
    const known = best.get(n);
    if (known) return known;
    let via: string | undefined;
    let before = 0;
    for (const d of byName.get(n)?.dependsOn ?? []) {
      if (!byName.has(d)) continue;
      const t = bestOf(d).total;
      if (via === undefined || t > before) [via, before] = [d, t];
    }
    const result = { total: before + weight(n), ...(via !== undefined ? { via } : {}) };
    best.set(n, result);
    return result;
  };
  let end: string | undefined;
  for (const s of steps) {
    const total = bestOf(s.name).total;
    if (end === undefined || total > bestOf(end).total) end = s.name;
  }
  const path: string[] = [];
  for (let n = end; n !== undefined; n = best.get(n)!.via) path.unshift(n);
  return { path, total: end === undefined ? 0 : bestOf(end).total };
}
