/**
 * A real multi-node Docker Swarm on one machine, for tests and the end-to-end harness.
 *
 * One dockerd per network namespace (see shared LOCAL-SWARM.md): namespaces `swt-<node>`,
 * veth pairs `swt-v<N>` on one bridge `br-swarmtest` carrying 10.213.0.1/24, nodes at
 * 10.213.0.11, .12, ... Every daemon keeps its data-root, exec-root, pidfile, socket,
 * config file and log under one temporary folder. Rootful: needs root, ip, nsenter,
 * unshare, setsid and dockerd.
 *
 * Cleanup is synchronous so it can run from a process 'exit' handler: daemons are stopped
 * by pid (then everything still running from their folders or namespaces is killed), mounts
 * under the folder are detached, namespaces, veths, bridge and the host FORWARD rule are
 * deleted, and the folder is removed. A lock file records the owner and its folder, so a
 * crashed run is cleaned up by the next one, and two runs on one machine take turns.
 */
import { spawn, spawnSync } from "node:child_process";
import * as dgram from "node:dgram";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";

export const LOCAL_SWARM_NETWORK = {
  bridge: "br-swarmtest",
  cidr: "10.213.0.0/24",
  prefix: "10.213.0.",
  hostIp: "10.213.0.1",
  firstNodeHost: 11,
  namespacePrefix: "swt-",
  vethPrefix: "swt-v",
  dirPrefix: "swt-local-swarm-",
  lockFile: "/run/lock/swt-local-swarm.json",
  forwardRuleComment: "swt-local-swarm",
} as const;

export interface LocalSwarmNodeSpec {
  /** Hostname of the node and suffix of its namespace: lower-case letters, digits, dashes. */
  name: string;
  /** Address on 10.213.0.0/24; default 10.213.0.(11 + index). */
  ip?: string;
}

export interface LocalSwarmOptions {
  nodes: LocalSwarmNodeSpec[];
  /** Folder in which the run's temporary folder is created (default: the OS temp folder). */
  dataDir?: string;
  /** dockerd storage driver (default overlay2; vfs works everywhere but copies every layer). */
  storageDriver?: string;
  /** How long each daemon may take to answer (default 60 s). */
  startTimeoutMs?: number;
  /** How long to wait for another run on this machine to finish (default 10 min). */
  lockTimeoutMs?: number;
  /** Clean up on process exit, SIGINT, SIGTERM and SIGHUP (default true). */
  cleanupOnExit?: boolean;
  /** Keep the temporary folder (logs, data) after stop, for debugging (default false). */
  keepDir?: boolean;
  /** Progress lines; default: to stderr prefixed "local-swarm:". */
  log?: (line: string) => void;
  /**
   * Upstream DNS of the daemons, for names Swarm's embedded DNS does not know (default true):
   * a responder on the host's bridge address answers every such lookup with NXDOMAIN, as a
   * real resolver answers for a name that does not exist. Without it a lookup of a stopped
   * peer's name hangs until the client's timeout (the machine's own resolver is out of the
   * namespaces' reach, and the embedded DNS drops a query it cannot forward), and services
   * that resolve their peers' names (Sentinel, HAProxy) stall for seconds each time.
   */
  answerDns?: boolean;
}

export interface LocalSwarmNode {
  readonly name: string;
  readonly ip: string;
  /** Host end of the node's veth pair (down while the node is stopped). */
  readonly link: string;
  /** Path of the daemon's unix socket. */
  readonly socket: string;
  /** process.env with DOCKER_HOST pointing at this node's daemon. */
  readonly env: NodeJS.ProcessEnv;
  readonly namespace: string;
  readonly dir: string;
  readonly logFile: string;
  /** dockerd's pid; changes when the node is stopped and started again. */
  readonly pid: number;
  /** False between stopNode and startNode. */
  readonly running: boolean;
}

export type NodeRef = LocalSwarmNode | string;

