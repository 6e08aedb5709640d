/**
 * The platform's policies as plain objects, so tests call `validateResource` /
 * `validateStack` directly with fake arguments. `index.ts` puts them in a
 * PolicyPack for `pulumi preview --policy-pack policy`.
 *
 * Self-contained on purpose: the Pulumi CLI runs this pack in its own process,
 * compiling it with ts-node; it reads resource inputs by type token and imports
 * nothing from the program.
 *
 * Prod detection: a resource belongs to a prod stack when the stack in its URN
 * (`urn:pulumi:<stack>::...`) or its stack label (`stack` on Hetzner resources,
 * `swarm-platform.stack` on Swarm objects) matches policy config `prodStacks`
 * (default ["prod", "prod-*"]; a trailing * matches a prefix).
 */
import type {
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

export const TYPES = {
  firewall: "hcloud:index/firewall:Firewall",
  server: "hcloud:index/server:Server",
  service: "docker:index/service:Service",
  network: "docker:index/network:Network",
} as const;

/** Label the Swarm renderer sets on every service: its family (redis, rabbitmq, vault, ...). */
export const COMPONENT_LABEL = "swarm-platform.component";
/** Label the Swarm renderer sets to "true" on each stateful member service. */
export const STATEFUL_LABEL = "swarm-platform.stateful";
/** Label the stateful specs set on each member service: the member's name (redis-1, ...). */
export const MEMBER_LABEL = "swarm-platform.member";
/** Stack label of Swarm objects (Hetzner resources carry `stack`). */
export const SWARM_STACK_LABEL = "swarm-platform.stack";

export const DEFAULT_PROD_STACKS: readonly string[] = ["prod", "prod-*"];
/** SSH's well-known port and this project's default sshd port. */
export const DEFAULT_SSH_PORTS: readonly number[] = [22, 2222];
/** Swarm's own ports: cluster management, gossip, VXLAN data path. */
export const SWARM_PORTS: readonly { port: number; protocols: readonly string[]; what: string }[] = [
  { port: 2377, protocols: ["tcp"], what: "Swarm cluster management" },
  { port: 7946, protocols: ["tcp", "udp"], what: "Swarm node gossip" },
  { port: 4789, protocols: ["udp"], what: "Swarm overlay data path (VXLAN)" },
];
export const DEFAULT_WORLD_OPEN_PORTS: readonly number[] = [80, 443];
/** Hetzner's private network carries 1450 bytes; VXLAN takes 50. */
export const MAX_OVERLAY_MTU = 1400;
/** Docker's option key for the overlay MTU. */
export const MTU_OPTION = "com.docker.network.driver.mtu";

const PROD_STACKS_SCHEMA = {
  prodStacks: {
    type: "array" as const,
    items: { type: "string" as const },
    default: [...DEFAULT_PROD_STACKS],
    description: "Stacks held to prod rules; a trailing * matches a prefix.",
  },
};

// ---------------------------------------------------------------------------
// Reading resource inputs (plain JSON in the policy runtime; secrets unwrapped).

type Props = Record<string, unknown>;
type Args = Pick<ResourceValidationArgs, "type" | "props" | "urn" | "getConfig">;

function obj(value: unknown): Props {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Props) : {};
}
function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The stack name in a URN: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOfUrn(urn: string): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

/** Labels as a map: Hetzner takes a map, docker a list of {label, value}. */
export function labelsOf(props: Props): Record<string, string> {
  const raw = props.labels;
  if (Array.isArray(raw)) {
    const out: Record<string, string> = {};
    for (const l of raw) {
      const key = str(obj(l).label);
      if (key !== undefined) out[key] = String(obj(l).value ?? "");
    }
    return out;
  }
  return Object.fromEntries(Object.entries(obj(raw)).map(([k, v]) => [k, String(v)]));
}

function matchesStack(stack: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith("*") ? stack.startsWith(p.slice(0, -1)) : stack === p));
}

export function isProd(args: Pick<Args, "urn" | "props" | "getConfig">): boolean {
  const patterns = args.getConfig<{ prodStacks?: string[] }>().prodStacks ?? DEFAULT_PROD_STACKS;
  const labels = labelsOf(args.props);
  const candidates = [stackOfUrn(args.urn), labels.stack, labels[SWARM_STACK_LABEL]].filter((s): s is string => !!s);
  return candidates.some((s) => matchesStack(s, patterns));
}

