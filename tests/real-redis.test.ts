/**
 * Redis with Sentinel for real: the prod stack's three data members, three
 * Sentinels and the HAProxy `redis` endpoint, started on loopback from exactly
 * the files and entrypoint scripts the specs generate. Only what Swarm would
 * provide differs: hosts (127.0.0.1 instead of redis-N), ports, paths, the
 * secret files. Proves: replication comes up (as the replication ACL user), the
 * Sentinels agree on the master (as the sentinel user), the endpoint reaches the
 * master and follows it after the master is killed, and members restarted after
 * the failover come back as replicas; and that every ACL user can do its job and
 * nothing more: the default user is off, an application's user stays in its key
 * patterns without CONFIG, FLUSHALL, DEBUG or ACL, a Sentinel tells anyone who the
 * master is but takes orders from nobody but the Sentinels and the admin, and no
 * password is in any process' environment or command line.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { platformOf } from "./support/config";
import { redisArea } from "../families/redis";
import { haveTools, ProcessSet, run, waitFor } from "./support/real-processes";
import { readFileSync } from "node:fs";
import { haproxyCfg, redisAppSecret, REDIS_PASSWORD_SECRET, REDIS_PORT, REDIS_RATELIMIT_SECRET, REDIS_REPLICATION_SECRET, REDIS_SENTINEL_SECRET, REDIS_USERS, SENTINEL_PORT } from "../families/redis/specs";

// This test's own port range.
const MEMBER_PORTS = [46301, 46302, 46303];
const SENTINEL_PORTS = [46311, 46312, 46313];
const ENDPOINT_PORT = 46320;
const MONITOR_PORT = 46321;
const LOOPBACK = "127.0.0.1";

const APP = { name: "orders", keyPatterns: ["orders:*"] };
const { config, service, configContent } = platformOf("prod", { redisAppUsers: [`${APP.name} ~${APP.keyPatterns[0]}`] });

/** Where Swarm's hostname:port of a member lands on loopback. */
const ADDRESS: Record<string, string> = {
  [`redis-1:${REDIS_PORT}`]: `${LOOPBACK}:${MEMBER_PORTS[0]}`,
  [`redis-2:${REDIS_PORT}`]: `${LOOPBACK}:${MEMBER_PORTS[1]}`,
  [`redis-3:${REDIS_PORT}`]: `${LOOPBACK}:${MEMBER_PORTS[2]}`,
  [`redis-sentinel-1:${SENTINEL_PORT}`]: `${LOOPBACK}:${SENTINEL_PORTS[0]}`,
  [`redis-sentinel-2:${SENTINEL_PORT}`]: `${LOOPBACK}:${SENTINEL_PORTS[1]}`,
  [`redis-sentinel-3:${SENTINEL_PORT}`]: `${LOOPBACK}:${SENTINEL_PORTS[2]}`,
};
const remapList = (value: string): string => value.split(" ").map((hp) => {
  const to = ADDRESS[hp];
  if (!to) throw new Error(`no loopback address for ${hp}`);
  return to;
}).join(" ");

const procs = new ProcessSet("real-redis");
after(() => procs.cleanup());

/** One password per secret key, each in its own file, as Swarm mounts them under /run/secrets. */
const SECRET_KEYS = [REDIS_PASSWORD_SECRET, REDIS_REPLICATION_SECRET, REDIS_SENTINEL_SECRET, REDIS_RATELIMIT_SECRET, redisAppSecret(APP)];
const passwords: Record<string, string> = Object.fromEntries(SECRET_KEYS.map((k) => [k, randomBytes(24).toString("hex")]));
const password = passwords[REDIS_PASSWORD_SECRET];
const secretsDir = join(procs.dir, "secrets");
/** /run/secrets/<key> -> this test's folder, in any environment value. */
const remapSecrets = (env: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.split("/run/secrets/").join(`${secretsDir}/`).split("/etc/redis/").join(`${procs.dir}/`)]));
const files = {
  redisConf: join(procs.dir, "redis.conf"),
  sentinelConf: join(procs.dir, "sentinel.conf"),
  memberScript: join(procs.dir, "redis-member.sh"),
  sentinelScript: join(procs.dir, "redis-sentinel.sh"),
  endpointScript: join(procs.dir, "redis-endpoint.sh"),
  haproxyCfg: join(procs.dir, "haproxy.cfg"),
};

