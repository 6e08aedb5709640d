import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, SecretValue, UNKNOWN, type ProgramRun } from "../tools/mock-runtime";
import { withOverrides, stackFileConfig } from "./support/config";
import { sshConfigSnippet } from "../core/ssh-config";
import { postgresUrls, mongoUri } from "../families/external-databases";
import { loadStack } from "./support/config";
import { buildTopology } from "../core/topology";

const PUBLIC = (name: string): string => `198.51.100.${10 + Number(/(\d+)$/.exec(name)![1]) + (name.includes("app") ? 20 : 0)}`;

function state(args: { type: string; name: string }): Record<string, unknown> | undefined {
  if (args.type === "hcloud:index/floatingIp:FloatingIp") return { ipAddress: "203.0.113.7" };
  if (args.type === "hcloud:index/server:Server") return { ipv4Address: PUBLIC(args.name) };
  if (args.type === "command:remote:Command") return { stdout: "SWMTKN-1-test-token", stderr: "" };
  return undefined;
}

const pw = (key: string): string => `mock-password-platform-${key}`;

/** Outputs that carry a password and must be secret; every other output must not be. */
const SECRET_OUTPUTS = [
  "redisAdminPassword", "redisApps", "rabbitmqAdminPassword", "rabbitmqApps",
  "grafanaAdminPassword", "apisixAdminKey", "apisixDashboardPassword", "etcdRootPassword",
].sort();

