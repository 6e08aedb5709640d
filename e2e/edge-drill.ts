/**
 * The edge failover drill: two edge candidates in network namespaces, each running the real edge
 * (Debian's Caddy, HTTPS with Caddy's internal CA, certificates on one shared directory standing in
 * for the Storage Box mount) and the real controller (Debian's keepalived with the program's
 * keepalived.conf, health check and notify script from core/edge-failover.ts). Hetzner's side is
 * the stand-in (e2e/support/hetzner-standin.ts) on the bridge: it records assign calls and routes
 * the floating IP to the assigned namespace with a host route, as Hetzner's network does.
 *
 * Layout (all made here, removed at the end, also on failure):
 *   bridge efo-pub  10.214.0.0/24  host .1 (stand-in, client), candidates .11/.12 on eth0 + the floating IP /32
 *   bridge efo-priv 10.214.1.0/24  candidates .11/.12 on eth1 (VRRP, as Hetzner's private network)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { authHeaderFile, edgeCheckScript, edgeInterfaceScript, edgeNotifyScript, keepalivedConf, type FailoverHost } from "../core/edge-failover";
import { startHetznerStandin, type HetznerStandin } from "./support/hetzner-standin";

export const EDGE_DRILL_NETWORK = {
  publicBridge: "efo-pub",
  privateBridge: "efo-priv",
  hostIp: "10.214.0.1",
  publicPrefix: "10.214.0.",
  privatePrefix: "10.214.1.",
  floatingIp: "10.214.9.10",
  namespacePrefix: "efo-",
  standinPort: 18614,
  forwardComment: "efo-edge-drill",
} as const;

const DOMAIN = "edge.drill.test";
const FLOATING_IP_ID = 4711;
const FLOATING_IP_NAME = "drill-edge";
const TOKEN = "drill-token-" + Math.random().toString(36).slice(2);
const PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface Candidate {
  readonly name: string;
  readonly serverId: number;
  readonly publicIp: string;
  readonly privateIp: string;
  readonly namespace: string;
  readonly dir: string;
  caddy?: ChildProcess;
  keepalived?: ChildProcess;
}

export interface DrillFigures {
  readonly edge_failover_s: number;
  readonly edge_failover_assigns: number;
  readonly edge_requests_failed: number;
  readonly edge_requests_failed_after_recovery: number;
  readonly edge_cert_same: number;
  readonly edge_flap_assigns: number;
  /** Power-off to the assign call reaching Hetzner's API (the rest is routing and the client's retry). */
  readonly edge_assign_after_s: number;
  readonly requests: number;
  readonly from: string;
  readonly to: string;
}

function sh(cmd: string, args: readonly string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, PATH: PATH_ENV }, timeout: 20_000 });
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? (r.error?.message ?? "") };
}

