/**
 * The edge failover: candidates from the config, the files keepalived runs (checked by the real
 * keepalived, shellcheck and cloud-init), the notify script against the Hetzner stand-in, the token's
 * way to the candidates, and the failure analysis. The failover itself is the drill in
 * e2e/edge.e2e.test.ts.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import {
  authHeaderFile,
  edgeCheckScript,
  edgeInterfaceScript,
  edgeNotifyScript,
  failoverHostFor,
  keepalivedConf,
  keepalivedDropIn,
  type FailoverHost,
} from "../core/edge-failover";
import { renderCloudInit, storageBoxFstab, storageBoxFor } from "../core/cloudinit";
import { buildTopology } from "../core/topology";
import { buildPlatform } from "../platform/assemble";
import { analyseFailures } from "../analysis/failure";
import { hostKeyFromSecret } from "../lib/ssh";
import { startHetznerStandin } from "../e2e/support/hetzner-standin";
import { runProgram, reveal, isSecretInput } from "../tools/mock-runtime";
import { loadStack, stackFileConfig } from "./support/config";
import { requireTool } from "./support/tools";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDboZlad/wBVVtVG4zMieQjszzWbiCdNIYXl9bG38+1f deploy";
const HOST_KEY = hostKeyFromSecret("k".repeat(64), "node");

/** Outputs Hetzner would report after create, so the previews render every server's cloud-init. */
function mockState(args: { type: string; name: string }): Record<string, unknown> | undefined {
  if (args.type === "hcloud:index/floatingIp:FloatingIp") return { ipAddress: "203.0.113.10" };
  if (args.type === "hcloud:index/server:Server") return { ipv4Address: `198.51.100.${10 + Number(/(\d+)$/.exec(args.name)![1])}` };
  if (args.type === "command:remote:Command") return { stdout: "SWMTKN-1-test-token", stderr: "" };
  return undefined;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "edge-failover-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function prodHost(node = "prod-app-01"): FailoverHost {
  const cfg = loadStack("prod");
  const topology = buildTopology(cfg);
  const spec = topology.nodes.find((n) => n.name === node)!;
  return failoverHostFor(topology, spec, "prod-edge", "api.example.com")!;
}

void describe("edge candidates from the config", () => {
  void test("prod default: two type=service nodes in different locations; test: one", () => {
    const prod = loadStack("prod", { edgeCandidates: [] });
    assert.deepEqual(prod.edgeCandidates, ["prod-app-01", "prod-app-02"]);
    const topology = buildTopology(prod);
    assert.notEqual(topology.edgeCandidates[0].location, topology.edgeCandidates[1].location);
    assert.deepEqual(loadStack("test", { edgeCandidates: [] }).edgeCandidates, ["test-app-01"]);
  });

  void test("two or more candidates need the failover token, one does not", () => {
    assert.throws(() => loadStack("prod", { edgeFailoverToken: "" }), /swarm-platform:edgeFailoverToken: expected a Hetzner Cloud API token \(required with two or more edgeCandidates; set it with: pulumi config set --secret edgeFailoverToken\)/);
    assert.doesNotThrow(() => loadStack("prod", { edgeCandidates: ["prod-app-01"], edgeFailoverToken: "" }));
  });

  void test("a Storage Box share needs its account and password", () => {
    assert.throws(() => loadStack("prod", { storageBoxShare: "//u1-sub1.your-storagebox.de/u1-sub1" }), (e: Error) =>
      /swarm-platform:storageBoxUser: expected/.test(e.message) && /swarm-platform:storageBoxPassword: expected/.test(e.message));
  });

  void test("only the candidates run the failover; each lists the others as unicast peers", () => {
    const cfg = loadStack("prod");
    const topology = buildTopology(cfg);
    const hosts = topology.nodes.map((n) => failoverHostFor(topology, n, "prod-edge", ""));
    assert.deepEqual(hosts.map((h) => h?.node), [undefined, undefined, undefined, "prod-app-01", "prod-app-02", undefined]);
    assert.deepEqual(hosts[3]?.peerIps, ["10.20.1.31"]);
    assert.deepEqual(hosts[4]?.peerIps, ["10.20.1.30"]);
    const single = buildTopology(loadStack("test"));
    assert.equal(failoverHostFor(single, single.edge, "test-edge", ""), undefined);
  });
});