function describeResource(args: { type: string; urn: string }): string {
  return args.urn.split("::").pop() ?? args.type;
}

// ---------------------------------------------------------------------------
// Firewalls.

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** Hetzner rule port: "22", "8000-8100", "any" (or none, for all ports). */
export function parsePortRange(port: string | undefined): PortRange | undefined {
  if (port === undefined || port === "" || port === "any") return { from: 1, to: 65535 };
  const m = /^(\d+)(?:-(\d+))?$/.exec(port.trim());
  if (!m) return undefined;
  const from = Number(m[1]);
  return { from, to: m[2] !== undefined ? Number(m[2]) : from };
}

/** A CIDR that matches every address: 0.0.0.0/0, ::/0 (any /0). */
export function isWorldCidr(cidr: string): boolean {
  return /\/0$/.test(cidr.trim());
}

interface InboundWorldRule {
  readonly index: number;
  readonly protocol: string;
  readonly port: string | undefined;
  readonly range: PortRange | undefined;
}

function worldOpenInboundRules(props: Props): InboundWorldRule[] {
  return arr(props.rules).flatMap((r, index) => {
    const rule = obj(r);
    if ((str(rule.direction) ?? "in") !== "in") return [];
    if (!arr(rule.sourceIps).some((c) => typeof c === "string" && isWorldCidr(c))) return [];
    const protocol = (str(rule.protocol) ?? "").toLowerCase();
    const port = str(rule.port);
    return [{ index, protocol, port, range: protocol === "tcp" || protocol === "udp" ? parsePortRange(port) : undefined }];
  });
}

const covers = (range: PortRange | undefined, port: number): boolean => range === undefined || (range.from <= port && port <= range.to);

export const noWorldOpenSshOrSwarmPorts: ResourceValidationPolicy = {
  name: "no-world-open-ssh-or-swarm-ports",
  description: "No inbound firewall rule opens SSH or a Swarm port (2377/tcp, 7946/tcp+udp, 4789/udp, ESP) to 0.0.0.0/0 or ::/0.",
  enforcementLevel: "mandatory",
  severity: "critical",
  configSchema: {
    properties: {
      sshPorts: { type: "array", items: { type: "integer" }, default: [...DEFAULT_SSH_PORTS], description: "Ports sshd may listen on." },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== TYPES.firewall) return;
    const sshPorts = args.getConfig<{ sshPorts?: number[] }>().sshPorts ?? DEFAULT_SSH_PORTS;
    for (const rule of worldOpenInboundRules(args.props)) {
      const where = `rule ${rule.index} (${rule.protocol} ${rule.port ?? "all ports"}) of ${describeResource(args)}`;
      if (rule.protocol === "esp") {
        report(`${where} opens ESP to the whole internet: encrypted overlay traffic stays on the private network`);
        continue;
      }
      if (rule.protocol !== "tcp" && rule.protocol !== "udp") continue;
      if (rule.range === undefined) {
        report(`${where} has a port Hetzner does not take (${JSON.stringify(rule.port)}); it may open anything to the whole internet`);
        continue;
      }
      if (rule.protocol === "tcp") {
        const ssh = sshPorts.filter((p) => covers(rule.range, p));
        if (ssh.length > 0) report(`${where} opens SSH (port ${ssh.join(", ")}) to the whole internet: allow admin ranges only (sshAllowedCidrs)`);
      }
      for (const s of SWARM_PORTS.filter((x) => x.protocols.includes(rule.protocol) && covers(rule.range, x.port))) {
        report(`${where} opens ${s.what} (${s.port}/${rule.protocol}) to the whole internet: Swarm talks over the private network only`);
      }
    }
  },
};

export const worldOpenOnlyWebPorts: ResourceValidationPolicy = {
  name: "world-open-only-web-ports",
  description: "Only the web ports (80, 443 by default) are open to the whole internet; everything else from known ranges.",
  enforcementLevel: "advisory",
  severity: "medium",
  configSchema: {
    properties: {
      worldOpenPorts: { type: "array", items: { type: "integer" }, default: [...DEFAULT_WORLD_OPEN_PORTS], description: "Ports anyone may reach." },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== TYPES.firewall) return;
    const allowed = args.getConfig<{ worldOpenPorts?: number[] }>().worldOpenPorts ?? DEFAULT_WORLD_OPEN_PORTS;
    for (const rule of worldOpenInboundRules(args.props)) {
      if (rule.protocol !== "tcp" && rule.protocol !== "udp") continue;
      const r = rule.range;
      const onlyAllowed = r !== undefined && r.to - r.from < 1024 && Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i).every((p) => allowed.includes(p));
      if (!onlyAllowed) {
        report(`rule ${rule.index} of ${describeResource(args)} opens ${rule.protocol} ${rule.port ?? "all ports"} to the whole internet; only ${allowed.join(", ")} are meant to be`);
      }
    }
  },
};

