/**
 * Settings of the backup family: where the restic repository lives (a Hetzner Storage
 * Box over SFTP or S3-compatible object storage), how often, how long snapshots are
 * kept, and the secrets (repository password, target credentials, Vault token).
 * Backups are off while backupRepository is empty.
 */
import { ValueError, type ConfigProblem } from "../../stacks/errors";
import { bool, int, str, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import type { FamilyArea } from "../kit/family";

const G = "Backup";

export const BACKUP_IMAGES = {
  backup: {
    image: "swarm-platform-backup:1",
    why: "the backup runner (restic, ssh, redis-cli/redis-server, etcdctl/etcd, curl, jq, sqlite3, busybox httpd; built from Debian by the recipe in families/backup/e2e.ts)",
  },
} as const satisfies Record<string, ImageDefault>;

export type BackupTarget =
  | { readonly kind: "sftp"; readonly user: string; readonly host: string; readonly path: string; readonly port: number; readonly knownHosts: string }
  | { readonly kind: "s3"; readonly endpoint: string; readonly bucketPath: string };

export interface Retention {
  readonly last: number;
  readonly hourly: number;
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

export interface BackupSection {
  /** restic's repository string; empty: backups off. */
  readonly repository: string;
  readonly target: BackupTarget | undefined;
  readonly intervalSeconds: number;
  readonly interval: string;
  readonly retention: Retention;
  readonly prometheus: boolean;
  /** Secret values (the offline plan holds stand-ins); empty when unset. */
  readonly password: string;
  readonly sftpPrivateKey: string;
  readonly s3AccessKeyId: string;
  readonly s3SecretAccessKey: string;
  readonly vaultToken: string;
  readonly images: Readonly<Record<keyof typeof BACKUP_IMAGES, string>>;
}

const SFTP_REPO = /^sftp:([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):(\/[A-Za-z0-9._\/-]*)$/;
const S3_REPO = /^s3:(https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?)\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[A-Za-z0-9._\/-]*)?)$/;
const REPO_EXPECTED = "sftp:<user>@<host>:/<path> (Hetzner Storage Box, e.g. sftp:u123456@u123456.your-storagebox.de:/backups/prod), " +
  "s3:https://<endpoint>/<bucket>[/<path>] (e.g. s3:https://fsn1.your-objectstorage.com/acme-backups/prod), or empty (backups off)";
const INTERVAL = /^([1-9]\d*)(m|h)$/;

/** Seconds of an interval setting such as 30m or 6h. */
export function intervalSeconds(text: string): number {
  const m = INTERVAL.exec(text);
  if (!m) throw new Error(`not an interval: ${text}`);
  return Number(m[1]) * (m[2] === "h" ? 3600 : 60);
}

function secretText(expected: string, check: (v: string) => boolean = () => true) {
  return (v: unknown): string => {
    if (typeof v !== "string" || (v !== "" && !check(v))) throw new ValueError(expected, "[secret]");
    return v;
  };
}

const keep = (unit: string, dflt: number): SettingDef => ({
  key: `backupKeep${unit[0].toUpperCase()}${unit.slice(1)}`,
  group: G,
  type: "integer",
  expected: "an integer from 0 to 1000",
  description: `restic forget --keep-${unit}: how many ${unit === "last" ? "latest" : unit} snapshots of each source are kept (0: this rule keeps none).`,
  parse: int(0, 1000),
  default: dflt,
});

export const BACKUP_SETTINGS: SettingDef[] = [
  {
    key: "backupRepository",
    group: G,
    type: "string",
    expected: REPO_EXPECTED,
    description: "The off-site restic repository every backup goes to. Empty: no backups (the plan warns).",
    parse: str({ allowEmpty: true, expected: REPO_EXPECTED, pattern: new RegExp(`^(?:${SFTP_REPO.source.slice(1, -1)}|${S3_REPO.source.slice(1, -1)})$`) }),
    default: "",
  },
  {
    key: "backupSftpPort",
    group: G,
    type: "integer",
    expected: "a TCP port (23 for a Hetzner Storage Box)",
    description: "SSH port of the SFTP repository host (a Storage Box serves SFTP with keys on port 23).",
    parse: int(1, 65535),
    default: 23,
  },
  {
    key: "backupSftpKnownHosts",
    group: G,
    type: "string",
    expected: "the repository host's known_hosts line(s), e.g. from `ssh-keyscan -p 23 u123456.your-storagebox.de`",
    description: "Pinned host key of the SFTP repository host: the runner refuses any other key.",
    parse: str({ allowEmpty: true, pattern: /^(\S+ (ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+\/=]+(\n|$))+$/, expected: "known_hosts lines: <host pattern> <key type> <base64 key>" }),
    default: "",
  },
  {
    key: "backupInterval",
    group: G,
    type: "string",
    expected: "an interval from 15m to 168h, such as 30m, 6h or 24h",
    description: "How often every source is backed up (runs start at multiples of the interval since the epoch, UTC). An alert fires when a source's last good backup is older than twice this.",
    parse: (v) => {
      const text = str({ pattern: INTERVAL, expected: "an interval such as 30m, 6h or 24h" })(v);
      const s = intervalSeconds(text);
      if (s < 900 || s > 168 * 3600) throw new ValueError("an interval from 15m to 168h, such as 30m, 6h or 24h", v);
      return text;
    },
    default: "6h",
  },
  keep("last", 0),
  keep("hourly", 0),
  keep("daily", 7),
  keep("weekly", 4),
  keep("monthly", 6),
  {
    key: "backupPrometheus",
    group: G,
    type: "boolean",
    expected: "true or false",
    description: "Also back up Prometheus' TSDB (large, and metrics are usually expendable).",
    parse: bool,
    default: false,
  },
  {
    key: "backupPassword",
    group: G,
    type: "string",
    secret: true,
    expected: "a passphrase of at least 16 characters (keep a copy outside the platform: without it no backup can be read)",
    description: "The restic repository password (encrypts every snapshot). Required when backupRepository is set.",
    parse: secretText("a passphrase of at least 16 characters", (v) => v.length >= 16),
    default: "",
    standIn: () => "offline-stand-in-backup-passphrase",
  },
  {
    key: "backupSftpPrivateKey",
    group: G,
    type: "string",
    secret: true,
    expected: "an OpenSSH private key without passphrase (its public half in the Storage Box's .ssh/authorized_keys)",
    description: "SSH key the runner logs in to the SFTP repository with. Required for an sftp: repository.",
    parse: secretText("an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)", (v) => v.includes("PRIVATE KEY-----")),
    default: "",
    standIn: () => "-----BEGIN OPENSSH PRIVATE KEY-----\noffline-stand-in\n-----END OPENSSH PRIVATE KEY-----\n",
  },
  {
    key: "backupS3AccessKeyId",
    group: G,
    type: "string",
    secret: true,
    expected: "the object storage access key id",
    description: "Access key of an s3: repository (read by restic from a credentials file). Required for an s3: repository.",
    parse: secretText("an access key id (letters and digits)", (v) => /^[A-Za-z0-9]{8,128}$/.test(v)),
    default: "",
    standIn: () => "OFFLINESTANDINKEYID",
  },
  {
    key: "backupS3SecretAccessKey",
    group: G,
    type: "string",
    secret: true,
    expected: "the object storage secret key",
    description: "Secret key of an s3: repository. Required for an s3: repository.",
    parse: secretText("a secret key (no whitespace)", (v) => /^\S{8,256}$/.test(v)),
    default: "",
    standIn: () => "offline-stand-in-secret-access-key",
  },
  {
    key: "backupVaultToken",
    group: G,
    type: "string",
    secret: true,
    expected: "a Vault token allowed to read sys/storage/raft/snapshot, or empty (Vault is then not backed up)",
    description: "Token the runner takes Vault's Raft snapshot with (create it after `vault operator init`; see docs/backup.md). Empty: no Vault backup.",
    parse: secretText("a Vault token such as hvs.…", (v) => /^\S{8,}$/.test(v)),
    default: "",
  },
  ...imageSettings(G, BACKUP_IMAGES),
];

export function parseTarget(repository: string, port: number, knownHosts: string): BackupTarget | undefined {
  const sftp = SFTP_REPO.exec(repository);
  if (sftp) return { kind: "sftp", user: sftp[1], host: sftp[2], path: sftp[3], port, knownHosts };
  const s3 = S3_REPO.exec(repository);
  if (s3) return { kind: "s3", endpoint: s3[1], bucketPath: s3[2] };
  return undefined;
}

export const backupArea: FamilyArea<BackupSection> = {
  name: "backup",
  settings: BACKUP_SETTINGS,
  build(v: Values): BackupSection {
    const get = <T>(key: string): T => v.get(key) as T;
    const repository = get<string>("backupRepository");
    const interval = get<string>("backupInterval");
    return {
      repository,
      target: parseTarget(repository, get("backupSftpPort"), get("backupSftpKnownHosts")),
      interval,
      intervalSeconds: intervalSeconds(interval),
      retention: {
        last: get("backupKeepLast"),
        hourly: get("backupKeepHourly"),
        daily: get("backupKeepDaily"),
        weekly: get("backupKeepWeekly"),
        monthly: get("backupKeepMonthly"),
      },
      prometheus: get("backupPrometheus"),
      password: get("backupPassword"),
      sftpPrivateKey: get("backupSftpPrivateKey"),
      s3AccessKeyId: get("backupS3AccessKeyId"),
      s3SecretAccessKey: get("backupS3SecretAccessKey"),
      vaultToken: get("backupVaultToken"),
      images: imagesOf(v, BACKUP_IMAGES),
    };
  },
  validate(s: BackupSection): ConfigProblem[] {
    const t = s.target;
    if (!t) return [];
    const problems: ConfigProblem[] = [];
    const need = (key: string, value: string, expected: string): void => {
      if (value === "") problems.push({ key, expected: `${expected} (backupRepository is ${t.kind}:…; set it with \`pulumi config set --secret ${key} …\`)`, given: "" });
    };
    need("backupPassword", s.password, "a repository passphrase of at least 16 characters");
    if (t.kind === "sftp") {
      need("backupSftpPrivateKey", s.sftpPrivateKey, "an OpenSSH private key authorised on the repository host");
      if (t.knownHosts === "") {
        problems.push({ key: "backupSftpKnownHosts", expected: `the host key line(s) of ${t.host} (\`ssh-keyscan -p ${t.port} ${t.host}\`): an unpinned host key would let anyone on the path receive the backups`, given: "" });
      } else if (!t.knownHosts.split("\n").filter((l) => l !== "").every((l) => l.split(" ")[0].split(",").some((h) => h === t.host || h === `[${t.host}]:${t.port}`))) {
        problems.push({ key: "backupSftpKnownHosts", expected: `lines whose host field names ${t.port === 22 ? t.host : `[${t.host}]:${t.port}`} (the repository host of backupRepository)`, given: t.knownHosts.split(" ")[0] });
      }
    } else {
      need("backupS3AccessKeyId", s.s3AccessKeyId, "the object storage access key id");
      need("backupS3SecretAccessKey", s.s3SecretAccessKey, "the object storage secret key");
    }
    const r = s.retention;
    if (r.last + r.hourly + r.daily + r.weekly + r.monthly === 0) {
      problems.push({ key: "backupKeepDaily", expected: "at least one of backupKeepLast/Hourly/Daily/Weekly/Monthly above 0 (with all at 0 restic forget has no policy and the repository grows forever)", given: 0 });
    }
    return problems;
  },
};
