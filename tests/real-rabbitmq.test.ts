/**
 * RabbitMQ for real: three nodes on loopback started by the generated entrypoint
 * with the generated rabbitmq.conf, definitions and enabled_plugins (node names,
 * ports and paths remapped: Swarm gives each node its own host, here they share
 * one). Proves: the cluster forms by itself from the static node list (nobody
 * runs join_cluster), the administrator from the secret file can log in, a
 * durable queue declared without x-queue-type is a quorum queue, and an
 * application's user from rabbitmqApps has its own virtual host and nothing else
 * (no management login, no right on another virtual host).
 *
 * Debian ships RabbitMQ 3.10; production pins 4.0. Both take the virtual host's
 * default queue type from the definitions imported at boot
 * (metadata.default_queue_type), which is what the generated files use.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { platformOf } from "./support/config";
import { haveTools, ProcessSet, run, waitFor } from "./support/real-processes";
import { RABBITMQ_PORTS, rabbitmqAppSecret, rabbitmqConf, rabbitmqNodeName, rabbitmqMembers, type RabbitmqConfInput } from "../families/rabbitmq/specs";
import { rabbitmqArea } from "../families/rabbitmq";
import { sizeToBytes } from "../lib/size";

// This test's own port range.
const NODES = [1, 2, 3];
const port = (base: number, i: number): number => base + i;
const PORTS = (i: number): RabbitmqConfInput["ports"] => ({ amqp: port(46400, i), management: port(46410, i), prometheus: port(46420, i), webStomp: port(46430, i) });
const DIST_PORT = (i: number): number => port(46440, i);
const EPMD_PORT = 46450;
const LOOPBACK = "127.0.0.1";
const RABBIT_BIN = "/usr/lib/rabbitmq/bin";

const APP = "orders";
const { config, topology, service, configContent } = platformOf("prod", { rabbitmqApps: [APP] });
const nodeName = (i: number): string => `rabbit-${i}@localhost`;

const procs = new ProcessSet("real-rabbitmq");
after(() => procs.cleanup());

const cookie = randomBytes(32).toString("hex");
const adminPassword = randomBytes(16).toString("hex");
const appPassword = randomBytes(16).toString("hex");
const adminUser = config.section(rabbitmqArea).adminUser;
const files = {
  cookie: join(procs.dir, "rabbitmq-erlang-cookie"),
  adminPassword: join(procs.dir, "rabbitmq-admin-password"),
  appPassword: join(procs.dir, rabbitmqAppSecret(APP)),
  definitions: join(procs.dir, "platform-definitions.json"),
  plugins: join(procs.dir, "enabled_plugins"),
  script: join(procs.dir, "rabbitmq-node.sh"),
};
const nodeDir = (i: number): string => join(procs.dir, `node-${i}`);
const confPath = (i: number): string => join(nodeDir(i), "rabbitmq.conf");

function erlangEnv(i: number): Record<string, string> {
  return {
    PATH: `${RABBIT_BIN}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: nodeDir(i),
    ERL_EPMD_PORT: String(EPMD_PORT),
  };
}

function nodeEnv(i: number): Record<string, string> {
  const env = service(`rabbitmq-${i}`).env;
  return {
    ...env,
    ...erlangEnv(i),
    RABBITMQ_NODENAME: nodeName(i),
    RABBITMQ_ERLANG_COOKIE_SECRET: files.cookie,
    RABBITMQ_ADMIN_PASSWORD_FILE: files.adminPassword,
    RABBITMQ_APP_USER_FILES: env.RABBITMQ_APP_USER_FILES.replace(`/run/secrets/${rabbitmqAppSecret(APP)}`, files.appPassword),
    RABBITMQ_DEFINITIONS_TEMPLATE: files.definitions,
    RABBITMQ_RUNTIME_DIR: join(nodeDir(i), "run"),
    RABBITMQ_CONFIG_FILE: confPath(i),
    RABBITMQ_ENABLED_PLUGINS_FILE: files.plugins,
    RABBITMQ_MNESIA_BASE: join(nodeDir(i), "mnesia"),
    RABBITMQ_LOG_BASE: join(nodeDir(i), "log"),
    RABBITMQ_PID_FILE: join(nodeDir(i), "rabbitmq.pid"),
    RABBITMQ_DIST_PORT: String(DIST_PORT(i)),
  };
}

const ctl = async (i: number, ...args: string[]): Promise<string> => {
  const r = await run(join(RABBIT_BIN, "rabbitmqctl"), ["-n", nodeName(i), ...args], erlangEnv(i), 30_000);
  if (r.code !== 0) throw new Error(`rabbitmqctl ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
};

async function api(i: number, method: string, path: string, body?: unknown, login: readonly [string, string] = [adminUser, adminPassword]): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://${LOOPBACK}:${PORTS(i).management}/api${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${login[0]}:${login[1]}`).toString("base64")}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as unknown : undefined };
}

void describe("RabbitMQ cluster on loopback, from the generated files", () => {
  void test("forms a 3-node cluster by itself; quorum is the default queue type; plugins on", { timeout: 300_000 }, async (t) => {
    if (!haveTools(t, ["rabbitmq-server", "rabbitmqctl", "epmd"])) return;
    const diag = (): string => procs.allLogs(25);

    writeFileSync(files.cookie, `${cookie}\n`, { mode: 0o400 });
    writeFileSync(files.adminPassword, `${adminPassword}\n`, { mode: 0o400 });
    writeFileSync(files.appPassword, `${appPassword}\n`, { mode: 0o400 });
    writeFileSync(files.definitions, configContent("rabbitmq-definitions"));
    writeFileSync(files.plugins, configContent("rabbitmq-plugins"));
    writeFileSync(files.script, configContent("rabbitmq-node-sh"));

    const ctx = { topology, section: config.section(rabbitmqArea) };
    const memoryHighWatermarkBytes = Math.floor(sizeToBytes(ctx.section.memoryLimit) * 0.6);
    for (const i of NODES) {
      mkdirSync(join(nodeDir(i), "log"), { recursive: true });
      const conf = rabbitmqConf({
        nodeNames: NODES.map(nodeName),
        bindIp: LOOPBACK,
        ports: PORTS(i),
        definitionsDir: join(nodeDir(i), "run", "definitions"),
        memoryHighWatermarkBytes,
      });
      // Prove the loopback file is the generated one with only names, addresses, ports and the folder remapped.
      let generated = configContent("rabbitmq-conf");
      for (const m of rabbitmqMembers(ctx)) generated = generated.replace(`= ${rabbitmqNodeName(m)}\n`, `= ${nodeName(m.index)}\n`);
      generated = generated
        .replace(`listeners.tcp.default = ${RABBITMQ_PORTS.amqp}\n`, `listeners.tcp.default = ${LOOPBACK}:${PORTS(i).amqp}\n`)
        .replace(`management.tcp.port = ${RABBITMQ_PORTS.management}\n`, `management.tcp.ip = ${LOOPBACK}\nmanagement.tcp.port = ${PORTS(i).management}\n`)
        .replace(`prometheus.tcp.port = ${RABBITMQ_PORTS.prometheus}\n`, `prometheus.tcp.ip = ${LOOPBACK}\nprometheus.tcp.port = ${PORTS(i).prometheus}\n`)
        .replace(`web_stomp.tcp.port = ${RABBITMQ_PORTS.webStomp}\n`, `web_stomp.tcp.ip = ${LOOPBACK}\nweb_stomp.tcp.port = ${PORTS(i).webStomp}\n`)
        .replace("load_definitions = /run/rabbitmq/definitions\n", `load_definitions = ${join(nodeDir(i), "run", "definitions")}\n`);
      assert.equal(conf, generated);
      writeFileSync(confPath(i), conf);
    }

    procs.start("epmd", "epmd", ["-port", String(EPMD_PORT), "-address", LOOPBACK], {});
    await waitFor("epmd", async () => ((await run("epmd", ["-port", String(EPMD_PORT), "-names"])).code === 0 ? true : undefined), 10_000, 200, diag);

    // All three at once, as Swarm starts them on the first deploy.
    for (const i of NODES) procs.start(`rabbitmq-${i}`, "sh", [files.script], nodeEnv(i));

    const status = await waitFor("a cluster of three running nodes", async () => {
      procs.mustRun(...NODES.map((i) => `rabbitmq-${i}`));
      const out = await ctl(1, "cluster_status", "--formatter", "json");
      const s = JSON.parse(out) as { running_nodes: string[]; disk_nodes: string[] };
      return s.running_nodes.length === 3 ? s : undefined;
    }, 240_000, 2_000, diag);
    assert.deepEqual([...status.running_nodes].sort(), NODES.map(nodeName).sort());
    assert.deepEqual([...status.disk_nodes].sort(), NODES.map(nodeName).sort());

    // The cookie came from the secret file and is owner-read-only, as Erlang insists.
    for (const i of NODES) {
      const cookieFile = join(nodeDir(i), ".erlang.cookie");
      assert.equal(readFileSync(cookieFile, "utf8"), cookie);
      assert.equal(statSync(cookieFile).mode & 0o777, 0o400);
    }

    // Every node's plugins finish starting after the node joined: wait for each management API.
    await waitFor("the management API on every node", async () => {
      const statuses = await Promise.all(NODES.map(async (i) => (await api(i, "GET", "/overview")).status));
      return statuses.every((st) => st === 200) ? true : undefined;
    }, 90_000, 1_000, diag);
    // The administrator from the secret file; the default guest user was never seeded.
    const users = (await api(1, "GET", "/users")).json as { name: string; tags: string[] | string }[];
    assert.deepEqual(users.map((u) => u.name).sort(), [adminUser, APP].sort());
    // The application: its own virtual host (quorum by default), rights there only, no management tags.
    const appUser = users.find((u) => u.name === APP);
    assert.ok(appUser && (appUser.tags.length === 0), JSON.stringify(appUser));
    const perms = (await api(1, "GET", `/users/${APP}/permissions`)).json as { vhost: string }[];
    assert.deepEqual(perms.map((p) => p.vhost), [APP]);
    const appVhost = (await api(1, "GET", `/vhosts/${APP}`)).json as { default_queue_type?: string; metadata?: { default_queue_type?: string } };
    assert.equal(appVhost.default_queue_type ?? appVhost.metadata?.default_queue_type, "quorum");
    assert.match(await ctl(1, "authenticate_user", APP, appPassword), /Success/);
    // Probes: the application's login on the management API and on another virtual host.
    assert.equal((await api(1, "GET", "/overview", undefined, [APP, appPassword])).status, 401, "management API with the application's login");
    assert.equal((await api(1, "GET", "/vhosts/%2F", undefined, [APP, appPassword])).status, 401);
    assert.equal((await api(1, "GET", "/permissions/%2F/" + APP)).status, 404, "no right on the platform's virtual host");
    assert.equal((await api(1, "GET", "/overview", undefined, [APP, "wrong"])).status, 401);

    const vhost = (await api(1, "GET", "/vhosts/%2F")).json as { default_queue_type?: string; metadata?: { default_queue_type?: string } };
    assert.equal(vhost.default_queue_type ?? vhost.metadata?.default_queue_type, "quorum");

    // A durable queue declared with no arguments (as an application would) on node 2.
    const put = await api(2, "PUT", "/queues/%2F/orders", { durable: true, auto_delete: false, arguments: {} });
    assert.ok(put.status === 201 || put.status === 204, `declare: ${put.status} ${JSON.stringify(put.json)}`);
    const queue = await waitFor("the queue to be listed with its members", async () => {
      const r = await api(3, "GET", "/queues/%2F/orders");
      const q = r.json as { type?: string; members?: string[]; arguments?: Record<string, unknown> };
      return r.status === 200 && q.members && q.members.length === 3 ? q : undefined;
    }, 30_000, 500, diag);
    assert.equal(queue.type, "quorum");
    assert.deepEqual(queue.arguments, { "x-queue-type": "quorum" });
    assert.deepEqual([...(queue.members ?? [])].sort(), NODES.map(nodeName).sort());

    // Management, Prometheus and Web STOMP listen on every node.
    const overview = (await api(1, "GET", "/overview")).json as { listeners: { node: string; protocol: string; port: number }[] };
    for (const i of NODES) {
      const protocols = overview.listeners.filter((l) => l.node === nodeName(i)).map((l) => l.protocol).sort();
      assert.deepEqual(protocols, ["amqp", "clustering", "http", "http/prometheus", "http/web-stomp"], `listeners of ${nodeName(i)}`);
    }
    const metrics = await fetch(`http://${LOOPBACK}:${PORTS(1).prometheus}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^rabbitmq_identity_info\{/m);
  });
});
