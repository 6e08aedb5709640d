/** What the backup family keeps of Vault: a Raft snapshot, with a token the operator provides. */
import type { BackupContribution, FamilyContext } from "../kit/family";
import { NET } from "../../core/networks";
import type { VaultSection } from "./settings";
import { vaultAddress, vaultMembers, VAULT_TLS_CERT_SECRET } from "./specs";

export function vaultBackup(ctx: FamilyContext<VaultSection>): BackupContribution[] {
  const first = vaultMembers(ctx.config, ctx.topology)[0];
  if (!first) return [];
  return [{
    source: "vault",
    component: "vault",
    contents: "the Raft snapshot (every secret, policy and auth method, encrypted by Vault's keys; GET /v1/sys/storage/raft/snapshot)",
    excludes: "the unseal keys and root token: a restored snapshot opens only with the unseal keys of the cluster it was taken from",
    network: NET.platform,
    method: {
      kind: "http",
      baseUrl: vaultAddress(ctx.config, first.name),
      dumpPath: "/v1/sys/storage/raft/snapshot",
      restorePath: "/v1/sys/storage/raft/snapshot-force",
      contentType: "application/octet-stream",
      auth: { tokenSetting: "backupVaultToken" },
      ...(ctx.section.tls ? { caSecret: VAULT_TLS_CERT_SECRET } : {}),
    },
    restoreNotes: "POST /v1/sys/storage/raft/snapshot-force replaces Vault's whole state; afterwards unseal every member with the unseal keys of the snapshot's cluster.",
  }];
}
