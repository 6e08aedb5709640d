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
import { EdgeFailover } from "./edge-failover";
import { edgeArea } from "../families/edge";
import { storageBoxDirectories } from "../core/cloudinit";

export interface StackOptions {
  /** Passed to every top-level component (tests use it to observe resource options). */
  readonly resourceOptions?: pulumi.ComponentResourceOptions;
}

export interface DeclaredStack {
  readonly outputs: Record<string, pulumi.Input<unknown>>;
  /** The platform the stack declared (the plan reads it instead of building it again). */
  readonly platform: Platform;
}

/**
 * Declares the whole stack from a validated config.
 * The composition root: pure layers decide, components declare.
 */
export function declareStack(config: StackConfig, options: StackOptions = {}): DeclaredStack {
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
