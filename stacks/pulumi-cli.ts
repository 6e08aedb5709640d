/**
 * The checks the Pulumi CLI runs on a stack's configuration before the program starts
 * (`pulumi preview`, `up`, `refresh`, `destroy`), applied offline to Pulumi.yaml and
 * Pulumi.<stack>.yaml, in the CLI's words, each with the fix. The offline plan refuses what
 * the CLI would refuse. Rules and wording: pulumi/pulumi v3.248.0
 * `sdk/go/common/workspace/config.go` (mergeConfig, validateStackConfigValue) and
 * `project.go` (Project.Validate, ValidateConfigValue); see docs/provider-facts.md §1.
 *
 * Beyond the CLI (which accepts them): a secret written in plain text into a stack file.
 */
import { existsSync, readFileSync } from "node:fs";
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Document, type Node, type Pair } from "yaml";
import { secretSetCommand } from "./config";
import { toConfigString } from "./stack-file";

export interface Position {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface CliProblem {
  /** The config key (with namespace) or undefined for a problem of the file as a whole. */
  readonly key?: string;
  /** What is wrong; for the CLI's own checks its exact sentence. */
  readonly message: string;
  readonly fix: string;
  readonly at?: Position;
}

export interface MissingSecret {
  readonly key: string;
  /** The exact command that sets it. */
  readonly command: string;
}

export interface CliCheck {
  /** Everything the CLI (or the plain-text rule) refuses. The CLI stops at the first; all are listed. */
  readonly errors: readonly CliProblem[];
  /** Secret settings the stack needs and does not hold: the CLI stops with "missing configuration". */
  readonly missingSecrets: readonly MissingSecret[];
  /** The CLI's sentence for the missing keys, when there are any. */
  readonly missingMessage?: string;
  /** What the program receives: `namespace:key` -> string, Pulumi.yaml defaults applied. Encrypted values are absent. */
  readonly config: Record<string, string>;
  /** Keys the stack holds encrypted (`secure:`). */
  readonly secureKeys: readonly string[];
  /** Every key the stack file holds (with namespace), plain or encrypted. */
  readonly stackKeys: readonly string[];
}

export interface CheckInput {
  readonly stack: string;
  readonly project: { readonly path: string; readonly text: string };
  readonly stackFile: { readonly path: string; readonly text: string };
  /** Settings (without namespace) the program reads as secrets, declared secret in Pulumi.yaml or not. */
  readonly secretSettings: readonly string[];
}

interface Declaration {
  readonly type?: string;
  readonly items?: { readonly type?: string; readonly items?: unknown };
  readonly default?: unknown;
  readonly value?: unknown;
  readonly secret?: boolean;
}

interface StackValue {
  readonly key: string;
  /** The YAML value as the CLI sees it: scalars as their text, lists and maps as structures. */
  readonly value: unknown;
  readonly secure: boolean;
  readonly at: Position;
}

/** Key names that hold credentials in any namespace (hcloud:token, a password, an API key). */
const CREDENTIAL_KEY = /(^|[:_.-])(token|password|passphrase|secret|api_?key|private_?key)$/i;
const PRIVATE_KEY_TEXT = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

function parseYaml(file: { path: string; text: string }, errors: CliProblem[]): { doc: Document; lines: LineCounter } | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter: lines, uniqueKeys: true });
  for (const e of [...doc.errors]) {
    const pos = e.linePos?.[0];
    errors.push({
      message: `${file.path}${pos ? `:${pos.line}:${pos.col}` : ""}: invalid YAML: ${e.message.split("\n")[0]}`,
      fix: "correct the YAML at that line and column",
      ...(pos ? { at: { file: file.path, line: pos.line, col: pos.col } } : {}),
    });
  }
  return doc.errors.length > 0 ? undefined : { doc, lines };
}

/** A YAML node as the CLI's config layer sees it: scalars as text (config values are strings), collections as data. */
function cliView(node: unknown): unknown {
  if (isScalar(node)) return node.value === null ? "" : String(node.value);
  if (isSeq(node)) return node.items.map(cliView);
  if (isMap(node)) return Object.fromEntries(node.items.map((p) => [String(isScalar(p.key) ? p.key.value : p.key), cliView(p.value)]));
  return node;
}

function typeOk(type: string, items: Declaration["items"], value: unknown): boolean {
  // project.go ValidateConfigValue: strings for string; Atoi for integer; "true"/"false" for boolean.
  if (type === "string") return typeof value === "string";
  if (type === "integer") return (typeof value === "string" && /^[+-]?\d+$/.test(value)) || (typeof value === "number" && Number.isInteger(value));
  if (type === "boolean") return value === "true" || value === "false" || typeof value === "boolean";
  if (type === "object") return !!value && typeof value === "object" && !Array.isArray(value);
  if (!Array.isArray(value) || !items?.type) return false;
  return value.every((v) => typeOk(items.type as string, items.items as Declaration["items"], v));
}

function fullTypeName(type: string, items: Declaration["items"]): string {
  return items?.type ? `array<${fullTypeName(items.type, items.items as Declaration["items"])}>` : type;
}

