/**
 * The offline plan: evaluates the real program in-process (Pulumi mocks, no CLI,
 * no cloud account) from Pulumi.<stack>.yaml and prints what `pulumi up` would build.
 *
 *   npm run plan -- --stack prod [--format table|json|compose] [--out <dir>] [--secrets file|external] [--strict]
 *
 * The stack file is first checked as the Pulumi CLI checks it (stacks/pulumi-cli.ts). A secret
 * setting the stack lacks stops `pulumi preview`; the plan says so, prints the command, and goes
 * on with named stand-ins, unless --strict (CI), which fails instead.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError, formatProblem } from "../stacks/errors";
import { PROJECT, secretSetCommand } from "../stacks/config";
import { checkStackFiles, formatCliProblems, type CliCheck } from "../stacks/pulumi-cli";
import { runProgram, type ProgramRun } from "./mock-runtime";
import { buildPlanReport, renderTable, type PlanReport } from "./report";
import { ALL_SETTINGS, loadStackConfig, offlineSecrets } from "../platform/config";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { renderCompose, type ComposeOutput } from "../render/compose";

export const FORMATS = ["table", "json", "compose"] as const;
export type Format = (typeof FORMATS)[number];

export interface PlanArgs {
  readonly stack: string;
  readonly format: Format;
  readonly projectDir: string;
  /** compose: also write the stack file and the config files it refers to into this folder. */
  readonly outDir?: string;
  /** compose: secrets as files next to the stack file, or external (created beforehand). */
  readonly secrets: "file" | "external";
  /** Fail when a secret setting is missing instead of planning with stand-ins (CI). */
  readonly strict?: boolean;
}

export class UsageError extends Error {}

const USAGE = "usage: npm run plan -- --stack <test|prod|name> [--format table|json|compose] [--out <dir>] [--secrets file|external] [--dir <project dir>] [--strict]";

