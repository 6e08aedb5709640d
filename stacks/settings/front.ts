import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ValueError, type ConfigProblem } from "../errors";
import { bool, int, list, oneOf, perProfile, str, type SettingDef } from "../schema";
import type { CoreConfig, Values } from "../config";
import type { Area } from "./index";
import { buildTopology, type Topology } from "../../core/topology";
import { serviceNodes } from "../../core/placement";

const G_VAULT = "Vault";
const G_APISIX = "API gateway (APISIX)";
const G_MONITORING = "Monitoring";
const G_EDGE = "TLS edge";

export const LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory";
export const LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/** Vault member names; the TLS certificate must name every one of them. */
export function vaultMemberName(index: number): string {
  return `vault-${index + 1}`;
}

export interface FrontSection {
  readonly vault: {
    readonly members: number;
    readonly ui: boolean;
    readonly tls: boolean;
    /** PEM chain, server certificate first (secret setting; empty when TLS is off). */
    readonly tlsCertificate: string;
    readonly tlsKey: string;
  };
  readonly apisix: {
    readonly replicas: number;
    readonly rateLimitPolicy: "local" | "redis";
    /** host:port of the application API the routes forward to. */
    readonly apiUpstream: string;
  };
  readonly monitoring: {
    /** Resolved: never empty. */
    readonly node: string;
    readonly prometheusRetention: string;
    readonly prometheusRetentionSize: string;
    /** Absolute host path (StorageBox mount) or empty for a local volume on the monitoring node. */
    readonly grafanaDataDir: string;
    /** Secret; empty = alerts are kept in Alertmanager only. */
    readonly alertWebhookUrl: string;
  };
  readonly edge: {
    readonly domains: readonly string[];
    readonly acmeEmail: string;
    readonly acmeCa: string;
  };
}

/**
 * Self-signed certificate and key naming vault-1..vault-5, committed for offline
 * plans and tests only (the real material is a secret setting; this pair is public
 * and never deployed).
 */
export function offlineVaultTls(): { certificate: string; key: string } {
  const dir = join(__dirname, "..", "..", "specs", "files", "front");
  return {
    certificate: readFileSync(join(dir, "offline-stand-in-vault.crt"), "utf8"),
    key: readFileSync(join(dir, "offline-stand-in-vault.key"), "utf8"),
  };
}

const pemOrEmpty = (kind: "certificate" | "key") => (value: unknown): string => {
  const expected = kind === "certificate"
    ? "a PEM certificate chain (server certificate first), or empty"
    : "a PEM private key, or empty";
  if (typeof value !== "string") throw new ValueError(expected, "[secret]");
  if (value === "") return value;
  const marker = kind === "certificate" ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN (RSA |EC )?PRIVATE KEY-----/;
  if (!marker.test(value)) throw new ValueError(expected, "[secret]");
  return value;
};

const hostPort = str({
  pattern: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?:\d{1,5}$/,
  expected: "host:port of a service on the platform network, e.g. api:8080",
});

const domain = str({
  pattern: /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
  expected: "a lowercase DNS name such as api.example.com",
});

/** Prometheus durations: 15d, 12h, 4w. */
const promDuration = str({ pattern: /^[1-9]\d*(h|d|w|y)$/, expected: "a Prometheus duration such as 15d, 12h or 4w" });
const promSize = str({ pattern: /^[1-9]\d*(MB|GB|TB)$/, expected: "a size such as 500MB, 20GB or 1TB" });

