/**
 * The config machinery: raw settings (as `pulumi.runtime.allConfig()` gives them, or
 * a stack file read offline) parsed against the setting definitions, the core
 * settings turned into CoreConfig, and the types every settings area and the
 * validated StackConfig share. Which areas exist is not known here: the platform's
 * registry hands them in (platform/config.ts).
 */
import { ValueError, type ConfigProblem } from "./errors";
import { defaultFor, PROFILE_DEFAULT, PROFILES, type Profile, type SettingDef } from "./schema";
import { nodeName, type NodePool } from "./pools";

export const PROJECT = "swarm-platform";

/** Settings values after parsing, by key. */
export type Values = ReadonlyMap<string, unknown>;

export interface CoreConfig {
  readonly stack: string;
  readonly profile: Profile;
  readonly namePrefix: string;
  readonly nodePools: readonly NodePool[];
  readonly managersRunWorkloads: boolean;
  readonly serverImage: string;
  readonly network: { readonly zone: string; readonly cidr: string; readonly subnetCidr: string };
  readonly floatingIp: boolean;
  /** Resolved: never empty; the first holds the floating IP after deploy. */
  readonly edgeCandidates: readonly string[];
  readonly protect: boolean;
  /** The Storage Box share mounted at /mnt/storagebox, when configured. */
  readonly storageBox?: { readonly share: string; readonly user: string; readonly password: string };
  readonly ssh: {
    readonly privateKey: string;
    readonly additionalPublicKeys: readonly string[];
    readonly user: string;
    readonly port: number;
    readonly allowedCidrs: readonly string[];
  };
  readonly httpSourceCidrs: readonly string[];
  readonly docker: {
    readonly version: string;
    readonly logMaxSize: string;
    readonly logMaxFile: number;
    readonly imagePruneSchedule: string;
    readonly swarmAddrPool: string;
    readonly overlayEncrypted: boolean;
    readonly overlayMtu: number;
    readonly endpointMode: "vip" | "dnsrr";
  };
}

/**
 * A settings area (one service family) adds its own settings and a typed section of
 * StackConfig. `build` turns parsed values into the section; `validate` checks rules
 * that span settings. Both get a context (the core config and, from the platform, the
 * node topology), so an area never builds what it needs itself.
 */
export interface Area<Name extends string, Section, Context = CoreConfig> {
  readonly name: Name;
  readonly settings: readonly SettingDef[];
  build(values: Values, context: Context): Section;
  validate?(section: Section, context: Context): ConfigProblem[];
}

/** The validated, typed, frozen configuration of one stack. */
export interface StackConfig extends CoreConfig {
  /** Validated values of the secret settings by key: the one place the renderers read a secret setting from. */
  readonly secretSettings: Readonly<Record<string, string>>;
  /** Things that work today but need attention (a server type Hetzner has announced to retire). */
  readonly configWarnings: readonly string[];
  /** The section of one area (a service family's settings), typed by its area. */
  section<S>(area: Area<string, S, never>): S;
}

/** Settings that were replaced: a stack file that still sets one gets the migration in its error. */
export const REPLACED_SETTINGS: Readonly<Record<string, string>> = {
  edgeNode:
    "replaced by edgeCandidates, a list of node names (e.g. swarm-platform:edgeCandidates: [prod-app-01, prod-app-02]); " +
    "move the node into edgeCandidates and remove edgeNode (pulumi config rm edgeNode)",
};

export interface LoadOptions {
  /** Config namespace (project name). */
  readonly namespace?: string;
  /**
   * Keys (with namespace) the Pulumi CLI holds encrypted. When given, a secret setting with a
   * non-empty value outside this list is refused: it was written in plain text.
   */
  readonly secretKeys?: readonly string[];
  /** The day to plan for (YYYY-MM-DD), for the Hetzner server types that can be ordered then. Default: today. */
  readonly date?: string;
}