describe("stack outputs (prod, after deploy)", () => {
  let run: ProgramRun;
  before(async () => {
    run = await runProgram("prod", withOverrides("prod", {
      externalPostgresHosts: ["db-1.internal:5432", "db-2.internal:5432", "db-3.internal:5432"],
      externalPostgresDatabase: "orders",
      externalMongoHosts: ["mongo-1.internal:27017", "mongo-2.internal:27017"],
      externalMongoReplicaSet: "rs-main",
      redisAppUsers: ["orders ~orders:*", "billing ~billing:* ~invoices:*"],
      rabbitmqApps: ["orders"],
    }), { state });
  });

  test("exactly the password-bearing outputs are secret", () => {
    const secret = Object.entries(run.outputs).filter(([, v]) => v instanceof SecretValue).map(([k]) => k).sort();
    assert.deepEqual(secret, SECRET_OUTPUTS);
  });

  test("no plain output contains any password", () => {
    const plain = JSON.stringify(Object.fromEntries(Object.entries(run.outputs).filter(([, v]) => !(v instanceof SecretValue))));
    for (const r of run.byType("random:index/randomPassword:RandomPassword")) {
      assert.ok(!plain.includes(`mock-password-${r.name}`), r.name);
    }
  });

  test("Redis: Sentinel master name and addresses, the stable master endpoint; each application its own login, never the admin's", () => {
    assert.deepEqual(run.outputs.redis, {
      endpoint: "redis:6379",
      sentinels: ["redis-sentinel-1:26379", "redis-sentinel-2:26379", "redis-sentinel-3:26379"],
      masterName: "platform",
      members: ["redis-1:6379", "redis-2:6379", "redis-3:6379"],
      appUsers: ["orders", "billing"],
    });
    assert.equal((run.outputs.redisAdminPassword as SecretValue).value, pw("redis-password"));
    const orders = pw("redis-app-orders-password");
    const billing = pw("redis-app-billing-password");
    assert.deepEqual((run.outputs.redisApps as SecretValue).value, {
      orders: {
        user: "orders", password: orders, keyPatterns: ["orders:*"],
        url: `redis://orders:${orders}@redis:6379/0`,
        sentinelUri: `redis-sentinel://orders:${orders}@redis-sentinel-1:26379,redis-sentinel-2:26379,redis-sentinel-3:26379/0#platform`,
      },
      billing: {
        user: "billing", password: billing, keyPatterns: ["billing:*", "invoices:*"],
        url: `redis://billing:${billing}@redis:6379/0`,
        sentinelUri: `redis-sentinel://billing:${billing}@redis-sentinel-1:26379,redis-sentinel-2:26379,redis-sentinel-3:26379/0#platform`,
      },
    });
    assert.ok(!JSON.stringify((run.outputs.redisApps as SecretValue).value).includes(pw("redis-password")), "no application gets the admin's password");
  });

  test("RabbitMQ: each application its own user and virtual host, an AMQP URI per node and the multi-host form; the admin's password for operators only", () => {
    const p = pw("rabbitmq-app-orders-password");
    const uris = [1, 2, 3].map((i) => `amqp://orders:${p}@rabbitmq-${i}:5672/orders`);
    assert.deepEqual((run.outputs.rabbitmqApps as SecretValue).value, { orders: { user: "orders", password: p, vhost: "orders", amqpUris: uris, amqpAddresses: uris.join(",") } });
    assert.ok(!JSON.stringify((run.outputs.rabbitmqApps as SecretValue).value).includes(pw("rabbitmq-admin-password")));
    assert.equal((run.outputs.rabbitmqAdminPassword as SecretValue).value, pw("rabbitmq-admin-password"));
    assert.deepEqual((run.outputs.rabbitmq as { nodes: string[] }).nodes, ["rabbit@rabbitmq-1", "rabbit@rabbitmq-2", "rabbit@rabbitmq-3"]);
  });

  test("Vault, etcd, APISIX and monitoring addresses", () => {
    assert.deepEqual(run.outputs.vault, { address: "https://vault-1:8200", members: ["https://vault-1:8200", "https://vault-2:8200", "https://vault-3:8200"] });
    assert.deepEqual(run.outputs.etcd, { endpoints: ["http://etcd-1:2379", "http://etcd-2:2379", "http://etcd-3:2379"], prefix: "/apisix" });
    assert.deepEqual(run.outputs.monitoring, { prometheusUrl: "http://prometheus:9090", alertmanagerUrl: "http://alertmanager:9093", grafanaUrl: "http://grafana:3000" });
    assert.deepEqual(run.outputs.apisix, { adminUrl: "http://apisix:9180", dashboardUrl: "http://apisix-dashboard:9000" });
  });

  test("external databases: multi-host connection strings", () => {
    assert.deepEqual(run.outputs.externalDatabases, {
      postgres: {
        libpq: "postgresql://db-1.internal:5432,db-2.internal:5432,db-3.internal:5432/orders?target_session_attrs=read-write",
        jdbc: "jdbc:postgresql://db-1.internal:5432,db-2.internal:5432,db-3.internal:5432/orders?targetServerType=primary",
      },
      mongo: "mongodb://mongo-1.internal:27017,mongo-2.internal:27017/app?replicaSet=rs-main",
    });
  });

  test("floating IP, node addresses and an ssh_config for the nodes", () => {
    assert.equal(run.outputs.floatingIp, "203.0.113.7");
    assert.deepEqual(run.outputs.nodePublicIps, Object.fromEntries(["prod-mgr-01", "prod-mgr-02", "prod-mgr-03", "prod-app-01", "prod-app-02", "prod-app-03"].map((n) => [n, PUBLIC(`cluster-${n}`)])));
    const ssh = run.outputs.sshConfig as string;
    assert.match(ssh, /^Host prod-app-02\n {2}HostName 198\.51\.100\.32\n {2}User deploy\n {2}Port 2222\n {2}IdentitiesOnly yes\n {2}# worker, private 10\.20\.1\.31, nbg1$/m);
    assert.equal(ssh.match(/^Host /gm)!.length, 6);
  });
});

describe("stack outputs in a preview (what the offline plan shows)", () => {
  test("addresses are known, public IPs are not, and secrets stay secrets before deploy", async () => {
    const run = await runProgram("test", stackFileConfig("test"), { preview: true });
    assert.equal((run.outputs.redis as { endpoint: string }).endpoint, "redis:6379");
    assert.ok(run.outputs.redisAdminPassword instanceof SecretValue, "a secret output is a secret, not merely unknown");
    assert.equal((run.outputs.redisAdminPassword as SecretValue).value, UNKNOWN);
    assert.equal(JSON.stringify(run.outputs.redisAdminPassword), '"[secret]"');
    assert.equal(run.outputs.floatingIp, UNKNOWN);
    assert.deepEqual(run.outputs.externalDatabases, {});
  });
});

describe("connection string helpers", () => {
  test("ssh_config covers every node", () => {
    const cfg = loadStack("test");
    const t = buildTopology(cfg);
    const text = sshConfigSnippet(cfg, t, { "test-mgr-01": "192.0.2.1", "test-app-01": "192.0.2.2", "test-app-02": "192.0.2.3" });
    assert.equal(text.split("\n")[0], "Host test-mgr-01");
    assert.match(text, /HostName 192\.0\.2\.3/);
  });

  test("no external database configured: no connection string", () => {
    assert.equal(postgresUrls([], "x"), undefined);
    assert.equal(mongoUri([], "x", "rs0"), undefined);
  });

  test("bad external database hosts are rejected with the key", () => {
    assert.throws(() => loadStack("prod", { externalPostgresHosts: ["db-1"] }), /swarm-platform:externalPostgresHosts\[0\]: expected host:port/);
    assert.throws(() => loadStack("prod", { externalMongoHosts: ["m:27017", "m:27017"] }), /swarm-platform:externalMongoHosts: expected each member once/);
  });
});
