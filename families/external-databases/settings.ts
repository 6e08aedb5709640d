/** Settings of databases run outside this stack: only their connection strings are outputs of it. */
import type { ConfigProblem } from "../../stacks/errors";
import { list, str, type SettingDef } from "../../stacks/schema";
import type { FamilyArea } from "../kit/family";

const G = "External databases (connection strings only)";

/** host:port, where host is a DNS name or an IPv4 address. */
const hostPort = str({
  pattern: /^(?=.{1,253}:)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*:([1-9]\d{0,4})$/,
  expected: "host:port, e.g. db-1.internal:5432",
});

const dbName = str({ pattern: /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, expected: "a database name of letters, digits, _ or -" });

export interface ExternalDatabasesSection {
  readonly postgres: { readonly hosts: readonly string[]; readonly database: string };
  readonly mongo: { readonly hosts: readonly string[]; readonly database: string; readonly replicaSet: string };
}

export const EXTERNAL_DATABASES_SETTINGS: SettingDef[] = [
  {
    key: "externalPostgresHosts",
    group: G,
    type: "array",
    expected: "a list of host:port of the PostgreSQL (Patroni) members, or empty",
    description: "PostgreSQL cluster run outside this stack; the stack outputs multi-host libpq and JDBC URLs that always reach the primary.",
    parse: list(hostPort, { expected: "a list of host:port" }),
    default: [],
  },
  {
    key: "externalPostgresDatabase",
    group: G,
    type: "string",
    expected: "a database name",
    description: "Database name in the PostgreSQL connection strings.",
    parse: dbName,
    default: "app",
  },
  {
    key: "externalMongoHosts",
    group: G,
    type: "array",
    expected: "a list of host:port of the MongoDB replica set members, or empty",
    description: "MongoDB replica set run outside this stack; the stack outputs a multi-host replica-set URI.",
    parse: list(hostPort, { expected: "a list of host:port" }),
    default: [],
  },
  {
    key: "externalMongoDatabase",
    group: G,
    type: "string",
    expected: "a database name",
    description: "Database name in the MongoDB connection string.",
    parse: dbName,
    default: "app",
  },
  {
    key: "externalMongoReplicaSet",
    group: G,
    type: "string",
    expected: "a replica set name of letters, digits, _ or -",
    description: "Replica set name in the MongoDB connection string.",
    parse: str({ pattern: /^[A-Za-z0-9_-]{1,64}$/, expected: "a replica set name of letters, digits, _ or -" }),
    default: "rs0",
  },
];

export const externalDatabasesArea: FamilyArea<ExternalDatabasesSection> = {
  name: "external-databases",
  settings: EXTERNAL_DATABASES_SETTINGS,
  build(v) {
    const get = <T>(k: string): T => v.get(k) as T;
    return {
      postgres: { hosts: get("externalPostgresHosts"), database: get("externalPostgresDatabase") },
      mongo: { hosts: get("externalMongoHosts"), database: get("externalMongoDatabase"), replicaSet: get("externalMongoReplicaSet") },
    };
  },
  validate(section) {
    const problems: ConfigProblem[] = [];
    for (const [key, hosts] of [["externalPostgresHosts", section.postgres.hosts], ["externalMongoHosts", section.mongo.hosts]] as const) {
      const dup = hosts.find((h, i) => hosts.indexOf(h) !== i);
      if (dup) problems.push({ key, expected: "each member once", given: dup });
    }
    return problems;
  },
};
