/**
 * The backup runner: one replicated service (one task) whose command is a schedule
 * loop (files/backup.sh), pinned to one node, reaching every source over the shared
 * networks and the node-local ones through their volumes. Its plain plan is a config
 * (JSON); the repository password and the target credentials are Docker secrets.
 */
import { EMPTY_PLATFORM, rollbackOf, STATEFUL_UPDATE, configSpec, type FileRef, type MountSpec, type PlatformSpec, type SecretSpec, type ServiceSpec } from "../../core/model";
import { pinTo, serviceNodes } from "../../core/placement";
import { swarmServiceName } from "../../core/naming";
import { NET } from "../../core/networks";
import { MiB } from "../../lib/size";
import type { BackupContribution, BackupMethod, FamilyContext, FamilyPart } from "../kit/family";
import { familyFile } from "../kit/files";
import { frontDefaults } from "../kit/front";
import { nodeVolume } from "../kit/member";
import { settingSecret } from "../kit/secrets";
import type { BackupSection } from "./settings";

export const BACKUP_SERVICE = "backup";
export const BACKUP_METRICS_PORT = 9798;
export const BACKUP_SCRIPT = "/platform/backup.sh";
const CONF_PATH = "/platform/backup.json";
const SOURCES_ROOT = "/sources";
const SECRET = {
  password: "backup-password",
  sftpKey: "backup-sftp-key",
  s3KeyId: "backup-s3-access-key-id",
  s3Secret: "backup-s3-secret-access-key",
} as const;

/** Settings whose value turns an opt-in source on. */
function optedIn(section: BackupSection, key: string): boolean {
  const switches: Readonly<Record<string, boolean>> = { backupPrometheus: section.prometheus };
  if (!(key in switches)) throw new Error(`backup source opts in through ${key}, which is no backup setting`);
  return switches[key];
}

function tokenSecretKey(source: string): string {
  return `backup-${source}-token`;
}

/** The sources this stack backs up: every contribution, less opt-ins left off and token sources without a token. */
export function activeSources(ctx: Pick<FamilyContext<BackupSection>, "section" | "config">, others: readonly FamilyPart[]): BackupContribution[] {
  return others.flatMap((p) => p.backup ?? []).filter((c) => {
    if (c.optIn !== undefined && !optedIn(ctx.section, c.optIn)) return false;
    if (c.method.kind === "http" && "tokenSetting" in c.method.auth) return (ctx.config.secretSettings[c.method.auth.tokenSetting] ?? "") !== "";
    return true;
  });
}

/** Sources left out, and why, for the plan. */
export function skippedSources(ctx: Pick<FamilyContext<BackupSection>, "section" | "config">, others: readonly FamilyPart[]): { source: string; why: string }[] {
  const active = new Set(activeSources(ctx, others).map((c) => c.source));
  return others.flatMap((p) => p.backup ?? []).filter((c) => !active.has(c.source)).map((c) => ({
    source: c.source,
    why: c.optIn !== undefined ? `${c.optIn} is false` : c.method.kind === "http" && "tokenSetting" in c.method.auth ? `${c.method.auth.tokenSetting} is not set` : "off",
  }));
}

/** The node the runner is pinned to: the one holding its volume sources, else the first service node. */
export function runnerNode(ctx: Pick<FamilyContext<BackupSection>, "topology">, sources: readonly BackupContribution[]): string {
  const nodes = [...new Set(sources.flatMap((c) => (c.node !== undefined ? [c.node] : [])))];
  if (nodes.length > 1) {
    throw new Error(`backup sources ${sources.filter((c) => c.node).map((c) => `${c.source} (${c.node})`).join(", ")} live on volumes of different nodes; one runner cannot mount them all`);
  }
  const first = serviceNodes(ctx.topology)[0];
  if (nodes.length === 0 && !first) throw new Error("the topology has no type=service node for the backup runner");
  return nodes[0] ?? first.name;
}

/** What the runner's script reads of one source: the method with secret keys instead of settings. */
function sourceConf(c: BackupContribution): Record<string, unknown> {
  const m: BackupMethod = c.method;
  const method = m.kind === "http" && "tokenSetting" in m.auth ? { ...m, auth: { tokenSecret: tokenSecretKey(c.source) } } : m;
  return { source: c.source, ...(m.kind === "http" ? { file: `${c.source}.dump` } : {}), method };
}

/** The runner's plan as its script reads it (no secrets: keys of secret files only). */
export function runnerConf(section: BackupSection, sources: readonly BackupContribution[]): Record<string, unknown> {
  const t = section.target;
  if (!t) throw new Error("backup runner without a target");
  return {
    repository: section.repository,
    passwordSecret: SECRET.password,
    target: t.kind === "sftp"
      ? { kind: "sftp", user: t.user, host: t.host, port: t.port, knownHosts: t.knownHosts, keySecret: SECRET.sftpKey }
      : { kind: "s3", accessKeySecret: SECRET.s3KeyId, secretKeySecret: SECRET.s3Secret },
    intervalSeconds: section.intervalSeconds,
    keep: section.retention,
    metricsPort: BACKUP_METRICS_PORT,
    sourcesRoot: SOURCES_ROOT,
    sources: sources.map(sourceConf),
  };
}

function secretRef(key: string): FileRef {
  return { key, target: `/run/secrets/${key}`, mode: 0o400, uid: "0", gid: "0" };
}

