/** The RabbitMQ family: the cluster members, what Prometheus scrapes of them, their alerts and the AMQP outputs. */
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { memberTargets } from "../kit/scrape";
import { quorumRules } from "../kit/rules";
import { rabbitmqArea, type RabbitmqSection } from "./settings";
import { rabbitmqAppSecret, rabbitmqMembers, rabbitmqNodeName, rabbitmqSpecs, RABBITMQ_ADMIN_SECRET, RABBITMQ_PORTS } from "./specs";
import { RABBITMQ_RECIPES } from "./e2e";
import { rabbitmqBackup } from "./backup";

export { rabbitmqArea, type RabbitmqSection } from "./settings";
export { rabbitmqAppSecret, rabbitmqMembers, rabbitmqNodeName, RABBITMQ_ADMIN_SECRET, RABBITMQ_PORTS } from "./specs";

/** One AMQP URI per node, on a virtual host ("" is the default one, "/"). */
export function amqpUris(hosts: readonly string[], user: string, password: string, vhost = ""): string[] {
  return hosts.map((h) => `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${h}/${encodeURIComponent(vhost)}`);
}

function build(ctx: FamilyContext<RabbitmqSection>) {
  const members = rabbitmqMembers(ctx);
  const rabbitmq = {
    nodes: members.map(rabbitmqNodeName),
    amqp: members.map((m) => `${m.name}:${RABBITMQ_PORTS.amqp}`),
    webStomp: members.map((m) => `${m.name}:${RABBITMQ_PORTS.webStomp}`),
    adminUser: ctx.section.adminUser,
  };
  const apps = ctx.section.apps;
  return familyPart("rabbitmq", rabbitmqSpecs(ctx), {
    // The rabbitmq_prometheus plugin on every member.
    scrapeJobs: [{ config: { job_name: "rabbitmq", static_configs: memberTargets(members, RABBITMQ_PORTS.prometheus) } }],
    alertRules: [{ name: "rabbitmq", rules: quorumRules("rabbitmq", "rabbitmq", ctx.section.nodes, 'up{job="rabbitmq"}') }],
    outputs: {
      plain: { rabbitmq: { ...rabbitmq, apps } },
      secret: {
        // For operators: no application gets the administrator's login.
        rabbitmqAdminPassword: { from: [RABBITMQ_ADMIN_SECRET], build: ([pw]) => pw },
        ...(apps.length > 0 ? {
          rabbitmqApps: {
            from: apps.map(rabbitmqAppSecret),
            build: (passwords) => Object.fromEntries(apps.map((a, i) => {
              const uris = amqpUris(rabbitmq.amqp, a, passwords[i], a);
              return [a, { user: a, password: passwords[i], vhost: a, amqpUris: uris, amqpAddresses: uris.join(",") }];
            })),
          },
        } : {}),
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
