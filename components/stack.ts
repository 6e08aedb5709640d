import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stacks/config";
import { buildTopology } from "../core/topology";
import { buildFirewalls } from "../core/firewall";
import { publicKeyFromPrivate } from "../lib/ssh";
import { Cluster } from "./cluster";
import { Swarm } from "./swarm";
import { Services } from "./services";
import { buildPlatform } from "../specs/platform";
import { vaultRunbook } from "../specs/vault";
import { connections, amqpUris, redisSentinelUri, redisUrl } from "../specs/connections";
import { sshConfigSnippet } from "../core/connections";
import { SECRET as APISIX_SECRET } from "../specs/apisix";

export interface StackOptions {
  /** Passed to every top-level component (tests use it to observe resource options). */
  readonly resourceOptions?: pulumi.ComponentResourceOptions;
}

/**
 * Declares the whole stack from a validated config and returns its outputs.
 * The composition root: pure layers decide, components declare.
 */
export function defineStack(config: StackConfig, options: StackOptions = {}): Record<string, pulumi.Input<unknown>> {
  const topology = buildTopology(config);
  const firewalls = buildFirewalls(config, topology);
  const deployPublicKey = publicKeyFromPrivate(config.ssh.privateKey);
  if (!deployPublicKey) throw new Error("sshPrivateKey passed validation but yields no public key");
  const infra = new Cluster("cluster", {
    config,
    topology,
    firewalls,
    authorizedKeys: [deployPublicKey, ...config.ssh.additionalPublicKeys],
  }, options.resourceOptions);
  const swarm = new Swarm("swarm", { config, topology, servers: infra.servers }, options.resourceOptions);
  const platform = new Services("platform", { config, spec: buildPlatform(config, topology), provider: swarm.dockerProvider }, { ...options.resourceOptions, dependsOn: [swarm] });

  const conn = connections(config, topology);
  const publicIps = pulumi.all(Object.fromEntries(Object.entries(infra.servers).map(([name, srv]) => [name, srv.publicIp])));
  const secretOf = (key: string): pulumi.Output<string> => {
    const value = platform.secretValues[key];
    if (!value) throw new Error(`the platform declares no secret ${key}`);
    return pulumi.secret(value);
  };
  const redisPassword = secretOf(conn.data.redis.passwordSecret);
  const rabbitmqPassword = secretOf(conn.data.rabbitmq.adminPasswordSecret);
  const { passwordSecret: _redisSecret, ...redis } = conn.data.redis;
  const { adminPasswordSecret: _rabbitSecret, ...rabbitmq } = conn.data.rabbitmq;

  return {
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
    floatingIp: infra.floatingIpAddress,
    nodePublicIps: publicIps,
    sshConfig: publicIps.apply((ips) => sshConfigSnippet(config, topology, ips)),
    deployPublicKey,
    redis,
    rabbitmq,
    etcd: conn.data.etcd,
    vault: conn.vault,
    vaultInitSteps: vaultRunbook(config, topology),
    apisix: conn.apisix,
    monitoring: conn.monitoring,
    externalDatabases: conn.externalDatabases,
    // Everything below carries a password: secret outputs (`pulumi stack output --show-secrets`).
    redisPassword,
    redisUrl: redisPassword.apply((pw) => redisUrl(redis.endpoint, pw)),
    redisSentinelUri: redisPassword.apply((pw) => redisSentinelUri(redis.sentinels, redis.masterName, pw)),
    rabbitmqAdminPassword: rabbitmqPassword,
    amqpUris: rabbitmqPassword.apply((pw) => amqpUris(rabbitmq.amqp, rabbitmq.adminUser, pw)),
    amqpAddresses: rabbitmqPassword.apply((pw) => amqpUris(rabbitmq.amqp, rabbitmq.adminUser, pw).join(",")),
    apisixAdminKey: secretOf(APISIX_SECRET.adminKey),
    apisixDashboardPassword: secretOf(APISIX_SECRET.dashboardPassword),
    grafanaAdminPassword: secretOf("grafana-admin-password"),
  };
}
