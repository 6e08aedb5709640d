import { ConfigError, ValueError, type ConfigProblem } from "./errors";
import { defaultFor, PROFILES, type Profile, type SettingDef } from "./schema";
import type { NodePool } from "./pools";
import { CORE_SETTINGS } from "./settings/core";
import { validateCore } from "./validate";
import { AREAS, type AreaSections } from "./settings";

export const PROJECT = "swarm-platform";

/** Every setting of the project, in documentation order. */
export const ALL_SETTINGS: readonly SettingDef[] = [...CORE_SETTINGS, ...AREAS.flatMap((a) => a.settings)];

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
  /** Resolved: never empty. */
  readonly edgeNode: string;
  readonly protect: boolean;
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

/** The validated, typed, frozen configuration of one stack. */
export type StackConfig = CoreConfig & AreaSections & {
  /** Validated values of the secret settings by key: the one place the renderers read a secret setting from. */
  readonly secretSettings: Readonly<Record<string, string>>;
};

export interface LoadOptions {
  /** Config namespace (project name). */
  readonly namespace?: string;
}

/**
 * Turns raw config (as `pulumi.runtime.allConfig()` gives it, or a stack file read
 * offline) into a StackConfig. Throws ConfigError listing every problem.
 * Keys may carry the namespace prefix (`swarm-platform:sshPort`) or not.
 */
export function loadStackConfig(stack: string, raw: Readonly<Record<string, unknown>>, opts: LoadOptions = {}): StackConfig {
  const ns = opts.namespace ?? PROJECT;
  const problems: ConfigProblem[] = [];
  const own = new Map<string, unknown>();
  for (const [fullKey, value] of Object.entries(raw)) {
    const colon = fullKey.indexOf(":");
    if (colon < 0) own.set(fullKey, value);
    else if (fullKey.slice(0, colon) === ns) own.set(fullKey.slice(colon + 1), value);
  }

  const known = new Map(ALL_SETTINGS.map((s) => [s.key, s]));
  for (const key of own.keys()) {
    if (!known.has(key)) {
      problems.push({ key, expected: `a known setting (see the settings table in README.md), not an unknown key`, given: own.get(key) });
    }
  }

  let profile: Profile | undefined;
  const rawProfile = own.get("profile") ?? ((PROFILES as readonly string[]).includes(stack) ? stack : undefined);
  if ((PROFILES as readonly string[]).includes(rawProfile as string)) profile = rawProfile as Profile;
  else problems.push({ key: "profile", expected: `one of "test", "prod" (required when the stack is not named test or prod)`, given: rawProfile });

  const values = new Map<string, unknown>();
  if (profile) {
    for (const def of ALL_SETTINGS) {
      const given = own.get(def.key);
      const value = given !== undefined ? given : defaultFor(def, profile);
      if (value === undefined) {
        problems.push({ key: def.key, expected: `${def.expected} (required${def.secret ? `; set it with: pulumi config set --secret ${def.key}` : ""})`, given: undefined });
        continue;
      }
      try {
        values.set(def.key, def.parse(value));
      } catch (e) {
        if (!(e instanceof ValueError)) throw e;
        problems.push({ key: def.key + (e.subKey ?? ""), expected: e.expected, given: def.secret ? "[secret]" : e.given });
      }
    }
  }
  if (problems.length > 0 || !profile) throw new ConfigError(ns, problems);

  const core = buildCore(stack, profile, values);
  problems.push(...validateCore(core));
  if (problems.length > 0) throw new ConfigError(ns, problems);

  const sections = {} as Record<string, unknown>;
  for (const area of AREAS) {
    const section = area.build(values, core);
    problems.push(...(area.validate?.(section as never, core) ?? []));
    sections[area.name] = section;
  }
  if (problems.length > 0) throw new ConfigError(ns, problems);
  const secretSettings = Object.fromEntries(ALL_SETTINGS.filter((d) => d.secret).map((d) => [d.key, values.get(d.key) as string]));
  return deepFreeze({ ...core, ...sections, secretSettings } as StackConfig);
}

function buildCore(stack: string, profile: Profile, v: Values): CoreConfig {
  const get = <T>(key: string): T => v.get(key) as T;
  const nodePools = get<NodePool[]>("nodePools");
  const namePrefix = get<string>("namePrefix");
  const firstWorkerPool = nodePools.find((p) => p.role === "worker") ?? nodePools[0];
  const edgeNode = get<string>("edgeNode") || `${namePrefix}-${firstWorkerPool.name}-01`;
  return {
    stack,
    profile,
    namePrefix,
    nodePools,
    managersRunWorkloads: get("managersRunWorkloads"),
    serverImage: get("serverImage"),
    network: { zone: get("networkZone"), cidr: get("networkCidr"), subnetCidr: get("subnetCidr") },
    floatingIp: get("floatingIp"),
    edgeNode,
    protect: get("protect"),
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

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