export interface ParsedSettings {
  readonly namespace: string;
  /** Absent when the profile itself is bad (then nothing else is parsed). */
  readonly profile?: Profile;
  readonly values: Values;
  /** Every per-key problem, in settings order. */
  readonly problems: readonly ConfigProblem[];
  /** Settings whose value is missing or did not parse (their value is absent from `values`). */
  readonly failed: ReadonlySet<string>;
}

/** The exact command that stores a secret setting encrypted. */
export function secretSetCommand(key: string): string {
  const from = /PrivateKey$/.test(key) ? "< <key file>" : /Certificate$/.test(key) ? "< chain.pem" : /TlsKey$/.test(key) ? "< key.pem" : "<value>";
  return `pulumi config set --secret ${key} ${from}`;
}

/** A value that stands for "not set": the profile's default applies (see PROFILE_DEFAULT). */
function unset(value: unknown): boolean {
  return value === undefined || value === PROFILE_DEFAULT;
}

/**
 * Parses raw config against every setting definition. Keys may carry the namespace
 * prefix (`swarm-platform:sshPort`) or not. Never throws for a bad value: every problem
 * is returned, so a caller can add the cross-setting ones and report them in one pass.
 */
export function parseSettings(stack: string, raw: Readonly<Record<string, unknown>>, settings: readonly SettingDef[], opts: LoadOptions = {}): ParsedSettings {
  const ns = opts.namespace ?? PROJECT;
  const problems: ConfigProblem[] = [];
  const failed = new Set<string>();
  const own = new Map<string, unknown>();
  for (const [fullKey, value] of Object.entries(raw)) {
    const colon = fullKey.indexOf(":");
    if (colon < 0) own.set(fullKey, value);
    else if (fullKey.slice(0, colon) === ns) own.set(fullKey.slice(colon + 1), value);
  }

  const known = new Map(settings.map((s) => [s.key, s]));
  for (const key of own.keys()) {
    const replacement = REPLACED_SETTINGS[key];
    if (replacement && !known.has(key)) {
      problems.push({ key, expected: `no longer a setting: ${replacement}`, given: own.get(key) });
    } else if (!known.has(key)) {
      problems.push({ key, expected: `a known setting (see docs/settings.md), not an unknown key`, given: own.get(key) });
    }
  }

  // The CLI accepts a plain hcloud:token in a stack file (a foreign key has no type to check): the program does not.
  const token = raw["hcloud:token"];
  if (opts.secretKeys && typeof token === "string" && token !== "" && !opts.secretKeys.includes("hcloud:token")) {
    problems.push({ key: "hcloud:token", expected: `an encrypted value, not plain text in the stack file (remove it there and run: ${secretSetCommand("hcloud:token")}, or export HCLOUD_TOKEN)`, given: "[secret]" });
  }

  // Pulumi.yaml declares profile with the default "" (the CLI would call it missing otherwise): "" means the stack name.
  const givenProfile = own.get("profile");
  const stackProfile = (PROFILES as readonly string[]).includes(stack) ? stack : undefined;
  const rawProfile = unset(givenProfile) || givenProfile === "" ? stackProfile : givenProfile;
  let profile: Profile | undefined;
  if ((PROFILES as readonly string[]).includes(rawProfile as string)) profile = rawProfile as Profile;
  else problems.push({ key: "profile", expected: `one of "test", "prod" (required when the stack is not named test or prod)`, given: rawProfile });

  const values = new Map<string, unknown>();
  if (profile) {
    values.set("profile", profile);
    for (const def of settings) {
      if (def.key === "profile") continue;
      const given = own.get(def.key);
      // A default is already in parsed form (a NodePool[], a number); only given values are parsed.
      const fallback = unset(given) ? defaultFor(def, profile) : undefined;
      if (unset(given) && fallback !== undefined) {
        values.set(def.key, fallback);
        continue;
      }
      const value = given;
      if (value === undefined || value === PROFILE_DEFAULT) {
        failed.add(def.key);
        problems.push({ key: def.key, expected: `${def.expected} (required${def.secret ? `; set it with: ${secretSetCommand(def.key)}` : ""})`, given: undefined });
        continue;
      }
      if (def.secret && opts.secretKeys && !unset(given) && given !== "" && !opts.secretKeys.includes(`${ns}:${def.key}`)) {
        failed.add(def.key);
        problems.push({ key: def.key, expected: `an encrypted value, not plain text in the stack file (remove it there and run: ${secretSetCommand(def.key)})`, given: "[secret]" });
        continue;
      }
      try {
        values.set(def.key, def.parse(value));
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
        failed.add(def.key);
        problems.push({ key: def.key + (e.subKey ?? ""), expected: e.expected, given: def.secret ? "[secret]" : e.given });
      }
    }
  }
  return { namespace: ns, profile, values, problems, failed };
}