export interface RunOptions {
  /** Kill the command after this long (default 5 min). */
  timeoutMs?: number;
  /** Written to the command's stdin. */
  input?: string | Buffer;
  /** Throw when the command does not exit 0 (default false). */
  check?: boolean;
}

export interface RunScriptOptions extends RunOptions {
  /**
   * Feed the script text to `bash -s` on stdin, as the Pulumi program runs it over SSH,
   * instead of `bash scriptPath` (default false). Catches commands that eat the script's stdin.
   */
  stdin?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface LocalSwarm {
  readonly nodes: readonly LocalSwarmNode[];
  /** The run's temporary folder. */
  readonly dir: string;
  readonly bridge: string;
  readonly hostIp: string;
  node(name: string): LocalSwarmNode;
  /** Runs the docker CLI against the node's daemon. */
  docker(node: NodeRef, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Runs `bash scriptPath` as it would run on the node: a minimal environment (PATH, HOME),
   * DOCKER_HOST at the node's daemon, SKIP_CLOUD_INIT_WAIT=1, then `env`.
   */
  runScript(
    node: NodeRef,
    scriptPath: string,
    env?: Record<string, string | undefined>,
    options?: RunScriptOptions,
  ): Promise<RunResult>;
  /**
   * Runs a command inside the node's network namespace, as it would run on that machine:
   * `env -i` with PATH, HOME, DOCKER_HOST at the node's daemon, then `env`. The private
   * address the scripts look for with `ip addr` is there, and nothing of the caller's
   * environment leaks in.
   */
  exec(node: NodeRef, argv: readonly string[], env?: Record<string, string>, options?: RunOptions): Promise<RunResult>;
  /**
   * Powers the node off: every process of the node (dockerd, containerd, shims, the
   * containers) is killed at once with SIGKILL, its mounts are detached, its exec-root
   * (the machine's /run) is emptied and its link to the bridge goes down, so peers see
   * timeouts, not refused connections. The data-root stays, as a disk does.
   */
  stopNode(node: NodeRef): Promise<void>;
  /** Boots a stopped node again: link up, dockerd on the same data-root, until it answers. */
  startNode(node: NodeRef, options?: { timeoutMs?: number }): Promise<void>;
  /** Last lines of the node's dockerd log. */
  logTail(node: NodeRef, lines?: number): string;
  /** Stops everything; safe to call more than once. */
  stop(): Promise<void>;
}

const EXTRA_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/;
// sun_path holds 108 bytes; containerd's socket sits deepest, under exec-root.
const MAX_SOCKET_PATH = 100;

interface LockRecord {
  pid: number;
  /** Start time of `pid` in clock ticks since boot, so a reused pid is not taken for the owner. */
  startTime: string;
  dir: string | null;
  ipForward: string | null;
}

interface ProcEntry {
  pid: number;
  ppid: number;
  state: string;
  cmdline: string;
}

function defaultLog(line: string): void {
  process.stderr.write(`local-swarm: ${line}\n`);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function hostPath(): string {
  return `${process.env.PATH ?? ""}:${EXTRA_PATH}`;
}

/** A node as the harness tracks it: its dockerd may be stopped and started again. */
interface NodeState extends LocalSwarmNode {
  readonly execRoot: string;
  pid: number;
  running: boolean;
}

interface SyncResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: readonly string[]): SyncResult {
  const result = spawnSync(cmd, args, {
    encoding: "utf8",
    env: { ...process.env, PATH: hostPath() },
    timeout: 30_000,
  });
  if (result.error) {
    return { code: null, stdout: "", stderr: result.error.message };
  }
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function must(cmd: string, args: readonly string[]): string {
  const result = sh(cmd, args);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function commandExists(cmd: string): boolean {
  return hostPath()
    .split(":")
    .some((dir) => dir !== "" && fs.existsSync(path.join(dir, cmd)));
}

function listProcesses(): ProcEntry[] {
  const entries: ProcEntry[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ");
      entries.push({ pid: Number(name), state: fields[0] ?? "", ppid: Number(fields[1]), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return entries;
}

function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** This process and its ancestors: never ours to kill, whatever their command lines say. */
function selfAndAncestors(procs: ProcEntry[]): Set<number> {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const chain = new Set<number>();
  let pid: number | undefined = process.pid;
  while (pid !== undefined && pid > 0 && !chain.has(pid)) {
    chain.add(pid);
    pid = byPid.get(pid)?.ppid;
  }
  return chain;
}

function withDescendants(roots: Set<number>, procs: ProcEntry[]): Set<number> {
  const protectedPids = selfAndAncestors(procs);
  const all = new Set([...roots].filter((pid) => !protectedPids.has(pid)));
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (!all.has(p.pid) && all.has(p.ppid)) {
        all.add(p.pid);
        grew = true;
      }
    }
  }
  return all;
}

function signalAll(pids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function waitGone(pids: Iterable<number>, timeoutMs: number): number[] {
  const deadline = Date.now() + timeoutMs;
  let left = [...pids].filter(isRunning);
  while (left.length > 0 && Date.now() < deadline) {
    sleepSync(100);
    left = left.filter(isRunning);
  }
  return left;
}

function namespacesWithPrefix(): string[] {
  const out = sh("ip", ["netns", "list"]).stdout;
  return out
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(LOCAL_SWARM_NETWORK.namespacePrefix));
}

function namespacePids(namespace: string): number[] {
  return sh("ip", ["netns", "pids", namespace])
    .stdout.split("\n")
    .filter((line) => /^\d+$/.test(line.trim()))
    .map(Number);
}

/** Kills whatever runs from folders matching `marker` or inside the namespaces; returns the count. */
function killOwned(marker: string, namespaces: readonly string[], gracefulMs: number): number {
  const procs = listProcesses();
  const roots = new Set<number>();
  for (const p of procs) {
    if (p.cmdline.includes(marker)) roots.add(p.pid);
  }
  for (const ns of namespaces) {
    for (const pid of namespacePids(ns)) roots.add(pid);
  }
  const owned = withDescendants(roots, procs);
  if (owned.size === 0) return 0;
  if (gracefulMs > 0) {
    signalAll(owned, "SIGTERM");
    waitGone(owned, gracefulMs);
  }
  signalAll([...owned].filter(isRunning), "SIGKILL");
  const left = waitGone(owned, 5_000);
  if (left.length > 0) throw new Error(`processes did not die: ${left.join(", ")}`);
  return owned.size;
}

function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Detaches every mount whose path contains `marker`, deepest first. */
function unmountUnder(marker: string): void {
  const mounts = fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => unescapeMountPath(line.split(" ")[4] ?? ""))
    .filter((mountPoint) => mountPoint.includes(marker))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of new Set(mounts)) {
    sh("umount", ["-l", mountPoint]);
  }
}

function deleteLinks(): void {
  const out = sh("ip", ["-o", "link", "show"]).stdout;
  for (const line of out.split("\n")) {
    const name = (line.split(": ")[1] ?? "").split("@")[0] ?? "";
    if (name.startsWith(LOCAL_SWARM_NETWORK.vethPrefix) || name === LOCAL_SWARM_NETWORK.bridge) {
      sh("ip", ["link", "del", name]);
    }
  }
}

const FORWARD_RULE = [
  "FORWARD",
  "-i",
  LOCAL_SWARM_NETWORK.bridge,
  "-o",
  LOCAL_SWARM_NETWORK.bridge,
  "-m",
  "comment",
  "--comment",
  LOCAL_SWARM_NETWORK.forwardRuleComment,
  "-j",
  "ACCEPT",
];

function deleteForwardRule(): void {
  if (!commandExists("iptables")) return;
  for (let i = 0; i < 20 && sh("iptables", ["-C", ...FORWARD_RULE]).code === 0; i++) {
    sh("iptables", ["-D", ...FORWARD_RULE]);
  }
}

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

/**
 * dockerd creates /run/docker/plugins whatever its exec-root. Removed only while no dockerd
 * runs at all, and rmdir leaves a non-empty folder alone.
 */
function removeRunDocker(): void {
  if (listProcesses().some((p) => p.cmdline.split(" ")[0]?.endsWith("dockerd"))) return;
  sh("rmdir", ["/run/docker/plugins"]);
  sh("rmdir", ["/run/docker"]);
}

function readLock(): LockRecord | null {
  try {
    return JSON.parse(fs.readFileSync(LOCAL_SWARM_NETWORK.lockFile, "utf8")) as LockRecord;
  } catch {
    return null;
  }
}

function writeLock(record: LockRecord, exclusive: boolean): boolean {
  fs.mkdirSync(path.dirname(LOCAL_SWARM_NETWORK.lockFile), { recursive: true });
  try {
    fs.writeFileSync(LOCAL_SWARM_NETWORK.lockFile, JSON.stringify(record), {
      flag: exclusive ? "wx" : "w",
    });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Removes what a crashed run left behind: processes started from any local-swarm folder or
 * running in a `swt-` namespace, mounts, namespaces, veths, bridge, FORWARD rule, folders.
 * Only called while holding the lock.
 */
function cleanupLeftovers(previous: LockRecord | null, log: (line: string) => void): void {
  const namespaces = namespacesWithPrefix();
  const killed = killOwned(`/${LOCAL_SWARM_NETWORK.dirPrefix}`, namespaces, 0);
  unmountUnder(`/${LOCAL_SWARM_NETWORK.dirPrefix}`);
  for (const ns of namespaces) sh("ip", ["netns", "del", ns]);
  deleteLinks();
  deleteForwardRule();
  removeRunDocker();
  if (previous?.ipForward != null) {
    try {
      fs.writeFileSync(IP_FORWARD, previous.ipForward);
    } catch {
      // not ours to insist on
    }
  }
  const dirs = new Set<string>();
  if (previous?.dir) dirs.add(previous.dir);
  for (const entry of fs.readdirSync(os.tmpdir())) {
    if (entry.startsWith(LOCAL_SWARM_NETWORK.dirPrefix)) dirs.add(path.join(os.tmpdir(), entry));
  }
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  if (killed > 0 || namespaces.length > 0 || dirs.size > 0) {
    log(`cleaned up a previous run: ${killed} processes, ${namespaces.length} namespaces, ${dirs.size} folders`);
  }
}

function startTimeOf(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function isLockOwnerAlive(record: LockRecord | null): boolean {
  return (
    record !== null &&
    record.pid !== process.pid &&
    isRunning(record.pid) &&
    startTimeOf(record.pid) === record.startTime
  );
}

function lockRecord(dir: string | null, ipForward: string | null): LockRecord {
  return { pid: process.pid, startTime: startTimeOf(process.pid), dir, ipForward };
}

async function acquireLock(timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    if (writeLock(lockRecord(null, null), true)) {
      // No lock, but maybe a run that crashed before taking one, or whose lock was removed.
      cleanupLeftovers(null, log);
      return;
    }
    const record = readLock();
    if (record?.pid === process.pid) {
      throw new Error("this process already runs a local swarm; stop it before starting another");
    }
    if (!isLockOwnerAlive(record)) {
      cleanupLeftovers(record, log);
      fs.rmSync(LOCAL_SWARM_NETWORK.lockFile, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `another local swarm (pid ${record?.pid}) still runs on this machine after ${timeoutMs} ms; lock ${LOCAL_SWARM_NETWORK.lockFile}`,
      );
    }
    if (!announced) {
      log(`waiting for the local swarm of pid ${record?.pid} to finish`);
      announced = true;
    }
    await sleep(1_000);
  }
}

/**
 * Cleans up after a crashed run without starting anything (for a CLI "clean" command).
 * Waits for a live run to finish first, like startLocalSwarm.
 */
export async function cleanupLocalSwarmLeftovers(
  options: { lockTimeoutMs?: number; log?: (line: string) => void } = {},
): Promise<void> {
  await acquireLock(options.lockTimeoutMs ?? 600_000, options.log ?? defaultLog);
  fs.rmSync(LOCAL_SWARM_NETWORK.lockFile, { force: true });
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath: socket, path: "/_ping", timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on("error", () => resolve(false));
    request.on("timeout", () => {
      request.destroy();
      resolve(false);
    });
  });
}

function dockerEnv(socket: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, PATH: hostPath() };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  return env;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 300_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
        durationMs: Date.now() - started,
      };
      if (timedOut) {
        result.stderr += `\n(killed after ${timeoutMs} ms)`;
      }
      if (options.check && code !== 0) {
        reject(
          new Error(`${cmd} ${args.join(" ")} exited ${code ?? signal}${timedOut ? " (timeout)" : ""}: ${result.stderr.trim()}`),
        );
        return;
      }
      resolve(result);
    });
    child.stdin.on("error", () => {
      // the command may exit without reading its input
    });
    child.stdin.end(options.input ?? "");
  });
}

