import * as pulumi from "@pulumi/pulumi";
import { PROJECT, type StackConfig } from "../stacks/config";
import { loadStackConfig } from "../platform/config";
import type { Platform } from "../platform/assemble";
import { declareStack } from "../components/stack";
import { catalogueServerTypes } from "../components/server-types";

// Internal to @pulumi/pulumi, stable for years: resolves once every pending registration is done.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

/** A resource the program declared, as the engine would have received it. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly id: string;
  readonly options: {
    readonly protect?: boolean;
    readonly ignoreChanges?: readonly string[];
    readonly dependsOn: readonly string[];
    readonly parent?: string;
    readonly provider?: string;
    readonly deleteBeforeReplace?: boolean;
    readonly replaceOnChanges?: readonly string[];
    readonly additionalSecretOutputs?: readonly string[];
  };
}

export interface ProgramRun {
  readonly config: StackConfig;
  /** The platform the program declared. */
  readonly platform: Platform;
  readonly resources: readonly RecordedResource[];
  /** Outputs with unknown values as UNKNOWN and secrets kept as SecretValue. */
  readonly outputs: Record<string, unknown>;
  byType(type: string): RecordedResource[];
  one(type: string, name: string): RecordedResource;
}

export const UNKNOWN = "(known after deploy)";

/** A secret output value, kept distinguishable from plain values. */
export class SecretValue {
  constructor(readonly value: unknown) {}
  toJSON(): string {
    return "[secret]";
  }
}

export interface RunOptions {
  /** Preview (unknown computed values, like `pulumi preview`) or update (mock values for computed outputs). */
  readonly preview?: boolean;
  /** Extra state the mock returns for a resource (computed outputs such as addresses). */
  readonly state?: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> | undefined;
  /** Answers for provider functions the program calls. */
  readonly call?: (args: pulumi.runtime.MockCallArgs) => Record<string, unknown>;
  /** Keys (with namespace) to mark as secret config. */
  readonly secretKeys?: readonly string[];
}

let numericIds = 1000;

/**
 * Runs the real program in-process against Pulumi's mocks: no CLI, no plugins,
 * no cloud account. Every resource is recorded with its inputs and options.
 */
export async function runProgram(stack: string, rawConfig: Record<string, string>, opts: RunOptions = {}): Promise<ProgramRun> {
  const records = new Map<string, { type: string; name: string; inputs: Record<string, unknown>; id: string }>();
  const options = new Map<string, RecordedResource["options"]>();
  const urnOf = (r: pulumi.Resource): Promise<string> => new Promise((resolve) => r.urn.apply((u) => { resolve(u); return u; }));
  const nameFromUrn = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

  await pulumi.runtime.setMocks({
    newResource(args) {
      const id = args.type.startsWith("hcloud:") ? String(numericIds++) : `${args.name}-id`;
      // After an update a random password has a value; a preview does not know it yet.
      const generated = args.type === "random:index/randomPassword:RandomPassword" && !opts.preview ? { result: `mock-password-${args.name}` } : {};
      const state = { ...args.inputs, ...generated, ...(opts.state?.(args) ?? {}) };
      records.set(`${args.type}::${args.name}`, { type: args.type, name: args.name, inputs: args.inputs, id });
      return { id, state };
    },
    call(args) {
      const answer = opts.call ? opts.call(args) : {};
      // The live server-type check (components/server-types.ts) is answered from the dated catalogue.
      if (args.token === "hcloud:index/getServerTypes:getServerTypes" && Object.keys(answer).length === 0) {
        return catalogueServerTypes(new Date().toISOString());
      }
      return answer;
    },
  }, PROJECT, stack, opts.preview ?? false);
  pulumi.runtime.setAllConfig(rawConfig, [...(opts.secretKeys ?? [])]);

  const config = loadStackConfig(stack, rawConfig);
  const pendingOpts: Promise<void>[] = [];
  const record: pulumi.ResourceTransformation = (args) => {
    const o = args.opts as pulumi.CustomResourceOptions;
    const deps = Array.isArray(o.dependsOn) ? o.dependsOn : o.dependsOn ? [o.dependsOn] : [];
    pendingOpts.push((async () => {
      const resolveDep = (d: pulumi.Input<pulumi.Resource>): Promise<pulumi.Resource> =>
        pulumi.Resource.isInstance(d) ? Promise.resolve(d) : new Promise((ok) => pulumi.output(d).apply((r) => { ok(r as pulumi.Resource); return r; }));
      const dependsOn = await Promise.all((deps as pulumi.Input<pulumi.Resource>[]).map(async (d) => nameFromUrn(await urnOf(await resolveDep(d)))));
      const parent = o.parent ? nameFromUrn(await urnOf(o.parent)) : undefined;
      const provider = o.provider ? nameFromUrn(await urnOf(o.provider)) : undefined;
      options.set(`${args.type}::${args.name}`, {
        protect: o.protect,
        ignoreChanges: o.ignoreChanges,
        dependsOn,
        parent,
        provider,
        deleteBeforeReplace: o.deleteBeforeReplace,
        replaceOnChanges: o.replaceOnChanges,
        additionalSecretOutputs: o.additionalSecretOutputs,
      });
    })());
    return undefined;
  };
  const { outputs, platform } = declareStack(config, { resourceOptions: { transformations: [record] }, liveServerTypeCheck: true });
  const settled = await settle(outputs);
  await waitForRPCs();
  await Promise.all(pendingOpts);

  const resources: RecordedResource[] = [...records.values()].map((r) => ({ ...r, options: options.get(`${r.type}::${r.name}`) ?? { dependsOn: [] } }));
  return {
    config,
    platform,
    resources,
    outputs: settled as Record<string, unknown>,
    byType: (type) => resources.filter((r) => r.type === type),
    one(type, name) {
      const found = resources.find((r) => r.type === type && r.name === name);
      if (!found) throw new Error(`no ${type} named ${name}; have: ${resources.filter((r) => r.type === type).map((r) => r.name).join(", ")}`);
      return found;
    },
  };
}

/** Resolves outputs deeply: unknowns become UNKNOWN, secrets become SecretValue. */
export async function settle(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const o = value as pulumi.Output<unknown> & { isKnown: Promise<boolean>; promise(withUnknowns?: boolean): Promise<unknown> };
    const [known, secret] = await Promise.all([o.isKnown, pulumi.isSecret(o)]);
    if (!known) return UNKNOWN;
    const inner = await settle(await o.promise());
    return secret ? new SecretValue(inner) : inner;
  }
  if (value instanceof Promise) return settle(await value);
  if (Array.isArray(value)) return Promise.all(value.map(settle));
  if (value && typeof value === "object" && !(value instanceof SecretValue) && !pulumi.Resource.isInstance(value)) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await settle(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/** How the engine marks a secret input value in a mock's view of the inputs. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** True when a recorded input value was a Pulumi secret. */
export function isSecretInput(value: unknown): boolean {
  return !!value && typeof value === "object" && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_SIG_VALUE;
}

/** The plain value behind secret markers, deeply. */
export function reveal(value: unknown): unknown {
  if (isSecretInput(value)) return reveal((value as { value: unknown }).value);
  if (Array.isArray(value)) return value.map(reveal);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
  return value;
}
