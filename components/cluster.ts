import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";
import * as random from "@pulumi/random";
import type { StackConfig } from "../stacks/config";
import type { Topology, NodeSpec } from "../core/topology";
import type { FirewallSpec } from "../core/firewall";
import { renderCloudInit, storageBoxFor } from "../core/cloudinit";
import { failoverHostFor, floatingIpName } from "../core/edge-failover";
import { resourceLabels } from "../core/naming";
import { hostKeyFromSecret } from "../lib/ssh";

export interface ClusterArgs {
  readonly config: StackConfig;
  readonly topology: Topology;
  readonly firewalls: readonly FirewallSpec[];
  /** Public keys authorized for the deploy user (deploy key first). */
  readonly authorizedKeys: readonly string[];
  /** Name the edge candidates' health check asks the local edge for (the first edgeDomain; empty: plain HTTP). */
  readonly edgeCheckDomain: string;
  /** Storage Box directories the services bind-mount (created at boot on the nodes that mount it). */
  readonly storageBoxDirectories: readonly string[];
}

export interface ServerHandle {
  readonly node: NodeSpec;
  readonly server: hcloud.Server;
  readonly attachment: hcloud.ServerNetwork;
  readonly publicIp: pulumi.Output<string>;
  /** The server's SSH host key (`ssh-ed25519 AAAA…`), installed by cloud-init: every connection pins it. */
  readonly hostPublicKey: pulumi.Output<string>;
}

/**
 * The Hetzner layer: SSH key, private network and subnet, spread placement groups,
 * firewalls, servers with their fixed private IPs, and the floating IP on the edge candidates.
 * Thin: every name, address, rule and document comes from the pure layers.
 *
 * Replacement order is explicit (docs/provider-facts.md §4 facts 3-4): every resource
 * whose successor would clash with it (a name unique per project, an overlapping
 * subnet, a server's one attachment to the network) is deleted before its successor
 * is created. For SshKey and ServerNetwork this reverses the provider's default: a
 * create-first SshKey fails on its name, and a create-first ServerNetwork adopts
 * the old attachment and is then detached by the old one's delete.
 *
 * Servers of one pool update one at a time: a serverType change powers a server
 * off hard, so each server depends on the previous server of its pool and the next
 * one is touched only once Hetzner has started the previous one again. The price:
 * the servers of a pool are also created one after another on the first `up`.
 */
/** Deleted before the successor is created: see the class comment. */
const DELETE_FIRST = { deleteBeforeReplace: true } as const;

export class Cluster extends pulumi.ComponentResource {
  public readonly network: hcloud.Network;
  public readonly subnet: hcloud.NetworkSubnet;
  public readonly servers: Readonly<Record<string, ServerHandle>>;
  public readonly floatingIp?: hcloud.FloatingIp;
  public readonly floatingIpAddress: pulumi.Output<string | undefined>;
  public readonly firewallIds: Readonly<Record<string, pulumi.Output<string>>>;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("swarm:infra:Cluster", name, {}, opts);
    const { config, topology } = args;
    const protect = config.protect;
    const labels = resourceLabels(config.stack);

    const sshKey = new hcloud.SshKey(`${name}-deploy-key`, {
      name: `${config.namePrefix}-deploy`,
      publicKey: args.authorizedKeys[0],
      labels,
    }, { parent: this, ...DELETE_FIRST });

    this.network = new hcloud.Network(`${name}-network`, {
      name: `${config.namePrefix}-net`,
      ipRange: config.network.cidr,
      deleteProtection: protect,
      labels,
    }, { parent: this, protect, ...DELETE_FIRST });

    this.subnet = new hcloud.NetworkSubnet(`${name}-subnet`, {
      networkId: this.network.id.apply(Number),
      type: "cloud",
      networkZone: config.network.zone,
      ipRange: config.network.subnetCidr,
    }, { parent: this, protect, ...DELETE_FIRST });

    const groups = new Map(topology.placementGroups.map((g) => [g.name, new hcloud.PlacementGroup(`${name}-${g.name}`, {
      name: g.name,
      type: "spread",
      labels: resourceLabels(config.stack, { pool: g.pool }),
    }, { parent: this, ...DELETE_FIRST })]));

    const firewalls = new Map(args.firewalls.map((f) => [f.role, new hcloud.Firewall(`${name}-fw-${f.role}`, {
      name: f.name,
      labels: resourceLabels(config.stack, { role: f.role }),
      // An empty rule set is left out (the provider sends none); the door's rules are CI's.
      ...(f.rules.length === 0 ? {} : { rules: f.rules.map((r) => ({
        description: r.description,
        direction: r.direction,
        protocol: r.protocol,
        ...(r.port ? { port: r.port } : {}),
        sourceIps: [...r.sourceIps],
      })) }),
    }, { parent: this, ...(f.rulesOwnedOutside ? { ignoreChanges: ["rules"] } : {}) })]));
    this.firewallIds = Object.fromEntries([...firewalls].map(([role, fw]) => [role, fw.id]));

