/**
 * The end-to-end harness: images from Debian packages, a real Swarm of one dockerd per
 * network namespace with the e2e profile's hostnames and labels, bootstrapped by the
 * project's own scripts, the stack the program renders deployed on it, and a wait until
 * every service is at its desired replicas and healthy. Everything it starts is stopped by
 * `stop()`, and by the local swarm's exit and signal handlers on failure or Ctrl-C.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startLocalSwarm, type LocalSwarm, type LocalSwarmNode, type RunResult } from "./support/local-swarm";
import type { ServiceSpec } from "../core/model";
import type { NodeSpec } from "../core/topology";
import { runBootstrap } from "./bootstrap";
import { buildEnvironmentFingerprint, buildImages, imageKey, imageRef, importArgs, RECIPES, type BuiltImage } from "./images";
import { CLIENT_POOL, CLIENT_SERVICE, e2eStack, generateSecretValues, renderE2eCompose, type E2eStack } from "./profile";

export const PROJECT_DIR = path.resolve(__dirname, "..");
export const DEFAULT_CACHE_DIR = process.env.E2E_CACHE_DIR ?? "/var/cache/swarm-platform-e2e";

export type Log = (line: string) => void;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const now = (): number => Date.now() / 1000;

/** What a machine lacks to run the drills, or null. */
export function missingPrerequisite(): string | null {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "needs root (network namespaces, dockerd, mmdebstrap)";
  const dirs = `${process.env.PATH ?? ""}:/usr/sbin:/usr/bin:/sbin:/bin`.split(":");
  for (const cmd of ["dockerd", "docker", "ip", "nsenter", "unshare", "setsid", "mmdebstrap"]) {
    if (!dirs.some((dir) => dir !== "" && fs.existsSync(path.join(dir, cmd)))) return `needs '${cmd}' on PATH`;
  }
  return null;
}

export interface ServiceState {
  readonly name: string;
  readonly running: number;
  readonly desired: number;
}

export interface PlatformState {
  readonly services: readonly ServiceState[];
  /** Containers whose health check has not passed (yet), as node/container: status. */
  readonly unhealthy: readonly string[];
  readonly ready: boolean;
}

export interface E2e {
  readonly swarm: LocalSwarm;
  readonly stack: E2eStack;
  readonly images: readonly BuiltImage[];
  readonly log: Log;
  /** Seconds: image build (0 when cached), image import, bootstrap, deploy to healthy. */
  readonly timings: Record<string, number>;
  /** Nodes currently stopped by a drill. */
  readonly stopped: Set<string>;
  /** Runs docker against a manager that is up (never one a drill stopped). */
  managerDocker(args: readonly string[], options?: { timeoutMs?: number }): Promise<RunResult>;
  state(): Promise<PlatformState>;
  /** Waits until every service is at its desired replicas and every container healthy. */
  waitConverged(what: string, timeoutMs: number): Promise<number>;
  stopNode(name: string): Promise<number>;
  startNode(name: string): Promise<number>;
  /** Container id of a service's task on a node. */
  containerOf(service: string, node: string): Promise<string>;
  /** The node the drills' client runs on. */
  readonly clientNode: LocalSwarmNode;
  stop(): Promise<void>;
}

export interface E2eOptions {
  readonly cacheDir?: string;
  readonly log?: Log;
}

function parseReplicas(text: string): { running: number; desired: number } {
  const m = /^(\d+)\/(\d+)/.exec(text);
  return m ? { running: Number(m[1]), desired: Number(m[2]) } : { running: 0, desired: -1 };
}

/** Whether a node satisfies a service's placement constraints (the forms the specs use). */
export function eligible(service: ServiceSpec, node: NodeSpec): boolean {
  return service.placement.constraints.every((c) => {
    const m = /^node\.(hostname|role|labels\.([A-Za-z0-9_.-]+))\s*(==|!=)\s*(\S+)$/.exec(c);
    if (!m) return true;
    const value = m[1] === "hostname" ? node.name : m[1] === "role" ? node.role : node.labels[m[2] ?? ""];
    return m[3] === "==" ? value === m[4] : value !== m[4];
  });
}

/** The images each node needs: those of the services that may run there, as a registry pull would fetch them. */
export function imagesByNode(stack: E2eStack): Map<string, Set<string>> {
  const byNode = new Map(stack.topology.nodes.map((n) => [n.name, new Set<string>()]));
  for (const service of stack.deployed.services) {
    for (const node of stack.topology.nodes) {
      if (node.availability === "active" && eligible(service, node)) byNode.get(node.name)?.add(service.image);
    }
  }
  return byNode;
}