void describe("keepalived's files", () => {
  void test("keepalived accepts the configuration (keepalived --config-test)", (t) => {
    if (!requireTool(t, "keepalived")) return;
    const state = join(dir, "state");
    mkdirSync(state, { recursive: true });
    // keepalived refuses the loopback: take this machine's first interface with a global address.
    const iface = spawnSync("ip", ["-o", "-4", "addr", "show", "scope", "global"], { encoding: "utf8" }).stdout.split("\n")[0]?.split(/\s+/)[1];
    if (!iface) return t.skip("no interface with a global IPv4 address");
    writeFileSync(join(state, "interface.conf"), `interface ${iface}\n`);
    const h: FailoverHost = { ...prodHost(), paths: { stateDir: state, check: "/bin/true", notify: "/bin/true" } };
    const conf = join(dir, "keepalived.conf");
    writeFileSync(conf, keepalivedConf(h));
    const r = spawnSync("keepalived", ["--config-test", "-f", conf, "-l"], { encoding: "utf8" });
    // keepalived manages no address here by design, and its config test warns about that (and exits non-zero
    // for any warning); every other line would be a real problem. The drill runs this file for real.
    const problems = `${r.stdout}${r.stderr}`.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/No VIP specified; at least one is sensible/.test(l));
    assert.deepEqual(problems, []);
    const broken = join(dir, "broken.conf");
    writeFileSync(broken, keepalivedConf(h).replace("nopreempt", "nopreempt_typo"));
    const bad = spawnSync("keepalived", ["--config-test", "-f", broken, "-l"], { encoding: "utf8" });
    assert.match(`${bad.stdout}${bad.stderr}`, /nopreempt_typo/, "the config test does catch a bad keyword");
    const text = keepalivedConf(h);
    for (const line of ["state BACKUP", "nopreempt", "priority 100", "advert_int 1", "unicast_src_ip 10.20.1.30", `include ${state}/interface.conf`]) {
      assert.ok(text.includes(`    ${line}\n`), line);
    }
    assert.ok(!/virtual_ipaddress/.test(text), "keepalived manages no address: the floating IP is configured on every candidate");
  });

  void test("the scripts pass shellcheck", (t) => {
    if (!requireTool(t, "shellcheck")) return;
    const h = prodHost();
    for (const [name, text] of [["check", edgeCheckScript(h)], ["notify", edgeNotifyScript(h)], ["iface", edgeInterfaceScript(h)]] as const) {
      const path = join(dir, `${name}.sh`);
      writeFileSync(path, text);
      const r = spawnSync("shellcheck", ["-s", "sh", path], { encoding: "utf8" });
      assert.equal(r.status, 0, `${name}: ${r.stdout}`);
    }
  });

  void test("the interface script finds the interface that holds the private address", (t) => {
    if (!requireTool(t, "ip")) return;
    const state = join(dir, "iface-state");
    const h: FailoverHost = { ...prodHost(), privateIp: "127.0.0.1", paths: { stateDir: state } };
    const path = join(dir, "iface.sh");
    writeFileSync(path, edgeInterfaceScript(h), { mode: 0o755 });
    const r = spawnSync("sh", [path], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(join(state, "interface.conf"), "utf8"), "interface lo\n");
    const missing = spawnSync("sh", [join(dir, "iface-missing.sh")].map((p) => {
      writeFileSync(p, edgeInterfaceScript({ ...h, privateIp: "192.0.2.250" }));
      return p;
    }), { encoding: "utf8" });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no interface holds 192\.0\.2\.250 yet/);
  });

  void test("the token reaches curl as a header file, one line, never in argv", () => {
    assert.equal(authHeaderFile("abc123"), "Authorization: Bearer abc123\n");
    assert.throws(() => authHeaderFile("abc\nX-Evil: 1"), /one line/);
    const notify = edgeNotifyScript(prodHost());
    assert.ok(!/Bearer/.test(notify));
    assert.equal((notify.match(/-H @"\$auth"/g) ?? []).length, 2);
  });

  void test("a candidate's cloud-init installs keepalived with its files and passes cloud-init's schema", (t) => {
    const cfg = loadStack("prod", { storageBoxShare: "//u1-sub1.your-storagebox.de/u1-sub1", storageBoxUser: "u1-sub1", storageBoxPassword: "pw" });
    const topology = buildTopology(cfg);
    const node = topology.edge;
    const text = renderCloudInit(cfg, {
      node, authorizedKeys: [KEY], hostKey: HOST_KEY, floatingIp: "203.0.113.10",
      edgeFailover: failoverHostFor(topology, node, "prod-edge", ""),
      storageBox: storageBoxFor(cfg, node, ["/mnt/storagebox/edge/caddy"]),
    });
    const doc = parse(text) as { packages: (string | string[])[]; write_files: { path: string; content: string; permissions: string; append?: boolean }[]; runcmd: string[][] };
    assert.ok(doc.packages.includes("keepalived") && doc.packages.includes("cifs-utils"));
    const files = new Map(doc.write_files.map((f) => [f.path, f]));
    assert.equal(files.get("/etc/keepalived/edge-notify.sh")?.permissions, "0755");
    assert.equal(files.get("/etc/storagebox-credentials")?.permissions, "0600");
    assert.equal(files.get("/etc/storagebox-credentials")?.content, "username=u1-sub1\npassword=pw\n");
    assert.equal(files.get("/etc/fstab")?.append, true);
    assert.equal(files.get("/etc/fstab")?.content, storageBoxFstab({ share: "//u1-sub1.your-storagebox.de/u1-sub1" }) + "\n");
    assert.equal(files.get("/etc/systemd/system/keepalived.service.d/10-edge-failover.conf")?.content, keepalivedDropIn(failoverHostFor(topology, node, "prod-edge", "")!));
    assert.ok(!files.has("/etc/keepalived/hcloud-auth-header"), "the token is not in user-data");
    assert.deepEqual(doc.runcmd.find((c) => c[0] === "mkdir" && c.includes("/mnt/storagebox/edge/caddy")), ["mkdir", "-p", "/mnt/storagebox/edge/caddy"]);
    assert.ok(doc.runcmd.some((c) => c.join(" ") === "systemctl enable --now keepalived.service"));
    const managerBox = storageBoxFor(cfg, topology.managers[0], []);
    assert.equal(managerBox, undefined, "drained managers run no service: no mount");
    if (!requireTool(t, "cloud-init")) return;
    const path = join(dir, "candidate.yaml");
    writeFileSync(path, text);
    const r = spawnSync("cloud-init", ["schema", "--config-file", path], { encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});

interface NotifyRun {
  readonly status: number | null;
  readonly log: string;
}

function runNotify(h: FailoverHost, state: string): Promise<NotifyRun> {
  const path = join(dir, `notify-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(path, edgeNotifyScript(h), { mode: 0o755 });
  return new Promise((resolve) => {
    const child = spawn("sh", [path, "INSTANCE", "edge", state, "100"], { stdio: "ignore" });
    child.on("exit", (code) => {
      const logFile = join(h.paths!.stateDir!, "log");
      resolve({ status: code, log: existsSync(logFile) ? readFileSync(logFile, "utf8") : "" });
    });
  });
}

void describe("the notify script against the Hetzner stand-in", () => {
  void test("a new master assigns once; a master that holds it and a backup call nothing", async (t) => {
    if (!requireTool(t, "curl") || !requireTool(t, "jq")) return;
    const routed: number[] = [];
    const standin = await startHetznerStandin({
      listen: { host: "127.0.0.1", port: 0 },
      token: "tok123",
      floatingIp: { id: 77, name: "prod-edge", ip: "203.0.113.10" },
      servers: [{ id: 11, address: "10.9.9.9" }, { id: 22, address: "127.0.0.1" }],
      initialServer: 11,
      route: (s) => routed.push(s.id),
    });
    try {
      const state = join(dir, "notify-state");
      mkdirSync(state, { recursive: true });
      const auth = join(dir, "auth-header");
      writeFileSync(auth, authHeaderFile("tok123"), { mode: 0o600 });
      const h: FailoverHost = {
        ...prodHost(),
        floatingIpName: "prod-edge",
        apiBase: `${standin.url}/v1`,
        metadataBase: `${standin.url}/hetzner/v1/metadata`,
        paths: { stateDir: state, authHeader: auth },
      };
      const backup = await runNotify(h, "BACKUP");
      assert.equal(backup.status, 0);
      assert.equal(standin.assigns.length, 0);
      const master = await runNotify(h, "MASTER");
      assert.equal(master.status, 0, master.log);
      assert.deepEqual(standin.assigns.map((a) => a.server), [22]);
      assert.deepEqual(routed, [11, 22]);
      assert.match(master.log, /assigned floating IP prod-edge \(77\) to server 22 \(attempt 1\)/);
      const again = await runNotify(h, "MASTER");
      assert.equal(again.status, 0);
      assert.equal(standin.assigns.length, 1, "already routed here: no second assign");
      assert.match(again.log, /already routed to server 22/);
    } finally {
      await standin.close();
    }
  });
});

void describe("the token on the candidates", () => {
  void test("one command per candidate writes it from stdin as a secret, root-only; nothing elsewhere", async () => {
    const run = await runProgram("prod", { ...stackFileConfig("prod"), "swarm-platform:edgeFailoverToken": "realtoken42" }, { state: mockState });
    const commands = run.byType("command:remote:Command").filter((c) => c.name.startsWith("edge-failover-"));
    assert.deepEqual(commands.map((c) => c.name).sort(), ["edge-failover-prod-app-01-token", "edge-failover-prod-app-02-token"]);
    for (const c of commands) {
      assert.ok(isSecretInput(c.inputs.stdin), `${c.name}: stdin is secret`);
      assert.equal(reveal(c.inputs.stdin), "Authorization: Bearer realtoken42\n");
      assert.ok(!JSON.stringify(c.inputs.create).includes("realtoken42"));
      assert.match(c.inputs.create as string, /umask 077/);
      assert.equal(c.inputs.logging, "none");
    }
    for (const s of run.byType("hcloud:index/server:Server")) {
      assert.ok(!(reveal(s.inputs.userData) as string).includes("realtoken42"), `${s.name}: no token in user-data`);
    }
    const single = await runProgram("test", stackFileConfig("test"), { state: mockState });
    assert.equal(single.byType("command:remote:Command").filter((c) => c.name.startsWith("edge-failover-")).length, 0);
  });
});

void describe("failure analysis of the edge", () => {
  void test("prod: losing the holder moves the floating IP, losing the other keeps it in place", () => {
    const cfg = loadStack("prod");
    const topology = buildTopology(cfg);
    const report = analyseFailures(cfg, topology, buildPlatform(cfg, topology));
    const d = (id: string) => report.find((x) => x.domain === id)!;
    assert.equal(d("node:prod-app-01").floatingIp, "kept");
    assert.deepEqual(d("node:prod-app-01").floatingIpMovesTo, ["prod-app-02"]);
    assert.equal(d("location:fsn1").floatingIp, "kept");
    assert.equal(d("node:prod-app-02").floatingIp, "kept");
    assert.equal(d("node:prod-app-02").floatingIpMovesTo, undefined);
    assert.ok(!d("node:prod-app-02").lost.some((l) => l.startsWith("floating IP")));
  });

  void test("losing every candidate loses the floating IP", () => {
    const cfg = loadStack("prod", { edgeCandidates: ["prod-app-01", "prod-app-03"] });
    const topology = buildTopology(cfg);
    const report = analyseFailures(cfg, topology, buildPlatform(cfg, topology));
    // Two candidates in one location (a choice the defaults never make): the location takes both.
    const sameLocation = buildTopology(loadStack("prod", { edgeCandidates: ["prod-app-01", "prod-app-02"], nodePools: ["mgr role=manager count=3 type=cx23 locations=fsn1,nbg1,hel1 ipOffset=10", "app role=worker count=3 type=cx43 locations=fsn1 labels=type:service ipOffset=30"] }));
    const fsn1 = analyseFailures(cfg, sameLocation, buildPlatform(cfg, sameLocation)).find((x) => x.domain === "location:fsn1")!;
    assert.equal(fsn1.floatingIp, "lost");
    assert.ok(fsn1.lost.includes("floating IP (every edge candidate is down: prod-app-01, prod-app-02; ingress on 80/443 stops until one returns)"), fsn1.lost.join("\n"));
    assert.equal(report.find((x) => x.domain === "node:prod-app-03")?.floatingIp, "kept");
    const single = loadStack("test");
    const t1 = buildTopology(single);
    assert.equal(analyseFailures(single, t1, buildPlatform(single, t1)).find((x) => x.domain === "node:test-app-01")?.floatingIp, "lost");
  });
});