    if (config.floatingIp) {
      this.floatingIp = new hcloud.FloatingIp(`${name}-floating-ip`, {
        name: floatingIpName(config),
        type: "ipv4",
        homeLocation: topology.edge.location,
        description: `Edge address of ${config.namePrefix}, held by ${topology.edgeCandidates.length > 1 ? "one of " : ""}${topology.edgeCandidates.map((n) => n.name).join(", ")}`,
        deleteProtection: protect,
        labels,
      }, { parent: this, protect, ...DELETE_FIRST });
    }
    this.floatingIpAddress = this.floatingIp ? this.floatingIp.ipAddress : pulumi.output(undefined);

    const servers: Record<string, ServerHandle> = {};
    const lastOfPool = new Map<string, hcloud.Server>();
    for (const node of topology.nodes) {
      const previous = lastOfPool.get(node.pool);
      const firewallIds = args.firewalls
        .filter((f) => f.nodes.includes(node.name))
        .map((f) => firewalls.get(f.role)!.id.apply(Number));
      const hostKeySecret = new random.RandomPassword(`${name}-${node.name}-host-key`, { length: 64, special: false }, { parent: this });
      const hostKey = hostKeySecret.result.apply((secret) => hostKeyFromSecret(secret, node.name));
      // The host private key is in userData: a secret in state and in the diff.
      const storageBox = storageBoxFor(config, node, args.storageBoxDirectories);
      const fip = node.isEdge ? this.floatingIp : undefined;
      const userData = pulumi.secret(fip
        ? pulumi.all([hostKey, fip.ipAddress]).apply(([key, ip]) => renderCloudInit(config, {
          node, authorizedKeys: args.authorizedKeys, hostKey: key, floatingIp: ip, storageBox,
          edgeFailover: failoverHostFor(topology, node, floatingIpName(config), args.edgeCheckDomain),
        }))
        : hostKey.apply((key) => renderCloudInit(config, { node, authorizedKeys: args.authorizedKeys, hostKey: key, storageBox })));
      const server = new hcloud.Server(`${name}-${node.name}`, {
        name: node.name,
        serverType: node.serverType,
        image: config.serverImage,
        location: node.location,
        placementGroupId: groups.get(node.placementGroup)!.id.apply(Number),
        sshKeys: [sshKey.id],
        firewallIds,
        userData,
        publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
        // A type change keeps the disk, so the type can be changed back.
        keepDisk: true,
        // A deleted node shuts down cleanly (Docker stops its tasks) instead of losing power.
        shutdownBeforeDeletion: true,
        deleteProtection: protect,
        rebuildProtection: protect,
        labels: resourceLabels(config.stack, { pool: node.pool, role: node.role }),
      }, {
        parent: this,
        protect,
        // Servers are long-lived: a new cloud-init, image build or key must never replace one.
        ignoreChanges: ["userData", "image", "sshKeys"],
        ...DELETE_FIRST,
        ...(previous ? { dependsOn: [previous] } : {}),
      });
      lastOfPool.set(node.pool, server);
      const attachment = new hcloud.ServerNetwork(`${name}-${node.name}-private`, {
        serverId: server.id.apply(Number),
        subnetId: this.subnet.id,
        ip: node.privateIp,
      }, { parent: this, ...DELETE_FIRST });
      servers[node.name] = { node, server, attachment, publicIp: server.ipv4Address, hostPublicKey: pulumi.unsecret(hostKey.apply((k) => k.publicKey)) };
    }
    this.servers = servers;

    if (this.floatingIp) {
      const failover = topology.edgeCandidates.length > 1;
      new hcloud.FloatingIpAssignment(`${name}-floating-ip-assignment`, {
        floatingIpId: this.floatingIp.id.apply(Number),
        serverId: servers[topology.edge.name].server.id.apply(Number),
      }, {
        parent: this,
        // With a failover, keepalived moves the address: `up` must not move it back (nor see drift).
        ...(failover ? { ignoreChanges: ["serverId"] } : {}),
      });
    }

    this.registerOutputs({
      network: this.network,
      subnet: this.subnet,
      floatingIpAddress: this.floatingIpAddress,
      firewallIds: this.firewallIds,
      serverIds: Object.fromEntries(Object.entries(servers).map(([n, s]) => [n, s.server.id])),
    });
  }
}
