import { ValueError } from "../errors";
import { parsePools, formatPool, type NodePool } from "../pools";
import {
  bool,
  cidr,
  int,
  ipv4Cidr,
  list,
  oneOf,
  perProfile,
  PROFILES,
  str,
  type SettingDef,
} from "../schema";
import { hostKeyFromSecret, privateKeyProblem } from "../../lib/ssh";

const G_NODES = "Nodes and network";
const G_ACCESS = "Access and firewall";
const G_DOCKER = "Docker engine and Swarm";

const sshPrivateKey = (value: unknown): string => {
  const expected = "an unencrypted OpenSSH or PEM private key (set it with: pulumi config set --secret sshPrivateKey < key)";
  if (typeof value !== "string" || value.trim() === "") throw new ValueError(expected, value === undefined ? undefined : "[secret]");
  const problem = privateKeyProblem(value);
  if (problem) throw new ValueError(`${expected}; ${problem}`, "[secret]");
  return value;
};

const publicKeyLine = str({
  pattern: /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,2}( \S.*)?$/,
  expected: "an OpenSSH public key line such as \"ssh-ed25519 AAAA... name\"",
});

const testPools: NodePool[] = parsePools([
  "mgr role=manager count=1 type=cx23 locations=fsn1 labels=type:service",
  "app role=worker count=2 type=cx33 locations=fsn1 labels=type:service",
]);
const prodPools: NodePool[] = parsePools([
  "mgr role=manager count=3 type=cx23 locations=fsn1,nbg1,hel1",
  "app role=worker count=3 type=cx43 locations=fsn1,nbg1,hel1 labels=type:service",
]);

