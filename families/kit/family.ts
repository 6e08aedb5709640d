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

/**
 * How a backup reaches one source. Kinds are named by the tool, never by a family: the
 * backup family implements each kind once (families/backup/files/backup.sh).
 */
export type BackupMethod =
  /** An RDB streamed from a replica (`redis-cli --rdb`): the master never forks for it. */
  | { readonly kind: "redis-rdb"; readonly members: readonly string[]; readonly user: string; readonly passwordSecret: string }
  /** An HTTP GET whose body is the dump; restore POSTs it back to `restorePath`. */
  | {
    readonly kind: "http";
    readonly baseUrl: string;
    readonly dumpPath: string;
    readonly restorePath: string;
    /** Content-Type of the restore POST. */
    readonly contentType: string;
    readonly auth: { readonly basicUser: string; readonly passwordSecret: string } | { readonly tokenSetting: string };
    /** A CA chain secret to verify the server with (Vault's listener). */
    readonly caSecret?: string;
  }
  /** `etcdctl snapshot save` from one member; restore replays the keys into the running cluster. */
  | { readonly kind: "etcd-snapshot"; readonly endpoints: readonly string[]; readonly user: string; readonly passwordSecret: string }
  /** SQLite's online backup of a database file on a volume (or host path) of one node. */
  | { readonly kind: "sqlite"; readonly source: BackupFiles; readonly file: string; readonly service: string }
  /** A folder copied as it is (crash-consistent); restore writes it back while the service is scaled to 0. */
  | { readonly kind: "files"; readonly source: BackupFiles; readonly service: string };

/** Where a file-level source lives: a volume (of the node in `BackupContribution.node`) or a host path on every service node. */
export type BackupFiles = { readonly volume: string } | { readonly hostPath: string };

/** What a family asks the backup family to keep: one entry per thing to dump. */
export interface BackupContribution {
  /** Source name: the snapshot tag and the restore command's argument, e.g. "redis". */
  readonly source: string;
  /** The service component whose data the source holds (the failure analysis reads it). */
  readonly component: string;
  /** What the dump holds, for the plan and the runbook. */
  readonly contents: string;
  /** What the dump does not hold, and why, when that matters to a restore. */
  readonly excludes?: string;
  /** Shared network (NET key) the backup runner reaches the source on. */
  readonly network: string;
  /** Node the runner must run on (a source read from a node-local volume). */
  readonly node?: string;
  readonly method: BackupMethod;
  /** Kept only when a setting turns it on (Prometheus): the setting's key. */
  readonly optIn?: string;
  /** What a restore does to the running platform and what must hold first. */
  readonly restoreNotes: string;
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
  /** What of its state the backup family dumps, and how it is restored. */
  readonly backup?: readonly BackupContribution[];
}

export interface Family<S = unknown> {
  readonly name: string;
  readonly area: FamilyArea<S>;
  /**
   * Builds after every other family, which it receives (monitoring, backup). Aggregating
   * families receive each other's parts as built from the non-aggregating ones: what one
   * reads of another (rules, scrape jobs, backup contributions) must not depend on that.
   */
  readonly aggregates?: boolean;
  /** Images the end-to-end suite builds from Debian packages for this family. */
  readonly e2eImages?: readonly ImageRecipe[];
  build(ctx: FamilyContext<S>, others: readonly FamilyPart[]): FamilyPart;
}

/** A part with empty contributions where the family has none. */
export function familyPart(family: string, spec: PlatformSpec, rest: Omit<Partial<FamilyPart>, "family" | "spec"> = {}): FamilyPart {
  return { family, spec, scrapeJobs: [], alertRules: [], ...rest };
}
