/**
 * Vault with integrated Raft storage: one Swarm service per member (vault-1..N),
 * pinned to its node, with its own volume and a stable name. Members find each
 * other with retry_join; TLS comes from the configured certificate material.
 * Vault starts sealed and stays so until an operator unseals it: nothing here
 * (config, environment, state) ever holds an unseal key.
 */
import type { StackConfig } from "../../stacks/config";
import type { Topology } from "../../core/topology";
import { configSpec, EMPTY_PLATFORM, type ConfigSpec, type PlatformSpec, type SecretSpec, type ServiceSpec, type VolumeSpec } from "../../core/model";
import { NET } from "../../core/networks";
import { MiB } from "../../lib/size";
import type { FamilyContext } from "../kit/family";
import { attach, frontDefaults } from "../kit/front";
import { members, memberVolume, pinnedMember, type Member } from "../kit/member";
import { settingSecret } from "../kit/secrets";
import { vaultArea, type VaultSection } from "./settings";

/** The Vault settings of a stack. */
const vaultOf = (config: Pick<StackConfig, "section">): VaultSection => config.section(vaultArea);

export const VAULT_API_PORT = 8200;
export const VAULT_CLUSTER_PORT = 8201;
/** Where the image's entrypoint looks for configuration (`server` adds -config=/vault/config). */
export const VAULT_CONFIG_PATH = "/vault/config/platform.json";
export const VAULT_DATA_PATH = "/vault/file";
/** The certificate chain's secret: Vault's listener, and the trust anchor of whoever scrapes it. */
export const VAULT_TLS_CERT_SECRET = "vault-tls-certificate";
export const VAULT_TLS_CERT_PATH = `/run/secrets/${VAULT_TLS_CERT_SECRET}`;
export const VAULT_TLS_KEY_PATH = "/run/secrets/vault-tls-key";
/** The official image's vault user and group. */
const VAULT_UID = "100";
const VAULT_GID = "1000";

/** Members vault-1..N in order, member i on the i-th type=service node (workers first). */
export function vaultMembers(config: StackConfig, topology: Topology): Member[] {
  return members(topology, "vault", vaultOf(config).members);
}

function scheme(config: StackConfig): "https" | "http" {
  return vaultOf(config).tls ? "https" : "http";
}

/** The address clients and other members use for a member. */
export function vaultAddress(config: StackConfig, member: string): string {
  return `${scheme(config)}://${member}:${VAULT_API_PORT}`;
}

/** Vault's server configuration for one member, as JSON (Vault reads .json files like .hcl). */
export function vaultServerConfig(config: StackConfig, member: string, all: readonly string[]): Record<string, unknown> {
  const tls = vaultOf(config).tls;
  const listener: Record<string, unknown> = {
    address: `0.0.0.0:${VAULT_API_PORT}`,
    cluster_address: `0.0.0.0:${VAULT_CLUSTER_PORT}`,
    ...(tls
      ? { tls_cert_file: VAULT_TLS_CERT_PATH, tls_key_file: VAULT_TLS_KEY_PATH, tls_min_version: "tls12" }
      : { tls_disable: true }),
    // Prometheus scrapes /v1/sys/metrics without a token; the listener is never published.
    telemetry: { unauthenticated_metrics_access: true },
  };
  const retryJoin = all.filter((m) => m !== member).map((m) => ({
    leader_api_addr: vaultAddress(config, m),
    ...(tls ? { leader_ca_cert_file: VAULT_TLS_CERT_PATH, leader_tls_servername: m } : {}),
  }));
  return {
    ui: vaultOf(config).ui,
    // HashiCorp's advice for integrated storage: mlock would pin the Raft data's memory-mapped files; swap is off on the nodes instead.
    disable_mlock: true,
    cluster_name: config.stack,
    api_addr: vaultAddress(config, member),
    cluster_addr: `https://${member}:${VAULT_CLUSTER_PORT}`,
    storage: {
      raft: {
        path: VAULT_DATA_PATH,
        node_id: member,
        ...(retryJoin.length > 0 ? { retry_join: retryJoin } : {}),
      },
    },
    listener: [{ tcp: listener }],
    telemetry: { prometheus_retention_time: "60s", disable_hostname: true },
  };
}

/** Healthy while the server answers, sealed or not: a sealed Vault is its normal state after a start, not a reason to restart it. */
export function vaultHealthcheck(config: StackConfig, member: string): ServiceSpec["healthcheck"] {
  const tlsFlags = vaultOf(config).tls ? ` -ca-cert=${VAULT_TLS_CERT_PATH} -tls-server-name=${member}` : "";
  return {
    // `vault status` prints its JSON (with "sealed") whenever the server answers, and exits 2 when sealed; only no answer is unhealthy.
    test: ["CMD-SHELL", `vault status -format=json -address=${scheme(config)}://127.0.0.1:${VAULT_API_PORT}${tlsFlags} 2>/dev/null | grep -q '"sealed"'`],
    interval: "15s",
    timeout: "5s",
    retries: 3,
    startPeriod: "30s",
  };
}