// ---------------------------------------------------------------------------
// Servers.

export const prodServersDeleteProtection: ResourceValidationPolicy = {
  name: "prod-servers-delete-protection",
  description: "Servers of a prod stack have Hetzner delete protection.",
  enforcementLevel: "mandatory",
  severity: "high",
  configSchema: { properties: PROD_STACKS_SCHEMA },
  validateResource: (args, report) => {
    if (args.type !== TYPES.server || !isProd(args)) return;
    if (args.props.deleteProtection !== true) {
      report(`prod server ${describeResource(args)} has no delete protection (deleteProtection: true; setting protect)`);
    }
  },
};

export const prodServersFullyProtected: ResourceValidationPolicy = {
  name: "prod-servers-fully-protected",
  description: "Prod servers also have rebuild protection and Pulumi's protect option, so neither the console nor a stray `pulumi destroy` wipes them.",
  enforcementLevel: "advisory",
  severity: "medium",
  configSchema: { properties: PROD_STACKS_SCHEMA },
  validateResource: (args, report) => {
    if (args.type !== TYPES.server || !isProd(args)) return;
    if (args.props.rebuildProtection !== true) report(`prod server ${describeResource(args)} has no rebuild protection`);
    if (!args.opts.protect) report(`prod server ${describeResource(args)} is not protected in Pulumi (protect: true)`);
  },
};

// ---------------------------------------------------------------------------
// Swarm services.

function taskSpec(props: Props): Props {
  return obj(props.taskSpec);
}
function containerSpec(props: Props): Props {
  return obj(taskSpec(props).containerSpec);
}
function serviceName(args: { props: Props; urn: string; type: string }): string {
  return str(args.props.name) ?? describeResource(args);
}
/** A stateful member carries `swarm-platform.stateful=true` or a `swarm-platform.member` label. */
export function isStatefulService(props: Props): boolean {
  const labels = labelsOf(props);
  return labels[STATEFUL_LABEL] === "true" || (labels[MEMBER_LABEL] ?? "") !== "";
}

export const swarmServiceResourceLimits: ResourceValidationPolicy = {
  name: "swarm-service-resource-limits",
  description: "Every Swarm service limits its memory and CPU, so one task cannot starve a node.",
  enforcementLevel: "mandatory",
  severity: "high",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service) return;
    const limits = obj(obj(taskSpec(args.props).resources).limits);
    const missing = (["memoryBytes", "nanoCpus"] as const).filter((k) => !(typeof limits[k] === "number" && (limits[k] as number) > 0));
    if (missing.length > 0) report(`service ${serviceName(args)} has no ${missing.join(" and no ")} limit (taskSpec.resources.limits)`);
  },
};

export const swarmServiceReservations: ResourceValidationPolicy = {
  name: "swarm-service-reservations",
  description: "Services reserve memory, so the scheduler does not pack a node beyond what it holds.",
  enforcementLevel: "advisory",
  severity: "low",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service) return;
    const reservation = obj(obj(taskSpec(args.props).resources).reservation);
    if (!(typeof reservation.memoryBytes === "number" && reservation.memoryBytes > 0)) {
      report(`service ${serviceName(args)} reserves no memory (taskSpec.resources.reservation.memoryBytes)`);
    }
  },
};

export const swarmServiceHealthcheck: ResourceValidationPolicy = {
  name: "swarm-service-healthcheck",
  description: "Every Swarm service declares a healthcheck, so rolling updates wait for healthy tasks and roll back otherwise.",
  enforcementLevel: "mandatory",
  severity: "high",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service) return;
    const tests = arr(obj(containerSpec(args.props).healthcheck).tests).filter((t): t is string => typeof t === "string");
    if (tests.length === 0) report(`service ${serviceName(args)} has no healthcheck (taskSpec.containerSpec.healthcheck.tests)`);
    else if (tests[0] === "NONE") report(`service ${serviceName(args)} disables its healthcheck (NONE)`);
    else if (tests.length < 2 && (tests[0] === "CMD" || tests[0] === "CMD-SHELL")) report(`service ${serviceName(args)} has a healthcheck with no command`);
  },
};

