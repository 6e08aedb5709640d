/** What the backup family keeps of RabbitMQ: its definitions, through the management API. */
import type { BackupContribution, FamilyContext } from "../kit/family";
import { NET } from "../../core/networks";
import type { RabbitmqSection } from "./settings";
import { rabbitmqMembers, RABBITMQ_ADMIN_SECRET, RABBITMQ_PORTS } from "./specs";

export function rabbitmqBackup(ctx: FamilyContext<RabbitmqSection>): BackupContribution[] {
  const first = rabbitmqMembers(ctx)[0];
  if (!first) return [];
  return [{
    source: "rabbitmq",
    component: "rabbitmq",
    contents: "definitions: users (password hashes), virtual hosts, permissions, policies, queues, exchanges, bindings (GET /api/definitions)",
    excludes: "messages: a message lives only in the queues; quorum queues (the default here) replicate it to a majority of nodes, which is what keeps it through the loss of a node",
    network: NET.backend,
    method: {
      kind: "http",
      baseUrl: `http://${first.name}:${RABBITMQ_PORTS.management}`,
      dumpPath: "/api/definitions",
      restorePath: "/api/definitions",
      contentType: "application/json",
      auth: { basicUser: ctx.section.adminUser, passwordSecret: RABBITMQ_ADMIN_SECRET },
    },
    restoreNotes: "POST /api/definitions on the running cluster: missing objects are created, existing ones are left as they are; queues come back empty.",
  }];
}
