/**
 * etcd for real: the prod stack's three members on loopback with the generated
 * ETCD_* environment (member URLs remapped from etcd-N:2379/2380 to loopback
 * ports). Proves: the cluster forms, APISIX's prefix is writable, a member that
 * is killed and restarted with its data directory rejoins (the "new" cluster
 * state only matters on the very first start), and writes go on while it is away.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadStack } from "./support/config";
import { haveTools, ProcessSet, run, waitFor } from "./support/real-processes";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, etcdMemberEnv } from "../families/etcd/specs";
import { etcdArea, ETCD_CLIENTS, ETCD_ROOT_SECRET } from "../families/etcd";
import type { ServiceSpec } from "../core/model";

// This test's own port range.
const MEMBERS = [1, 2, 3];
const CLIENT = (i: number): number => 46500 + i;
const PEER = (i: number): number => 46510 + i;
const LOOPBACK = "127.0.0.1";

const config = loadStack("prod");
const platform = buildPlatform(config, buildTopology(config)).spec;
const service = (name: string): ServiceSpec => {
  const s = platform.services.find((x) => x.name === name);
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

const procs = new ProcessSet("real-etcd");
after(() => procs.cleanup());

const loopbackCluster = MEMBERS.map((i) => ({ name: `etcd-${i}`, peerUrl: `http://${LOOPBACK}:${PEER(i)}` }));
function memberEnv(i: number): Record<string, string> {
  return etcdMemberEnv({
    name: `etcd-${i}`,
    cluster: loopbackCluster,
    clientUrl: `http://${LOOPBACK}:${CLIENT(i)}`,
    listenClientUrls: `http://${LOOPBACK}:${CLIENT(i)}`,
    listenPeerUrls: `http://${LOOPBACK}:${PEER(i)}`,
    clusterToken: service(`etcd-${i}`).env.ETCD_INITIAL_CLUSTER_TOKEN,
    dataDir: join(procs.dir, `etcd-${i}`, "data"),
  });
}

const endpoints = MEMBERS.map((i) => `http://${LOOPBACK}:${CLIENT(i)}`).join(",");
const etcdctl = async (...args: string[]): Promise<string> => {
  const r = await run("etcdctl", [`--endpoints=${endpoints}`, "--dial-timeout=2s", "--command-timeout=5s", ...args], { ETCDCTL_API: "3" }, 15_000);
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
};

void describe("etcd on loopback, from the generated member environment", () => {
  void test("three members form a cluster, keep APISIX's prefix, and a restarted member rejoins", { timeout: 180_000 }, async (t) => {
    if (!haveTools(t, ["etcd", "etcdctl"])) return;
    const diag = (): string => procs.allLogs(20);

    for (const i of MEMBERS) {
      const generated = service(`etcd-${i}`).env;
      const loopback = memberEnv(i);
      // Only addresses and the data folder differ from what the Swarm service gets.
      const remap = (v: string): string => {
        let out = v;
        for (const j of MEMBERS) {
          out = out.split(`http://etcd-${j}:${ETCD_PEER_PORT}`).join(`http://${LOOPBACK}:${PEER(j)}`);
          out = out.split(`http://etcd-${j}:${ETCD_CLIENT_PORT}`).join(`http://${LOOPBACK}:${CLIENT(j)}`);
        }
        return out
          .replace(`http://0.0.0.0:${ETCD_CLIENT_PORT}`, `http://${LOOPBACK}:${CLIENT(i)}`)
          .replace(`http://0.0.0.0:${ETCD_PEER_PORT}`, `http://${LOOPBACK}:${PEER(i)}`)
          .replace("/var/lib/etcd/data", join(procs.dir, `etcd-${i}`, "data"));
      };
      assert.deepEqual(loopback, Object.fromEntries(Object.entries(generated).map(([k, v]) => [k, remap(v)])));
    }

    for (const i of MEMBERS) procs.start(`etcd-${i}`, "etcd", [], memberEnv(i));

    await waitFor("every member healthy", async () => {
      procs.mustRun(...MEMBERS.map((i) => `etcd-${i}`));
      const out = await etcdctl("endpoint", "health", "--write-out=json");
      const health = JSON.parse(out) as { health: boolean }[];
      return health.length === 3 && health.every((h) => h.health) ? true : undefined;
    }, 60_000, 500, diag);
    const members = JSON.parse(await etcdctl("member", "list", "--write-out=json")) as { members: { name: string; peerURLs: string[] }[] };
    assert.deepEqual(members.members.map((m) => m.name).sort(), ["etcd-1", "etcd-2", "etcd-3"]);

    const prefix = config.section(etcdArea).prefix;
    await etcdctl("put", `${prefix}/routes/1`, '{"uri":"/v1/*"}');
    assert.equal((await etcdctl("get", `${prefix}/routes/1`, "--print-value-only")).trim(), '{"uri":"/v1/*"}');

    // One member away: the other two still have a majority and take writes.
    await procs.kill("etcd-2", "SIGKILL");
    // (If etcd-2 led, the others first elect a new leader: a client retries meanwhile.)
    await waitFor("a write with etcd-2 down", async () => {
      await etcdctl("put", `${prefix}/routes/2`, "written-while-etcd-2-was-down");
      return true;
    }, 30_000, 500, diag);
    // Back with its data directory and the same environment: it rejoins, it does not bootstrap a new cluster.
    procs.start("etcd-2", "etcd", [], memberEnv(2));
    await waitFor("etcd-2 to rejoin and catch up", async () => {
      procs.mustRun("etcd-2");
      const r = await run("etcdctl", [`--endpoints=http://${LOOPBACK}:${CLIENT(2)}`, "--dial-timeout=2s", "get", `${prefix}/routes/2`, "--print-value-only", "--consistency=s"], { ETCDCTL_API: "3" }, 10_000);
      return r.code === 0 && r.stdout.trim() === "written-while-etcd-2-was-down" ? true : undefined;
    }, 60_000, 500, diag);
    const after2 = JSON.parse(await etcdctl("member", "list", "--write-out=json")) as { members: { name: string }[] };
    assert.equal(after2.members.length, 3);
  });
});

/**
 * Authentication for real: the generated etcd-auth job (its script, its environment,
 * secret files in a temporary folder) against a real etcd; then what each login may do.
 */
