import { createHash, createPrivateKey } from "node:crypto";
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

/**
 * A resource as the engine would register it: real URN (the mock monitor's URNs differ, see
 * `engineUrns`), parent and provider as URNs, inputs with secrets and unknowns marked, and the
 * options from the RegisterResourceRequest the SDK sent. Includes components, explicit providers,
 * the stack and the default providers the engine adds.
 */
export interface Registration {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly custom: boolean;
  /**
   * Custom resources: the mock's stand-in id, derived from the URN (the real one exists after
   * deploy). Inputs that hold another resource's id hold this value, which is how the change
   * impact finds them.
   */
  readonly id?: string;
  /** The parent's URN; top-level resources are children of the stack. */
  readonly parent?: string;
  /** The provider's URN (explicit or the engine's default provider); custom resources only. */
  readonly provider?: string;
  /** Secret values read "[secret]", values known only after deploy "(known after deploy)", resource references their URN. */
  readonly inputs: Record<string, unknown>;
  readonly options: {
    readonly protect: boolean;
    readonly ignoreChanges: readonly string[];
    readonly replaceOnChanges: readonly string[];
    readonly deleteBeforeReplace: boolean;
    /** Explicit `dependsOn` only (not the dependencies the engine infers from inputs). */
    readonly dependsOn: readonly string[];
    readonly additionalSecretOutputs: readonly string[];
  };
  /** Per input property, the resources its value came from (the engine's propertyDependencies). */
  readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
}

export interface ProgramRun {
  readonly config: StackConfig;
  /** Every registration in engine form, sorted by URN. */
  readonly registrations: readonly Registration[];
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

/** PKCS#8 DER header of a raw ed25519 private key (RFC 8410): the 32-byte seed follows it. */
const ED25519_PKCS8_HEADER = "302e020100300506032b657004220420";
/** Public on purpose: the key of offline plans and tests, never of a real server. */
const FIXED_SEED = "73776172 6d2d706c 6174666f 726d2d66 69787475 72652d6b 65792d30 30303031".replace(/ /g, "");

/** The same ed25519 deploy key on every run (PKCS#8 PEM), for plans that must compare byte for byte. */
export function fixedDeployKey(): string {
  const der = Buffer.from(ED25519_PKCS8_HEADER + FIXED_SEED, "hex");
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
}

/** The engine's root resource type; the engine leaves it out of its children's URNs. */
export const STACK_TYPE = "pulumi:pulumi:Stack";

/** A stable numeric id (Hetzner ids are integers) derived from the URN, so that every run prints the same. */
function numericId(urn: string): string {
  return String(100_000_000 + (parseInt(createHash("sha256").update(urn).digest("hex").slice(0, 8), 16) % 900_000_000));
}

/** The engine's name for a default provider: default_<major>_<minor>_<patch> of the requested version. */
export function defaultProviderName(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([^+]+))?(?:\+(.+))?$/.exec(version);
  if (!m) return "default";
  return ["default", m[1], m[2], m[3], ...(m[4] ? m[4].split(".") : []), ...(m[5] ? m[5].split(".") : [])].join("_");
}

interface RawRegistration {
  readonly mockUrn: string;
  readonly type: string;
  readonly name: string;
  readonly custom: boolean;
  readonly mockParent: string;
  readonly providerRef: string;
  readonly version: string;
  readonly object: unknown;
  readonly protect: boolean;
  readonly ignoreChanges: string[];
  readonly replaceOnChanges: string[];
  readonly deleteBeforeReplace: boolean;
  readonly additionalSecretOutputs: string[];
  readonly propertyDependencies: Record<string, string[]>;
}

/** The parts of the mock monitor this runtime reads (runtime/mocks.js MockMonitor). */
interface MockMonitorLike {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterRequest, callback: (err: unknown, resp: unknown) => void): Promise<void>;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProvider(): string;
  getVersion(): string;
  getObject(): { toJavaScript(): unknown } | undefined;
  getProtect(): boolean | undefined;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getDeletebeforereplace(): boolean;
  getAdditionalsecretoutputsList(): string[];
  getPropertydependenciesMap(): { forEach(f: (v: { getUrnsList(): string[] }, k: string) => void): void };
}

/**
 * Runs the real program in-process against Pulumi's mocks: no CLI, no plugins,
 * no cloud account. Every resource is recorded with its inputs and options.
 */
