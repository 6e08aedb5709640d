/** Settings of the TLS edge (Caddy with ACME certificates on the floating-IP node) and its image. */
import type { ConfigProblem } from "../../stacks/errors";
import { list, perProfile, str, type SettingDef } from "../../stacks/schema";
import type { Values } from "../../stacks/config";
import { imageSettings, imagesOf, type ImageDefault } from "../kit/images";
import type { FamilyArea, SettingsContext } from "../kit/family";

const G = "TLS edge";

export const LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory";
export const LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

export const EDGE_IMAGES = {
  edge: { image: "caddy:2.8.4", why: "TLS edge on the floating-IP node (ACME certificates)" },
} as const satisfies Record<string, ImageDefault>;

export interface EdgeSection {
  readonly domains: readonly string[];
  readonly acmeEmail: string;
  readonly acmeCa: string;
  /** Host directory for Caddy's /data (certificates, ACME account), shared by the candidates; empty: a volume per node. */
  readonly dataDir: string;
  readonly failoverToken: string;
  readonly images: Readonly<Record<keyof typeof EDGE_IMAGES, string>>;
}

const domain = str({
  pattern: /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
  expected: "a lowercase DNS name such as api.example.com",
});

export const EDGE_SETTINGS: SettingDef[] = [
  {
    key: "edgeDomains",
    group: G,
    type: "array",
    expected: "a list of DNS names pointing at the floating IP",
    description: "Public names the edge serves with ACME certificates. Empty: the edge serves plain HTTP on port 80 only and the plan warns.",
    parse: list(domain, { expected: "a list of DNS names such as api.example.com" }),
    default: [],
  },
  {
    key: "edgeAcmeEmail",
    group: G,
    type: "string",
    expected: "an e-mail address for the ACME account (required when edgeDomains is set)",
    description: "Contact address of the ACME account (expiry notices).",
    parse: str({ pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/, allowEmpty: true, expected: "an e-mail address, or empty" }),
    default: "",
  },
  {
    key: "edgeAcmeCa",
    group: G,
    type: "string",
    expected: "an https ACME directory URL",
    description: "ACME directory: Let's Encrypt staging in test (no rate-limit trouble, untrusted certificates), production in prod.",
    parse: str({ pattern: /^https:\/\/\S+$/, expected: "an https ACME directory URL" }),
    default: perProfile({ test: LETSENCRYPT_STAGING, prod: LETSENCRYPT_PRODUCTION }),
  },
  {
    key: "edgeDataDir",
    group: G,
    type: "string",
    expected: "an absolute path on the Storage Box mount such as /mnt/storagebox/edge/caddy, or empty",
    description:
      "Where Caddy keeps certificates and its ACME account, shared by every edge candidate so a standby serves the same certificate " +
      "without a new order (Caddy's storage locks coordinate them). Empty: a volume on each candidate, and each orders its own.",
    parse: str({ pattern: /^\/[A-Za-z0-9._\/-]+$/, allowEmpty: true, expected: "an absolute path such as /mnt/storagebox/edge/caddy, or empty" }),
    default: perProfile({ test: "", prod: "/mnt/storagebox/edge/caddy" }),
  },
  {
    key: "edgeFailoverToken",
    group: G,
    type: "string",
    secret: true,
    expected: "a Hetzner Cloud API token with read & write permission (required with two or more edgeCandidates; set it with: pulumi config set --secret edgeFailoverToken)",
    description:
      "Token the edge candidates' keepalived uses to move the floating IP (secret; a root-only file on the candidates only). " +
      "Hetzner tokens are project-wide: keep the platform in a project of its own (docs/edge.md).",
    parse: str({ pattern: /^[A-Za-z0-9]*$/, allowEmpty: true, expected: "a Hetzner API token (letters and digits), or empty" }),
    default: "",
    standIn: () => "offlinestandinnotatoken",
  },
  ...imageSettings(G, EDGE_IMAGES),
];

export const edgeArea: FamilyArea<EdgeSection> = {
  name: "edge",
  settings: EDGE_SETTINGS,
  build(v: Values): EdgeSection {
    const get = <T>(key: string): T => v.get(key) as T;
    return {
      domains: get("edgeDomains"),
      acmeEmail: get("edgeAcmeEmail"),
      acmeCa: get("edgeAcmeCa"),
      dataDir: get("edgeDataDir"),
      failoverToken: get("edgeFailoverToken"),
      images: imagesOf(v, EDGE_IMAGES),
    };
  },
  validate(s: EdgeSection, ctx: SettingsContext): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (ctx.core.floatingIp && ctx.topology.edgeCandidates.length >= 2 && s.failoverToken === "") {
      problems.push({ key: "edgeFailoverToken", expected: "a Hetzner Cloud API token (required with two or more edgeCandidates; set it with: pulumi config set --secret edgeFailoverToken)", given: undefined });
    }
    if (s.domains.length > 0 && s.acmeEmail === "") {
      problems.push({ key: "edgeAcmeEmail", expected: "an e-mail address for the ACME account (required when edgeDomains is set)", given: "" });
    }
    const dupDomain = s.domains.find((d, i) => s.domains.indexOf(d) !== i);
    if (dupDomain) problems.push({ key: "edgeDomains", expected: "names listed once", given: dupDomain });
    return problems;
  },
};
