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

/**
 * The node label that ties a Swarm node entry to the server it runs on: node-config.sh sets it
 * from SERVER_ID, and the delete scripts act only on the entry that carries their server's id,
 * never on a newer server of the same hostname.
 */
export const SERVER_ID_LABEL = "swarm-platform.server-id";

/** A script and the variables it runs with, as stored in a step's delete text. */
export interface ScriptCall {
  readonly script: ScriptName;
  readonly env: Readonly<Record<string, string>>;
  /** Variables whose value is the Hetzner id of a node's server (variable -> node name), known once the server exists. */
  readonly serverIdEnv: Readonly<Record<string, string>>;
}

interface StepBase extends ScriptCall {
  /** Unique id, used in resource names: wait-<node>, init, token-manager, join-<node>, config-<node>, member-<node>. */
  readonly id: string;
  /** The node whose SSH endpoint runs the step. */
  readonly runOn: string;
  /** The node the step is about. */
  readonly node: string;
  /** Variables whose values only exist at deploy time, filled by the component (never printed, never exported). */
  readonly secretEnv: Readonly<Record<string, TokenName>>;
  /** Run when the resource is deleted (pool shrink, or the old step after a replacement). */
  readonly onDelete?: ScriptCall;
  /** Ids of steps that must finish first. */
  readonly after: readonly string[];
  /**
   * The nodes whose server ids make the step's identity: its `triggers`. @pulumi/command replaces a
   * command whose triggers differ and then runs the old one's delete, so only a new server may
   * change them; every other change of the step re-runs its idempotent script in place.
   */
  readonly identity: readonly string[];
  /** The step is the first contact with a booting server: its SSH dial budget covers the cloud-init wait. */
  readonly firstContact: boolean;
  /** The step's stdout is a secret to capture (join tokens). */
  readonly capturesSecret: boolean;
}

/**
 * What a step is for, said explicitly so that no consumer reads meaning out of an id:
 * wait (cloud-init and Docker ready), init (swarm init on the leader), token (prints a
 * join token), member (the leader's record of a node), join, config (role, labels, availability).
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
  for (const n of topology.nodes) {
    if (SERVER_ID_LABEL in n.labels) {
      throw new Error(`nodePools: the pool of ${n.name} sets the label ${SERVER_ID_LABEL}, which the bootstrap reserves for the node's server id; remove it from labels=`);
    }
  }
  const steps: BootstrapStep[] = [];
  const base = { secretEnv: {}, serverIdEnv: {}, capturesSecret: false, firstContact: false } as const;
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
      identity: [n.name],
      firstContact: true,
    });
  }
  steps.push({
    ...base,
    kind: "init",
    id: "init",
    runOn: leader.name,
    node: leader.name,
    script: "swarm-init",
    // A changed pool re-runs swarm-init.sh in place, which refuses it: the pool is fixed at init.
    env: { NODE_NAME: leader.name, PRIVATE_IP: leader.privateIp, DEFAULT_ADDR_POOL: cfg.docker.swarmAddrPool },
    after: [`wait-${leader.name}`],
    identity: [leader.name],
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
      identity: [leader.name],
      capturesSecret: true,
    });
  }
  for (const n of topology.nodes) {
    const serverIdEnv = { SERVER_ID: n.name };
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
        onDelete: { script: "node-remove", env: { NODE_NAME: n.name, REMOVE_STEP: "remove", DOWN_TIMEOUT_S: String(TIMEOUTS.down) }, serverIdEnv },
        after: ["init"],
        identity: [n.name],
      });
      steps.push({
        ...base,
        kind: "join",
        id: `join-${n.name}`,
        runOn: n.name,
        node: n.name,
        script: "swarm-join",
        // ROLE only picks the token of the first join; a later role change is node-config's promote/demote.
        env: {
          NODE_NAME: n.name,
          PRIVATE_IP: n.privateIp,
          ROLE: n.role,
          MANAGER_ADDR: leader.privateIp,
          JOIN_TIMEOUT_S: String(TIMEOUTS.join),
        },
        secretEnv: { JOIN_TOKEN: tokenRole(n) },
        // Runs over the old server's pinned connection, so it can only ever leave from that server.
        onDelete: { script: "swarm-leave", env: { NODE_NAME: n.name, LEAVE_FORCE: "0" }, serverIdEnv: {} },
        after: [`wait-${n.name}`, `member-${n.name}`, `token-${n.role}`],
        identity: [n.name],
      });
    }
    steps.push({
      ...base,
      kind: "config",
      id: `config-${n.name}`,
      runOn: leader.name,
      node: n.name,
      script: "node-config",
      env: {
        NODE_NAME: n.name,
        NODE_ROLE: n.role,
        NODE_LABELS: labelsText(n.labels),
        NODE_AVAILABILITY: n.availability,
        NODE_READY_TIMEOUT_S: String(TIMEOUTS.nodeReady),
      },
      serverIdEnv,
      onDelete: n === leader ? undefined : {
        script: "node-remove",
        env: { NODE_NAME: n.name, REMOVE_STEP: "prepare", DRAIN_TIMEOUT_S: String(TIMEOUTS.drain) },
        serverIdEnv,
      },
      after: [n === leader ? "init" : `join-${n.name}`],
      identity: [n.name],
    });
  }
  return steps;
}

/** The values a step's `remote.Command` holds in `triggers`: its identity's server ids, in order. */
export function stepTriggers<T>(step: Pick<BootstrapStep, "identity">, serverIdOf: (node: string) => T): T[] {
  return step.identity.map(serverIdOf);
}

