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
import { buildPlanReport, renderTable, withImpact, readPlanFile, PlanFileError, type PlanReport } from "./report";
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
  /** An earlier JSON plan of the stack: print the change impact against it. */
  readonly against?: string;
  /** table: failure-analysis details and every change path. */
  readonly verbose: boolean;
}

export class UsageError extends Error {}

/** --help: not an error; the usage goes to stdout. */
export class HelpRequested extends Error {}

export const USAGE = `usage: npm run plan -- --stack <test|prod|name> [options]

  --stack, -s NAME        the stack file Pulumi.NAME.yaml (required)
  --format, -f FORMAT     table (default), json, or compose (a docker stack file)
  --against FILE          compare with an earlier \`--format json\` plan of the stack: what an up would
                          create, update, replace or delete, which scripts run on which node, which
                          services restart, and the cost delta (an offline estimate: pulumi preview decides)
  --verbose, -v           table: failure details per domain and every changed input path
  --out DIR               compose: also write the stack file and its config files into DIR
  --secrets file|external compose: secrets as files next to the stack file, or created beforehand
  --dir DIR               the project directory (default: this checkout)
  --strict                fail where \`pulumi preview\` would stop for a missing secret, instead of
                          planning with stand-ins (CI)
  --help, -h              this text

Every flag also takes the --flag=value form.`;

export function parseArgs(argv: readonly string[]): PlanArgs {
  let stack: string | undefined;
  let format: string = "table";
  let projectDir = resolve(__dirname, "..");
  let outDir: string | undefined;
  let secrets = "file";
  let strict = false;
  let against: string | undefined;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const eq = argv[i].startsWith("--") ? argv[i].indexOf("=") : -1;
    const flag = eq > 0 ? argv[i].slice(0, eq) : argv[i];
    const inline = eq > 0 ? argv[i].slice(eq + 1) : undefined;
    const value = argv[i + 1];
    const need = (): string => {
      if (inline !== undefined) {
        if (inline === "") throw new UsageError(`${flag} needs a value\n${USAGE}`);
        return inline;
      }
      if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value\n${USAGE}`);
      i++;
      return value;
    };
    if (flag === "--stack" || flag === "-s") stack = need();
    else if (flag === "--format" || flag === "-f") format = need();
    else if (flag === "--dir") projectDir = resolve(need());
    else if (flag === "--out") outDir = resolve(need());
    else if (flag === "--secrets") secrets = need();
    else if (flag === "--strict" && inline === undefined) strict = true;
    else if (flag === "--against") against = resolve(need());
    else if ((flag === "--verbose" || flag === "-v") && inline === undefined) verbose = true;
    else if ((flag === "--help" || flag === "-h") && inline === undefined) throw new HelpRequested(USAGE);
    else throw new UsageError(`plan: unknown flag ${JSON.stringify(argv[i])}; \`npm run plan -- --help\` lists the flags`);
  }
  if (!stack) throw new UsageError(`--stack is required\n${USAGE}`);
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new UsageError(`--stack: expected a stack name of letters, digits, - _ or ., got ${JSON.stringify(stack)}`);
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format: expected one of ${FORMATS.join(", ")}, got ${JSON.stringify(format)}`);
  }
  if (secrets !== "file" && secrets !== "external") throw new UsageError(`--secrets: expected file or external, got ${JSON.stringify(secrets)}`);
  if (outDir !== undefined && format !== "compose") throw new UsageError(`--out only goes with --format compose\n${USAGE}`);
  if (against !== undefined && format === "compose") throw new UsageError(`--against goes with --format table or json\n${USAGE}`);
  return { stack, format: format as Format, projectDir, outDir, secrets, strict, against, verbose };
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
    if (e instanceof HelpRequested) {
      process.stdout.write(`${e.message}\n`);
      return 0;
    }
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
    const out = args.against ? withImpact(report, readPlanFile(args.against, report.stack)) : report;
    process.stdout.write(args.format === "json" ? JSON.stringify(out, null, 2) + "\n" : renderTable(out, { verbose: args.verbose }));
    return 0;
  } catch (e) {
    if (e instanceof PlanFileError) {
      process.stderr.write(`plan: --against ${args.against}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof StackFileError || e instanceof ConfigError || (e instanceof Error && e.message.startsWith("no stack file"))) {
      process.stderr.write(`plan: stack ${args.stack}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** Runs the plan as a command: `tsx tools/plan.ts`, or the precompiled bundle through tools/plan-launch.cjs. */
export function runCli(argv: readonly string[] = process.argv.slice(2)): void {
  // exitCode, not exit(): exit() would cut a large report short when stdout is a pipe.
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`plan failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) runCli();