function must(cmd: string, ...args: string[]): string {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.err.trim()}`);
  return r.out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the drill needs on this machine; null when it can run. */
export function edgeDrillPrerequisite(): string | null {
  if (process.getuid?.() !== 0) return "the edge drill needs root (network namespaces)";
  for (const tool of ["ip", "nsenter", "caddy", "keepalived", "curl", "jq", "iptables"]) {
    if (sh("sh", ["-c", `command -v ${tool}`]).code !== 0) return `the edge drill needs ${tool} (apt-get install caddy keepalived curl jq iproute2 iptables)`;
  }
  return null;
}

function ownNamespaces(): string[] {
  return sh("ip", ["netns", "list"]).out.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(EDGE_DRILL_NETWORK.namespacePrefix));
}

function killNamespaceProcesses(ns: string): void {
  const pids = sh("ip", ["netns", "pids", ns]).out.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Removes everything the drill makes: processes in its namespaces, namespaces, bridges, rules, the route. */
export function cleanupEdgeDrill(): void {
  const n = EDGE_DRILL_NETWORK;
  for (const ns of ownNamespaces()) {
    killNamespaceProcesses(ns);
    sh("ip", ["netns", "del", ns]);
  }
  sh("ip", ["route", "del", `${n.floatingIp}/32`]);
  for (const br of [n.publicBridge, n.privateBridge]) sh("ip", ["link", "del", br]);
  for (let i = 0; i < 10; i++) {
    const rules = sh("iptables", ["-S", "FORWARD"]).out.split("\n").filter((l) => l.includes(n.forwardComment));
    if (rules.length === 0) break;
    for (const rule of rules) sh("iptables", ["-D", "FORWARD", ...rule.replace(/^-A FORWARD /, "").split(" ").map((a) => a.replace(/^"|"$/g, ""))]);
  }
}

function caddyfile(storage: string): string {
  return [
    "{",
    "\tadmin off",
    "\tskip_install_trust",
    "\tstorage file_system {",
    `\t\troot ${storage}`,
    "\t}",
    "\tservers {",
    "\t\tprotocols h1 h2",
    "\t}",
    "}",
    "",
    `${DOMAIN} {`,
    "\ttls internal",
    "\theader X-Edge-Node {$EDGE_NODE}",
    "\trespond \"ok {$EDGE_NODE}\" 200",
    "}",
    "",
  ].join("\n");
}

export interface EdgeDrill {
  readonly candidates: readonly Candidate[];
  readonly standin: HetznerStandin;
  readonly dir: string;
  stop(): Promise<void>;
}

function logTo(file: string): fs.WriteStream {
  return fs.createWriteStream(file, { flags: "a" });
}

function startIn(c: Candidate, what: "caddy" | "keepalived"): ChildProcess {
  // As keepalived.service's ExecStartPre on a node.
  if (what === "keepalived") must("nsenter", `--net=/var/run/netns/${c.namespace}`, path.join(c.dir, "edge-interface.sh"));
  const args = what === "caddy"
    ? [`--net=/var/run/netns/${c.namespace}`, "caddy", "run", "--config", path.join(c.dir, "Caddyfile"), "--adapter", "caddyfile"]
    : [`--net=/var/run/netns/${c.namespace}`, "keepalived", "-n", "-l", "-D", "-P", "-f", path.join(c.dir, "keepalived.conf"),
      "-p", path.join(c.dir, "keepalived.pid"), "-r", path.join(c.dir, "vrrp.pid")];
  const child = spawn("nsenter", args, {
    env: { PATH: PATH_ENV, HOME: c.dir, XDG_CONFIG_HOME: path.join(c.dir, "config"), XDG_DATA_HOME: path.join(c.dir, "data"), EDGE_NODE: c.name },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = logTo(path.join(c.dir, `${what}.log`));
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

async function waitFor(what: string, timeoutMs: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return;
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

function edgeAnswersLocally(c: Candidate): boolean {
  return sh("nsenter", [`--net=/var/run/netns/${c.namespace}`, "curl", "-sk", "-o", "/dev/null", "--max-time", "1",
    "--resolve", `${DOMAIN}:443:127.0.0.1`, `https://${DOMAIN}/`]).code === 0;
}

export function stateOf(c: Candidate): string {
  try {
    return fs.readFileSync(path.join(c.dir, "state", "state"), "utf8").trim();
  } catch {
    return "";
  }
}

export function powerOn(c: Candidate): void {
  for (const suffix of ["p", "q"]) must("ip", "link", "set", `${c.namespace}-${suffix}`, "up");
  c.caddy = startIn(c, "caddy");
  c.keepalived = startIn(c, "keepalived");
}

/** Power off: every process of the node killed at once and its links down (peers see silence). */
export function powerOff(c: Candidate): void {
  killNamespaceProcesses(c.namespace);
  for (const suffix of ["p", "q"]) must("ip", "link", "set", `${c.namespace}-${suffix}`, "down");
  c.caddy = undefined;
  c.keepalived = undefined;
}