/** `docker import` of the images each node needs, a few at a time (disk bound). */
async function importImages(swarm: LocalSwarm, stack: E2eStack, images: readonly BuiltImage[], log: Log): Promise<void> {
  const needed = imagesByNode(stack);
  const jobs = swarm.nodes.flatMap((node) => images.filter((image) => needed.get(node.name)?.has(image.ref)).map((image) => ({ node, image })));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const present = await swarm.docker(job.node, ["image", "inspect", "--format", "{{.Id}}", job.image.ref]);
      if (present.code === 0) continue;
      await swarm.docker(job.node, importArgs(job.image), { check: true, timeoutMs: 300_000 });
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: 3 }, worker));
  log(`imported ${jobs.length} images into ${swarm.nodes.length} nodes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export async function startE2e(options: E2eOptions = {}): Promise<E2e> {
  const log: Log = options.log ?? ((line) => process.stderr.write(`e2e: ${line}\n`));
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const timings: Record<string, number> = {};

  // Image references are known before any build: the key is the recipe's content.
  const fingerprint = buildEnvironmentFingerprint();
  const refs = new Map(RECIPES.map((r) => [r.name, imageRef(r, imageKey(r, fingerprint))]));
  const familyImages: Record<string, string> = {};
  for (const [name, ref] of refs) if (name !== "client") familyImages[name] = ref;
  const clientImage = refs.get("client");
  if (!clientImage) throw new Error("no client image recipe");
  const script = fs.readFileSync(path.join(__dirname, "client", "drill.py"), "utf8");
  const stack = e2eStack(PROJECT_DIR, familyImages, clientImage, script);
  log(`profile ${stack.config.stack}: ${stack.topology.nodes.map((n) => `${n.name} (${n.role}, ${n.privateIp})`).join(", ")}`);
  log(`left out (Debian has no image for them): ${stack.leftOut.map((s) => s.service).join(", ")}`);
  for (const w of stack.workarounds) log(`WORKAROUND for spec defect ${w.defect.id} on ${w.services.join(", ")}: ${w.defect.why}`);

  let started = Date.now();
  const building = buildImages(RECIPES, { cacheDir, log }).then((images) => {
    timings.image_build_s = (Date.now() - started) / 1000;
    return images;
  });
  // Both at once: the daemons start while mmdebstrap works. A failed start must not leave the build unobserved.
  building.catch(() => undefined);
  const swarm = await startLocalSwarm({
    nodes: stack.topology.nodes.map((n) => ({ name: n.name, ip: n.privateIp })),
    startTimeoutMs: 120_000,
    log: (line) => log(`local-swarm: ${line}`),
  });
  const stopped = new Set<string>();
  try {
    const images = await building;
    log(`images ready in ${timings.image_build_s.toFixed(1)} s (${images.filter((i) => i.cached).length} of ${images.length} from the cache ${cacheDir})`);
    started = Date.now();
    await importImages(swarm, stack, images, log);
    timings.image_import_s = (Date.now() - started) / 1000;

    const managers = stack.topology.managers.map((m) => m.name);
    const clientNodeSpec = stack.topology.nodes.find((n) => n.pool === CLIENT_POOL);
    if (!clientNodeSpec) throw new Error("no client node in the e2e topology");
    const clientNode = swarm.node(clientNodeSpec.name);
    const prefix = stack.config.namePrefix;

    const managerDocker = async (args: readonly string[], runOptions: { timeoutMs?: number } = {}): Promise<RunResult> => {
      let last: RunResult | undefined;
      for (const name of managers.filter((m) => !stopped.has(m))) {
        last = await swarm.docker(name, args, { timeoutMs: runOptions.timeoutMs ?? 30_000 });
        if (last.code === 0) return last;
      }
      if (!last) throw new Error("every manager is stopped");
      return last;
    };

    /**
     * The platform as the nodes see it: Swarm's replica counts alone can be stale (a task on a
     * node that went down stays "running" until the node reports again), so a service counts
     * as converged only when that many of its containers run healthy on the nodes.
     */
    const state = async (): Promise<PlatformState> => {
      const listed = await managerDocker(["service", "ls", "--format", "{{.Name}}\t{{.Replicas}}"]);
      if (listed.code !== 0) return { services: [], unhealthy: [`docker service ls: ${listed.stderr.trim()}`], ready: false };
      const healthy = new Map<string, number>();
      const unhealthy: string[] = [];
      await Promise.all(
        swarm.nodes
          .filter((node) => !stopped.has(node.name))
          .map(async (node) => {
            const ps = await swarm.docker(node, ["ps", "--format", '{{.Label "com.docker.swarm.service.name"}}\t{{.Status}}'], { timeoutMs: 30_000 });
            if (ps.code !== 0) {
              unhealthy.push(`${node.name}: docker ps failed: ${ps.stderr.trim()}`);
              return;
            }
            for (const line of ps.stdout.trim().split("\n").filter((l) => l !== "")) {
              const [service = "", status = ""] = line.split("\t");
              if (status.includes("(healthy)")) healthy.set(service, (healthy.get(service) ?? 0) + 1);
              else unhealthy.push(`${node.name}/${service.replace(`${prefix}_`, "")}: ${status}`);
            }
          }),
      );
      const services = listed.stdout
        .trim()
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => {
          const [name = "", replicas = ""] = line.split("\t");
          const { desired } = parseReplicas(replicas);
          return { name, desired, running: healthy.get(name) ?? 0 };
        });
      const expected = stack.deployed.services.length;
      const ready =
        services.length === expected &&
        services.every((s) => s.desired > 0 && s.running === s.desired) &&
        unhealthy.length === 0;
      return { services, unhealthy, ready };
    };

    const waitConverged = async (what: string, timeoutMs: number): Promise<number> => {
      const begin = Date.now();
      let lastReport = 0;
      for (;;) {
        const current = await state();
        const seconds = (Date.now() - begin) / 1000;
        if (current.ready) {
          log(`${what}: all ${current.services.length} services at desired replicas and healthy after ${seconds.toFixed(1)} s`);
          return seconds;
        }
        const behind = current.services.filter((s) => s.running !== s.desired).map((s) => `${s.name.replace(`${prefix}_`, "")} ${s.running}/${s.desired}`);
        const summary = `${current.services.length - behind.length}/${stack.deployed.services.length} services at desired replicas; waiting on ${[...behind, ...current.unhealthy].slice(0, 8).join(", ") || "service list"}`;
        if (Date.now() - begin > timeoutMs) {
          throw new Error(`${what}: not converged after ${seconds.toFixed(0)} s: ${summary}\n${await diagnose()}`);
        }
        if (Date.now() - lastReport > 10_000) {
          log(`${what} (${seconds.toFixed(0)} s): ${summary}`);
          lastReport = Date.now();
        }
        await sleep(2_000);
      }
    };

    /** Why tasks do not run: the latest task errors of services below their replicas. */
    const diagnose = async (): Promise<string> => {
      const current = await state();
      const lines: string[] = [];
      for (const s of current.services.filter((x) => x.running !== x.desired).slice(0, 6)) {
        const ps = await managerDocker(["service", "ps", "--no-trunc", "--format", "{{.Node}} {{.CurrentState}} {{.Error}}", s.name]);
        lines.push(`${s.name}:\n  ${ps.stdout.trim().split("\n").slice(0, 4).join("\n  ")}`);
        const logs = await managerDocker(["service", "logs", "--tail", "15", "--no-task-ids", s.name], { timeoutMs: 15_000 });
        lines.push(`  logs:\n    ${(logs.stdout + logs.stderr).trim().split("\n").slice(-15).join("\n    ")}`);
      }
      return lines.join("\n");
    };

    // From bare daemons: the bootstrap, then the stack.
    started = Date.now();
    await runBootstrap(swarm, stack.config, stack.topology, log);
    timings.bootstrap_s = (Date.now() - started) / 1000;
    log(`bootstrap done in ${timings.bootstrap_s.toFixed(1)} s`);

    const deployDir = path.join(swarm.dir, "deploy");
    const compose = renderE2eCompose(stack, generateSecretValues(stack.deployed.secrets));
    if (compose.missingSecretFiles.length > 0) throw new Error(`compose misses secret files: ${compose.missingSecretFiles.join(", ")}`);
    fs.mkdirSync(deployDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(deployDir, "docker-stack.yml"), compose.yaml);
    for (const [file, content] of Object.entries(compose.files)) {
      fs.mkdirSync(path.dirname(path.join(deployDir, file)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(deployDir, file), content, { mode: 0o600 });
    }
    const leader = stack.topology.leader.name;
    const deploy = await swarm.exec(leader, ["docker", "stack", "deploy", "--resolve-image", "never", "-c", path.join(deployDir, "docker-stack.yml"), prefix], {}, { timeoutMs: 180_000 });
    if (deploy.code !== 0) throw new Error(`docker stack deploy failed: ${deploy.stderr}${deploy.stdout}`);
    log(`deployed ${stack.deployed.services.length} services as stack ${prefix}`);
    timings.deploy_to_healthy_s = await waitConverged("deploy", 720_000);
    timings.deploy_converge_s = (Date.now() - started) / 1000;

    const containerOf = async (service: string, node: string): Promise<string> => {
      const ps = await swarm.docker(node, ["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${prefix}_${service}`], { check: true });
      const id = ps.stdout.trim().split("\n")[0] ?? "";
      if (id === "") throw new Error(`no container of ${service} on ${node}`);
      return id;
    };

    return {
      swarm,
      stack,
      images,
      log,
      timings,
      stopped,
      managerDocker,
      state,
      waitConverged,
      stopNode: async (name) => {
        const t = now();
        await swarm.stopNode(name);
        stopped.add(name);
        log(`stopped node ${name} (power off)`);
        return t;
      },
      startNode: async (name) => {
        await swarm.startNode(name, { timeoutMs: 120_000 });
        stopped.delete(name);
        // Back in the swarm before anything else is judged: the manager sees it Ready.
        const deadline = Date.now() + 120_000;
        for (;;) {
          const ls = await managerDocker(["node", "ls", "--filter", `name=${name}`, "--format", "{{.Hostname}} {{.Status}}"]);
          if (ls.stdout.split("\n").some((l) => l.trim() === `${name} Ready`)) break;
          if (Date.now() > deadline) throw new Error(`node ${name} not Ready within 120 s of its restart: ${ls.stdout}${ls.stderr}`);
          await sleep(1_000);
        }
        log(`started node ${name} again on its data-root`);
        return now();
      },
      containerOf,
      clientNode,
      stop: () => swarm.stop(),
    };
  } catch (error) {
    await swarm.stop();
    throw error;
  }
}