export const FRONT_SETTINGS: SettingDef[] = [
  {
    key: "vaultMembers",
    group: G_VAULT,
    type: "integer",
    expected: "1, 3 or 5 (an odd number keeps a Raft majority), at most the number of type=service nodes",
    description: "Vault Raft members: one pinned service per member (vault-1..N) with its own volume, on distinct type=service nodes.",
    parse: (v) => {
      const n = int(1, 5)(v);
      if (n % 2 === 0) throw new ValueError("1, 3 or 5 (an odd number keeps a Raft majority)", v);
      return n;
    },
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "vaultUi",
    group: G_VAULT,
    type: "boolean",
    expected: "true or false",
    description: "Serve the Vault web UI on the API listener (reach it through the SSH tunnel; it is never published).",
    parse: bool,
    default: true,
  },
  {
    key: "vaultTls",
    group: G_VAULT,
    type: "boolean",
    expected: "true or false (true requires vaultTlsCertificate and vaultTlsKey)",
    description: "TLS on Vault's API and cluster listener from vaultTlsCertificate/vaultTlsKey. Off means plain HTTP inside the overlay (test only; the plan warns).",
    parse: bool,
    default: perProfile({ test: false, prod: true }),
  },
  {
    key: "vaultTlsCertificate",
    group: G_VAULT,
    type: "string",
    secret: true,
    expected: "a PEM certificate chain whose subjectAltName lists DNS:vault-1 .. DNS:vault-N, or empty when vaultTls is false",
    description: "Vault listener certificate chain, server certificate first (secret; mounted as a Docker secret file).",
    parse: pemOrEmpty("certificate"),
    default: "",
    standIn: () => offlineVaultTls().certificate,
  },
  {
    key: "vaultTlsKey",
    group: G_VAULT,
    type: "string",
    secret: true,
    expected: "the PEM private key of vaultTlsCertificate, or empty when vaultTls is false",
    description: "Private key of the Vault listener certificate (secret; mounted as a Docker secret file readable by the vault user only).",
    parse: pemOrEmpty("key"),
    default: "",
    standIn: () => offlineVaultTls().key,
  },
  {
    key: "apisixReplicas",
    group: G_APISIX,
    type: "integer",
    expected: "an integer from 1 to 9, at most the number of type=service nodes (at most one per node)",
    description: "APISIX gateway replicas, at most one per type=service node. The dashboard runs the same number.",
    parse: int(1, 9),
    default: perProfile({ test: 1, prod: 3 }),
  },
  {
    key: "apisixRateLimitPolicy",
    group: G_APISIX,
    type: "string",
    expected: 'one of "local", "redis"',
    description: "Where limit-count keeps its counters: local (per APISIX instance; with N replicas the effective limit is N times higher) or redis (shared, through the stable Redis master endpoint, with allow_degradation).",
    parse: oneOf(["local", "redis"] as const),
    default: perProfile({ test: "local", prod: "redis" }),
  },
  {
    key: "apisixApiUpstream",
    group: G_APISIX,
    type: "string",
    expected: "host:port of a service on the platform network, e.g. api:8080",
    description: "The application API the gateway routes (/v1/...) forward to; the application stack attaches to the platform network under this name.",
    parse: hostPort,
    default: "api:8080",
  },
  {
    key: "monitoringNode",
    group: G_MONITORING,
    type: "string",
    expected: "the name of a type=service node of this stack, or empty for the last type=service worker",
    description: "Node that runs Prometheus (TSDB on a local volume there), Alertmanager and, without grafanaDataDir, Grafana.",
    parse: str({ pattern: /^[a-z][a-z0-9-]*$/, allowEmpty: true, expected: "a node name such as prod-app-03, or empty" }),
    default: "",
  },
  {
    key: "prometheusRetention",
    group: G_MONITORING,
    type: "string",
    expected: "a Prometheus duration such as 15d, 12h or 4w",
    description: "How long Prometheus keeps samples (--storage.tsdb.retention.time).",
    parse: promDuration,
    default: perProfile({ test: "7d", prod: "30d" }),
  },
  {
    key: "prometheusRetentionSize",
    group: G_MONITORING,
    type: "string",
    expected: "a size such as 500MB, 20GB or 1TB",
    description: "Upper bound of the TSDB on the monitoring node's disk (--storage.tsdb.retention.size); the oldest blocks go first.",
    parse: promSize,
    default: perProfile({ test: "5GB", prod: "40GB" }),
  },
  {
    key: "grafanaDataDir",
    group: G_MONITORING,
    type: "string",
    expected: "an absolute host path present on every type=service node (a StorageBox mount), or empty for a local volume",
    description: "Grafana's /var/lib/grafana: a shared StorageBox path lets the single Grafana move between nodes; empty keeps it on a volume on the monitoring node.",
    parse: str({ pattern: /^\/[A-Za-z0-9._\/-]+$/, allowEmpty: true, expected: "an absolute path such as /mnt/storagebox/grafana/data, or empty" }),
    default: perProfile({ test: "", prod: "/mnt/storagebox/grafana/data" }),
  },
  {
    key: "alertWebhookUrl",
    group: G_MONITORING,
    type: "string",
    secret: true,
    expected: "an http(s) URL (it usually carries a token, hence secret), or empty",
    description: "Alertmanager's webhook receiver (secret; read from a Docker secret file with url_file). Empty: alerts are visible in Alertmanager only and the plan warns.",
    parse: (v) => {
      const expected = "an http(s) URL, or empty";
      if (typeof v !== "string") throw new ValueError(expected, "[secret]");
      if (v !== "" && !/^https?:\/\/[^\s]+$/.test(v)) throw new ValueError(expected, "[secret]");
      return v;
    },
    default: "",
  },
  {
    key: "edgeDomains",
    group: G_EDGE,
    type: "array",
    expected: "a list of DNS names pointing at the floating IP",
    description: "Public names the edge serves with ACME certificates. Empty: the edge serves plain HTTP on port 80 only and the plan warns.",
    parse: list(domain, { expected: "a list of DNS names such as api.example.com" }),
    default: [],
  },
  {
    key: "edgeAcmeEmail",
    group: G_EDGE,
    type: "string",
    expected: "an e-mail address for the ACME account (required when edgeDomains is set)",
    description: "Contact address of the ACME account (expiry notices).",
    parse: str({ pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/, allowEmpty: true, expected: "an e-mail address, or empty" }),
    default: "",
  },
  {
    key: "edgeAcmeCa",
    group: G_EDGE,
    type: "string",
    expected: "an https ACME directory URL",
    description: "ACME directory: Let's Encrypt staging in test (no rate-limit trouble, untrusted certificates), production in prod.",
    parse: str({ pattern: /^https:\/\/\S+$/, expected: "an https ACME directory URL" }),
    default: perProfile({ test: LETSENCRYPT_STAGING, prod: LETSENCRYPT_PRODUCTION }),
  },
];

