/**
 * A byte-stable picture of what a stack plans, for proving that a change of code
 * layout changes no behaviour: the JSON plan report, every resource the program
 * declares (type, name, inputs, options) and the docker stack file with its
 * configs, from the committed stack file with FIXED stand-ins (a deploy key derived
 * from a constant seed instead of a fresh throwaway key). Object keys are sorted;
 * arrays keep their order, because order is behaviour (rolling order, rule order).
 *
 *   npm run plan:fingerprint -- --stack prod                 # canonical JSON on stdout
 *   npm run plan:fingerprint -- --stack prod --check FILE    # exit 1 and name the first difference
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { PROJECT } from "../stacks/config";
import { readStackFile } from "../stacks/stack-file";
import { offlineSecrets } from "../platform/config";
import { fixedDeployKey, runProgram } from "./mock-runtime";
import { buildPlanReport } from "./report";
import { composeStack } from "./plan";

export { fixedDeployKey };

/** Sorts object keys at every depth; arrays keep their order. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

export async function planFingerprint(projectDir: string, stack: string): Promise<unknown> {
  const file = readStackFile(projectDir, stack);
  const raw = { ...file.config, ...offlineSecrets(file.config), [`${PROJECT}:sshPrivateKey`]: fixedDeployKey() };
  const run = await runProgram(stack, raw, { preview: true });
  const report = buildPlanReport(run);
  const resources = [...run.resources]
    .sort((a, b) => `${a.type}::${a.name}`.localeCompare(`${b.type}::${b.name}`))
    .map((r) => ({ type: r.type, name: r.name, inputs: r.inputs, options: r.options }));
  const compose = composeStack(projectDir, stack, "file");
  return canonical(JSON.parse(JSON.stringify({ report, resources, compose })));
}

/** The path of the first difference between two canonical documents, or undefined. */
export function firstDifference(a: unknown, b: unknown, path = "$"): string | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? undefined : `${path}: ${JSON.stringify(a)?.slice(0, 300)} != ${JSON.stringify(b)?.slice(0, 300)}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const stackAt = argv.indexOf("--stack");
  const checkAt = argv.indexOf("--check");
  const stack = stackAt >= 0 ? argv[stackAt + 1] : undefined;
  if (!stack) {
    process.stderr.write("usage: npm run plan:fingerprint -- --stack <test|prod> [--check <baseline.json>]\n");
    return 2;
  }
  const current = await planFingerprint(resolve(__dirname, ".."), stack);
  if (checkAt < 0) {
    process.stdout.write(JSON.stringify(current, null, 1) + "\n");
    return 0;
  }
  const baseline = JSON.parse(readFileSync(argv[checkAt + 1], "utf8")) as unknown;
  const diff = firstDifference(baseline, current);
  process.stdout.write(diff ? `plan of ${stack} differs from the baseline at ${diff}\n` : `plan of ${stack} is identical to the baseline\n`);
  return diff ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`plan-fingerprint failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