export interface ClientRun {
  /** JSON events printed so far. */
  readonly events: Record<string, unknown>[];
  /** Resolves with the first event that matches, or rejects after timeoutMs. */
  waitFor(match: (event: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Asks the command to finish (a line on stdin) and resolves with its result. */
  finish(timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Runs a drill.py command in the client container; its stdout is JSON lines. */
export function runClient(e2e: E2e, command: string, args: Record<string, unknown>, limitMs = 900_000): Promise<ClientRun> {
  return e2e.containerOf(CLIENT_SERVICE, e2e.clientNode.name).then((id) => {
    const child = spawn("docker", ["exec", "-i", id, "python3", "/drills/drill.py", command, JSON.stringify(args)], {
      env: e2e.clientNode.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const events: Record<string, unknown>[] = [];
    let result: Record<string, unknown> | undefined;
    let stderr = "";
    let buffered = "";
    const waiters: (() => void)[] = [];
    const notify = (): void => {
      for (const w of waiters.splice(0)) w();
    };
    const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== "") {
          try {
            const parsed = JSON.parse(line) as Record<string, unknown>;
            if ("result" in parsed) result = parsed.result as Record<string, unknown>;
            else events.push(parsed);
          } catch {
            stderr += `${line}\n`;
          }
        }
        newline = buffered.indexOf("\n");
      }
      notify();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    let exited = false;
    child.on("close", () => {
      exited = true;
      clearTimeout(killer);
      notify();
    });
    child.stdin.on("error", () => undefined);

    const until = <T>(ready: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`drill client ${command}: ${what} not seen within ${timeoutMs} ms; stderr: ${stderr.slice(-800)}`)), timeoutMs);
        const check = (): void => {
          const value = ready();
          if (value !== undefined) {
            clearTimeout(timer);
            resolve(value);
          } else if (exited) {
            clearTimeout(timer);
            reject(new Error(`drill client ${command} ended without ${what}; stderr: ${stderr.slice(-800)}`));
          } else {
            waiters.push(check);
          }
        };
        check();
      });

    return {
      events,
      waitFor: (match, timeoutMs) => until(() => events.find(match), timeoutMs, "the awaited event"),
      finish: (timeoutMs = 120_000) => {
        child.stdin.end("stop\n");
        return until(() => result, timeoutMs, "a result");
      },
    };
  });
}

/** Runs a drill.py command to completion and returns its result. */
export async function clientResult(e2e: E2e, command: string, args: Record<string, unknown>, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const run = await runClient(e2e, command, args, timeoutMs + 5_000);
  return run.finish(timeoutMs);
}

/** Prints a figure as the issue asks: one JSON line on stdout. */
export function figure(name: string, value: number, unit: string): { figure: string; value: number; unit: string } {
  const line = { figure: name, value: Number(value.toFixed(unit === "s" ? 2 : 0)), unit };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}
