/** What the backup family keeps of the etcd members the platform runs: a snapshot. */
import type { BackupContribution, FamilyContext } from "../kit/family";
import { NET } from "../../core/networks";
import type { EtcdSection } from "./settings";
import { etcdMembers, ETCD_CLIENT_PORT, ETCD_ROOT_SECRET } from "./specs";

export function etcdBackup(ctx: FamilyContext<EtcdSection>): BackupContribution[] {
  const members = etcdMembers(ctx);
  // An external etcd is backed up by whoever runs it.
  if (members.length === 0) return [];
  return [{
    source: "etcd",
    component: "etcd",
    contents: `every key (APISIX routes, upstreams, consumers under ${ctx.section.prefix}): \`etcdctl snapshot save\` from one member`,
    // etcd lives on its own network and asks every client to log in: the snapshot and the restore's
    // writes go as root (a snapshot needs an authenticated user; the restore writes outside any one role's range).
    network: NET.etcd,
    method: { kind: "etcd-snapshot", endpoints: members.map((m) => `http://${m.name}:${ETCD_CLIENT_PORT}`), user: "root", passwordSecret: ETCD_ROOT_SECRET },
    restoreNotes: "the snapshot is opened by a temporary etcd and every key is written into the running cluster (its members and their IDs stay); APISIX picks the keys up through its watch.",
  }];
}