/**
 * How @pulumi/command treats a step, for the change-impact estimator: a difference in `triggers`
 * replaces the command (the new create runs, then the old delete at the end of the `up`); any other
 * changed input runs `update`, which re-runs the step's own script in place; a removed step runs its
 * delete. Sources: docs/provider-facts.md §2 facts 1-3.
 */
export interface StepCommandRule {
  /** Nodes whose server ids are the command's triggers. */
  readonly triggers: readonly string[];
  /** The script an in-place update re-runs. */
  readonly updateRuns: ScriptName;
  /** The script the command's delete runs (replacement or removal), if any. */
  readonly deleteRuns?: ScriptName;
}

export function stepCommandRule(step: BootstrapStep): StepCommandRule {
  return { triggers: step.identity, updateRuns: step.script, ...(step.onDelete ? { deleteRuns: step.onDelete.script } : {}) };
}

export type StepAction = "create" | "update" | "replace" | "delete" | "same";

export interface StepChange {
  readonly id: string;
  readonly action: StepAction;
  /** Scripts that run, in order: the new create or update first, an old delete last. */
  readonly runs: readonly ScriptName[];
}

/** Server ids by node name, before and after (a replaced server has a new id). */
export interface ServerIds {
  readonly before: (node: string) => string;
  readonly after: (node: string) => string;
}

const UNCHANGED_SERVERS: ServerIds = { before: (n) => n, after: (n) => n };

function callText(call: ScriptCall | undefined, serverIdOf: (node: string) => string): string {
  if (!call) return "";
  return JSON.stringify([call.script, call.env, Object.entries(call.serverIdEnv).map(([k, n]) => [k, serverIdOf(n)])]);
}

/**
 * What an `up` from one bootstrap plan to another does to each step's command, by the rule above.
 * An update is any change of the step's script text or variables, its node or its delete text.
 */
export function stepChanges(before: readonly BootstrapStep[], after: readonly BootstrapStep[], servers: ServerIds = UNCHANGED_SERVERS): StepChange[] {
  const old = new Map(before.map((s) => [s.id, s]));
  const changes: StepChange[] = [];
  for (const s of after) {
    const o = old.get(s.id);
    if (!o) {
      changes.push({ id: s.id, action: "create", runs: [s.script] });
      continue;
    }
    old.delete(s.id);
    const replaced = JSON.stringify(stepTriggers(o, servers.before)) !== JSON.stringify(stepTriggers(s, servers.after));
    if (replaced) {
      changes.push({ id: s.id, action: "replace", runs: [s.script, ...(o.onDelete ? [o.onDelete.script] : [])] });
      continue;
    }
    const same = callText(o, servers.before) === callText(s, servers.after)
      && o.runOn === s.runOn
      && JSON.stringify(o.secretEnv) === JSON.stringify(s.secretEnv)
      && callText(o.onDelete, servers.before) === callText(s.onDelete, servers.after);
    changes.push(same ? { id: s.id, action: "same", runs: [] } : { id: s.id, action: "update", runs: [s.script] });
  }
  for (const o of old.values()) changes.push({ id: o.id, action: "delete", runs: o.onDelete ? [o.onDelete.script] : [] });
  return changes;
}

/**
 * SSH dial attempts @pulumi/command may make so that its back-off alone lasts `seconds`: it waits
 * 100 ms, ×1.5 per attempt, at most 5 s, and makes dialErrorLimit + 1 attempts
 * (docs/provider-facts.md §2 fact 5).
 */
export function dialErrorLimitFor(seconds: number): number {
  let waited = 0;
  let delay = 0.1;
  let limit = 0;
  while (waited < seconds) {
    waited += Math.min(delay, 5);
    delay *= 1.5;
    limit++;
  }
  return limit;
}

/** Dial budgets: the first contact outlasts cloud-init; later steps only ride out an sshd restart or a dropped handshake. */
export const DIAL_BUDGET_S = { firstContact: TIMEOUTS.ready, later: 120 } as const;

export function readScript(name: ScriptName): string {
  return readFileSync(join(SCRIPT_DIR, `${name}.sh`), "utf8");
}

/** POSIX single-quoted word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/**
 * What goes on the remote shell's stdin: the variables as exports, the secrets as plain shell
 * variables (so no child process inherits them), then the script. The variables travel inside
 * the script text because @pulumi/command sends `environment` as SSH env requests, which sshd
 * refuses outside AcceptEnv. The SSH command line is only REMOTE_SHELL; a secret is then in no
 * argv and no environment on either side, as long as the script itself never passes it on
 * (swarm-join.sh sends the token to the Docker API on curl's stdin).
 */
export function scriptInput(script: ScriptName, env: Readonly<Record<string, string>>, secrets: Readonly<Record<string, string>> = {}): string {
  const exports = Object.keys(env).sort().map((k) => `export ${k}=${shellQuote(env[k])}`);
  const locals = Object.keys(secrets).sort().map((k) => `${k}=${shellQuote(secrets[k])}`);
  return [...exports, ...locals, readScript(script)].join("\n");
}

/** The delete text of a command: the call's script fed to `bash -s` through a quoted here-document. */
export function deleteCommand(call: ScriptCall, serverIdOf: (node: string) => string): string {
  const env = { ...call.env, ...Object.fromEntries(Object.entries(call.serverIdEnv).map(([k, n]) => [k, serverIdOf(n)])) };
  return `${REMOTE_SHELL} <<'SWARM_PLATFORM_EOF'\n${scriptInput(call.script, env)}\nSWARM_PLATFORM_EOF`;
}

/** The remote command line: bash reads the script from stdin. */
export const REMOTE_SHELL = "bash -s";
