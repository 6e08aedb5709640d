/**
 * The monitoring family: Prometheus, Alertmanager, Grafana and the exporters on every
 * node. It aggregates: it builds last and reads the other parts' scrape jobs, alert
 * rules and services.
 */
import { familyPart, type Family, type FamilyContext, type FamilyPart } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { monitoringArea, type MonitoringSection } from "./settings";
import { monitoringSpecs, GRAFANA_PASSWORD_SECRET, PORTS } from "./specs";
import { MONITORING_RECIPES } from "./e2e";
import { monitoringBackup } from "./backup";

export { monitoringArea, type MonitoringSection } from "./settings";

function build(ctx: FamilyContext<MonitoringSection>, others: readonly FamilyPart[]) {
  return familyPart("monitoring", monitoringSpecs(ctx, others), {
    outputs: {
      plain: {
        monitoring: {
          prometheusUrl: `http://prometheus:${PORTS.prometheus}`,
          alertmanagerUrl: `http://alertmanager:${PORTS.alertmanager}`,
          grafanaUrl: `http://grafana:${PORTS.grafana}`,
        },
      },
      secret: { grafanaAdminPassword: { from: [GRAFANA_PASSWORD_SECRET], build: ([pw]) => pw } },
    },
    warnings: [
      ...(ctx.section.alertWebhookUrl === ""
        ? ["Alertmanager has no receiver (alertWebhookUrl is empty): alerts are only visible in its UI through the SSH tunnel."]
        : []),
      ...unpinnedImageWarnings(ctx.section.images),
    ],
    backup: monitoringBackup(ctx),
  });
}

export const monitoringFamily: Family<MonitoringSection> = {
  name: "monitoring",
  area: monitoringArea,
  aggregates: true,
  e2eImages: MONITORING_RECIPES,
  build,
};