function memberEnv(index: number): Record<string, string> {
  const env = remapSecrets(service(`redis-${index}`).env);
  return {
    ...env,
    REDIS_CONFIG: files.redisConf,
    REDIS_RUNTIME_DIR: join(procs.dir, `run-redis-${index}`),
    REDIS_DATA_DIR: join(procs.dir, `data-redis-${index}`),
    REDIS_ANNOUNCE_HOST: LOOPBACK,
    REDIS_PORT: String(MEMBER_PORTS[index - 1]),
    REDIS_BIND: LOOPBACK,
    REDIS_SENTINELS: remapList(env.REDIS_SENTINELS),
    REDIS_FIRST_MASTER: remapList(env.REDIS_FIRST_MASTER),
  };
}

function sentinelEnv(index: number): Record<string, string> {
  const env = remapSecrets(service(`redis-sentinel-${index}`).env);
  return {
    ...env,
    SENTINEL_CONFIG: files.sentinelConf,
    SENTINEL_RUNTIME_DIR: join(procs.dir, `run-sentinel-${index}`),
    SENTINEL_ANNOUNCE_HOST: LOOPBACK,
    SENTINEL_PORT: String(SENTINEL_PORTS[index - 1]),
    SENTINEL_BIND: LOOPBACK,
    REDIS_SENTINELS: remapList(env.REDIS_SENTINELS),
    REDIS_MEMBERS: remapList(env.REDIS_MEMBERS),
    REDIS_FIRST_MASTER: remapList(env.REDIS_FIRST_MASTER),
  };
}

