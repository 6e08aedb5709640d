/** The APISIX family: the gateway, its dashboard, the routes it applies, and what clients and Prometheus reach. */
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { dnsTargets } from "../kit/scrape";
import { apisixArea, type ApisixSection } from "./settings";
import { apisixSpecs, APISIX_ADMIN_PORT, APISIX_DASHBOARD_PORT, APISIX_METRICS_PORT, SECRET } from "./specs";

export { apisixArea, type ApisixSection } from "./settings";
export { APISIX_PROXY_PORT } from "./specs";

function build(ctx: FamilyContext<ApisixSection>) {
  const { replicas, rateLimitPolicy } = ctx.section;
  return familyPart("apisix", apisixSpecs(ctx), {
    scrapeJobs: [{ config: { job_name: "apisix", metrics_path: "/apisix/prometheus/metrics", dns_sd_configs: dnsTargets("apisix", APISIX_METRICS_PORT) } }],
    outputs: {
      plain: { apisix: { adminUrl: `http://apisix:${APISIX_ADMIN_PORT}`, dashboardUrl: `http://apisix-dashboard:${APISIX_DASHBOARD_PORT}` } },
      secret: {
        apisixAdminKey: { from: [SECRET.adminKey], build: ([key]) => key },
        apisixDashboardPassword: { from: [SECRET.dashboardPassword], build: ([pw]) => pw },
      },
    },
    warnings: [
      ...(rateLimitPolicy === "local" && replicas > 1
        ? [`apisixRateLimitPolicy=local with ${replicas} APISIX replicas: every instance counts on its own, so the effective limits are ${replicas} times the declared ones. Use redis.`]
        : []),
      ...unpinnedImageWarnings(ctx.section.images),
    ],
  });
}

export const apisixFamily: Family<ApisixSection> = {
  name: "apisix",
  area: apisixArea,
  build,
};
