/**
 * The platform of a stack as plain data: the shared networks, then one part per
 * family in registry order. Every family's builder runs once; a family that
 * aggregates (monitoring, backup) builds after the others and receives their parts,
 * the other aggregators' as built from the non-aggregating parts.
 */
import type { StackConfig } from "../stacks/config";
import type { Topology } from "../core/topology";
import { mergePlatform, type PlatformSpec } from "../core/model";
import { networkSpecs } from "../core/networks";
import type { Family, FamilyArea, FamilyContext, FamilyPart } from "../families/kit/family";
import { FAMILIES } from "./registry";

export interface Platform {
  /** Every Swarm object of the stack. */
  readonly spec: PlatformSpec;
  /** One part per family, in registry order. */
  readonly parts: readonly FamilyPart[];
}

/** What a family's builder (or a test of it) reads. */
export function familyContext<S>(config: StackConfig, topology: Topology, family: { readonly area: FamilyArea<S> }): FamilyContext<S> {
  return {
    config,
    topology,
    prefix: config.namePrefix,
    section: config.section(family.area),
    sectionOf: (area) => config.section(area),
  };
}

export function buildPlatform(config: StackConfig, topology: Topology, families: readonly Family[] = FAMILIES): Platform {
  const built = new Map<Family, FamilyPart>();
  for (const f of families.filter((x) => !x.aggregates)) built.set(f, f.build(familyContext(config, topology, f), []));
  const base = families.filter((f) => !f.aggregates).map((f) => built.get(f)!);
  const aggregators = families.filter((x) => x.aggregates);
  // Aggregators see each other as built from the others alone (monitoring scrapes the backup runner; backup keeps Grafana).
  const first = new Map(aggregators.map((f) => [f, f.build(familyContext(config, topology, f), base)]));
  for (const f of aggregators) built.set(f, f.build(familyContext(config, topology, f), [...base, ...aggregators.filter((a) => a !== f).map((a) => first.get(a)!)]));
  const parts = families.map((f) => built.get(f)!);
  return { spec: mergePlatform(networkSpecs(config), ...parts.map((p) => p.spec)), parts };
}
