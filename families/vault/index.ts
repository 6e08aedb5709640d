/** The Vault family: Raft members, their scrape job and alerts, the runbook and the address outputs. */
import { familyPart, type Family, type FamilyContext } from "../kit/family";
import { unpinnedImageWarnings } from "../kit/images";
import { memberTargets } from "../kit/scrape";
import { quorumRules } from "../kit/rules";
import { vaultArea, type VaultSection } from "./settings";
import { vaultAddress, vaultMembers, vaultRunbook, vaultSpecs, VAULT_API_PORT, VAULT_TLS_CERT_PATH, VAULT_TLS_CERT_SECRET } from "./specs";
import { vaultBackup } from "./backup";

export { vaultArea, type VaultSection } from "./settings";

function build(ctx: FamilyContext<VaultSection>) {
  const { config, topology, section } = ctx;
  const members = vaultMembers(config, topology);
  const names = members.map((m) => m.name);
  return familyPart("vault", vaultSpecs(ctx), {
    scrapeJobs: [{
      config: {
        job_name: "vault",
        metrics_path: "/v1/sys/metrics",
        params: { format: ["prometheus"] },
        scheme: section.tls ? "https" : "http",
        // The certificate names every member; the chain file doubles as the trust anchor.
        ...(section.tls ? { tls_config: { ca_file: VAULT_TLS_CERT_PATH } } : {}),
        static_configs: memberTargets(members, VAULT_API_PORT),
      },
      secrets: section.tls ? [{ key: VAULT_TLS_CERT_SECRET, target: VAULT_TLS_CERT_PATH }] : [],
    }],
    alertRules: [{
      name: "vault",
      rules: [
        ...quorumRules("vault", "vault", section.members, 'up{job="vault"}'),
        {
          alert: "VaultSealed",
          expr: 'vault_core_unsealed{job="vault"} == 0',
          for: "5m",
          labels: { severity: "critical" },
          annotations: { summary: "Vault member {{ $labels.member }} is sealed: unseal it (README, Vault runbook)" },
        },
      ],
    }],
    outputs: {
      plain: {
        vault: { address: vaultAddress(config, names[0]), members: names.map((m) => vaultAddress(config, m)) },
        vaultInitSteps: vaultRunbook(config, topology),
      },
      secret: {},
    },
    warnings: [
      ...(section.tls
        ? []
        : [`Vault runs WITHOUT TLS (vaultTls=false): tokens and secrets cross the overlay network in plain HTTP. Acceptable for a throwaway ${config.profile} stack only; set vaultTls with vaultTlsCertificate/vaultTlsKey.`]),
      ...unpinnedImageWarnings(ctx.section.images),
    ],
    backup: vaultBackup(ctx),
  });
}

export const vaultFamily: Family<VaultSection> = {
  name: "vault",
  area: vaultArea,
  build,
};
