/** The RabbitMQ family: the cluster members, what Prometheus scrapes of them, their alerts and the AMQP outputs. */
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { memberTargets } from "../kit/scrape";
import { quorumRules } from "../kit/rules";
import { rabbitmqArea, type RabbitmqSection } from "./settings";
import { rabbitmqMembers, rabbitmqNodeName, rabbitmqSpecs, RABBITMQ_ADMIN_SECRET, RABBITMQ_PORTS } from "./specs";
import { RABBITMQ_RECIPES } from "./e2e";
import { rabbitmqBackup } from "./backup";

export { rabbitmqArea, type RabbitmqSection } from "./settings";
export { rabbitmqMembers, rabbitmqNodeName, RABBITMQ_ADMIN_SECRET, RABBITMQ_PORTS } from "./specs";

/** One AMQP URI per node (default vhost). */
export function amqpUris(hosts: readonly string[], user: string, password: string): string[] {
  return hosts.map((h) => `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${h}/`);
}

function build(ctx: FamilyContext<RabbitmqSection>) {
  const members = rabbitmqMembers(ctx);
  const rabbitmq = {
    nodes: members.map(rabbitmqNodeName),
    amqp: members.map((m) => `${m.name}:${RABBITMQ_PORTS.amqp}`),
    webStomp: members.map((m) => `${m.name}:${RABBITMQ_PORTS.webStomp}`),
    adminUser: ctx.section.adminUser,
  };
  const password = [RABBITMQ_ADMIN_SECRET];
  return familyPart("rabbitmq", rabbitmqSpecs(ctx), {
    // The rabbitmq_prometheus plugin on every member.
    scrapeJobs: [{ config: { job_name: "rabbitmq", static_configs: memberTargets(members, RABBITMQ_PORTS.prometheus) } }],
    alertRules: [{ name: "rabbitmq", rules: quorumRules("rabbitmq", "rabbitmq", ctx.section.nodes, 'up{job="rabbitmq"}') }],
    outputs: {
      plain: { rabbitmq },
      secret: {
        rabbitmqAdminPassword: { from: password, build: ([pw]) => pw },
        amqpUris: { from: password, build: ([pw]) => amqpUris(rabbitmq.amqp, rabbitmq.adminUser, pw) },
        amqpAddresses: { from: password, build: ([pw]) => amqpUris(rabbitmq.amqp, rabbitmq.adminUser, pw).join(",") },
      },
    },
    warnings: unpinnedImageWarnings(ctx.section.images),
    backup: rabbitmqBackup(ctx),
  });
}

export const rabbitmqFamily: Family<RabbitmqSection> = {
  name: "rabbitmq",
  area: rabbitmqArea,
  e2eImages: RABBITMQ_RECIPES,
  build,
};