export interface ImageRef {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** Splits `registry:5000/ns/name:tag@sha256:...`; the tag is after the last `:` of the last path part. */
export function parseImage(image: string): ImageRef {
  const at = image.indexOf("@");
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const name = at >= 0 ? image.slice(0, at) : image;
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > slash) return { repository: name.slice(0, colon), tag: name.slice(colon + 1), digest };
  return { repository: name, digest };
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export const swarmServicePinnedImage: ResourceValidationPolicy = {
  name: "swarm-service-pinned-image",
  description: "Every Swarm service runs a pinned image: a version tag (not latest, not none) or a digest.",
  enforcementLevel: "mandatory",
  severity: "high",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service) return;
    const image = str(containerSpec(args.props).image);
    if (!image) {
      report(`service ${serviceName(args)} has no image`);
      return;
    }
    const ref = parseImage(image);
    if (ref.digest !== undefined && !DIGEST.test(ref.digest)) report(`service ${serviceName(args)} image ${image} has a malformed digest`);
    else if (ref.digest === undefined && (ref.tag === undefined || ref.tag === "" || ref.tag === "latest")) {
      report(`service ${serviceName(args)} image ${image} is not pinned: use a version tag such as :7.4.2 or a digest`);
    }
  },
};

export const swarmServiceImageDigest: ResourceValidationPolicy = {
  name: "swarm-service-image-digest",
  description: "Images are pinned by digest as well as tag, so a re-pushed tag cannot change what runs.",
  enforcementLevel: "advisory",
  severity: "low",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service) return;
    const image = str(containerSpec(args.props).image);
    if (image && parseImage(image).digest === undefined) report(`service ${serviceName(args)} image ${image} has no digest`);
  },
};

/** Names of settings that hold a secret. A `*_FILE` name holds a path to one, which is how secrets are passed. */
const SECRET_NAME = /(PASSW(OR)?D|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?|COOKIE|ENCRYPTION_?KEY|UNSEAL)/i;
const SECRET_VALUE_PATTERNS: readonly { re: RegExp; what: string }[] = [
  { re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: "a private key" },
  { re: /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i, what: "a URL with a password" },
  { re: /\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|hvs\.[A-Za-z0-9_-]{20,})\b/, what: "an access token" },
];

/**
 * Names that say "token" or "key" but hold an identifier: etcd's initial cluster
 * token only keeps two clusters from merging (etcd does not treat it as a secret).
 */
const NOT_SECRET_NAMES = /^(ETCD_INITIAL_CLUSTER_TOKEN)$/;
/** Names of identifiers, whose values are random-looking by design (Sentinel's 40-hex myid, hashes). */
const IDENTIFIER_NAME = /(^|_)(MY)?ID$|UUID|HASH|DIGEST|CHECKSUM|FINGERPRINT/i;

/** Why an environment entry looks like a secret, or undefined. Never returns the value. */
export function secretLooking(name: string, value: string): string | undefined {
  if (value === "") return undefined;
  for (const p of SECRET_VALUE_PATTERNS) if (p.re.test(value)) return `its value looks like ${p.what}`;
  if (/_FILE$/i.test(name) || NOT_SECRET_NAMES.test(name)) return undefined;
  // Paths, numbers, durations and switches are settings about a secret, not the secret.
  const plainSetting = value.startsWith("/") || /^(\d+(\.\d+)?[a-z]{0,2}|true|false|yes|no|on|off)$/i.test(value);
  if (SECRET_NAME.test(name) && !plainSetting) return "its name says it holds a secret";
  if (!IDENTIFIER_NAME.test(name) && value.length >= 32 && /^[A-Za-z0-9+/=_-]+$/.test(value) && /[0-9]/.test(value) && /[A-Za-z]/.test(value) && !/^[a-z0-9]+(-[a-z0-9]+)+$/.test(value)) {
    return "its value looks like a random key";
  }
  return undefined;
}

export const swarmServiceNoSecretInEnv: ResourceValidationPolicy = {
  name: "swarm-service-no-secret-in-env",
  description: "No secret-looking value in a service's environment: secrets reach containers as Docker secret files (*_FILE).",
  enforcementLevel: "mandatory",
  severity: "critical",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service) return;
    for (const [name, value] of Object.entries(obj(containerSpec(args.props).env))) {
      const why = secretLooking(name, String(value));
      if (why) report(`service ${serviceName(args)} environment ${name}: ${why}; pass it as a Docker secret and point ${name}_FILE at /run/secrets/...`);
    }
  },
};

