/** The etcd family: APISIX's configuration store, external or run by the platform. */
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { memberTargets } from "../kit/scrape";
import { quorumRules } from "../kit/rules";
import { etcdArea, type EtcdSection } from "./settings";
import { etcdEndpoints, etcdMembers, etcdPrefix, etcdSpecs, ETCD_CLIENT_PORT, ETCD_ROOT_SECRET } from "./specs";
import { ETCD_RECIPES } from "./e2e";
import { etcdBackup } from "./backup";

export { etcdArea, type EtcdSection } from "./settings";
export { etcdClientAuth, etcdEndpoints, etcdMembers, etcdPrefix, ETCD_CLIENT_PORT, ETCD_CLIENT_ROLE, ETCD_CLIENTS, ETCD_PEER_PORT, ETCD_ROOT_SECRET, type EtcdClient } from "./specs";

function build(ctx: FamilyContext<EtcdSection>) {
  const members = etcdMembers(ctx);
  // An external etcd is watched by whoever runs it: no job and no rules for it here.
  const watched = members.length > 0;
  return familyPart("etcd", etcdSpecs(ctx), {
    scrapeJobs: watched ? [{ config: { job_name: "etcd", static_configs: memberTargets(members, ETCD_CLIENT_PORT) } }] : [],
    alertRules: watched
      ? [{
        name: "etcd",
        rules: [
          ...quorumRules("etcd", "etcd", members.length, 'up{job="etcd"}'),
          {
            alert: "EtcdNoLeader",
            expr: 'etcd_server_has_leader{job="etcd"} == 0',
            for: "1m",
            labels: { severity: "critical" },
            annotations: { summary: "etcd member {{ $labels.member }} has no leader" },
          },
        ],
      }]
      : [],
    outputs: {
      plain: { etcd: { endpoints: etcdEndpoints(ctx), prefix: etcdPrefix(ctx) } },
      // For operators (etcdctl --user root): applications get no etcd credentials.
      secret: watched ? { etcdRootPassword: { from: [ETCD_ROOT_SECRET], build: ([pw]) => pw } } : {},
    },
    warnings: watched ? unpinnedImageWarnings(ctx.section.images) : [],
    backup: etcdBackup(ctx),
  });
}

export const etcdFamily: Family<EtcdSection> = {
  name: "etcd",
  area: etcdArea,
  e2eImages: ETCD_RECIPES,
  build,
};
