/** Settings of Vault (Raft members, UI, TLS material) and its image. */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { ValueError, type ConfigProblem } from "../../stacks/errors";
import { bool, int, perProfile, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";
import { serviceNodes } from "../../core/placement";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import type { FamilyArea, SettingsContext } from "../kit/family";

const G = "Vault";

export const VAULT_IMAGES = {
  vault: { image: "hashicorp/vault:1.18.3@sha256:8f1ba670da547c6af67be55609bd285c3ee3d8b73f88021adbfc43c82ca409e8", why: "Vault (integrated Raft storage)" },
} as const satisfies Record<string, ImageDefault>;

/** Vault member names; the TLS certificate must name every one of them. */
export function vaultMemberName(index: number): string {
  return `vault-${index + 1}`;
}

export interface VaultSection {
  readonly members: number;
  readonly ui: boolean;
  readonly tls: boolean;
  /** PEM chain, server certificate first (secret setting; empty when TLS is off). */
  readonly tlsCertificate: string;
  readonly tlsKey: string;
  readonly images: Readonly<Record<keyof typeof VAULT_IMAGES, string>>;
}

/**
 * Self-signed certificate and key naming vault-1..vault-5, committed for offline
 * plans and tests only (the real material is a secret setting; this pair is public
 * and never deployed).
 */
export function offlineVaultTls(): { certificate: string; key: string } {
  const dir = join(__dirname, "files");
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

export const VAULT_SETTINGS: SettingDef[] = [
  {
    key: "vaultMembers",
    group: G,
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
    group: G,
    type: "boolean",
    expected: "true or false",
    description: "Serve the Vault web UI on the API listener (reach it through the SSH tunnel; it is never published).",
    parse: bool,
    default: true,
  },
  {
    key: "vaultTls",
    group: G,
    type: "boolean",
    expected: "true or false (true requires vaultTlsCertificate and vaultTlsKey)",
    description: "TLS on Vault's API and cluster listener from vaultTlsCertificate/vaultTlsKey. Off means plain HTTP inside the overlay (test only; the plan warns).",
    parse: bool,
    default: perProfile({ test: false, prod: true }),
  },
  {
    key: "vaultTlsCertificate",
    group: G,
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
    group: G,
    type: "string",
    secret: true,
    expected: "the PEM private key of vaultTlsCertificate, or empty when vaultTls is false",
    description: "Private key of the Vault listener certificate (secret; mounted as a Docker secret file readable by the vault user only).",
    parse: pemOrEmpty("key"),
    default: "",
    standIn: () => offlineVaultTls().key,
  },
  ...imageSettings(G, VAULT_IMAGES),
];

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

export const vaultArea: FamilyArea<VaultSection> = {
  name: "vault",
  settings: VAULT_SETTINGS,
  build(v: Values): VaultSection {
    const get = <T>(key: string): T => v.get(key) as T;
    return {
      members: get("vaultMembers"),
      ui: get("vaultUi"),
      tls: get("vaultTls"),
      tlsCertificate: get("vaultTlsCertificate"),
      tlsKey: get("vaultTlsKey"),
      images: imagesOf(v, VAULT_IMAGES),
    };
  },
  validate(s: VaultSection, { topology }: SettingsContext): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const nodes = serviceNodes(topology);
    if (s.members > nodes.length) {
      problems.push({ key: "vaultMembers", expected: `at most ${nodes.length} (one member per active type=service node: ${nodes.map((n) => n.name).join(", ") || "none"})`, given: s.members });
    }
    if (s.tls) problems.push(...vaultTlsProblems(s.tlsCertificate, s.tlsKey, s.members));
    return problems;
  },
};