export function vaultSpecs(ctx: FamilyContext<VaultSection>): PlatformSpec {
  const { config, topology, prefix } = ctx;
  const members = vaultMembers(config, topology);
  const names = members.map((m) => m.name);
  const tls = vaultOf(config).tls;
  const secrets: SecretSpec[] = tls
    ? [
      settingSecret(prefix, VAULT_TLS_CERT_SECRET, "vaultTlsCertificate", "Vault listener certificate chain"),
      settingSecret(prefix, "vault-tls-key", "vaultTlsKey", "Vault listener private key"),
    ]
    : [];
  const configs: ConfigSpec[] = [];
  const volumes: VolumeSpec[] = [];
  const services: ServiceSpec[] = members.map((m) => {
    const cfg = configSpec(prefix, `${m.name}-config`, JSON.stringify(vaultServerConfig(config, m.name, names), null, 2) + "\n");
    configs.push(cfg);
    volumes.push(memberVolume(ctx, m, "vault"));
    return {
      ...frontDefaults(ctx, "vault"),
      ...pinnedMember(ctx, m, "vault"),
      image: ctx.section.images.vault,
      command: ["server"],
      env: {
        // The capability only serves mlock, which the configuration disables.
        SKIP_SETCAP: "true",
        // The volume is created from the image's /vault/file (owned by vault); config and secrets are read-only mounts.
        SKIP_CHOWN: "true",
        // For `docker exec ... vault operator ...` in the runbook: the CLI talks to this member.
        VAULT_ADDR: `${scheme(config)}://127.0.0.1:${VAULT_API_PORT}`,
        ...(tls ? { VAULT_CACERT: VAULT_TLS_CERT_PATH, VAULT_TLS_SERVER_NAME: m.name } : {}),
      },
      listens: [{ port: VAULT_API_PORT, what: "API" }, { port: VAULT_CLUSTER_PORT, what: "cluster (Raft, forwarding)" }],
      networks: [
        { key: NET.platform, aliases: [m.name, "vault"] },
        ...attach(m.name, NET.backend),
      ],
      secrets: tls
        ? [
          { key: VAULT_TLS_CERT_SECRET, target: VAULT_TLS_CERT_PATH, mode: 0o444, uid: VAULT_UID, gid: VAULT_GID },
          { key: "vault-tls-key", target: VAULT_TLS_KEY_PATH, mode: 0o400, uid: VAULT_UID, gid: VAULT_GID },
        ]
        : [],
      configs: [{ key: cfg.key, target: VAULT_CONFIG_PATH, mode: 0o440, uid: VAULT_UID, gid: VAULT_GID }],
      mounts: [{ type: "volume", source: `${m.name}-data`, target: VAULT_DATA_PATH, readOnly: false }],
      resources: { limits: { cpus: 1, memoryBytes: 512 * MiB }, reservations: { cpus: 0.1, memoryBytes: 128 * MiB } },
      healthcheck: vaultHealthcheck(config, m.name),
      stopGracePeriod: "30s",
    };
  });
  return { ...EMPTY_PLATFORM, secrets, configs, volumes, services };
}

/** Shares and threshold of the unseal key split. */
export function unsealSplit(config: StackConfig): { shares: number; threshold: number } {
  return config.profile === "prod" ? { shares: 5, threshold: 3 } : { shares: 1, threshold: 1 };
}

/**
 * The exact init and unseal steps for this stack: which member to initialise,
 * on which node, with which commands. Printed as a stack output; nothing is run.
 */
export function vaultRunbook(config: StackConfig, topology: Topology): string[] {
  const members = vaultMembers(config, topology);
  const first = members[0];
  const { shares, threshold } = unsealSplit(config);
  const exec = (m: Member, cmd: string): string => `docker exec -it "$(docker ps -q -f name=${m.name}\\.)" ${cmd}`;
  const ssh = (m: Member): string => `ssh -p ${config.ssh.port} ${config.ssh.user}@<public IP of ${m.node.name} (output nodePublicIps)>`;
  const steps: string[] = [
    `1. Log in to ${first.node.name}, the node of ${first.name}: ${ssh(first)}`,
    `2. Initialise the cluster once, on ${first.name} only: ${exec(first, `vault operator init -key-shares=${shares} -key-threshold=${threshold}`)}`,
    `3. Hand the ${shares} unseal key(s) to ${shares > 1 ? "separate holders" : "a password manager"} and store the initial root token offline. Never put them in Pulumi config, a stack file, a shell history or a file on the servers.`,
    `4. Unseal ${first.name}: run ${exec(first, "vault operator unseal")} ${threshold} time(s), each holder typing a key at the prompt (not on the command line).`,
  ];
  let n = 5;
  for (const m of members.slice(1)) {
    steps.push(`${n++}. On ${m.node.name} (${ssh(m)}): ${m.name} joins ${first.name} by itself (retry_join); unseal it with the same keys: run ${exec(m, "vault operator unseal")} ${threshold} time(s).`);
  }
  if (members.length > 1) {
    steps.push(`${n++}. Check the Raft peers (expect ${members.map((m) => m.name).join(", ")} as voters): ${exec(first, "sh -c 'vault login && vault operator raft list-peers'")}`);
  }
  steps.push(`${n++}. Set up auth methods and policies with the root token, then revoke it: ${exec(first, "vault token revoke -self")}`);
  steps.push(`${n++}. Every restart of a member (node reboot, image or config change) seals it again: unseal it as in step 4 on its node, or configure auto-unseal (README, "Vault runbook").`);
  if (!vaultOf(config).tls) {
    steps.push(`WARNING: vaultTls is false: Vault speaks plain HTTP inside the overlay network. Acceptable for the ${config.stack} stack only; prod must set vaultTls with a certificate.`);
  }
  return steps;
}