export async function runProgram(stack: string, rawConfig: Record<string, string>, opts: RunOptions = {}): Promise<ProgramRun> {
  // The SDK captures and formats a stack trace for every promise it wraps (runtime/debuggable.js,
  // read only by its leak report): a third of a 60-node plan's time. Without traces while the
  // program runs; PLAN_STACK_TRACES=1 keeps them for debugging a crash inside the program.
  const limit = Error.stackTraceLimit;
  if (process.env.PLAN_STACK_TRACES !== "1") Error.stackTraceLimit = 0;
  try {
    return await evaluateProgram(stack, rawConfig, opts);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

async function evaluateProgram(stack: string, rawConfig: Record<string, string>, opts: RunOptions): Promise<ProgramRun> {
  const records = new Map<string, { type: string; name: string; inputs: Record<string, unknown>; id: string }>();
  const raw = new Map<string, RawRegistration>();
  const engineUrn = new Map<string, string>();
  const explicitDeps = new Map<string, Promise<string[]>>();
  const secretInputs = new Map<string, Promise<Set<string>>>();
  let registering = "";
  const idByUrn = new Map<string, string>();
  const options = new Map<string, RecordedResource["options"]>();
  const urnOf = (r: pulumi.Resource): Promise<string> => new Promise((resolve) => r.urn.apply((u) => { resolve(u); return u; }));
  const nameFromUrn = (urn: string): string => urn.slice(urn.lastIndexOf("::") + 2);

  await pulumi.runtime.setMocks({
    newResource(args) {
      const id = args.type.startsWith("hcloud:") ? numericId(registering) : `${args.name}-id`;
      idByUrn.set(registering, id);
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
  const stackUrn = `urn:pulumi:${stack}::${PROJECT}::${STACK_TYPE}::${PROJECT}-${stack}`;
  // The mock monitor receives the RegisterResourceRequest the SDK would send the engine: read it
  // there, where every option is exactly what the engine would get (mocks pass only type, name,
  // inputs and provider on to newResource).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const monitor = (require("@pulumi/pulumi/runtime/settings") as { getMonitor(): MockMonitorLike }).getMonitor();
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const mockParent = req.getParent();
    const mockUrn = monitor.newUrn(mockParent, req.getType(), req.getName());
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v, k) => {
      if (v.getUrnsList().length > 0) propertyDependencies[k] = v.getUrnsList();
    });
    const parentUrn = mockParent ? engineUrn.get(mockParent) : undefined;
    engineUrn.set(mockUrn, engineUrnOf(stack, parentUrn, req.getType(), req.getName()));
    raw.set(mockUrn, {
      mockUrn,
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      mockParent,
      providerRef: req.getProvider(),
      version: req.getVersion(),
      object: req.getObject()?.toJavaScript() ?? {},
      protect: req.getProtect() ?? false,
      ignoreChanges: req.getIgnorechangesList(),
      replaceOnChanges: req.getReplaceonchangesList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      propertyDependencies,
    });
    // newResource runs synchronously inside the original call, before its first await.
    registering = engineUrn.get(mockUrn)!;
    return original(req, callback);
  };

  const config = loadStackConfig(stack, rawConfig);
  const pendingOpts: Promise<void>[] = [];
  const record: pulumi.ResourceTransformation = (args) => {
    const o = args.opts as pulumi.CustomResourceOptions;
    const deps = Array.isArray(o.dependsOn) ? o.dependsOn : o.dependsOn ? [o.dependsOn] : [];
    pendingOpts.push((async () => {
      const resolveDep = (d: pulumi.Input<pulumi.Resource>): Promise<pulumi.Resource> =>
        pulumi.Resource.isInstance(d) ? Promise.resolve(d) : new Promise((ok) => pulumi.output(d).apply((r) => { ok(r as pulumi.Resource); return r; }));
      const dependsOn = await Promise.all((deps as pulumi.Input<pulumi.Resource>[]).map(async (d) => nameFromUrn(await urnOf(await resolveDep(d)))));
      const self = await urnOf(args.resource);
      secretInputs.set(self, secretPaths(args.props));
      explicitDeps.set(self, Promise.all((deps as pulumi.Input<pulumi.Resource>[]).map(async (d) => urnOf(await resolveDep(d)))));
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
  const registrations = (await engineRegistrations(stack, stackUrn, raw, engineUrn, explicitDeps, secretInputs))
    .map((r) => (r.custom && idByUrn.has(r.urn) ? { ...r, id: idByUrn.get(r.urn) } : r));
  return {
    config,
    registrations,
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

/**
 * The URN the engine gives a resource: the parent's full qualified type chain joined by `$`,
 * without the root stack type (pulumi/pulumi v3.248.0 pkg/resource/deploy/deployment.go:716-725
 * generateURN; sdk/go/common/resource/urn/urn.go:80-93). The mock monitor instead prefixes only
 * the parent's last type and keeps the stack type (runtime/mocks.js:34-41).
 */
export function engineUrnOf(stack: string, parentUrn: string | undefined, type: string, name: string): string {
  const qualified = parentUrn ? parentUrn.split("::")[2] : "";
  const chain = qualified && qualified !== STACK_TYPE ? `${qualified}$${type}` : type;
  return `urn:pulumi:${stack}::${PROJECT}::${chain}::${name}`;
}

const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/**
 * Input paths (`a.b[0]`) that hold a secret Output. A secret whose value is unknown at plan time
 * reaches the mock monitor as a bare unknown (the mock monitor turns off `outputValues`, which
 * would carry the secret flag: runtime/mocks.js supportsFeature, runtime/rpc.js serializeProperty),
 * so the flag is read from the Outputs the program passed.
 */
async function secretPaths(props: unknown): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (v: unknown, path: string): Promise<void> => {
    if (pulumi.Output.isInstance(v)) {
      if (await pulumi.isSecret(v)) found.add(path);
      return;
    }
    if (Array.isArray(v)) await Promise.all(v.map((x, i) => walk(x, `${path}[${i}]`)));
    else if (v && typeof v === "object" && !pulumi.Resource.isInstance(v) && !(v instanceof Promise)) {
      await Promise.all(Object.entries(v).map(([k, x]) => walk(x, path ? `${path}.${k}` : k)));
    }
  };
  await walk(props, "");
  return found;
}

/** Inputs in plan form: secrets "[secret]", unknowns UNKNOWN, resource references their engine URN. */
function planInputs(value: unknown, urnOf: (mockUrn: string) => string, secrets: ReadonlySet<string>, path = ""): unknown {
  if (secrets.has(path) && path !== "") return "[secret]";
  if (value === UNKNOWN_VALUE) return UNKNOWN;
  if (Array.isArray(value)) return value.map((v, i) => planInputs(v, urnOf, secrets, `${path}[${i}]`));
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_SIG_VALUE) return "[secret]";
    if (o[SECRET_SIG] === RESOURCE_SIG) return urnOf(String(o.urn));
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, planInputs(o[k], urnOf, secrets, path ? `${path}.${k}` : k)]));
  }
  return value;
}

async function engineRegistrations(
  stack: string,
  stackUrn: string,
  raw: ReadonlyMap<string, RawRegistration>,
  engineUrn: ReadonlyMap<string, string>,
  explicitDeps: ReadonlyMap<string, Promise<string[]>>,
  secretInputs: ReadonlyMap<string, Promise<Set<string>>>,
): Promise<Registration[]> {
  const urnOf = (mockUrn: string): string => engineUrn.get(mockUrn) ?? mockUrn;
  const out: Registration[] = [];
  const defaults = new Map<string, Registration>();
  for (const r of raw.values()) {
    let provider: string | undefined;
    const isProvider = r.type.startsWith("pulumi:providers:");
    if (r.custom && !isProvider) {
      if (r.providerRef) {
        provider = urnOf(r.providerRef.slice(0, r.providerRef.lastIndexOf("::")));
      } else {
        // The engine registers a default provider per package and version (pkg/resource/deploy/default_providers.go:165).
        const pkg = r.type.split(":")[0];
        provider = `urn:pulumi:${stack}::${PROJECT}::pulumi:providers:${pkg}::${defaultProviderName(r.version)}`;
        if (!defaults.has(provider)) defaults.set(provider, bare(provider, `pulumi:providers:${pkg}`, defaultProviderName(r.version), stackUrn, r.version ? { version: r.version } : {}));
      }
    }
    out.push({
      urn: urnOf(r.mockUrn),
      type: r.type,
      name: r.name,
      custom: r.custom,
      parent: r.mockParent ? urnOf(r.mockParent) : stackUrn,
      ...(provider ? { provider } : {}),
      inputs: planInputs(r.object, urnOf, await (secretInputs.get(r.mockUrn) ?? Promise.resolve(new Set<string>()))) as Record<string, unknown>,
      options: {
        protect: r.protect,
        ignoreChanges: [...r.ignoreChanges],
        replaceOnChanges: [...r.replaceOnChanges],
        deleteBeforeReplace: r.deleteBeforeReplace,
        dependsOn: (await (explicitDeps.get(r.mockUrn) ?? Promise.resolve([]))).map(urnOf),
        additionalSecretOutputs: [...r.additionalSecretOutputs],
      },
      propertyDependencies: Object.fromEntries(Object.keys(r.propertyDependencies).sort().map((k) => [k, [...new Set(r.propertyDependencies[k].map(urnOf))].sort()])),
    });
  }
  out.push(bare(stackUrn, STACK_TYPE, stackUrn.slice(stackUrn.lastIndexOf("::") + 2), undefined, {}), ...defaults.values());
  return out.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
}

function bare(urn: string, type: string, name: string, parent: string | undefined, inputs: Record<string, unknown>): Registration {
  return {
    urn, type, name, custom: type !== STACK_TYPE, ...(parent ? { parent } : {}), inputs,
    options: { protect: false, ignoreChanges: [], replaceOnChanges: [], deleteBeforeReplace: false, dependsOn: [], additionalSecretOutputs: [] },
    propertyDependencies: {},
  };
}

/** Resolves outputs deeply: unknowns become UNKNOWN, secrets become SecretValue. */
export async function settle(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const o = value as pulumi.Output<unknown> & { isKnown: Promise<boolean>; promise(withUnknowns?: boolean): Promise<unknown> };
    const [known, secret] = await Promise.all([o.isKnown, pulumi.isSecret(o)]);
    // A secret stays a secret whether or not its value is known yet.
    if (secret) return new SecretValue(known ? await settle(await o.promise()) : UNKNOWN);
    if (!known) return UNKNOWN;
    return settle(await o.promise());
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
