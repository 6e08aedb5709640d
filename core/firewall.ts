import type { CoreConfig } from "../stacks/config";
import type { Topology } from "./topology";
import { EDGE_PORTS } from "../stacks/validate";

/** One inbound rule on the public interface (Hetzner firewalls never see the private network). */
export interface FirewallRuleSpec {
  readonly description: string;
  readonly direction: "in";
  readonly protocol: "tcp" | "udp" | "icmp";
  readonly port?: string;
  readonly sourceIps: readonly string[];
}

export interface FirewallSpec {
  /** Short role name: base (every node), edge, or ci-door (every node; CI owns its rules). */
  readonly role: "base" | "edge" | "ci-door";
  readonly name: string;
  readonly rules: readonly FirewallRuleSpec[];
  /**
   * Rules belong to someone else once the firewall exists: `pulumi up` declares the firewall
   * without rules and never resets them (the CI door: `scripts/ci/ssh-door.sh` opens and shuts it).
   */
  readonly rulesOwnedOutside?: true;
  /** Nodes it is attached to. */
  readonly nodes: readonly string[];
}

const EVERYWHERE = ["0.0.0.0/0", "::/0"] as const;

/**
 * Default deny inbound: a Hetzner firewall drops whatever no rule allows. Every
 * node gets SSH from the admin ranges and ICMP; only the edge candidates get 80/443.
 * No Swarm port and no service port is ever opened on a public interface: Swarm
 * advertises on the private network, which Hetzner firewalls do not filter.
 */
export function buildFirewalls(cfg: CoreConfig, topology: Topology): FirewallSpec[] {
  const base: FirewallSpec = {
    role: "base",
    name: `${cfg.namePrefix}-base`,
    rules: [
      { description: "SSH from admin ranges", direction: "in", protocol: "tcp", port: String(cfg.ssh.port), sourceIps: [...cfg.ssh.allowedCidrs] },
      { description: "ICMP (ping, path MTU discovery)", direction: "in", protocol: "icmp", sourceIps: [...EVERYWHERE] },
    ],
    nodes: topology.nodes.map((n) => n.name),
  };
  const edge: FirewallSpec = {
    role: "edge",
    name: `${cfg.namePrefix}-edge`,
    rules: EDGE_PORTS.map((port) => ({
      description: port === 80 ? "HTTP (ACME challenge, redirect to HTTPS)" : "HTTPS",
      direction: "in" as const,
      protocol: "tcp" as const,
      port: String(port),
      sourceIps: [...cfg.httpSourceCidrs],
    })),
    nodes: topology.edgeCandidates.map((n) => n.name),
  };
  // The CI door (docs/ci.md): declared empty, attached to every node, found by scripts/ci/ssh-door.sh
  // through its labels (project, stack, role=ci-door). Hetzner firewalls add up, so while it is shut
  // it allows nothing the base firewall does not.
  const door: FirewallSpec = {
    role: "ci-door",
    name: `${cfg.namePrefix}-ci-door`,
    rules: [],
    rulesOwnedOutside: true,
    nodes: topology.nodes.map((n) => n.name),
  };
  return [base, edge, door];
}

/** The rules that apply to one node, for the plan report. */
export function rulesForNode(firewalls: readonly FirewallSpec[], node: string): FirewallRuleSpec[] {
  return firewalls.filter((f) => f.nodes.includes(node)).flatMap((f) => f.rules);
}