export const CORE_SETTINGS: SettingDef[] = [
  {
    key: "profile",
    group: G_NODES,
    type: "string",
    expected: `one of ${PROFILES.map((p) => JSON.stringify(p)).join(", ")}`,
    description: "Environment profile that supplies the defaults: test (small, cheap, still real) or prod (HA). Defaults to the stack name when it is test or prod.",
    parse: oneOf(PROFILES),
  },
  {
    key: "namePrefix",
    group: G_NODES,
    type: "string",
    expected: "1-12 lowercase letters, digits or dashes, starting with a letter",
    description: "Prefix of every Hetzner resource and node name (<prefix>-<pool>-NN).",
    parse: str({ pattern: /^[a-z][a-z0-9-]{0,11}$/, expected: "1-12 lowercase letters, digits or dashes, starting with a letter" }),
    default: perProfile({ test: "test", prod: "prod" }),
  },
  {
    key: "nodePools",
    group: G_NODES,
    type: "array",
    expected: "a list of pool lines",
    description:
      "Node pools, one line each: `<name> role=manager|worker count=N type=<server type> locations=<l>[,<l>] [labels=k:v,...] [ipOffset=N]`. " +
      "Nodes are spread round-robin over the locations and each pool gets its own spread placement group(s). ipOffset fixes the first node's host number in the subnet.",
    parse: parsePools,
    default: perProfile({ test: testPools, prod: prodPools }),
  },
  {
    key: "managersRunWorkloads",
    group: G_NODES,
    type: "boolean",
    expected: "true or false",
    description: "Whether Swarm managers take service tasks (availability active) or are drained and kept for orchestration only.",
    parse: bool,
    default: perProfile({ test: true, prod: false }),
  },
  {
    key: "serverImage",
    group: G_NODES,
    type: "string",
    expected: "a Hetzner image name such as debian-12",
    description: "Hetzner OS image by name (not id, so a new image build never replaces servers). Cloud-init targets Debian 12.",
    parse: str({ pattern: /^debian-12$/, expected: "debian-12 (the cloud-init this program writes targets Debian 12)" }),
    default: "debian-12",
  },
  {
    key: "networkZone",
    group: G_NODES,
    type: "string",
    expected: "one of eu-central, us-east, us-west, ap-southeast",
    description: "Hetzner network zone of the private network; every pool location must be in it.",
    parse: oneOf(["eu-central", "us-east", "us-west", "ap-southeast"] as const),
    default: "eu-central",
  },
  {
    key: "networkCidr",
    group: G_NODES,
    type: "string",
    expected: "an IPv4 CIDR such as 10.20.0.0/16",
    description: "Private network range.",
    parse: ipv4Cidr,
    default: "10.20.0.0/16",
  },
  {
    key: "subnetCidr",
    group: G_NODES,
    type: "string",
    expected: "an IPv4 CIDR inside networkCidr, large enough for every node",
    description: "Subnet the servers are attached to; node private IPs are fixed inside it.",
    parse: ipv4Cidr,
    default: "10.20.1.0/24",
  },
  {
    key: "floatingIp",
    group: G_NODES,
    type: "boolean",
    expected: "true or false",
    description: "Create an IPv4 floating IP, assign it to the first of edgeCandidates and configure it on every candidate so it survives reboots and failovers.",
    parse: bool,
    default: true,
  },
  {
    key: "edgeCandidates",
    group: G_NODES,
    type: "array",
    expected: "a list of node names of this stack (e.g. [prod-app-01, prod-app-02]), or empty for the profile's default",
    description:
      "Nodes that run the TLS edge with ports 80/443 and have the floating IP configured; with two or more, keepalived moves the floating IP " +
      "to a healthy one when the active one fails (docs/edge.md). The first holds it after deploy. Empty: prod takes two type=service nodes " +
      "in different locations, test the first node of the first worker pool.",
    parse: list(str({ pattern: /^[a-z][a-z0-9-]*$/, expected: "a node name such as prod-app-01" }), { expected: "a list of node names such as prod-app-01", max: 5 }),
    default: [],
  },
  {
    key: "storageBoxShare",
    group: G_NODES,
    type: "string",
    expected: "a CIFS share such as //u123456-sub1.your-storagebox.de/u123456-sub1, or empty",
    description:
      "Hetzner Storage Box share mounted at /mnt/storagebox on every node that takes workloads (CIFS, SMB 3 with encryption, on first access). " +
      "The prod Grafana data and the edge's certificates live there. Empty: nothing is mounted and the plan warns where a setting expects it.",
    parse: str({ pattern: /^\/\/[a-z0-9.-]+\/[A-Za-z0-9._\/-]+$/, allowEmpty: true, expected: "//<host>/<share>, or empty" }),
    default: "",
  },
  {
    key: "storageBoxUser",
    group: G_NODES,
    type: "string",
    expected: "the Storage Box (sub-)account name such as u123456-sub1 (required with storageBoxShare)",
    description: "Account the Storage Box share is mounted with; a sub-account limited to its own directory is enough.",
    parse: str({ pattern: /^[a-z0-9-]+$/, allowEmpty: true, expected: "an account name such as u123456-sub1, or empty" }),
    default: "",
  },
  {
    key: "storageBoxPassword",
    group: G_NODES,
    type: "string",
    secret: true,
    expected: "the Storage Box account's password (required with storageBoxShare; set it with: pulumi config set --secret storageBoxPassword)",
    description: "Password of storageBoxUser (secret). It is written to a root-only credentials file by cloud-init.",
    parse: str({ pattern: /^[^\r\n]*$/, allowEmpty: true, expected: "one line" }),
    default: "",
  },
  {
    key: "protect",
    group: G_NODES,
    type: "boolean",
    expected: "true or false",
    description: "Hetzner delete/rebuild protection and Pulumi `protect` on servers, network and floating IP.",
    parse: bool,
    default: perProfile({ test: false, prod: true }),
  },
  {
    key: "sshPrivateKey",
    group: G_ACCESS,
    type: "string",
    secret: true,
    expected: "an unencrypted OpenSSH or PEM private key",
    description: "Deploy key (secret). Its public half is installed for the deploy user; the bootstrap connects with it.",
    parse: sshPrivateKey,
    standIn: () => hostKeyFromSecret(`offline stand-in for swarm-platform:sshPrivateKey, not a real deploy key`, "offline-stand-in").privateKey,
  },
  {
    key: "sshAdditionalPublicKeys",
    group: G_ACCESS,
    type: "array",
    expected: "a list of OpenSSH public key lines",
    description: "Operators' own public keys, also authorized for the deploy user.",
    parse: list(publicKeyLine, { expected: "a list of OpenSSH public key lines" }),
    default: [],
  },
  {
    key: "sshUser",
    group: G_ACCESS,
    type: "string",
    expected: "a Linux user name (lowercase, not root)",
    description: "Non-root deploy user created by cloud-init; the only user sshd allows.",
    parse: (v) => {
      const name = str({ pattern: /^[a-z_][a-z0-9_-]{0,30}$/, expected: "a Linux user name (lowercase, not root)" })(v);
      if (name === "root") throw new ValueError("a Linux user name (lowercase, not root)", v);
      return name;
    },
    default: "deploy",
  },
  {
    key: "sshPort",
    group: G_ACCESS,
    type: "integer",
    expected: "an integer from 1 to 65535, not a Swarm or service port",
    description: "Port sshd listens on.",
    parse: int(1, 65535),
    default: 2222,
  },
  {
    key: "sshAllowedCidrs",
    group: G_ACCESS,
    type: "array",
    expected: "a non-empty list of CIDRs; never 0.0.0.0/0 or ::/0 in prod",
    description: "Admin source ranges allowed to reach sshPort on the public interface (VPN, office, CI runner).",
    parse: list(cidr, { expected: "a non-empty list of CIDRs", min: 1 }),
  },
  {
    key: "httpSourceCidrs",
    group: G_ACCESS,
    type: "array",
    expected: "a non-empty list of CIDRs",
    description: "Sources allowed to reach 80/443 on the edge node (everyone, or a load balancer / CDN ranges).",
    parse: list(cidr, { expected: "a non-empty list of CIDRs", min: 1 }),
    default: ["0.0.0.0/0", "::/0"],
  },
  {
    key: "dockerVersion",
    group: G_DOCKER,
    type: "string",
    expected: "a docker-ce Debian package version such as 5:27.5.1-1~debian.12~bookworm",
    description: "Pinned docker-ce / docker-ce-cli version installed from Docker's apt repository.",
    parse: str({ pattern: /^\d+:\d+\.\d+\.\d+-\d+~debian\.12~bookworm$/, expected: "a docker-ce version such as 5:27.5.1-1~debian.12~bookworm" }),
    default: "5:27.5.1-1~debian.12~bookworm",
  },
  {
    key: "dockerLogMaxSize",
    group: G_DOCKER,
    type: "string",
    expected: "a size such as 10m",
    description: "json-file log rotation: size of one log file.",
    parse: str({ pattern: /^[1-9]\d*[kmg]$/, expected: "a size such as 10m" }),
    default: "10m",
  },
  {
    key: "dockerLogMaxFile",
    group: G_DOCKER,
    type: "integer",
    expected: "an integer from 1 to 20",
    description: "json-file log rotation: files kept per container.",
    parse: int(1, 20),
    default: 3,
  },
  {
    key: "imagePruneSchedule",
    group: G_DOCKER,
    type: "string",
    expected: "a systemd OnCalendar expression such as daily or Sun *-*-* 03:30:00",
    description: "When the systemd timer prunes unused images on every node.",
    parse: str({ pattern: /^[A-Za-z0-9*:, .\/~-]{1,60}$/, expected: "a systemd OnCalendar expression such as daily or Sun *-*-* 03:30:00" }),
    default: "Sun *-*-* 03:30:00",
  },
  {
    key: "swarmAddrPool",
    group: G_DOCKER,
    type: "string",
    expected: "an IPv4 CIDR of /8 to /20 that overlaps no other range",
    description: "Default address pool Swarm carves overlay subnets from (docker swarm init --default-addr-pool).",
    parse: ipv4Cidr,
    default: "10.128.0.0/16",
  },
  {
    key: "overlayEncrypted",
    group: G_DOCKER,
    type: "boolean",
    expected: "true or false",
    description: "IPsec encryption of overlay networks (traffic between nodes).",
    parse: bool,
    default: true,
  },
  {
    key: "overlayMtu",
    group: G_DOCKER,
    type: "integer",
    expected: "an integer from 1200 to 1400 (1350 at most when overlays are encrypted)",
    description: "MTU of overlay networks: Hetzner's private network carries 1450, VXLAN costs 50 bytes and IPsec more.",
    parse: int(1200, 1400),
    default: 1350,
  },
  {
    key: "endpointMode",
    group: G_DOCKER,
    type: "string",
    expected: 'one of "vip", "dnsrr"',
    description: "Endpoint mode of replicated stateless services (per-member stateful services always use dnsrr).",
    parse: oneOf(["vip", "dnsrr"] as const),
    default: "vip",
  },
];

export { formatPool };
