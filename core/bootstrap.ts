/**
 * The Swarm bootstrap as plain data: which script runs on which node, with which
 * variables, after which steps. The component turns each step into one
 * remote.Command; the real-Swarm test runs the same scripts in the same order.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CoreConfig } from "../stacks/config";
import type { NodeSpec, Topology } from "./topology";

export const SCRIPT_DIR = join(__dirname, "..", "scripts", "bootstrap");

export type ScriptName =
  | "wait-ready"
  | "swarm-init"
  | "swarm-token"
  | "swarm-join"
  | "node-config"
  | "node-remove"
  | "swarm-leave";

/** Waits have timeouts; these are the seconds the bootstrap grants each. */
export const TIMEOUTS = {
  /** cloud-init installs Docker: minutes on a fresh server. */
  ready: 900,
  join: 300,
  nodeReady: 300,
  drain: 300,
  down: 120,
} as const;

/** Join tokens the token steps capture, by the role they join as. */
export type TokenName = "managerToken" | "workerToken";

interface StepBase {
  /** Unique id, used in resource names: wait-<node>, init, token-manager, join-<node>, config-<node>, member-<node>. */
  readonly id: string;
  /** The node whose SSH endpoint runs the step. */
  readonly runOn: string;
  /** The node the step is about. */
  readonly node: string;
  readonly script: ScriptName;
  readonly env: Readonly<Record<string, string>>;
  /** Variables whose values only exist at deploy time, filled by the component (never printed). */
  readonly secretEnv: Readonly<Record<string, TokenName>>;
  /** Run when the resource is deleted (pool shrink): script and variables. */
  readonly onDelete?: { readonly script: ScriptName; readonly env: Readonly<Record<string, string>> };
  /** Ids of steps that must finish first. */
  readonly after: readonly string[];
  /** Values whose change re-runs the step (its script is always part of it). */
  readonly triggers: readonly string[];
  /** The step's stdout is a secret to capture (join tokens). */
  readonly capturesSecret: boolean;
}

/**
 * What a step is for, said explicitly so that no consumer reads meaning out of an id:
 * wait (cloud-init and Docker ready), init (swarm init on the leader), token (prints a
 * join token), member (the leader's record of a node), join, config (labels, availability).
 */
export type BootstrapStep =
  | (StepBase & { readonly kind: "wait" | "init" | "member" | "join" | "config" })
  | (StepBase & { readonly kind: "token"; readonly token: TokenName });

/** `k=v` lines exactly as node-config.sh reads NODE_LABELS, sorted so the text is stable. */
export function labelsText(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join("\n");
}

function tokenRole(n: Pick<NodeSpec, "role">): TokenName {
  return n.role === "manager" ? "managerToken" : "workerToken";
}

export function bootstrapSteps(cfg: CoreConfig, topology: Topology): BootstrapStep[] {
  const leader = topology.leader;
  const steps: BootstrapStep[] = [];
  const base = { secretEnv: {}, capturesSecret: false } as const;
  for (const n of topology.nodes) {
    steps.push({
      ...base,
      kind: "wait",
      id: `wait-${n.name}`,
      runOn: n.name,
      node: n.name,
      script: "wait-ready",
      env: { NODE_NAME: n.name, PRIVATE_IP: n.privateIp, READY_TIMEOUT_S: String(TIMEOUTS.ready) },
      after: [],
      triggers: [n.privateIp],
    });
  }
  steps.push({
    ...base,
    kind: "init",
    id: "init",
    runOn: leader.name,
    node: leader.name,
    script: "swarm-init",
    env: { NODE_NAME: leader.name, PRIVATE_IP: leader.privateIp, DEFAULT_ADDR_POOL: cfg.docker.swarmAddrPool },
    after: [`wait-${leader.name}`],
    triggers: [leader.privateIp, cfg.docker.swarmAddrPool],
  });
  for (const role of ["manager", "worker"] as const) {
    if (role === "worker" && topology.workers.length === 0) continue;
    steps.push({
      ...base,
      kind: "token",
      token: tokenRole({ role }),
      id: `token-${role}`,
      runOn: leader.name,
      node: leader.name,
      script: "swarm-token",
      env: { NODE_NAME: leader.name, ROLE: role },
      after: ["init"],
      triggers: [],
      capturesSecret: true,
    });
  }
  for (const n of topology.nodes) {
    if (n !== leader) {
      // The leader keeps the membership: deleting it removes the node entry once the node has left.
      steps.push({
        ...base,
        kind: "member",
        id: `member-${n.name}`,
        runOn: leader.name,
        node: n.name,
        script: "wait-ready",
        env: { NODE_NAME: leader.name, SKIP_CLOUD_INIT_WAIT: "1", READY_TIMEOUT_S: "60" },
        onDelete: { script: "node-remove", env: { NODE_NAME: n.name, REMOVE_STEP: "remove", DOWN_TIMEOUT_S: String(TIMEOUTS.down) } },
        after: ["init"],
        triggers: [],
      });
      steps.push({
        ...base,
        kind: "join",
        id: `join-${n.name}`,
        runOn: n.name,
        node: n.name,
        script: "swarm-join",
        env: {
          NODE_NAME: n.name,
          PRIVATE_IP: n.privateIp,
          ROLE: n.role,
          MANAGER_ADDR: leader.privateIp,
          JOIN_TIMEOUT_S: String(TIMEOUTS.join),
        },
        secretEnv: { JOIN_TOKEN: tokenRole(n) },
        onDelete: { script: "swarm-leave", env: { NODE_NAME: n.name, LEAVE_FORCE: "0" } },
        after: [`wait-${n.name}`, `member-${n.name}`, `token-${n.role}`],
        triggers: [n.privateIp, n.role, leader.privateIp],
      });
    }
    const labels = labelsText(n.labels);
    steps.push({
      ...base,
      kind: "config",
      id: `config-${n.name}`,
      runOn: leader.name,
      node: n.name,
      script: "node-config",
      env: {
        NODE_NAME: n.name,
        NODE_LABELS: labels,
        NODE_AVAILABILITY: n.availability,
        NODE_READY_TIMEOUT_S: String(TIMEOUTS.nodeReady),
      },
      onDelete: n === leader ? undefined : {
        script: "node-remove",
        env: { NODE_NAME: n.name, REMOVE_STEP: "prepare", DRAIN_TIMEOUT_S: String(TIMEOUTS.drain) },
      },
      after: [n === leader ? "init" : `join-${n.name}`],
      triggers: [labels, n.availability],
    });
  }
  return steps;
}

export function readScript(name: ScriptName): string {
  return readFileSync(join(SCRIPT_DIR, `${name}.sh`), "utf8");
}

/** POSIX single-quoted word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/**
 * What goes on the remote shell's stdin: the variables as exports, then the script.
 * sshd drops environment sent by the client unless AcceptEnv allows it, so the
 * variables travel inside the script text instead; secrets therefore stay out of
 * the command line and out of `ps`.
 */
export function scriptInput(script: ScriptName, env: Readonly<Record<string, string>>): string {
  const exports = Object.keys(env).sort().map((k) => `export ${k}=${shellQuote(env[k])}`);
  return [...exports, readScript(script)].join("\n");
}

/** The remote command line: bash reads the script from stdin. */
export const REMOTE_SHELL = "bash -s";
