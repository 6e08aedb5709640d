/**
 * Databases run outside this stack (PostgreSQL with Patroni, a MongoDB replica set):
 * the platform runs nothing for them, it hands applications their connection strings.
 */
import { EMPTY_PLATFORM } from "../../core/model";
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { externalDatabasesArea, type ExternalDatabasesSection } from "./settings";

export { externalDatabasesArea, type ExternalDatabasesSection } from "./settings";

/** libpq and JDBC multi-host URLs that connect to whichever member is the writable primary. */
export function postgresUrls(hosts: readonly string[], database: string): { libpq: string; jdbc: string } | undefined {
  if (hosts.length === 0) return undefined;
  return {
    libpq: `postgresql://${hosts.join(",")}/${database}?target_session_attrs=read-write`,
    jdbc: `jdbc:postgresql://${hosts.join(",")}/${database}?targetServerType=primary`,
  };
}

/** A replica-set URI: drivers discover the primary and follow elections. */
export function mongoUri(hosts: readonly string[], database: string, replicaSet: string): string | undefined {
  if (hosts.length === 0) return undefined;
  return `mongodb://${hosts.join(",")}/${database}?replicaSet=${replicaSet}`;
}

function build(ctx: FamilyContext<ExternalDatabasesSection>) {
  const { postgres, mongo } = ctx.section;
  const pg = postgresUrls(postgres.hosts, postgres.database);
  const mongoUrl = mongoUri(mongo.hosts, mongo.database, mongo.replicaSet);
  return familyPart("external-databases", EMPTY_PLATFORM, {
    outputs: { plain: { externalDatabases: { ...(pg ? { postgres: pg } : {}), ...(mongoUrl ? { mongo: mongoUrl } : {}) } }, secret: {} },
  });
}

export const externalDatabasesFamily: Family<ExternalDatabasesSection> = {
  name: "external-databases",
  area: externalDatabasesArea,
  build,
};