const LOCK_FILE = "/run/lock/efo-edge-drill.pid";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One drill at a time on a machine: the cleanup of a new run would tear down a running one. */
function takeLock(): void {
  try {
    const holder = Number(fs.readFileSync(LOCK_FILE, "utf8").trim());
    if (holder !== process.pid && holder > 0 && alive(holder)) throw new Error(`another edge drill runs (pid ${holder}); wait for it to finish`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  fs.writeFileSync(LOCK_FILE, String(process.pid));
}

function releaseLock(): void {
  try {
    if (Number(fs.readFileSync(LOCK_FILE, "utf8").trim()) === process.pid) fs.rmSync(LOCK_FILE);
  } catch {
    // not held
  }
}

/** The last lines of every log the candidates wrote, for an error message. */
function logTails(dir: string): string {
  const out: string[] = [];
  for (const c of fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => d.startsWith("edge-")) : []) {
    for (const file of ["keepalived.log", "caddy.log", "state/log"]) {
      const p = path.join(dir, c, file);
      if (!fs.existsSync(p)) continue;
      const lines = fs.readFileSync(p, "utf8").trim().split("\n").slice(-12);
      out.push(`--- ${c}/${file}`, ...lines);
    }
  }
  return out.length > 0 ? "\n" + out.join("\n") : "";
}

export async function startEdgeDrill(log: (line: string) => void): Promise<EdgeDrill> {
  const n = EDGE_DRILL_NETWORK;
  takeLock();
  cleanupEdgeDrill();
  // keepalived's script security refuses scripts under a world-writable directory such as /tmp.
  const dir = fs.mkdtempSync("/run/efo-drill-");
  fs.chmodSync(dir, 0o700);
  const storage = path.join(dir, "storagebox", "caddy");
  fs.mkdirSync(storage, { recursive: true });
  let standin: HetznerStandin | undefined;
  try {
    for (const br of [n.publicBridge, n.privateBridge]) {
      must("ip", "link", "add", br, "type", "bridge");
      must("ip", "link", "set", br, "up");
      must("iptables", "-I", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT", "-m", "comment", "--comment", n.forwardComment);
    }
    must("ip", "addr", "add", `${n.hostIp}/24`, "dev", n.publicBridge);
    const candidates: Candidate[] = ["a", "b"].map((letter, i) => ({
      name: `edge-${letter}`,
      serverId: 1001 + i,
      publicIp: `${n.publicPrefix}${11 + i}`,
      privateIp: `${n.privatePrefix}${11 + i}`,
      namespace: `${n.namespacePrefix}${letter}`,
      dir: path.join(dir, `edge-${letter}`),
    }));
    for (const c of candidates) {
      fs.mkdirSync(path.join(c.dir, "state"), { recursive: true, mode: 0o755 });
      must("ip", "netns", "add", c.namespace);
      const ns = ["ip", "-n", c.namespace] as const;
      for (const [suffix, bridge, inner, address] of [["p", n.publicBridge, "eth0", `${c.publicIp}/24`], ["q", n.privateBridge, "eth1", `${c.privateIp}/24`]] as const) {
        must("ip", "link", "add", `${c.namespace}-${suffix}`, "type", "veth", "peer", "name", `${c.namespace}-${suffix}i`);
        must("ip", "link", "set", `${c.namespace}-${suffix}i`, "netns", c.namespace);
        must("ip", "link", "set", `${c.namespace}-${suffix}`, "master", bridge);
        must("ip", "link", "set", `${c.namespace}-${suffix}`, "up");
        must(ns[0], ns[1], ns[2], "link", "set", `${c.namespace}-${suffix}i`, "name", inner);
        must(ns[0], ns[1], ns[2], "addr", "add", address, "dev", inner);
        must(ns[0], ns[1], ns[2], "link", "set", inner, "up");
      }
      must("ip", "-n", c.namespace, "link", "set", "lo", "up");
      // The floating IP is configured on every candidate all the time; only the route decides who answers.
      must("ip", "-n", c.namespace, "addr", "add", `${n.floatingIp}/32`, "dev", "eth0");
      const host: FailoverHost = {
        node: c.name,
        privateIp: c.privateIp,
        peerIps: candidates.filter((o) => o !== c).map((o) => o.privateIp),
        floatingIpName: FLOATING_IP_NAME,
        checkDomain: DOMAIN,
        apiBase: `http://${n.hostIp}:${n.standinPort}/v1`,
        metadataBase: `http://${n.hostIp}:${n.standinPort}/hetzner/v1/metadata`,
        paths: {
          check: path.join(c.dir, "edge-check.sh"),
          iface: path.join(c.dir, "edge-interface.sh"),
          notify: path.join(c.dir, "edge-notify.sh"),
          authHeader: path.join(c.dir, "hcloud-auth-header"),
          stateDir: path.join(c.dir, "state"),
        },
      };
      fs.writeFileSync(path.join(c.dir, "keepalived.conf"), keepalivedConf(host), { mode: 0o644 });
      fs.writeFileSync(path.join(c.dir, "edge-check.sh"), edgeCheckScript(host), { mode: 0o755 });
      fs.writeFileSync(path.join(c.dir, "edge-notify.sh"), edgeNotifyScript(host), { mode: 0o755 });
      fs.writeFileSync(path.join(c.dir, "edge-interface.sh"), edgeInterfaceScript(host), { mode: 0o755 });
      fs.writeFileSync(path.join(c.dir, "hcloud-auth-header"), authHeaderFile(TOKEN), { mode: 0o600 });
      fs.writeFileSync(path.join(c.dir, "Caddyfile"), caddyfile(storage), { mode: 0o644 });
    }
    const started = await startHetznerStandin({
      listen: { host: n.hostIp, port: n.standinPort },
      token: TOKEN,
      floatingIp: { id: FLOATING_IP_ID, name: FLOATING_IP_NAME, ip: n.floatingIp },
      servers: candidates.map((c) => ({ id: c.serverId, address: c.publicIp })),
      initialServer: candidates[0].serverId,
      route: (s) => must("ip", "route", "replace", `${n.floatingIp}/32`, "via", s.address, "dev", n.publicBridge),
    });
    standin = started;
    // The first edge orders the certificate; the second finds it on the shared storage.
    const [first, second] = candidates;
    first.caddy = startIn(first, "caddy");
    await waitFor(`${first.name}'s edge`, 30_000, () => edgeAnswersLocally(first));
    second.caddy = startIn(second, "caddy");
    await waitFor(`${second.name}'s edge`, 30_000, () => edgeAnswersLocally(second));
    for (const c of candidates) c.keepalived = startIn(c, "keepalived");
    await waitFor("one VRRP master and one backup", 20_000, () => {
      const states = candidates.map(stateOf).sort();
      if (states[0] !== "BACKUP" || states[1] !== "MASTER") return false;
      // A master that is not the floating IP's server yet is still assigning.
      return candidates.find((c) => stateOf(c) === "MASTER")?.serverId === started.assignedServer();
    });
    log(`edge drill: ${candidates.map((c) => `${c.name}=${stateOf(c)}`).join(", ")}, floating IP on server ${started.assignedServer()}`);
    return {
      candidates,
      standin: started,
      dir,
      async stop() {
        await started.close();
        cleanupEdgeDrill();
        fs.rmSync(dir, { recursive: true, force: true });
        releaseLock();
      },
    };
  } catch (error) {
    const logs = logTails(dir);
    if (standin) await standin.close();
    cleanupEdgeDrill();
    fs.rmSync(dir, { recursive: true, force: true });
    releaseLock();
    if (error instanceof Error) error.message += logs;
    throw error;
  }
}

interface Sample {
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  readonly node: string;
  readonly fingerprint: string;
}

function request(): Promise<Omit<Sample, "start" | "end">> {
  return new Promise((resolve) => {
    const req = https.request({
      host: EDGE_DRILL_NETWORK.floatingIp,
      port: 443,
      path: "/",
      servername: DOMAIN,
      headers: { Host: DOMAIN },
      rejectUnauthorized: false,
      agent: false,
      timeout: 1000,
    }, (res) => {
      const socket = res.socket as import("node:tls").TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256 ?? "";
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ ok: res.statusCode === 200 && body.startsWith("ok "), node: String(res.headers["x-edge-node"] ?? ""), fingerprint }));
      res.on("error", () => resolve({ ok: false, node: "", fingerprint: "" }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ ok: false, node: "", fingerprint: "" }));
    req.end();
  });
}