const PIN = /^\s*node\.hostname\s*==\s*(\S+)\s*$/;

/** The node a service is pinned to by `node.hostname == <node>`, if exactly one. */
export function pinnedHost(props: Props): string | undefined {
  const hosts = arr(obj(taskSpec(props).placement).constraints)
    .map((c) => (typeof c === "string" ? PIN.exec(c)?.[1] : undefined))
    .filter((h): h is string => h !== undefined);
  const distinct = [...new Set(hosts)];
  return distinct.length === 1 ? distinct[0] : undefined;
}

export const statefulMembersPinned: ResourceValidationPolicy = {
  name: "stateful-members-pinned",
  description: `Each stateful member (label ${STATEFUL_LABEL}=true or ${MEMBER_LABEL}) is one replica pinned to one node (node.hostname == <node>), next to its volume.`,
  enforcementLevel: "mandatory",
  severity: "high",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service || !isStatefulService(args.props)) return;
    if (!pinnedHost(args.props)) report(`stateful member ${serviceName(args)} is not pinned to exactly one node (placement constraint node.hostname == <node>)`);
    const mode = obj(args.props.mode);
    if (mode.global === true) report(`stateful member ${serviceName(args)} runs in global mode; a member is one replicated task`);
    const replicas = obj(mode.replicated).replicas;
    if (replicas !== undefined && replicas !== 1) report(`stateful member ${serviceName(args)} has ${String(replicas)} replicas; a member is exactly one`);
  },
};

export const statefulMembersStopFirst: ResourceValidationPolicy = {
  name: "stateful-members-stop-first",
  description: "Stateful members update stop-first: two tasks must never open the same volume.",
  enforcementLevel: "advisory",
  severity: "medium",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service || !isStatefulService(args.props)) return;
    const order = str(obj(args.props.updateConfig).order) ?? "stop-first";
    if (order !== "stop-first") report(`stateful member ${serviceName(args)} updates ${order}; use stop-first`);
  },
};

export const swarmServiceRollsBack: ResourceValidationPolicy = {
  name: "swarm-service-rolls-back",
  description: "Updates roll back on failure, and `pulumi up` waits for convergence (convergeConfig) of every replicated service so a failed rollout fails the deploy; a global service carries no convergeConfig, which the Docker provider refuses beside mode.global.",
  enforcementLevel: "advisory",
  severity: "medium",
  validateResource: (args, report) => {
    if (args.type !== TYPES.service) return;
    if (str(obj(args.props.updateConfig).failureAction) !== "rollback") report(`service ${serviceName(args)} does not roll back a failed update (updateConfig.failureAction: rollback)`);
    // The provider's schema says converge_config ConflictsWith mode.0.global, and mode.global with converge_config: Check fails.
    // Setting mode.global at all counts, false included.
    const mode = obj(args.props.mode);
    const namesGlobal = mode.global !== undefined && mode.global !== null;
    if (namesGlobal && args.props.convergeConfig !== undefined) {
      report(`service ${serviceName(args)} sets mode.global (${String(mode.global)}) and convergeConfig: the Docker provider refuses the pair ("conflicts with mode.0.global"), so every preview fails; drop convergeConfig, or mode.global for a replicated service`);
    } else if (!namesGlobal && args.props.convergeConfig === undefined) {
      report(`service ${serviceName(args)} has no convergeConfig: pulumi up returns before its tasks are healthy`);
    }
  },
};

// ---------------------------------------------------------------------------
// Overlay networks.

function networkOptions(props: Props): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(props.options)).map(([k, v]) => [k, String(v)]));
}

export const prodOverlayNetworksEncrypted: ResourceValidationPolicy = {
  name: "prod-overlay-networks-encrypted",
  description: "Overlay networks of a prod stack are encrypted (IPsec between nodes).",
  enforcementLevel: "mandatory",
  severity: "high",
  configSchema: { properties: PROD_STACKS_SCHEMA },
  validateResource: (args, report) => {
    if (args.type !== TYPES.network || str(args.props.driver) !== "overlay" || !isProd(args)) return;
    // Docker encrypts when the option is present, whatever its value.
    if (!("encrypted" in networkOptions(args.props))) {
      report(`prod overlay network ${str(args.props.name) ?? describeResource(args)} is not encrypted (options: { encrypted: "true" })`);
    }
  },
};