void describe("etcd authentication, from the generated etcd-auth job", () => {
  const AUTH_CLIENT = 46531;
  const AUTH_PEER = 46532;
  const url = `http://${LOOPBACK}:${AUTH_CLIENT}`;
  const ctl = (user: string | undefined, ...args: string[]) =>
    run("etcdctl", [`--endpoints=${url}`, "--dial-timeout=2s", "--command-timeout=5s", ...(user ? [`--user=${user}`] : []), ...args], { ETCDCTL_API: "3" }, 15_000);
  const passwords: Record<string, string> = {};
  const secretDir = join(procs.dir, "secrets");

  function writeSecret(key: string, value: string): void {
    mkdirSync(secretDir, { recursive: true });
    writeFileSync(join(secretDir, key), `${value}\n`, { mode: 0o600 });
    passwords[key] = value;
  }

  function startJob(name: string): void {
    const job = service("etcd-auth");
    const script = platform.configs.find((c) => job.configs[0].key === c.key);
    assert.ok(script);
    const scriptPath = join(procs.dir, "etcd-auth.sh");
    writeFileSync(scriptPath, script.content);
    const env = Object.fromEntries(Object.entries(job.env).map(([k, v]) => [k, v.split("/run/secrets/").join(`${secretDir}/`)]));
    procs.start(name, "sh", [scriptPath], { ...env, ETCD_URLS: url, APPLY_INTERVAL: "1", READY_FILE: join(procs.dir, `${name}.ready`) });
  }

  void test("unauthenticated access is refused; APISIX's users read and write their prefix only; a rotated password takes over", { timeout: 120_000 }, async (t) => {
    if (!haveTools(t, ["etcd", "etcdctl", "curl"])) return;
    const job = service("etcd-auth");
    assert.deepEqual(job.secrets.map((s) => s.key), [ETCD_ROOT_SECRET, ETCD_CLIENTS.apisix.secret, ETCD_CLIENTS.dashboard.secret]);
    assert.deepEqual(job.networks.map((n) => n.key), ["etcd"]);
    writeSecret(ETCD_ROOT_SECRET, "root-Secret-1");
    writeSecret(ETCD_CLIENTS.apisix.secret, "apisix-Secret-1");
    writeSecret(ETCD_CLIENTS.dashboard.secret, "dashboard-Secret-1");
    procs.start("etcd-auth-member", "etcd", [], {
      ETCD_NAME: "auth", ETCD_DATA_DIR: join(procs.dir, "auth-data"),
      ETCD_LISTEN_CLIENT_URLS: url, ETCD_ADVERTISE_CLIENT_URLS: url,
      ETCD_LISTEN_PEER_URLS: `http://${LOOPBACK}:${AUTH_PEER}`, ETCD_INITIAL_ADVERTISE_PEER_URLS: `http://${LOOPBACK}:${AUTH_PEER}`,
      ETCD_INITIAL_CLUSTER: `auth=http://${LOOPBACK}:${AUTH_PEER}`,
    });
    const diag = (): string => procs.allLogs(20);
    await waitFor("etcd up", async () => ((await ctl(undefined, "endpoint", "health")).code === 0 ? true : undefined), 30_000, 300, diag);
    // Before the job: everyone may read (etcd starts without authentication).
    assert.equal((await ctl(undefined, "put", "/elsewhere/k", "v")).code, 0);

    startJob("etcd-auth-1");
    await waitFor("the job's first complete apply", async () => {
      procs.mustRun("etcd-auth-member", "etcd-auth-1");
      return existsSync(join(procs.dir, "etcd-auth-1.ready")) ? true : undefined;
    }, 60_000, 300, diag);

    const prefix = config.section(etcdArea).prefix;
    const apisix = `${ETCD_CLIENTS.apisix.user}:${passwords[ETCD_CLIENTS.apisix.secret]}`;
    const dashboard = `${ETCD_CLIENTS.dashboard.user}:${passwords[ETCD_CLIENTS.dashboard.secret]}`;
    const root = `root:${passwords[ETCD_ROOT_SECRET]}`;
    const refused = async (what: string, user: string | undefined, ...args: string[]) => {
      const r = await ctl(user, ...args);
      assert.notEqual(r.code, 0, `${what} was allowed: ${r.stdout}`);
      assert.match(r.stderr, /user name is empty|permission denied|authentication failed|invalid auth token/, what);
    };
    // Probes and their positive twins.
    await refused("unauthenticated read", undefined, "get", `${prefix}/routes/1`);
    await refused("unauthenticated write", undefined, "put", `${prefix}/routes/1`, "x");
    for (const user of [apisix, dashboard]) {
      assert.equal((await ctl(user, "put", `${prefix}/routes/1`, '{"uri":"/v1/*"}')).code, 0, `${user.split(":")[0]} writes its prefix`);
      assert.equal((await ctl(user, "get", `${prefix}/routes/1`, "--print-value-only")).stdout.trim(), '{"uri":"/v1/*"}');
      await refused("read outside the prefix", user, "get", "/elsewhere/k");
      await refused("write outside the prefix", user, "put", "/elsewhere/k", "x");
      await refused("list users", user, "user", "list");
      await refused("turn authentication off", user, "auth", "disable");
    }
    assert.equal((await ctl(root, "get", "/elsewhere/k", "--print-value-only")).stdout.trim(), "v", "root reads everything");
    await refused("a wrong password", `${ETCD_CLIENTS.apisix.user}:wrong`, "get", `${prefix}/routes/1`);

    // What APISIX itself does at start (apisix/cli/etcd.lua prepare_dirs_via_http): log in over the JSON gateway, put a directory key.
    const login = await run("curl", ["-sS", "--data-binary", JSON.stringify({ name: ETCD_CLIENTS.apisix.user, password: passwords[ETCD_CLIENTS.apisix.secret] }), `${url}/v3/auth/authenticate`]);
    const token = (JSON.parse(login.stdout) as { token?: string }).token;
    assert.ok(token, login.stdout);
    const b64 = (s: string): string => Buffer.from(s).toString("base64");
    const put = await run("curl", ["-sS", "-H", `Authorization: ${token}`, "--data-binary", JSON.stringify({ key: b64(`${prefix}/upstreams/`), value: b64("init_dir") }), `${url}/v3/kv/put`]);
    assert.doesNotMatch(put.stdout, /error/, put.stdout);
    // Prometheus scrapes /metrics without a login.
    const metrics = await run("curl", ["-sS", `${url}/metrics`]);
    assert.match(metrics.stdout, /^etcd_server_has_leader 1$/m);

    // A rotated password file: the next apply sets it; the old one stops working, the new one works.
    await procs.kill("etcd-auth-1", "SIGTERM");
    writeSecret(ETCD_CLIENTS.apisix.secret, "apisix-Secret-2");
    startJob("etcd-auth-2");
    await waitFor("the rotated password applied", async () => {
      procs.mustRun("etcd-auth-member", "etcd-auth-2");
      return existsSync(join(procs.dir, "etcd-auth-2.ready")) && (await ctl(`${ETCD_CLIENTS.apisix.user}:apisix-Secret-2`, "get", `${prefix}/routes/1`)).code === 0 ? true : undefined;
    }, 60_000, 300, diag);
    await refused("the old password", apisix, "get", `${prefix}/routes/1`);
    // The second run found everything in place: no error in its log.
    assert.doesNotMatch(procs.logTail("etcd-auth-2", 50), /etcd-auth: \/v3/, procs.logTail("etcd-auth-2", 50));
    await procs.kill("etcd-auth-2", "SIGTERM");
  });
});