/** createConfigValue: a primitive default becomes its text, anything else compact JSON. */
function defaultString(value: unknown): string {
  return value !== null && typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** config.go missingStackConfigurationKeysError and formatMissingKeys, word for word. */
export function missingMessage(stack: string, keys: readonly string[]): string {
  const sorted = keys.length === 1 ? [...keys] : [...keys].sort();
  const list = sorted.length === 1
    ? `'${sorted[0]}'`
    : sorted.map((k, i) => (i === sorted.length - 1 ? `and '${k}'` : i === sorted.length - 2 ? `'${k}' ` : `'${k}', `)).join("");
  return `Stack '${stack}' is missing configuration ${sorted.length > 1 ? "values" : "value"} ${list}`;
}

/** Applies the CLI's config rules (and the plain-text secret rule) to a project and stack file. */
export function checkStack(input: CheckInput): CliCheck {
  const errors: CliProblem[] = [];
  const project = parseYaml(input.project, errors);
  const stackDoc = parseYaml(input.stackFile, errors);
  if (!project || !stackDoc) return { errors, missingSecrets: [], config: {}, secureKeys: [], stackKeys: [] };

  const projectName = String(project.doc.get("name") ?? "");
  const ns = (key: string): string => (key.includes(":") ? key : `${projectName}:${key}`);
  const declared = new Map<string, Declaration>();
  const configNode = project.doc.get("config");
  if (isMap(configNode)) {
    for (const pair of configNode.items as Pair<Node, Node>[]) {
      const key = String(isScalar(pair.key) ? pair.key.value : "");
      const v = pair.value;
      declared.set(key, isMap(v) ? (v.toJSON() as Declaration) : { value: (v as { toJSON?: () => unknown })?.toJSON?.() });
    }
  }

  // project.go Project.Validate: the declarations themselves.
  const projectAt = (key: string): Position | undefined => {
    const pair = isMap(configNode) ? (configNode.items as Pair<Node, Node>[]).find((p) => isScalar(p.key) && p.key.value === key) : undefined;
    const offset = pair && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    return offset === undefined ? undefined : { file: input.project.path, ...project.lines.linePos(offset) };
  };
  for (const [key, d] of declared) {
    const at = projectAt(key);
    const own = !key.includes(":") || key.startsWith(`${projectName}:`);
    if (d.default !== undefined && d.value !== undefined) {
      errors.push({ key, message: `project config '${key}' cannot have both a 'default' and 'value' attribute`, fix: "keep one of them in Pulumi.yaml", ...(at ? { at } : {}) });
    } else if (own && d.type === "array" && !d.items) {
      errors.push({ key, message: `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`, fix: "add items: {type: string} in Pulumi.yaml", ...(at ? { at } : {}) });
    } else if (own && d.type !== undefined && d.default !== undefined && !typeOk(d.type, d.items, cliView(project.doc.getIn(["config", key, "default"], true)))) {
      errors.push({
        key,
        message: `The default value specified for configuration key '${key}' is not of the expected type '${fullTypeName(d.type, d.items)}'`,
        fix: "drop `type:` from the declaration or give a default of that type (npm run gen:config writes Pulumi.yaml)",
        ...(at ? { at } : {}),
      });
    } else if (!own && d.type !== undefined) {
      errors.push({ key, message: `Configuration key '${key}' is not namespaced by the project and should not define a type`, fix: "remove type: from it in Pulumi.yaml", ...(at ? { at } : {}) });
    }
  }

  // The stack file's values, where each key sits.
  const values = new Map<string, StackValue>();
  const stackConfig = stackDoc.doc.get("config");
  if (stackConfig !== undefined && !isMap(stackConfig)) {
    errors.push({ message: `${input.stackFile.path}: config must be a map of keys to values`, fix: "write config: as key: value lines" });
  }
  for (const pair of isMap(stackConfig) ? (stackConfig.items as Pair<Node, Node>[]) : []) {
    const raw = String(isScalar(pair.key) ? pair.key.value : "");
    const offset = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? 0;
    const at = { file: input.stackFile.path, ...stackDoc.lines.linePos(offset) };
    const secure = isMap(pair.value) && pair.value.items.length === 1 && isScalar(pair.value.items[0].key) && pair.value.items[0].key.value === "secure";
    values.set(ns(raw), { key: ns(raw), value: cliView(pair.value), secure, at });
  }

  // A secret in plain text: the CLI accepts it (it checks only declared, typed secret keys), the program must not.
  const secretSettings = new Set(input.secretSettings.map(ns));
  for (const v of values.values()) {
    if (v.secure) continue;
    const text = typeof v.value === "string" ? v.value : JSON.stringify(v.value);
    const isSecretSetting = secretSettings.has(v.key) || declared.get(v.key.slice(projectName.length + 1))?.secret === true;
    const why = isSecretSetting ? `the program reads '${v.key}' as a secret`
      : CREDENTIAL_KEY.test(v.key) ? `'${v.key}' holds a credential`
      : PRIVATE_KEY_TEXT.test(text) ? `the value of '${v.key}' is a private key`
      : undefined;
    const d = declared.get(v.key.slice(projectName.length + 1));
    // A typed secret declaration: the CLI's own check below reports it, in its words.
    if (!why || text === "" || (v.key.startsWith(`${projectName}:`) && d?.secret === true && d.type !== undefined)) continue;
    const bare = v.key.startsWith(`${projectName}:`) ? v.key.slice(projectName.length + 1) : v.key;
    errors.push({
      key: v.key,
      message: `${v.at.file}:${v.at.line}:${v.at.col}: Stack '${input.stack}' holds configuration key '${v.key}' in plain text; ${why}, so it must be encrypted`,
      fix: `delete the line from ${v.at.file} and run: ${secretSetCommand(bare)}${v.key === "hcloud:token" ? " (or export HCLOUD_TOKEN)" : ""}`,
      at: v.at,
    });
  }

  // config.go mergeConfig: missing keys (all of them, sorted, in one sentence), then defaults.
  const config: Record<string, string> = {};
  for (const v of values.values()) if (!v.secure) config[v.key] = typeof v.value === "string" ? v.value : toConfigString(v.value);
  const missing: string[] = [];
  for (const key of [...declared.keys()].sort()) {
    const d = declared.get(key) as Declaration;
    const full = ns(key);
    if (values.has(full)) continue;
    if (d.default === undefined && d.value === undefined) {
      if (full.startsWith(`${projectName}:`)) missing.push(key);
      continue;
    }
    config[full] = defaultString(d.default !== undefined ? d.default : d.value);
  }
  const secretKey = (key: string): boolean => secretSettings.has(ns(key)) || declared.get(key)?.secret === true;
  const missingSecrets = missing.filter(secretKey).map((key) => ({ key: ns(key), command: secretSetCommand(key) }));
  const missingPlain = missing.filter((k) => !secretKey(k));
  const sentence = missing.length > 0 ? missingMessage(input.stack, missing) : undefined;
  if (missingPlain.length > 0) {
    errors.push({
      message: sentence as string,
      fix: missingPlain.map((k) => `pulumi config set ${k} <value>`).join("; ") + ` (or add ${missingPlain.map(ns).join(", ")} to ${input.stackFile.path})`,
    });
  }

  // config.go validateStackConfigValues: every explicitly typed key, sorted (the CLI stops at the first).
  if (missing.length === 0 || missingPlain.length === 0) {
    for (const key of [...declared.keys()].sort()) {
      const d = declared.get(key) as Declaration;
      if (d.type === undefined) continue;
      const v = values.get(ns(key));
      const secure = v?.secure ?? false;
      const where = v ? `${v.at.file}:${v.at.line}:${v.at.col}: ` : "";
      if (d.secret && !secure && (v !== undefined || d.default !== undefined)) {
        errors.push({
          key: ns(key),
          message: `${where}Stack '${input.stack}' with configuration key '${key}' must be encrypted as it's secret`,
          fix: v ? `delete the line from ${v.at.file} and run: ${secretSetCommand(key)}` : `remove default: from the secret declaration of ${key} in Pulumi.yaml (npm run gen:config)`,
          ...(v ? { at: v.at } : {}),
        });
        continue;
      }
      if (secure || (!v && d.default === undefined)) continue;
      const seen = v ? v.value : cliView(project.doc.getIn(["config", key, "default"], true));
      if (!typeOk(d.type, d.items, seen)) {
        const typeName = fullTypeName(d.type, d.items);
        errors.push({
          key: ns(key),
          message: `${where}Stack '${input.stack}' with configuration key '${key}' must be of type '${typeName}'`,
          fix: typeName.startsWith("array") ? `write ${key} as a YAML list (- item per line), not as a string` : `give ${key} a value of type ${typeName}`,
          ...(v ? { at: v.at } : {}),
        });
      }
    }
  }
  return { errors, missingSecrets, ...(sentence ? { missingMessage: sentence } : {}), config, secureKeys: [...values.values()].filter((v) => v.secure).map((v) => v.key), stackKeys: [...values.keys()] };
}

/** Reads Pulumi.yaml and Pulumi.<stack>.yaml and checks them. `projectFile` defaults to `<projectDir>/Pulumi.yaml`. */
export function checkStackFiles(projectDir: string, stack: string, secretSettings: readonly string[], projectFile = `${projectDir}/Pulumi.yaml`): CliCheck {
  const stackPath = `${projectDir}/Pulumi.${stack}.yaml`;
  if (!existsSync(stackPath)) throw new Error(`no stack file ${stackPath} (stacks in this project: test, prod)`);
  return checkStack({
    stack,
    project: { path: projectFile, text: readFileSync(projectFile, "utf8") },
    stackFile: { path: stackPath, text: readFileSync(stackPath, "utf8") },
    secretSettings,
  });
}

/** Every problem as lines for people: the CLI's sentence, then the fix. */
export function formatCliProblems(problems: readonly CliProblem[]): string {
  return problems.map((p) => `  - ${p.message}\n    fix: ${p.fix}`).join("\n");
}
