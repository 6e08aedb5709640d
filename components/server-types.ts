/**
 * The live check of the node pools' server types: one `hcloud.getServerTypesOutput()` call at
 * preview and up, so a type Hetzner stopped selling in a pool's location fails `pulumi preview`
 * with the pool's key instead of failing `pulumi up` at server creation. The offline plan's mocks
 * answer the call from the dated catalogue (catalogueServerTypes).
 *
 * The per-location fields are the ones to read: the top-level `isDeprecated`/`unavailableAfter`
 * are deprecated by the provider since 2025-09-24 (docs/provider-facts.md, "Live server types").
 */
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";
import type { NodePool } from "../stacks/pools";
import { findLocation, orderability, SERVER_TYPES } from "../stacks/hetzner-catalogue";

type LiveType = Pick<hcloud.GetServerTypesResult["serverTypes"][number], "name" | "cores" | "memory" | "locations">;

export interface LiveCheck {
  /** Problems that must stop the deployment, each naming `nodePools[i].type`. */
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

/** The pools' types against Hetzner's live list (pure: the call's result in, messages out). */
export function liveServerTypeProblems(pools: readonly NodePool[], live: readonly LiveType[], now: Date): LiveCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  const byName = new Map(live.map((t) => [t.name, t]));
  const sameSize = (t: LiveType, location: string): string => {
    const names = live
      .filter((o) => o.cores === t.cores && o.memory === t.memory && o.name !== t.name)
      .filter((o) => o.locations.some((l) => l.name === location && !l.isDeprecated && l.available))
      .map((o) => o.name).sort();
    return names.length > 0 ? `; the API offers the same size (${t.cores} vCPU, ${t.memory} GB) there as ${names.join(", ")}` : "";
  };
  for (const [i, pool] of pools.entries()) {
    const key = `nodePools[${i}].type`;
    const type = byName.get(pool.serverType);
    if (!type) {
      problems.push(`${key} (pool ${pool.name}): Hetzner's API does not list server type ${pool.serverType} any more; pick a current type (hcloud server-type list, or stacks/hetzner-catalogue.ts)`);
      continue;
    }
    for (const location of pool.locations) {
      const offer = type.locations.find((l) => l.name === location);
      if (!offer) {
        problems.push(`${key} (pool ${pool.name}): Hetzner's API does not offer ${type.name} in ${location}${sameSize(type, location)}`);
      } else if (offer.isDeprecated) {
        const gone = offer.unavailableAfter !== "" && Date.parse(offer.unavailableAfter) < now.getTime();
        problems.push(`${key} (pool ${pool.name}): Hetzner's API marks ${type.name} deprecated in ${location} since ${offer.deprecationAnnounced}; ` +
          `${gone ? "it can no longer be ordered" : "it cannot be ordered"} after ${offer.unavailableAfter}${sameSize(type, location)}`);
      } else if (!offer.available) {
        warnings.push(`${key} (pool ${pool.name}): Hetzner's API reports ${type.name} temporarily unavailable in ${location}: creating a server there fails until it is back`);
      }
    }
  }
  return { problems, warnings };
}

/** A token the hcloud provider will use (TF `hcloud/provider.go:37-41`: the `token` setting, else HCLOUD_TOKEN). */
export function hasHetznerToken(): boolean {
  return !!pulumi.runtime.allConfig()["hcloud:token"] || !!process.env.HCLOUD_TOKEN;
}

/**
 * Calls the API once and fails the program (preview included) when a pool's type cannot be
 * ordered where the pool puts it. Resolves to the checked `pool: type@location` entries.
 */
export function checkServerTypes(pools: readonly NodePool[], opts?: pulumi.InvokeOutputOptions): pulumi.Output<string[]> {
  return hcloud.getServerTypesOutput(opts).apply((result) => {
    const { problems, warnings } = liveServerTypeProblems(pools, result.serverTypes, new Date());
    for (const w of warnings) void pulumi.log.warn(w);
    if (problems.length > 0) {
      throw new pulumi.RunError(`server types Hetzner does not sell where the pools put them (live API, hcloud getServerTypes):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
    return pools.flatMap((p) => p.locations.map((l) => `${p.name}: ${p.serverType}@${l}`));
  });
}

/**
 * The answer of `hcloud:index/getServerTypes:getServerTypes` built from the dated catalogue, as
 * the API would give it on that day: types that can no longer be ordered anywhere are gone from
 * the list (as Hetzner removed cx22-cx52), deprecated offers carry their dates.
 */
export function catalogueServerTypes(date: string): hcloud.GetServerTypesResult {
  const day = Date.parse(date);
  const listed = SERVER_TYPES.filter((t) => t.offers.some((o) => orderability(t.name, o.location, date).status !== "unavailable"));
  const serverTypes = listed.map((t, i) => ({
    id: t.apiId ?? 1000 + i,
    name: t.name,
    description: t.name.toUpperCase(),
    category: t.line,
    cores: t.vcpus,
    memory: t.memoryGb,
    disk: t.diskGb,
    architecture: t.architecture,
    cpuType: t.cpuType,
    storageType: "local",
    includedTraffic: 0,
    isDeprecated: false,
    deprecationAnnounced: "",
    unavailableAfter: "",
    locations: t.offers
      .filter((o) => o.deprecation !== "unknown")
      .map((o) => {
        const d = o.deprecation === undefined || o.deprecation === "unknown" || Date.parse(o.deprecation.announced) > day ? undefined : o.deprecation;
        return {
          id: findLocation(o.location)?.id ?? 0,
          name: o.location,
          available: true,
          recommended: false,
          isDeprecated: d !== undefined,
          deprecationAnnounced: d?.announced ?? "",
          unavailableAfter: d?.unavailableAfter ?? "",
        };
      }),
  }));
  return { id: "server-types", names: serverTypes.map((t) => t.name), descriptions: serverTypes.map((t) => t.description), serverTypeIds: serverTypes.map((t) => String(t.id)), serverTypes };
}