/** redis-cli as a user (the admin unless named); its password through REDISCLI_AUTH of this test's own client. */
const cliAs = async (user: string | undefined, secret: string | undefined, port: number, ...args: string[]): Promise<string> => {
  const r = await run("redis-cli", ["-h", LOOPBACK, "-p", String(port), "--raw", ...(user ? ["--user", user] : []), ...args], secret ? { REDISCLI_AUTH: secret } : {}, 3_000);
  if (r.code !== 0) throw new Error(`redis-cli -p ${port} ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
};
const cli = (port: number, ...args: string[]): Promise<string> => cliAs(REDIS_USERS.admin, password, port, ...args);

function field(info: string, name: string): string | undefined {
  const line = info.split(/\r?\n/).find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

const startMember = (i: number): void => {
  procs.start(`redis-${i}`, "sh", [files.memberScript], memberEnv(i));
};
const startSentinel = (i: number): void => {
  procs.start(`redis-sentinel-${i}`, "sh", [files.sentinelScript], sentinelEnv(i));
};

/** The master as every Sentinel reports it, when they all agree. */
async function agreedMaster(): Promise<number | undefined> {
  const answers = await Promise.all(SENTINEL_PORTS.map((p) => cli(p, "SENTINEL", "get-master-addr-by-name", config.section(redisArea).masterName)));
  const ports = answers.map((a) => Number(a.trim().split(/\r?\n/)[1]));
  return ports.every((p) => p === ports[0]) ? ports[0] : undefined;
}

/** Which member a client of the endpoint lands on, and its role: one connection, so one member. */
async function throughEndpoint(): Promise<{ port: number; role: string }> {
  const info = await cli(ENDPOINT_PORT, "INFO");
  return { port: Number(field(info, "tcp_port")), role: field(info, "role") ?? "" };
}

async function monitorStatus(): Promise<number> {
  const res = await fetch(`http://${LOOPBACK}:${MONITOR_PORT}/healthz`, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status;
}

/** A call that must be refused, and the error Redis gives when it is (never a connection error). */
async function refused(what: string, user: string | undefined, secret: string | undefined, port: number, args: string[], error: RegExp): Promise<void> {
  const out = await cliAs(user, secret, port, ...args).catch((e: Error) => e.message);
  assert.match(out, error, `${what}: ${out}`);
}

const NOPERM = /NOPERM/;
const NOAUTH = /NOAUTH|WRONGPASS/;

async function aclProbes(): Promise<void> {
  const master = MEMBER_PORTS[0];
  const app = [APP.name, passwords[redisAppSecret(APP)]] as const;
  const masterName = config.section(redisArea).masterName;
  // The default user is off: no command without a login, and no login without a password.
  await refused("no user", undefined, undefined, master, ["GET", "orders:1"], NOAUTH);
  await refused("default user with the admin's password", "default", password, master, ["PING"], NOAUTH);
  // The application: its keys yes, others no; no administration.
  assert.equal((await cliAs(...app, master, "SET", "orders:1", "paid")).trim(), "OK");
  assert.equal((await cliAs(...app, master, "GET", "orders:1")).trim(), "paid");
  await refused("another application's key", ...app, master, ["GET", "billing:1"], NOPERM);
  await refused("CONFIG", ...app, master, ["CONFIG", "GET", "requirepass"], NOPERM);
  await refused("CONFIG SET", ...app, master, ["CONFIG", "SET", "dir", "/tmp"], NOPERM);
  await refused("FLUSHALL", ...app, master, ["FLUSHALL"], NOPERM);
  // Redis 7 refuses DEBUG to everyone by default (enable-debug-command no), before ACLs are asked.
  await refused("DEBUG", ...app, master, ["DEBUG", "SLEEP", "0"], /NOPERM|DEBUG command not allowed/);
  await refused("ACL LIST", ...app, master, ["ACL", "LIST"], NOPERM);
  await refused("KEYS", ...app, master, ["KEYS", "*"], NOPERM);
  await refused("REPLICAOF", ...app, master, ["REPLICAOF", "NO", "ONE"], NOPERM);
  // The replication user replicates and reads nothing.
  await refused("replication user reading", REDIS_USERS.replication, passwords[REDIS_REPLICATION_SECRET], master, ["GET", "orders:1"], NOPERM);
  // The rate limiter runs limit-count's script on its counters and nothing else.
  const limiter = [REDIS_USERS.rateLimit, passwords[REDIS_RATELIMIT_SECRET]] as const;
  const script = "local ttl = redis.call('ttl', KEYS[1]) if ttl < 0 then redis.call('set', KEYS[1], ARGV[1] - 1, 'EX', ARGV[2]) return ARGV[1] - 1 end return redis.call('incrby', KEYS[1], -1)";
  assert.equal((await cliAs(...limiter, master, "EVAL", script, "1", "limit-count/routes/auth:10.0.0.1", "12", "60")).trim(), "11");
  await refused("rate limiter reading an application's key", ...limiter, master, ["GET", "orders:1"], NOPERM);
  await refused("rate limiter's script on another key", ...limiter, master, ["EVAL", script, "1", "orders:1", "12", "60"], NOPERM);
  // The health user: PING and ROLE without a password, nothing else.
  assert.equal((await cliAs(REDIS_USERS.health, "any", master, "ROLE")).split("\n")[0], "master");
  await refused("health user reading", REDIS_USERS.health, "any", master, ["GET", "orders:1"], NOPERM);
  // A replica's data port with the application's login cannot be turned into a master.
  await refused("REPLICAOF on a replica", ...app, MEMBER_PORTS[1], ["REPLICAOF", "NO", "ONE"], NOPERM);
  // Sentinels: anyone learns the master; only the Sentinels and the admin give orders.
  const sentinel = SENTINEL_PORTS[0];
  assert.equal((await cliAs(undefined, undefined, sentinel, "SENTINEL", "get-master-addr-by-name", masterName)).split("\n")[1], String(master));
  assert.equal((await cliAs(...app, sentinel, "SENTINEL", "get-master-addr-by-name", masterName)).split("\n")[1], String(master));
  await refused("SENTINEL SET without a login", undefined, undefined, sentinel, ["SENTINEL", "SET", masterName, "quorum", "1"], NOPERM);
  await refused("SENTINEL FAILOVER as the application", ...app, sentinel, ["SENTINEL", "FAILOVER", masterName], NOPERM);
  await refused("SENTINEL RESET without a login", undefined, undefined, sentinel, ["SENTINEL", "RESET", "*"], NOPERM);
  assert.match(await cliAs(REDIS_USERS.admin, password, sentinel, "SENTINEL", "CKQUORUM", masterName), /OK/);
}

/** No password of any user in the environment or command line of any server the test started. */
function noSecretInAnyProcess(): void {
  const pids = procs.pids();
  assert.ok(pids.length >= 7, `pids: ${pids.join(" ")}`);
  for (const pid of pids) {
    for (const file of ["environ", "cmdline"]) {
      const text = readFileSync(`/proc/${pid}/${file}`, "latin1");
      for (const [key, value] of Object.entries(passwords)) assert.ok(!text.includes(value), `the ${key} value is in /proc/${pid}/${file}`);
    }
  }
}

void describe("Redis with Sentinel on loopback, from the generated files", () => {
  void test("replication, Sentinel agreement, endpoint failover, restarted members rejoin as replicas", { timeout: 240_000 }, async (t) => {
    if (!haveTools(t, ["redis-server", "redis-cli", "haproxy", "timeout"])) return;
    const diag = (): string => procs.allLogs();

    mkdirSync(secretsDir);
    for (const key of SECRET_KEYS) writeFileSync(join(secretsDir, key), `${passwords[key]}\n`, { mode: 0o400 });
    writeFileSync(join(procs.dir, "redis-acl.sh"), configContent("redis-acl-sh"));
    writeFileSync(join(procs.dir, "users.acl.tmpl"), configContent("redis-users-acl"));
    writeFileSync(join(procs.dir, "sentinel-users.tmpl"), configContent("redis-sentinel-users"));
    writeFileSync(files.redisConf, configContent("redis-conf"));
    writeFileSync(files.sentinelConf, configContent("redis-sentinel-conf"));
    writeFileSync(files.memberScript, configContent("redis-member-sh"));
    writeFileSync(files.sentinelScript, configContent("redis-sentinel-sh"));
    writeFileSync(files.endpointScript, configContent("redis-endpoint-sh"));

    // The endpoint's config is regenerated with loopback servers and ports; prove that is the only difference.
    const loopbackCfg = haproxyCfg({
      servers: [1, 2, 3].map((i) => ({ name: `redis-${i}`, host: LOOPBACK, port: MEMBER_PORTS[i - 1] })),
      listen: `${LOOPBACK}:${ENDPOINT_PORT}`,
      monitorListen: `${LOOPBACK}:${MONITOR_PORT}`,
      nameserver: "127.0.0.11:53",
    });
    let generated = configContent("redis-endpoint-cfg")
      .replace(`bind :${REDIS_PORT}`, `bind ${LOOPBACK}:${ENDPOINT_PORT}`)
      .replace("bind :8404", `bind ${LOOPBACK}:${MONITOR_PORT}`);
    for (const i of [1, 2, 3]) generated = generated.replace(` redis-${i}:${REDIS_PORT} `, ` ${LOOPBACK}:${MEMBER_PORTS[i - 1]} `);
    assert.equal(loopbackCfg, generated);
    writeFileSync(files.haproxyCfg, loopbackCfg);
    const check = await run("haproxy", ["-c", "-f", files.haproxyCfg]);
    assert.equal(check.code, 0, `haproxy -c: ${check.stdout}${check.stderr}`);

    for (const i of [1, 2, 3]) mkdirSync(join(procs.dir, `data-redis-${i}`));
    // Everything at once, as a first deploy starts it.
    for (const i of [1, 2, 3]) startMember(i);
    for (const i of [1, 2, 3]) startSentinel(i);

    const replication = await waitFor("redis-1 to be master with two online replicas", async () => {
      const info = await cli(MEMBER_PORTS[0], "INFO", "replication");
      const online = info.split(/\r?\n/).filter((l) => /^slave\d+:.*state=online/.test(l)).length;
      return field(info, "role") === "master" && online === 2 ? info : undefined;
    }, 60_000, 250, diag);
    assert.match(replication, /connected_slaves:2/);
    for (const p of MEMBER_PORTS.slice(1)) {
      const info = await cli(p, "INFO", "replication");
      assert.equal(field(info, "role"), "slave");
      assert.equal(field(info, "master_port"), String(MEMBER_PORTS[0]));
      assert.equal(field(info, "master_link_status"), "up");
    }
    // AOF on and maxmemory from config, as generated.
    assert.deepEqual((await cli(MEMBER_PORTS[1], "CONFIG", "GET", "appendonly")).trim().split(/\r?\n/), ["appendonly", "yes"]);
    assert.deepEqual((await cli(MEMBER_PORTS[1], "CONFIG", "GET", "maxmemory-policy")).trim().split(/\r?\n/), ["maxmemory-policy", config.section(redisArea).maxmemoryPolicy]);

    await waitFor("the three Sentinels to agree on redis-1 and to know each other", async () => {
      if ((await agreedMaster()) !== MEMBER_PORTS[0]) return undefined;
      for (const p of SENTINEL_PORTS) {
        const master = await cli(p, "SENTINEL", "master", config.section(redisArea).masterName);
        const lines = master.trim().split(/\r?\n/);
        const get = (k: string): string | undefined => lines[lines.indexOf(k) + 1];
        if (get("num-other-sentinels") !== "2" || get("num-slaves") !== "2" || get("quorum") !== "2") return undefined;
      }
      return true;
    }, 60_000, 500, diag);

    procs.start("haproxy", "sh", [files.endpointScript], remapSecrets({ ...service("redis").env, HAPROXY_CONFIG: files.haproxyCfg }));
    await waitFor("the endpoint's health check to pass (exactly one master up)", async () => ((await monitorStatus()) === 200 ? true : undefined), 20_000, 250, diag);
    for (let i = 0; i < 5; i++) assert.deepEqual(await throughEndpoint(), { port: MEMBER_PORTS[0], role: "master" }, procs.logTail("haproxy", 40));
    assert.equal((await cli(ENDPOINT_PORT, "SET", "written-before-failover", "kept")).trim(), "OK");

    await aclProbes();
    noSecretInAnyProcess();

    // Kill the master's process outright: no shutdown, no goodbye to the Sentinels.
    const killedAt = Date.now();
    await procs.kill("redis-1", "SIGKILL");
    const after = await waitFor("the endpoint to lead to a new master", async () => {
      const seen = await throughEndpoint();
      return seen.role === "master" && seen.port !== MEMBER_PORTS[0] ? seen : undefined;
    }, 60_000, 100, diag);
    const failoverSeconds = (Date.now() - killedAt) / 1000;
    console.log(JSON.stringify({ figure: "redis_loopback_failover_s", value: Number(failoverSeconds.toFixed(2)), unit: "s" }));
    assert.equal((await cli(ENDPOINT_PORT, "GET", "written-before-failover")).trim(), "kept");
    assert.equal((await cli(ENDPOINT_PORT, "SET", "written-after-failover", "yes")).trim(), "OK");
    await waitFor("the Sentinels to agree on the new master", async () => ((await agreedMaster()) === after.port ? true : undefined), 30_000, 250, diag);

    // The old master, the designated first member, restarts with its data: it must come back as a replica.
    startMember(1);
    await waitFor("restarted redis-1 to replicate the new master", async () => {
      const info = await cli(MEMBER_PORTS[0], "INFO", "replication");
      return field(info, "role") === "slave" && field(info, "master_port") === String(after.port) && field(info, "master_link_status") === "up" ? true : undefined;
    }, 60_000, 250, diag);
    assert.equal((await cli(MEMBER_PORTS[0], "GET", "written-after-failover")).trim(), "yes");

    // A second member (the remaining replica) restarted after the failover also comes back as a replica.
    const other = [2, 3].find((i) => MEMBER_PORTS[i - 1] !== after.port);
    assert.ok(other);
    await procs.kill(`redis-${other}`, "SIGKILL");
    startMember(other);
    await waitFor(`restarted redis-${other} to replicate the new master`, async () => {
      const info = await cli(MEMBER_PORTS[other - 1], "INFO", "replication");
      return field(info, "role") === "slave" && field(info, "master_port") === String(after.port) && field(info, "master_link_status") === "up" ? true : undefined;
    }, 60_000, 250, diag);

    // Exactly one master among the members, and the endpoint still leads to it.
    const roles = await Promise.all(MEMBER_PORTS.map(async (p) => field(await cli(p, "INFO", "replication"), "role")));
    assert.deepEqual(roles.filter((r) => r === "master").length, 1);
    assert.deepEqual(await throughEndpoint(), { port: after.port, role: "master" });
    assert.equal(await monitorStatus(), 200);
  });
});