function planNodes(specs: readonly LocalSwarmNodeSpec[]): { name: string; ip: string; index: number }[] {
  if (specs.length === 0) throw new Error("startLocalSwarm: nodes must list at least one node");
  const names = new Set<string>();
  const ips = new Set<string>();
  return specs.map((spec, index) => {
    if (!NAME_PATTERN.test(spec.name)) {
      throw new Error(`startLocalSwarm: nodes[${index}].name must be a lower-case hostname, got '${spec.name}'`);
    }
    const ip = spec.ip ?? `${LOCAL_SWARM_NETWORK.prefix}${LOCAL_SWARM_NETWORK.firstNodeHost + index}`;
    const host = ip.startsWith(LOCAL_SWARM_NETWORK.prefix) ? Number(ip.slice(LOCAL_SWARM_NETWORK.prefix.length)) : NaN;
    if (!Number.isInteger(host) || host < 2 || host > 254 || `${LOCAL_SWARM_NETWORK.prefix}${host}` !== ip) {
      throw new Error(
        `startLocalSwarm: nodes[${index}].ip must be in ${LOCAL_SWARM_NETWORK.cidr} (.2-.254, .1 is the host), got '${ip}'`,
      );
    }
    if (names.has(spec.name)) throw new Error(`startLocalSwarm: node name '${spec.name}' is used twice`);
    if (ips.has(ip)) throw new Error(`startLocalSwarm: node ip '${ip}' is used twice`);
    names.add(spec.name);
    ips.add(ip);
    return { name: spec.name, ip, index };
  });
}