export const overlayNetworkOptionsSane: ResourceValidationPolicy = {
  name: "overlay-network-options-sane",
  description: `Overlay networks set an MTU of at most ${MAX_OVERLAY_MTU} (Hetzner's private network carries 1450, VXLAN takes 50), and never say encrypted=false (Docker encrypts whenever the option is present).`,
  enforcementLevel: "advisory",
  severity: "medium",
  validateResource: (args, report) => {
    if (args.type !== TYPES.network || str(args.props.driver) !== "overlay") return;
    const name = str(args.props.name) ?? describeResource(args);
    const options = networkOptions(args.props);
    const mtu = options[MTU_OPTION];
    if (mtu === undefined) report(`overlay network ${name} sets no MTU (${MTU_OPTION}); Docker's 1500 does not fit the private network`);
    else if (!(Number(mtu) > 0 && Number(mtu) <= MAX_OVERLAY_MTU)) report(`overlay network ${name} MTU ${mtu} does not fit the private network (at most ${MAX_OVERLAY_MTU})`);
    if ("encrypted" in options && /^(false|0|no|off)$/i.test(options.encrypted)) {
      report(`overlay network ${name} has encrypted=${options.encrypted}, which Docker reads as encrypted; drop the option instead`);
    }
  },
};

// ---------------------------------------------------------------------------
// Stack-wide rules.

type StackArgs = Pick<StackValidationArgs, "resources" | "getConfig">;

export const statefulMembersOnDistinctNodes: StackValidationPolicy = {
  name: "stateful-members-on-distinct-nodes",
  description: `Members of one stateful family (${COMPONENT_LABEL}) are pinned to different nodes, so one node failure costs at most one member.`,
  enforcementLevel: "mandatory",
  severity: "high",
  validateStack: (args: StackArgs, report: ReportViolation) => {
    const byFamilyNode = new Map<string, PolicyResource[]>();
    for (const r of args.resources.filter((x) => x.type === TYPES.service && isStatefulService(x.props))) {
      const family = labelsOf(r.props)[COMPONENT_LABEL] ?? "(no component label)";
      const node = pinnedHost(r.props);
      if (!node) continue;
      const key = `${family}\u0000${node}`;
      byFamilyNode.set(key, [...(byFamilyNode.get(key) ?? []), r]);
    }
    for (const [key, members] of byFamilyNode) {
      if (members.length < 2) continue;
      const [family, node] = key.split("\u0000");
      const names = members.map((m) => str(m.props.name) ?? m.name).join(", ");
      for (const m of members) report(`${family} members ${names} are all pinned to ${node}: losing that node loses them together`, m.urn);
    }
  },
};

export const prodManagerQuorum: StackValidationPolicy = {
  name: "prod-swarm-manager-quorum",
  description: "A prod stack runs an odd number of Swarm managers, at least three, so Raft survives a manager failure.",
  enforcementLevel: "advisory",
  severity: "medium",
  configSchema: { properties: PROD_STACKS_SCHEMA },
  validateStack: (args: StackArgs, report: ReportViolation) => {
    const servers = args.resources.filter((r) => r.type === TYPES.server);
    const prodServers = servers.filter((r) => isProd({ urn: r.urn, props: r.props, getConfig: args.getConfig }));
    if (prodServers.length === 0) return;
    const managers = prodServers.filter((r) => labelsOf(r.props).role === "manager").length;
    if (managers < 3 || managers % 2 === 0) report(`prod stack has ${managers} Swarm manager server(s) (label role=manager); run 3, 5 or 7`);
  },
};

/** Every policy of the pack, in the order `pulumi preview` lists them. */
export const POLICIES: readonly (ResourceValidationPolicy | StackValidationPolicy)[] = [
  noWorldOpenSshOrSwarmPorts,
  worldOpenOnlyWebPorts,
  prodServersDeleteProtection,
  prodServersFullyProtected,
  swarmServiceResourceLimits,
  swarmServiceReservations,
  swarmServiceHealthcheck,
  swarmServicePinnedImage,
  swarmServiceImageDigest,
  swarmServiceNoSecretInEnv,
  statefulMembersPinned,
  statefulMembersStopFirst,
  swarmServiceRollsBack,
  prodOverlayNetworksEncrypted,
  overlayNetworkOptionsSane,
  statefulMembersOnDistinctNodes,
  prodManagerQuorum,
];
