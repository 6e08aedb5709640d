/** What the backup family keeps of the etcd members the platform runs: a snapshot. */
import type { BackupContribution, FamilyContext } from "../kit/family";
import { NET } from "../../core/networks";
import type { EtcdSection } from "./settings";
import { etcdMembers, ETCD_CLIENT_PORT } from "./specs";

export function etcdBackup(ctx: FamilyContext<EtcdSection>): BackupContribution[] {
  const members = etcdMembers(ctx);
  // An external etcd is backed up by whoever runs it.
  if (members.length === 0) return [];
  return [{
    source: "etcd",
    component: "etcd",
    contents: `every key (APISIX routes, upstreams, consumers under ${ctx.section.prefix}): \`etcdctl snapshot save\` from one member`,
    network: NET.backend,
    method: { kind: "etcd-snapshot", endpoints: members.map((m) => `http://${m.name}:${ETCD_CLIENT_PORT}`) },
    restoreNotes: "the snapshot is opened by a temporary etcd and every key is written into the running cluster (its members and their IDs stay); APISIX picks the keys up through its watch.",
  }];
}
