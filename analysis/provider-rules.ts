/**
 * Which input changes make the engine replace a resource, per resource type the program creates,
 * as the pinned providers decide it (ForceNew in the Terraform schemas the bridge reads,
 * `replaceOnChanges` in the native providers). The human-readable form with its sources is the
 * "Replacement rules" table at the end of docs/provider-facts.md; tests/provider-rules.test.ts
 * checks that the two agree.
 *
 * Paths are Pulumi property paths of the inputs: `a.b` an object key, `a[*]` every element.
 * A changed input path P forces a replacement when a rule path R equals P, or is a prefix of P
 * at a `.`/`[` boundary, or P is a prefix of R (the whole block changed), or R is `*`.
 */

export interface TypeRule {
  /** Inputs whose change replaces the resource; `*`: every input (the type has no Update). */
  readonly forceNew: readonly string[];
  /** Without `deleteBeforeReplace`, a replacement deletes first (bridged SDKv2 resources with a name). */
  readonly deleteFirst: boolean;
  /** In-place changes worth a line in the impact: path -> what the update does. */
  readonly inPlace?: Readonly<Record<string, string>>;
  /** Where the provider source shows it. */
  readonly source: string;
}

/** Component resources and providers never replace on an input change (docs/provider-facts.md). */
export const NO_REPLACE: TypeRule = { forceNew: [], deleteFirst: false, source: "PP step_generator.go:2734-2741; BR tfbridge/provider.go:841-894" };

export const TYPE_RULES: Readonly<Record<string, TypeRule>> = {
  "command:remote:Command": {
    forceNew: ["triggers"],
    deleteFirst: false,
    source: "PC provider/pkg/provider/common/inputs.go:10; remote/commandController.go:63-92",
  },
  "random:index/randomPassword:RandomPassword": {
    forceNew: ["*"],
    deleteFirst: false,
    source: "TFR internal/provider/resource_password.go:570-720",
  },
  "hcloud:index/server:Server": {
    forceNew: ["image", "location", "userData", "sshKeys"],
    deleteFirst: true,
    inPlace: {
      serverType: "hard power-off while it rescales (the disk grows for good unless keepDisk)",
      publicNets: "power-off",
      placementGroupId: "fails while the server runs",
      firewallIds: "detaches firewalls not listed",
    },
    source: "TF internal/server/resource.go:45-283, 546-734",
  },
  "hcloud:index/serverNetwork:ServerNetwork": {
    forceNew: ["serverId", "networkId", "subnetId", "ip"],
    deleteFirst: false,
    source: "TF internal/server/resource_network.go:66-206, 254-276",
  },
  "hcloud:index/network:Network": {
    forceNew: ["ipRange"],
    deleteFirst: true,
    source: "TF internal/network/resource.go:33-63, 124-188",
  },
  "hcloud:index/networkSubnet:NetworkSubnet": {
    forceNew: ["*"],
    deleteFirst: false,
    source: "TF internal/network/resource_subnet.go:26-71",
  },
  "hcloud:index/placementGroup:PlacementGroup": {
    forceNew: [],
    deleteFirst: true,
    source: "TF internal/placementgroup/resource.go:28-63, 119-171",
  },
  "hcloud:index/firewall:Firewall": {
    forceNew: [],
    deleteFirst: true,
    inPlace: { rules: "the rule set is replaced as a whole" },
    source: "TF internal/firewall/resource.go:33-139, 276-355",
  },
  "hcloud:index/floatingIp:FloatingIp": {
    forceNew: ["type", "homeLocation"],
    deleteFirst: true,
    source: "TF internal/floatingip/resource.go:29-78",
  },
  "hcloud:index/floatingIpAssignment:FloatingIpAssignment": {
    forceNew: ["floatingIpId"],
    deleteFirst: false,
    inPlace: { serverId: "one assign call moves the address" },
    source: "TF internal/floatingip/resource_assignment.go:29-40, 119-173",
  },
  "hcloud:index/sshKey:SshKey": {
    forceNew: ["publicKey"],
    deleteFirst: false,
    source: "TF internal/sshkey/resource.go:64-82",
  },
  "docker:index/network:Network": {
    forceNew: ["*"],
    deleteFirst: true,
    source: "K resource_docker_network.go:17-144",
  },
  "docker:index/secret:Secret": {
    forceNew: ["name", "data", "labels"],
    deleteFirst: true,
    source: "K resource_docker_secret.go:22-46",
  },
  "docker:index/serviceConfig:ServiceConfig": {
    forceNew: ["name", "data", "dataRaw", "labels"],
    deleteFirst: true,
    source: "K resource_docker_config.go:26-56",
  },
  "docker:index/volume:Volume": {
    forceNew: ["name", "labels", "driver", "driverOpts", "cluster"],
    deleteFirst: true,
    source: "K resource_docker_volume.go:40-150, 388-418",
  },
  "docker:index/service:Service": {
    forceNew: [
      "name",
      "auth",
      "mode",
      "taskSpec.containerSpec.hosts",
      "taskSpec.containerSpec.sysctl",
      "taskSpec.containerSpec.labels",
      "taskSpec.networksAdvanceds",
      "taskSpec.containerSpec.mounts[*]",
    ],
    deleteFirst: true,
    source: "K resource_docker_service.go:21-988",
  },
};

/** Paths inside these inputs never force a replacement even though a rule names the block. */
const IN_PLACE_EXCEPTIONS: Readonly<Record<string, readonly string[]>> = {
  // `mode` forces a new service only when the block appears or disappears; replicas change in place.
  "docker:index/service:Service": ["mode.replicated.replicas"],
  // cluster.availability is the one volume cluster field with an update.
  "docker:index/volume:Volume": ["cluster.availability"],
};

export function ruleFor(type: string): TypeRule {
  return TYPE_RULES[type] ?? NO_REPLACE;
}

/** True when the estimator knows the type: a listed one, a provider, or a component (no `/` in its token). */
export function hasRule(type: string): boolean {
  return type in TYPE_RULES || type.startsWith("pulumi:providers:") || !type.includes("/");
}

/** `a.b[3].c` -> `a.b[*].c`: element indexes as the rules write them. */
function wildcard(path: string): string {
  return path.replace(/\[\d+\]/g, "[*]");
}

/** True when `path` is `prefix` or lies under it. */
export function pathUnder(path: string, prefix: string): boolean {
  const p = wildcard(path);
  const r = wildcard(prefix);
  if (p === r) return true;
  const under = (a: string, b: string) => a.startsWith(b) && (a[b.length] === "." || a[b.length] === "[");
  return under(p, r.replace(/\[\*\]$/, "")) || under(p, r);
}

/** The changed paths that force a replacement of a resource of this type, given its replaceOnChanges. */
export function replacingPaths(type: string, changed: readonly string[], replaceOnChanges: readonly string[] = []): string[] {
  const rule = ruleFor(type);
  const exceptions = IN_PLACE_EXCEPTIONS[type] ?? [];
  return changed.filter((p) => {
    if (replaceOnChanges.some((r) => r === "*" || pathUnder(p, r) || pathUnder(r, p))) return true;
    if (exceptions.some((e) => pathUnder(p, e))) return false;
    return rule.forceNew.some((r) => r === "*" || pathUnder(p, r) || pathUnder(r.replace(/\[\*\].*$/, ""), p));
  });
}