/** Starts one dockerd per node in its own network namespace and waits until all answer. */
export async function startLocalSwarm(options: LocalSwarmOptions): Promise<LocalSwarm> {
  const log = options.log ?? defaultLog;
  const planned = planNodes(options.nodes);
  if (process.getuid?.() !== 0) throw new Error("startLocalSwarm needs root (network namespaces, dockerd)");
  for (const cmd of ["dockerd", "docker", "ip", "nsenter", "unshare", "setsid", "umount"]) {
    if (!commandExists(cmd)) throw new Error(`startLocalSwarm needs '${cmd}' on PATH`);
  }

  await acquireLock(options.lockTimeoutMs ?? 600_000, log);

  const parent = options.dataDir ?? os.tmpdir();
  const dir = fs.mkdtempSync(path.join(parent, LOCAL_SWARM_NETWORK.dirPrefix));
  let ipForward: string | null = null;
  const namespaces: string[] = [];
  const daemonPids: number[] = [];
  let dnsServer: dgram.Socket | undefined;
  let stopped = false;
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const stopQuietly = (): void => {
    try {
      stopSync();
    } catch (error) {
      log((error as Error).message);
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up`);
    stopQuietly();
    // Our listener is gone now, so the signal's default action ends the process.
    process.kill(process.pid, signal);
  };
  const onExit = stopQuietly;

  function stopSync(): void {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", onExit);
    for (const signal of signals) process.removeListener(signal, onSignal);
    const problems: string[] = [];
    const step = (what: string, action: () => void): void => {
      try {
        action();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    step("stop daemons", () => {
      signalAll(daemonPids, "SIGTERM");
      const left = waitGone(daemonPids, 15_000);
      if (left.length > 0) log(`dockerd ${left.join(", ")} ignored SIGTERM for 15 s, killing`);
    });
    step("kill leftover processes", () => killOwned(dir, namespaces, 0));
    step("stop the DNS responder", () => dnsServer?.close());
    step("unmount", () => unmountUnder(dir));
    step("delete namespaces", () => {
      for (const ns of namespaces) sh("ip", ["netns", "del", ns]);
    });
    step("delete links", deleteLinks);
    step("delete FORWARD rule", deleteForwardRule);
    step("restore ip_forward", () => {
      if (ipForward !== null) fs.writeFileSync(IP_FORWARD, ipForward);
    });
    step("remove /run/docker", removeRunDocker);
    step("remove folder", () => {
      if (options.keepDir) log(`kept ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    });
    step("release lock", () => {
      if (readLock()?.pid === process.pid) fs.rmSync(LOCAL_SWARM_NETWORK.lockFile, { force: true });
    });
    if (problems.length > 0) throw new Error(`local swarm cleanup incomplete:\n  ${problems.join("\n  ")}`);
  }

  if (options.cleanupOnExit ?? true) {
    process.on("exit", onExit);
    for (const signal of signals) process.on(signal, onSignal);
  }

  const nodes: NodeState[] = [];
  const storageDriver = options.storageDriver ?? "overlay2";
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;

  /** Starts the node's dockerd (again): same folders, same data-root, same hostname. */
  const launch = (node: NodeState): void => {
    const logFd = fs.openSync(node.logFile, "a");
    const dockerdArgs = [
      `--config-file=${path.join(node.dir, "daemon.json")}`,
      `--data-root=${path.join(node.dir, "data")}`,
      `--exec-root=${node.execRoot}`,
      `--pidfile=${path.join(node.dir, "dockerd.pid")}`,
      `--host=unix://${node.socket}`,
      `--storage-driver=${storageDriver}`,
    ];
    // setsid keeps the daemon out of the test's process group and terminal; nsenter,
    // unshare and sh exec in turn, so the child's pid is dockerd's pid.
    const child = spawn(
      "setsid",
      [
        "nsenter",
        `--net=/var/run/netns/${node.namespace}`,
        "unshare",
        "--uts",
        "sh",
        "-c",
        'hostname "$0" && exec dockerd "$@"',
        node.name,
        ...dockerdArgs,
      ],
      { stdio: ["ignore", logFd, logFd], env: { ...process.env, PATH: hostPath() } },
    );
    fs.closeSync(logFd);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start dockerd for ${node.name}`);
    daemonPids.push(child.pid);
    node.pid = child.pid;
    node.running = true;
  };

  const waitAnswering = async (list: readonly NodeState[], timeoutMs: number): Promise<void> => {
    const started = Date.now();
    await Promise.all(
      list.map(async (node) => {
        while (!(await ping(node.socket))) {
          if (!isRunning(node.pid)) {
            throw new Error(`dockerd of ${node.name} exited during start:\n${tail(node.logFile, 20)}`);
          }
          if (Date.now() - started > timeoutMs) {
            throw new Error(`dockerd of ${node.name} did not answer within ${timeoutMs} ms:\n${tail(node.logFile, 20)}`);
          }
          await sleep(200);
        }
      }),
    );
  };

  try {
    writeLock(lockRecord(dir, null), false);
    const { bridge, hostIp } = LOCAL_SWARM_NETWORK;
    must("ip", ["link", "add", bridge, "type", "bridge"]);
    must("ip", ["addr", "add", `${hostIp}/24`, "dev", bridge]);
    must("ip", ["link", "set", bridge, "up"]);
    ipForward = fs.readFileSync(IP_FORWARD, "utf8").trim();
    writeLock(lockRecord(dir, ipForward), false);
    fs.writeFileSync(IP_FORWARD, "1");
    // With br_netfilter loaded, bridged frames cross the host FORWARD chain, whose policy
    // a host dockerd sets to DROP.
    if (commandExists("iptables")) must("iptables", ["-I", ...FORWARD_RULE]);
    if (options.answerDns ?? true) dnsServer = await startNxdomainResponder(hostIp);

    for (const { name, ip, index } of planned) {
      const namespace = `${LOCAL_SWARM_NETWORK.namespacePrefix}${name}`;
      const hostEnd = `${LOCAL_SWARM_NETWORK.vethPrefix}${index}`;
      const nodeEnd = `${LOCAL_SWARM_NETWORK.vethPrefix}${index}n`;
      must("ip", ["netns", "add", namespace]);
      namespaces.push(namespace);
      must("ip", ["link", "add", hostEnd, "type", "veth", "peer", "name", nodeEnd]);
      must("ip", ["link", "set", hostEnd, "master", bridge, "up"]);
      must("ip", ["link", "set", nodeEnd, "netns", namespace]);
      must("ip", ["-n", namespace, "link", "set", "lo", "up"]);
      must("ip", ["-n", namespace, "link", "set", nodeEnd, "name", "eth0"]);
      must("ip", ["-n", namespace, "addr", "add", `${ip}/24`, "dev", "eth0"]);
      must("ip", ["-n", namespace, "link", "set", "eth0", "up"]);
      must("ip", ["-n", namespace, "route", "add", "default", "via", hostIp]);

      const nodeDir = path.join(dir, name);
      const socket = path.join(nodeDir, "docker.sock");
      const execRoot = path.join(nodeDir, "x");
      if (path.join(execRoot, "containerd", "containerd.sock").length > MAX_SOCKET_PATH) {
        throw new Error(`startLocalSwarm: dataDir '${parent}' is too long for unix socket paths`);
      }
      fs.mkdirSync(nodeDir, { recursive: true });
      // Own trust key: dockerd 20.10 otherwise writes /etc/docker/key.json, shared by all nodes.
      fs.writeFileSync(
        path.join(nodeDir, "daemon.json"),
        JSON.stringify({ "deprecated-key-path": path.join(nodeDir, "key.json"), ...(dnsServer ? { dns: [hostIp] } : {}) }),
      );
      const node: NodeState = {
        name,
        ip,
        link: hostEnd,
        socket,
        env: dockerEnv(socket),
        namespace,
        dir: nodeDir,
        execRoot,
        logFile: path.join(nodeDir, "dockerd.log"),
        pid: 0,
        running: false,
      };
      launch(node);
      nodes.push(node);
    }

    const started = Date.now();
    await waitAnswering(nodes, startTimeoutMs);
    log(`${nodes.length} daemons answer after ${((Date.now() - started) / 1000).toFixed(1)} s (${dir})`);
  } catch (error) {
    stopQuietly();
    throw error;
  }

  const byName = new Map(nodes.map((node) => [node.name, node]));
  const resolve = (ref: NodeRef): NodeState => {
    const node = byName.get(typeof ref === "string" ? ref : ref.name);
    if (!node) throw new Error(`no local swarm node named '${typeof ref === "string" ? ref : ref.name}' (have: ${[...byName.keys()].join(", ")})`);
    return node;
  };

  const stopNode = async (ref: NodeRef): Promise<void> => {
    const node = resolve(ref);
    if (!node.running) return;
    // Link first: from this instant on, peers lose the node as they would a crashed machine.
    must("ip", ["link", "set", node.link, "down"]);
    // The trailing slash keeps node app-01 from matching a node app-010.
    killOwned(`${node.dir}/`, [node.namespace], 0);
    unmountUnder(`${node.dir}/`);
    // The exec-root is the machine's /run: a reboot starts with it empty.
    fs.rmSync(node.execRoot, { recursive: true, force: true });
    node.running = false;
    // Let Node reap the dockerd it spawned.
    await sleep(50);
  };

  const startNode = async (ref: NodeRef, startOptions: { timeoutMs?: number } = {}): Promise<void> => {
    const node = resolve(ref);
    if (node.running) return;
    must("ip", ["link", "set", node.link, "up"]);
    launch(node);
    await waitAnswering([node], startOptions.timeoutMs ?? startTimeoutMs);
  };

  return {
    nodes,
    dir,
    bridge: LOCAL_SWARM_NETWORK.bridge,
    hostIp: LOCAL_SWARM_NETWORK.hostIp,
    node: resolve,
    docker: (ref, args, runOptions) => run("docker", args, resolve(ref).env, runOptions),
    runScript: (ref, scriptPath, env = {}, runOptions) => {
      const node = resolve(ref);
      const scriptEnv: NodeJS.ProcessEnv = {
        PATH: hostPath(),
        HOME: process.env.HOME ?? "/root",
        DOCKER_HOST: `unix://${node.socket}`,
        SKIP_CLOUD_INIT_WAIT: "1",
      };
      for (const [key, value] of Object.entries(env)) {
        if (value !== undefined) scriptEnv[key] = value;
      }
      if (runOptions?.stdin) {
        return run("bash", ["-s"], scriptEnv, { ...runOptions, input: fs.readFileSync(scriptPath) });
      }
      return run("bash", [scriptPath], scriptEnv, runOptions);
    },
    exec: (ref, argv, env = {}, runOptions) => {
      const node = resolve(ref);
      const vars = {
        PATH: EXTRA_PATH,
        HOME: process.env.HOME ?? "/root",
        DOCKER_HOST: `unix://${node.socket}`,
        ...env,
      };
      return run(
        "nsenter",
        [`--net=/var/run/netns/${node.namespace}`, "env", "-i", ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), ...argv],
        { PATH: hostPath() },
        runOptions,
      );
    },
    stopNode,
    startNode,
    logTail: (ref, lines = 30) => tail(resolve(ref).logFile, lines),
    stop: async () => {
      stopSync();
      // Let Node reap the daemons it spawned, so no zombie dockerd outlives stop().
      await sleep(50);
    },
  };
}

/**
 * A DNS server that knows no name: every query gets NXDOMAIN with its question echoed.
 * Bound to the bridge address only, so only the local nodes reach it.
 */
function startNxdomainResponder(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (query, peer) => {
    if (query.length < 12) return;
    let end = 12;
    while (end < query.length && query[end] !== 0) end += query[end] + 1;
    end += 5; // the root label, QTYPE, QCLASS
    if (end > query.length) return;
    const answer = Buffer.alloc(end);
    query.copy(answer, 0, 0, end);
    answer[2] = 0x80 | (query[2] & 0x79); // QR, the query's opcode and RD
    answer[3] = 0x80 | 3; // RA, NXDOMAIN
    answer.writeUInt16BE(1, 4);
    answer.fill(0, 6, 12);
    socket.send(answer, peer.port, peer.address);
  });
  socket.unref();
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(53, address, () => resolve(socket));
  });
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