export function buildCore(stack: string, profile: Profile, v: Values): CoreConfig {
  const get = <T>(key: string): T => v.get(key) as T;
  const nodePools = get<NodePool[]>("nodePools");
  const namePrefix = get<string>("namePrefix");
  const firstWorkerPool = nodePools.find((p) => p.role === "worker") ?? nodePools[0];
  const given = get<string[]>("edgeCandidates");
  const edgeCandidates = given.length > 0 ? given : defaultEdgeCandidates(namePrefix, profile, nodePools, firstWorkerPool);
  return {
    stack,
    profile,
    namePrefix,
    nodePools,
    managersRunWorkloads: get("managersRunWorkloads"),
    serverImage: get("serverImage"),
    network: { zone: get("networkZone"), cidr: get("networkCidr"), subnetCidr: get("subnetCidr") },
    floatingIp: get("floatingIp"),
    edgeCandidates,
    protect: get("protect"),
    ...(get<string>("storageBoxShare") !== ""
      ? { storageBox: { share: get<string>("storageBoxShare"), user: get<string>("storageBoxUser"), password: get<string>("storageBoxPassword") } }
      : {}),
    ssh: {
      privateKey: get("sshPrivateKey"),
      additionalPublicKeys: get("sshAdditionalPublicKeys"),
      user: get("sshUser"),
      port: get("sshPort"),
      allowedCidrs: get("sshAllowedCidrs"),
    },
    httpSourceCidrs: get("httpSourceCidrs"),
    docker: {
      version: get("dockerVersion"),
      logMaxSize: get("dockerLogMaxSize"),
      logMaxFile: get("dockerLogMaxFile"),
      imagePruneSchedule: get("imagePruneSchedule"),
      swarmAddrPool: get("swarmAddrPool"),
      overlayEncrypted: get("overlayEncrypted"),
      overlayMtu: get("overlayMtu"),
      endpointMode: get("endpointMode"),
    },
  };
}

/**
 * Edge candidates when the stack names none: in prod two nodes labelled type=service in different
 * locations (one location's outage leaves the other), in test the first node of the first worker pool.
 */
export function defaultEdgeCandidates(namePrefix: string, profile: Profile, pools: readonly NodePool[], firstWorkerPool: NodePool): string[] {
  const first = nodeName(namePrefix, firstWorkerPool, 1);
  if (profile !== "prod") return [first];
  const service = pools
    .filter((p) => p.labels.type === "service")
    .flatMap((p) => Array.from({ length: p.count }, (_, i) => ({ name: nodeName(namePrefix, p, i + 1), location: p.locations[i % p.locations.length] })));
  const a = service[0];
  if (!a) return [first];
  const b = service.find((n) => n.location !== a.location);
  return b ? [a.name, b.name] : [a.name];
}

/** The frozen StackConfig: the core fields, the secret settings and a typed lookup of the sections. */
export function stackConfig(
  core: CoreConfig, sections: Readonly<Record<string, unknown>>, secretSettings: Readonly<Record<string, string>>, configWarnings: readonly string[] = [],
): StackConfig {
  const frozen = deepFreeze({ ...sections });
  return deepFreeze({
    ...core,
    secretSettings,
    configWarnings: [...configWarnings],
    section<S>(area: Area<string, S, never>): S {
      if (!(area.name in frozen)) throw new Error(`the stack has no settings section ${area.name}`);
      return frozen[area.name] as S;
    },
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