/** A client that sends HTTPS requests through the floating IP one after another until stopped. */
function startClient(): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const start = Date.now();
      const r = await request();
      samples.push({ start, end: Date.now(), ...r });
      await sleep(50);
    }
  })();
  return { samples, stop: async () => { running = false; await loop; } };
}

/** One drill: steady traffic, power off the active candidate, measure, power it on, watch for flaps. */
export async function runEdgeFailover(drill: EdgeDrill, log: (line: string) => void, settleMs = 20_000): Promise<DrillFigures> {
  const { standin, candidates } = drill;
  const client = startClient();
  try {
    await sleep(3000);
    const before = client.samples.filter((s) => s.ok);
    if (before.length === 0) throw new Error("no request succeeded through the floating IP before the drill");
    const activeName = before[before.length - 1].node;
    const active = candidates.find((c) => c.name === activeName);
    const standby = candidates.find((c) => c.name !== activeName);
    if (!active || !standby) throw new Error(`the active edge ${activeName} is not a candidate`);
    const certBefore = before[before.length - 1].fingerprint;
    const assignsBefore = standin.assigns.length;
    const failedBefore = client.samples.filter((s) => !s.ok).length;

    const off = Date.now();
    powerOff(active);
    log(`edge drill: powered off ${active.name}`);
    await waitFor(`a request served by ${standby.name}`, 30_000, () => client.samples.some((s) => s.start >= off && s.ok && s.node === standby.name));
    const firstOk = client.samples.find((s) => s.start >= off && s.ok)!;
    const certAfter = firstOk.fingerprint;
    const failoverAssigns = standin.assigns.length - assignsBefore;
    const assignAt = standin.assigns[assignsBefore]?.at ?? Number.NaN;
    await sleep(2000);

    powerOn(active);
    log(`edge drill: powered on ${active.name}`);
    const on = Date.now();
    const assignsAtRecovery = standin.assigns.length;
    await waitFor(`${active.name} back as backup`, 30_000, () => stateOf(active) === "BACKUP" && edgeAnswersLocally(active));
    await sleep(settleMs);
    await client.stop();
    const after = client.samples.filter((s) => s.start >= on);
    return {
      edge_failover_s: (firstOk.end - off) / 1000,
      edge_failover_assigns: failoverAssigns,
      edge_requests_failed: client.samples.filter((s) => !s.ok).length - failedBefore,
      edge_requests_failed_after_recovery: after.filter((s) => !s.ok).length,
      edge_cert_same: certBefore !== "" && certBefore === certAfter ? 1 : 0,
      edge_flap_assigns: standin.assigns.length - assignsAtRecovery,
      edge_assign_after_s: (assignAt - off) / 1000,
      requests: client.samples.length,
      from: active.name,
      to: standby.name,
    };
  } finally {
    await client.stop();
  }
}
