/**
 * etcd for real: the prod stack's three members on loopback with the generated
 * ETCD_* environment (member URLs remapped from etcd-N:2379/2380 to loopback
 * ports). Proves: the cluster forms, APISIX's prefix is writable, a member that
 * is killed and restarted with its data directory rejoins (the "new" cluster
 * state only matters on the very first start), and writes go on while it is away.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { join } from "node:path";
import { loadStack } from "./support/config";
import { haveTools, ProcessSet, run, waitFor } from "./support/real-processes";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, etcdMemberEnv } from "../families/etcd/specs";
import { etcdArea } from "../families/etcd";
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
