/**
 * The offline plan: evaluates the real program in-process (Pulumi mocks, no CLI,
 * no cloud account) from Pulumi.<stack>.yaml and prints what `pulumi up` would build.
 *
 *   npm run plan -- --stack prod [--format table|json|compose] [--out <dir>] [--secrets file|external]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../stacks/errors";
import { readStackFile } from "../stacks/stack-file";
import { fixedDeployKey, runProgram, type ProgramRun } from "./mock-runtime";
import { PROJECT } from "../stacks/config";
import { buildPlanReport, renderTable, withImpact, readPlanFile, PlanFileError, type PlanReport } from "./report";
import { loadStackConfig, offlineSecrets } from "../platform/config";
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
  --help, -h              this text

Every flag also takes the --flag=value form.`;

export function parseArgs(argv: readonly string[]): PlanArgs {
  let stack: string | undefined;
  let format: string = "table";
  let projectDir = resolve(__dirname, "..");
  let outDir: string | undefined;
  let secrets = "file";
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
  return { stack, format: format as Format, projectDir, outDir, secrets, against, verbose };
}

/** Evaluates a stack offline. Throws ConfigError for a bad stack file. */
export async function planStack(projectDir: string, stack: string): Promise<{ run: ProgramRun; report: PlanReport }> {
  const file = readStackFile(projectDir, stack);
  const standIns = offlineSecrets(file.config);
  // The same deploy key on every run, so that the same stack file prints the same plan byte for byte.
  if (`${PROJECT}:sshPrivateKey` in standIns) standIns[`${PROJECT}:sshPrivateKey`] = fixedDeployKey();
  const run = await runProgram(stack, { ...file.config, ...standIns }, { preview: true });
  const report = buildPlanReport(run);
  const keys = Object.keys(standIns);
  if (keys.length > 0) {
    report.warnings.push(`offline plan: secret settings are not readable here and were replaced by stand-ins (${keys.join(", ")}); values derived from them (deployPublicKey) are not the real ones`);
  }
  return { run, report };
}

/** The stack's platform as a docker stack file (no program run needed: the specs are pure). */
export function composeStack(projectDir: string, stack: string, secrets: "file" | "external"): ComposeOutput {
  const file = readStackFile(projectDir, stack);
  const config = loadStackConfig(stack, { ...file.config, ...offlineSecrets(file.config) });
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
      const out = composeStack(args.projectDir, args.stack, args.secrets);
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
    const { report } = await planStack(args.projectDir, args.stack);
    const out = args.against ? withImpact(report, readPlanFile(args.against, report.stack)) : report;
    process.stdout.write(args.format === "json" ? JSON.stringify(out, null, 2) + "\n" : renderTable(out, { verbose: args.verbose }));
    return 0;
  } catch (e) {
    if (e instanceof PlanFileError) {
      process.stderr.write(`plan: --against ${args.against}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ConfigError || (e instanceof Error && e.message.startsWith("no stack file"))) {
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
