/**
 * What a service family is to the platform: its settings area, and a builder that
 * turns its validated section into one part. The platform's registry lists the
 * families; the assembler, monitoring, the stack outputs, the failure analysis and
 * the end-to-end suite read the parts instead of naming families.
 */
import type { Area, CoreConfig, StackConfig } from "../../stacks/config";
import type { Topology } from "../../core/topology";
import type { PlatformSpec } from "../../core/model";
import type { ImageRecipe } from "./e2e-recipe";

/** What a family's settings validation is handed: it never builds the topology itself. */
export interface SettingsContext {
  readonly core: CoreConfig;
  readonly topology: Topology;
}

export type FamilyArea<S> = Area<string, S, SettingsContext>;

/** What a family's builder reads. */
export interface FamilyContext<S> {
  readonly config: StackConfig;
  readonly topology: Topology;
  /** Prefix of every Swarm object name (networks, volumes, configs, secrets): the namePrefix. */
  readonly prefix: string;
  /** This family's validated settings. */
  readonly section: S;
  /** Another family's section, typed by its area (e.g. etcd's for APISIX). */
  sectionOf<T>(area: FamilyArea<T>): T;
}

/** The parts of a context a client-facing function (members, endpoints) needs. */
export type SectionContext<S> = Pick<FamilyContext<S>, "topology" | "section">;

/** One Prometheus scrape job, and the files Prometheus needs for it (a CA chain). */
export interface ScrapeJob {
  readonly config: Readonly<Record<string, unknown>>;
  readonly secrets?: readonly { readonly key: string; readonly target: string }[];
}

export interface AlertRule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

/** A secret stack output, built from the values of the part's secrets (by key) once they exist. */
export interface SecretOutput {
  readonly from: readonly string[];
  build(values: readonly string[]): unknown;
}

export interface PartOutputs {
  /** Stack outputs known before deploy. */
  readonly plain: Readonly<Record<string, unknown>>;
  /** Stack outputs that carry a secret value: secret outputs of the stack. */
  readonly secret: Readonly<Record<string, SecretOutput>>;
}

export interface FamilyPart {
  readonly family: string;
  /** Networks, volumes, secrets, configs, services. */
  readonly spec: PlatformSpec;
  /** What monitoring scrapes of it. */
  readonly scrapeJobs: readonly ScrapeJob[];
  /** Its alert and recording rules. */
  readonly alertRules: readonly RuleGroup[];
  /**
   * Failure semantics of its stateful components (by service component): a component
   * whose members do not vote keeps serving while one survives. Absent: members vote.
   */
  readonly quorum?: Readonly<Record<string, { readonly voting: boolean }>>;
  readonly outputs?: PartOutputs;
  /** Loud plan warnings: settings acceptable in test and wrong in production. */
  readonly warnings?: readonly string[];
}

export interface Family<S = unknown> {
  readonly name: string;
  readonly area: FamilyArea<S>;
  /** Builds after every other family, which it receives (monitoring). */
  readonly aggregates?: boolean;
  /** Images the end-to-end suite builds from Debian packages for this family. */
  readonly e2eImages?: readonly ImageRecipe[];
  build(ctx: FamilyContext<S>, others: readonly FamilyPart[]): FamilyPart;
}

/** A part with empty contributions where the family has none. */
export function familyPart(family: string, spec: PlatformSpec, rest: Omit<Partial<FamilyPart>, "family" | "spec"> = {}): FamilyPart {
  return { family, spec, scrapeJobs: [], alertRules: [], ...rest };
}
