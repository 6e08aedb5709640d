/** What the backup family keeps of Redis: an RDB streamed from a replica, restored into the current master. */
import type { BackupContribution, FamilyContext } from "../kit/family";
import { NET } from "../../core/networks";
import type { RedisSection } from "./settings";
import { redisMembers, REDIS_PASSWORD_SECRET, REDIS_PORT, REDIS_USERS } from "./specs";

export function redisBackup(ctx: FamilyContext<RedisSection>): BackupContribution[] {
  return [{
    source: "redis",
    component: "redis",
    contents: "every key of the data members (an RDB of a replica, `redis-cli --rdb`; the master never forks for it)",
    network: NET.backend,
    method: { kind: "redis-rdb", members: redisMembers(ctx).map((m) => `${m.name}:${REDIS_PORT}`), user: REDIS_USERS.admin, passwordSecret: REDIS_PASSWORD_SECRET },
    restoreNotes: "a temporary redis-server loads the RDB and copies every key into the current master (MIGRATE COPY REPLACE, TTLs kept); replicas follow by replication. Keys written after the snapshot and absent from it stay.",
  }];
}