/** Secret files a source's method reads (declared by its own family, except a token from a backup setting). */
function sourceSecrets(c: BackupContribution): string[] {
  const m = c.method;
  if (m.kind === "redis-rdb" || m.kind === "etcd-snapshot") return [m.passwordSecret];
  if (m.kind === "http") return ["tokenSetting" in m.auth ? tokenSecretKey(c.source) : m.auth.passwordSecret, ...(m.caSecret ? [m.caSecret] : [])];
  return [];
}

function sourceMount(c: BackupContribution): MountSpec[] {
  const m = c.method;
  if (m.kind !== "sqlite" && m.kind !== "files") return [];
  const target = `${SOURCES_ROOT}/${c.source}`;
  // Read-write: a restore writes the files back while the source's service is scaled to 0.
  return "volume" in m.source
    ? [{ type: "volume", source: m.source.volume, target, readOnly: false }]
    : [{ type: "bind", source: m.source.hostPath, target, readOnly: false }];
}

export function backupSpecs(ctx: FamilyContext<BackupSection>, others: readonly FamilyPart[]): PlatformSpec {
  const { section, prefix } = ctx;
  const t = section.target;
  if (!t) return EMPTY_PLATFORM;
  const sources = activeSources(ctx, others);
  const node = runnerNode(ctx, sources);
  const secrets: SecretSpec[] = [
    settingSecret(prefix, SECRET.password, "backupPassword", "restic repository password (encrypts every backup)"),
    ...(t.kind === "sftp"
      ? [settingSecret(prefix, SECRET.sftpKey, "backupSftpPrivateKey", "SSH key of the SFTP backup repository")]
      : [
        settingSecret(prefix, SECRET.s3KeyId, "backupS3AccessKeyId", "Access key id of the S3 backup repository"),
        settingSecret(prefix, SECRET.s3Secret, "backupS3SecretAccessKey", "Secret key of the S3 backup repository"),
      ]),
    ...sources.flatMap((c) => (c.method.kind === "http" && "tokenSetting" in c.method.auth
      ? [settingSecret(prefix, tokenSecretKey(c.source), c.method.auth.tokenSetting, `Token the backup runner reads ${c.source} with`)]
      : [])),
  ];
  const conf = configSpec(prefix, "backup-conf", `${JSON.stringify(runnerConf(section, sources), null, 2)}\n`);
  const script = configSpec(prefix, "backup-script", familyFile(__dirname, "backup.sh"));
  const work = nodeVolume(ctx, "backup-work", "backup", { name: node });
  const secretKeys = [...new Set([...secrets.map((s) => s.key), ...sources.flatMap(sourceSecrets)])];
  // The platform network has a route out (backend has none): the repository is off-site.
  const networks = [...new Set([NET.platform, NET.backend, ...sources.map((c) => c.network)])];
  const service: ServiceSpec = {
    ...frontDefaults(ctx, "backup"),
    name: BACKUP_SERVICE,
    component: "backup",
    image: section.images.backup,
    command: [BACKUP_SCRIPT, "serve"],
    user: "0:0",
    mode: { replicas: 1 },
    endpointMode: "dnsrr",
    networks: networks.map((key) => ({ key, aliases: [BACKUP_SERVICE] })),
    secrets: secretKeys.map(secretRef),
    configs: [
      { key: conf.key, target: CONF_PATH, mode: 0o444 },
      { key: script.key, target: BACKUP_SCRIPT, mode: 0o555 },
    ],
    mounts: [
      // ssh config, the S3 credentials file and the metrics: memory only.
      { type: "tmpfs", source: "", target: "/run/backup", readOnly: false, tmpfsSizeBytes: 16 * MiB, tmpfsMode: 0o700 },
      { type: "volume", source: work.key, target: "/var/lib/backup", readOnly: false },
      ...sources.flatMap(sourceMount),
    ],
    placement: { constraints: [pinTo({ name: node })], spread: [] },
    node,
    resources: { limits: { cpus: 1, memoryBytes: 1024 * MiB }, reservations: { cpus: 0.05, memoryBytes: 64 * MiB } },
    healthcheck: { test: ["CMD-SHELL", "test -s /run/backup/metrics/metrics"], interval: "30s", timeout: "5s", retries: 3, startPeriod: "1m" },
    // A backup in flight is not cut short by an update: restic would leave a stale lock.
    stopGracePeriod: "5m",
    update: STATEFUL_UPDATE,
    rollback: rollbackOf(STATEFUL_UPDATE),
  };
  return { ...EMPTY_PLATFORM, secrets, configs: [conf, script], volumes: [work], services: [service] };
}

/** The command that restores the latest snapshot of one source (put a snapshot id in place of `latest` for another), run from the operator's machine. */
export function restoreCommand(ctx: Pick<FamilyContext<BackupSection>, "prefix">, node: string, c: BackupContribution, managerNode: string): string {
  const exec = `ssh ${node} 'docker exec $(docker ps -q -f label=com.docker.swarm.service.name=${swarmServiceName(ctx.prefix, { name: BACKUP_SERVICE })}) ${BACKUP_SCRIPT} restore ${c.source} latest'`;
  const m = c.method;
  if (m.kind !== "sqlite" && m.kind !== "files") return exec;
  const service = swarmServiceName(ctx.prefix, { name: m.service });
  return `ssh ${managerNode} docker service scale ${service}=0 && ${exec} && ssh ${managerNode} docker service scale ${service}=1`;
}