export function parseArgs(argv: readonly string[]): PlanArgs {
  let stack: string | undefined;
  let format: string = "table";
  let projectDir = resolve(__dirname, "..");
  let outDir: string | undefined;
  let secrets = "file";
  let strict = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const need = (): string => {
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value\n${USAGE}`);
      i++;
      return value;
    };
    if (flag === "--stack" || flag === "-s") stack = need();
    else if (flag === "--format" || flag === "-f") format = need();
    else if (flag === "--dir") projectDir = resolve(need());
    else if (flag === "--out") outDir = resolve(need());
    else if (flag === "--secrets") secrets = need();
    else if (flag === "--strict") strict = true;
    else if (flag === "--help" || flag === "-h") throw new UsageError(USAGE);
    else throw new UsageError(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
  }
  if (!stack) throw new UsageError(`--stack is required\n${USAGE}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new UsageError(`--stack: expected a stack name of letters, digits, - _ or ., got ${JSON.stringify(stack)}`);
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format: expected one of ${FORMATS.join(", ")}, got ${JSON.stringify(format)}`);
  }
  if (secrets !== "file" && secrets !== "external") throw new UsageError(`--secrets: expected file or external, got ${JSON.stringify(secrets)}`);
  if (outDir !== undefined && format !== "compose") throw new UsageError(`--out only goes with --format compose\n${USAGE}`);
  return { stack, format: format as Format, projectDir, outDir, secrets, strict };
}

/** What the Pulumi CLI or the program refuses in a stack file, all of it. */
export class StackFileError extends Error {}

/**
 * Reads a stack file the way `pulumi preview` would: the CLI's checks (stacks/pulumi-cli.ts),
 * then the program's, every problem in one message. Missing secrets get named, deterministic
 * stand-ins (or fail under strict); the notes say what `pulumi preview` would do.
 */
export function readCheckedStack(projectDir: string, stack: string, strict = false): { config: Record<string, string>; notes: string[]; previewStops?: string } {
  const ownProject = join(projectDir, "Pulumi.yaml");
  const secretDefs = ALL_SETTINGS.filter((d) => d.secret);
  const check: CliCheck = checkStackFiles(projectDir, stack, secretDefs.map((d) => d.key),
    existsSync(ownProject) ? ownProject : join(__dirname, "..", "Pulumi.yaml"));
  // A secret the stack file does not hold gets its stand-in, even where Pulumi.yaml gives a default.
  const unheld = secretDefs.map((d) => `${PROJECT}:${d.key}`).filter((k) => !check.stackKeys.includes(k));
  const cliConfig = Object.fromEntries(Object.entries(check.config).filter(([k]) => !unheld.includes(k)));
  const standIns = offlineSecrets(cliConfig);
  const config = { ...check.config, ...standIns };
  const parts: string[] = [];
  if (check.errors.length > 0) parts.push(`the Pulumi CLI would refuse this stack (${check.errors.length} problem${check.errors.length === 1 ? "" : "s"}):\n${formatCliProblems(check.errors)}`);
  // Where `pulumi preview` stops for want of a secret: the CLI's "missing configuration", else the program's own check.
  const reasons = check.missingMessage && check.missingSecrets.length > 0 ? [check.missingMessage] : [];
  const stopKeys = check.missingSecrets.map((m) => m.key.slice(PROJECT.length + 1));
  const missingKeys = check.missingSecrets.map((m) => m.key);
  const past = Object.fromEntries(Object.entries(standIns).filter(([k]) => check.secureKeys.includes(k) || missingKeys.includes(k)));
  try {
    loadStackConfig(stack, { ...check.config, ...past });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const secretProblems = e.problems.filter((p) => unheld.includes(`${PROJECT}:${p.key}`) && !missingKeys.includes(`${PROJECT}:${p.key}`));
    if (secretProblems.length > 0) {
      reasons.push(`${reasons.length > 0 ? "then the program: " : ""}${secretProblems.map((p) => formatProblem(PROJECT, p)).join("; ")}`);
      stopKeys.push(...secretProblems.map((p) => p.key));
    }
  }
  const stopReason = reasons.join("; ");
  const stop = stopKeys.length > 0
    ? `\`pulumi preview\` would stop here: ${stopReason}. Set ${stopKeys.length === 1 ? "it" : "them"} first:\n${stopKeys.map((k) => `    ${secretSetCommand(k)}`).join("\n")}`
    : undefined;
  if (stop && strict) parts.push(`${stop}\n(--strict: no stand-ins)`);
  try {
    loadStackConfig(stack, config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    parts.push(e.message);
  }
  if (parts.length > 0) throw new StackFileError(parts.join("\n"));
  const keys = Object.keys(standIns);
  const notes = [
    ...(stop ? [`${stop}\nThis plan goes on with stand-ins derived from the keys' names, never real secrets.`] : []),
    ...(keys.length > 0 ? [`offline plan: secret settings are not readable here and were replaced by stand-ins (${keys.join(", ")}); values derived from them (deployPublicKey) are not the real ones`] : []),
  ];
  return { config, notes, ...(stop ? { previewStops: notes[0] } : {}) };
}

/** Evaluates a stack offline. Throws StackFileError for a stack file the CLI or the program would refuse. */
export async function planStack(projectDir: string, stack: string, strict = false): Promise<{ run: ProgramRun; report: PlanReport; previewStops?: string }> {
  const { config, notes, previewStops } = readCheckedStack(projectDir, stack, strict);
  const run = await runProgram(stack, config, { preview: true });
  const report = buildPlanReport(run);
  report.warnings.push(...run.config.configWarnings, ...notes);
  return { run, report, ...(previewStops ? { previewStops } : {}) };
}

/** The stack's platform as a docker stack file (no program run needed: the specs are pure). */
export function composeStack(projectDir: string, stack: string, secrets: "file" | "external", strict = false): ComposeOutput {
  const config = loadStackConfig(stack, readCheckedStack(projectDir, stack, strict).config);
  return renderCompose(buildPlatform(config, buildTopology(config)).spec, { secrets, stackName: config.namePrefix });
}

function writeCompose(outDir: string, out: ComposeOutput): void {
  const write = (path: string, content: string): void => {
    mkdirSync(dirname(join(outDir, path)), { recursive: true });
    writeFileSync(join(outDir, path), content);
  };
  write("docker-stack.yml", out.yaml);
  for (const [path, content] of Object.entries(out.files)) write(path, content);
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: PlanArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  try {
    if (args.format === "compose") {
      const out = composeStack(args.projectDir, args.stack, args.secrets, args.strict);
      process.stdout.write(out.yaml);
      if (args.outDir) {
        writeCompose(args.outDir, out);
        process.stderr.write(`plan: wrote docker-stack.yml and ${Object.keys(out.files).length} config file(s) to ${args.outDir}\n`);
      }
      if (out.missingSecretFiles.length > 0) {
        process.stderr.write(`plan: docker stack deploy reads these secret files, which you provide: ${out.missingSecretFiles.join(", ")}\n`);
      }
      return 0;
    }
    const { report, previewStops } = await planStack(args.projectDir, args.stack, args.strict);
    if (previewStops) process.stderr.write(`plan: stack ${args.stack}: ${previewStops}\n`);
    process.stdout.write(args.format === "json" ? JSON.stringify(report, null, 2) + "\n" : renderTable(report));
    return 0;
  } catch (e) {
    if (e instanceof StackFileError || e instanceof ConfigError || (e instanceof Error && e.message.startsWith("no stack file"))) {
      process.stderr.write(`plan: stack ${args.stack}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) {
  // exitCode, not exit(): exit() would cut a large report short when stdout is a pipe.
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`plan failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
