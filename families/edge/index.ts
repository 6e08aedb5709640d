/** The edge family: Caddy with ACME certificates on the edge candidates, in front of APISIX. */
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { hostPort } from "../kit/scrape";
import { edgeArea, type EdgeSection } from "./settings";
import { edgeSpecs, EDGE_STATUS_PORT } from "./specs";
import { STORAGE_BOX_MOUNT } from "../../core/cloudinit";

export { edgeArea, type EdgeSection } from "./settings";

function build(ctx: FamilyContext<EdgeSection>) {
  return familyPart("edge", edgeSpecs(ctx), {
    scrapeJobs: [{ config: { job_name: "edge", static_configs: [{ targets: [hostPort("edge", EDGE_STATUS_PORT)], labels: { node: ctx.topology.edge.name } }] } }],
    warnings: [
      ...storageWarnings(ctx),
      ...(ctx.section.domains.length === 0
        ? ["The edge serves plain HTTP on port 80 only (edgeDomains is empty): no certificates are requested. Set edgeDomains and edgeAcmeEmail."]
        : []),
      ...unpinnedImageWarnings(ctx.section.images),
    ],
  });
}

function storageWarnings(ctx: FamilyContext<EdgeSection>): string[] {
  const { dataDir } = ctx.section;
  const several = ctx.topology.edgeCandidates.length > 1;
  if (dataDir === "" && several) {
    return ["edgeDataDir is empty: each edge candidate keeps its own certificates, so a standby orders its own on first use. Set edgeDataDir on the Storage Box mount."];
  }
  if (dataDir.startsWith(STORAGE_BOX_MOUNT + "/") && !ctx.config.storageBox) {
    return [`edgeDataDir ${dataDir} is on ${STORAGE_BOX_MOUNT}, but storageBoxShare is empty: nothing mounts it and the edge cannot start. Set storageBoxShare, storageBoxUser and storageBoxPassword.`];
  }
  return [];
}

export const edgeFamily: Family<EdgeSection> = {
  name: "edge",
  area: edgeArea,
  build,
};