/** Default monitoring node: the last type=service worker (away from the edge, which is the first). */
export function defaultMonitoringNode(topology: Pick<Topology, "workloadNodes">): string | undefined {
  const nodes = serviceNodes(topology);
  const workers = nodes.filter((n) => n.role === "worker");
  return (workers.at(-1) ?? nodes.at(-1))?.name;
}

/** Problems with the Vault TLS material: parse, key match, and names of every member. */
export function vaultTlsProblems(certificate: string, key: string, members: number): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (certificate === "") {
    problems.push({ key: "vaultTlsCertificate", expected: "a PEM certificate chain (required when vaultTls is true; set it with: pulumi config set --secret vaultTlsCertificate < chain.pem)", given: undefined });
  }
  if (key === "") {
    problems.push({ key: "vaultTlsKey", expected: "a PEM private key (required when vaultTls is true; set it with: pulumi config set --secret vaultTlsKey < key.pem)", given: undefined });
  }
  if (problems.length > 0) return problems;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificate);
  } catch (e) {
    return [{ key: "vaultTlsCertificate", expected: `a PEM certificate that parses (${(e as Error).message})`, given: "[secret]" }];
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(key))) {
      problems.push({ key: "vaultTlsKey", expected: "the private key of the first certificate in vaultTlsCertificate", given: "[secret: a different key]" });
    }
  } catch (e) {
    problems.push({ key: "vaultTlsKey", expected: `a PEM private key that parses (${(e as Error).message})`, given: "[secret]" });
  }
  const names = new Set((cert.subjectAltName ?? "").split(/,\s*/).filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4)));
  const missing = Array.from({ length: members }, (_, i) => vaultMemberName(i)).filter((n) => !names.has(n));
  if (missing.length > 0) {
    problems.push({ key: "vaultTlsCertificate", expected: `a certificate whose subjectAltName names every member (members reach each other by name): missing ${missing.map((m) => `DNS:${m}`).join(", ")}`, given: `[secret: SAN ${cert.subjectAltName ?? "none"}]` });
  }
  if (Date.parse(cert.validTo) < Date.now()) {
    problems.push({ key: "vaultTlsCertificate", expected: "a certificate that has not expired", given: `[secret: expired ${cert.validTo}]` });
  }
  return problems;
}

