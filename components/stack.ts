import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stacks/config";
import { buildTopology } from "../core/topology";
import { buildFirewalls } from "../core/firewall";
import { sshConfigSnippet } from "../core/ssh-config";
import { publicKeyFromPrivate } from "../lib/ssh";
import { buildPlatform, type Platform } from "../platform/assemble";
import { partOutputs } from "../platform/outputs";
import { Cluster } from "./cluster";
import { Swarm } from "./swarm";
import { Services } from "./services";
import { checkServerTypes, hasHetznerToken } from "./server-types";
import { EdgeFailover } from "./edge-failover";
import { edgeArea } from "../families/edge";
import { storageBoxDirectories } from "../core/cloudinit";

export interface StackOptions {
  /** Passed to every top-level component (tests use it to observe resource options). */
  readonly resourceOptions?: pulumi.ComponentResourceOptions;
  /**
   * Check the pools' server types against Hetzner's live list. Default: when a Hetzner token is
   * configured (`hcloud:token` or HCLOUD_TOKEN); without one the API call could only fail, and the
   * dated catalogue has been checked already. The mock runtime turns it on and answers the call.
   */
  readonly liveServerTypeCheck?: boolean;
}

export interface DeclaredStack {
  readonly outputs: Record<string, pulumi.Input<unknown>>;
  /** The platform the stack declared (the plan reads it instead of building it again). */
  readonly platform: Platform;
  /** The live check of the pools' server types; it fails the program when a type cannot be ordered. */
  readonly serverTypes: pulumi.Output<string[]>;
}

/**
 * Declares the whole stack from a validated config.
 * The composition root: pure layers decide, components declare.
 */
export function declareStack(config: StackConfig, options: StackOptions = {}): DeclaredStack {
  // First, so a server type Hetzner stopped selling fails the preview before anything is planned on it.
  const live = options.liveServerTypeCheck ?? hasHetznerToken();
  const serverTypes = live ? checkServerTypes(config.nodePools) : pulumi.output<string[]>([]);
  if (!live) void pulumi.log.info("no Hetzner token: the live server-type check is skipped (the dated catalogue was checked)");
  const topology = buildTopology(config);
  const firewalls = buildFirewalls(config, topology);
  const deployPublicKey = publicKeyFromPrivate(config.ssh.privateKey);
  if (!deployPublicKey) throw new Error("sshPrivateKey passed validation but yields no public key");
  const platform = buildPlatform(config, topology);
  const edge = config.section(edgeArea);
  const infra = new Cluster("cluster", {
    config,
    topology,
    firewalls,
    authorizedKeys: [deployPublicKey, ...config.ssh.additionalPublicKeys],
    edgeCheckDomain: edge.domains[0] ?? "",
    storageBoxDirectories: storageBoxDirectories(platform.spec.services),
  }, options.resourceOptions);
  const swarm = new Swarm("swarm", { config, topology, servers: infra.servers }, options.resourceOptions);
  if (infra.floatingIp && topology.edgeCandidates.length > 1) {
    new EdgeFailover("edge-failover", { config, topology, servers: infra.servers, token: edge.failoverToken }, { ...options.resourceOptions, dependsOn: [swarm] });
  }
  const services = new Services("platform", { config, spec: platform.spec, provider: swarm.dockerProvider }, { ...options.resourceOptions, dependsOn: [swarm] });

  const publicIps = pulumi.all(Object.fromEntries(Object.entries(infra.servers).map(([name, srv]) => [name, srv.publicIp])));
  const secretOf = (key: string): pulumi.Output<string> => {
    const value = services.secretValues[key];
    if (!value) throw new Error(`the platform declares no secret ${key}`);
    return value;
  };
  const parts = partOutputs(platform);
  // Every secret output carries a password or key: secret outputs (`pulumi stack output --show-secrets`).
  const secretOutputs = Object.fromEntries(Object.entries(parts.secret).map(([name, out]) => [
    name,
    pulumi.secret(pulumi.all(out.from.map(secretOf)).apply((values) => out.build(values))),
  ]));

  return {
    platform,
    serverTypes,
    outputs: {
      profile: config.profile,
      nodes: topology.nodes.map((n) => ({
        name: n.name,
        role: n.role,
        pool: n.pool,
        location: n.location,
        privateIp: n.privateIp,
        labels: n.labels,
        availability: n.availability,
      })),
      edgeNode: topology.edge.name,
      edgeCandidates: topology.edgeCandidates.map((n) => n.name),
      floatingIp: infra.floatingIpAddress,
      nodePublicIps: publicIps,
      sshConfig: publicIps.apply((ips) => sshConfigSnippet(config, topology, ips)),
      deployPublicKey,
      ...parts.plain,
      ...secretOutputs,
    },
  };
}

/** The stack's outputs (what index.ts exports). */
export function defineStack(config: StackConfig, options: StackOptions = {}): Record<string, pulumi.Input<unknown>> {
  return declareStack(config, options).outputs;
}
