/** The edge family: Caddy with ACME certificates on the floating-IP node, in front of APISIX. */
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { hostPort } from "../kit/scrape";
import { edgeArea, type EdgeSection } from "./settings";
import { edgeSpecs, EDGE_STATUS_PORT } from "./specs";

export { edgeArea, type EdgeSection } from "./settings";

function build(ctx: FamilyContext<EdgeSection>) {
  return familyPart("edge", edgeSpecs(ctx), {
    scrapeJobs: [{ config: { job_name: "edge", static_configs: [{ targets: [hostPort("edge", EDGE_STATUS_PORT)], labels: { node: ctx.topology.edge.name } }] } }],
    warnings: [
      ...(ctx.section.domains.length === 0
        ? ["The edge serves plain HTTP on port 80 only (edgeDomains is empty): no certificates are requested. Set edgeDomains and edgeAcmeEmail."]
        : []),
      ...unpinnedImageWarnings(ctx.section.images),
    ],
  });
}

export const edgeFamily: Family<EdgeSection> = {
  name: "edge",
  area: edgeArea,
  build,
};