function buildFront(v: Values, core: CoreConfig): FrontSection {
  const get = <T>(key: string): T => v.get(key) as T;
  const topology = buildTopology(core);
  return {
    vault: {
      members: get("vaultMembers"),
      ui: get("vaultUi"),
      tls: get("vaultTls"),
      tlsCertificate: get("vaultTlsCertificate"),
      tlsKey: get("vaultTlsKey"),
    },
    apisix: {
      replicas: get("apisixReplicas"),
      rateLimitPolicy: get("apisixRateLimitPolicy"),
      apiUpstream: get("apisixApiUpstream"),
    },
    monitoring: {
      node: get<string>("monitoringNode") || (defaultMonitoringNode(topology) ?? ""),
      prometheusRetention: get("prometheusRetention"),
      prometheusRetentionSize: get("prometheusRetentionSize"),
      grafanaDataDir: get("grafanaDataDir"),
      alertWebhookUrl: get("alertWebhookUrl"),
    },
    edge: {
      domains: get("edgeDomains"),
      acmeEmail: get("edgeAcmeEmail"),
      acmeCa: get("edgeAcmeCa"),
    },
  };
}

function validateFront(s: FrontSection, core: CoreConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const topology = buildTopology(core);
  const nodes = serviceNodes(topology);
  const names = nodes.map((n) => n.name);
  if (s.vault.members > nodes.length) {
    problems.push({ key: "vaultMembers", expected: `at most ${nodes.length} (one member per active type=service node: ${names.join(", ") || "none"})`, given: s.vault.members });
  }
  if (s.apisix.replicas > nodes.length) {
    problems.push({ key: "apisixReplicas", expected: `at most ${nodes.length} (at most one per active type=service node: ${names.join(", ") || "none"})`, given: s.apisix.replicas });
  }
  if (s.vault.tls) problems.push(...vaultTlsProblems(s.vault.tlsCertificate, s.vault.tlsKey, s.vault.members));
  if (s.monitoring.node === "" || !names.includes(s.monitoring.node)) {
    problems.push({ key: "monitoringNode", expected: `an active type=service node of this stack (${names.join(", ") || "none"})`, given: s.monitoring.node });
  }
  if (s.edge.domains.length > 0 && s.edge.acmeEmail === "") {
    problems.push({ key: "edgeAcmeEmail", expected: "an e-mail address for the ACME account (required when edgeDomains is set)", given: "" });
  }
  const dupDomain = s.edge.domains.find((d, i) => s.edge.domains.indexOf(d) !== i);
  if (dupDomain) problems.push({ key: "edgeDomains", expected: "names listed once", given: dupDomain });
  return problems;
}

export const FRONT_AREA: Area<"front", FrontSection> = {
  name: "front",
  settings: FRONT_SETTINGS,
  build: buildFront,
  validate: validateFront,
};

/** Loud plan warnings for front settings that are acceptable in test and wrong in production. */
export function frontWarnings(config: CoreConfig & { readonly front: FrontSection }): string[] {
  const f = config.front;
  const out: string[] = [];
  if (!f.vault.tls) {
    out.push(`Vault runs WITHOUT TLS (vaultTls=false): tokens and secrets cross the overlay network in plain HTTP. Acceptable for a throwaway ${config.profile} stack only; set vaultTls with vaultTlsCertificate/vaultTlsKey.`);
  }
  if (f.apisix.rateLimitPolicy === "local" && f.apisix.replicas > 1) {
    out.push(`apisixRateLimitPolicy=local with ${f.apisix.replicas} APISIX replicas: every instance counts on its own, so the effective limits are ${f.apisix.replicas} times the declared ones. Use redis.`);
  }
  if (f.edge.domains.length === 0) {
    out.push("The edge serves plain HTTP on port 80 only (edgeDomains is empty): no certificates are requested. Set edgeDomains and edgeAcmeEmail.");
  }
  if (f.monitoring.alertWebhookUrl === "") {
    out.push("Alertmanager has no receiver (alertWebhookUrl is empty): alerts are only visible in its UI through the SSH tunnel.");
  }
  return out;
}
