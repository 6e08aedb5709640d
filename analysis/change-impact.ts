/**
 * Change impact: what an `up` from one offline plan to another would do to each resource, which
 * bootstrap scripts would run on which node, and which services would restart. Pure data in,
 * data out; the replacement rules come from analysis/provider-rules.ts.
 *
 * It is an estimate made without the state or the cloud: values known only after deploy and
 * secret values are compared as equal unless a resource they come from is replaced (then they
 * change), and drift in the cloud is invisible. `pulumi preview` decides.
 */
import { pathUnder, replacingPaths, ruleFor, hasRule } from "./provider-rules";

export const ESTIMATE_NOTICE =
  "offline estimate from two plans: no state, no cloud; secret and not-yet-known values count as unchanged unless what they come from is replaced. `pulumi preview` decides.";

/** What the estimator reads of a plan's resource (the plan JSON's `resources[]` entries). */
export interface ImpactResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly options: {
    readonly protect: boolean;
    readonly ignoreChanges: readonly string[];
    readonly replaceOnChanges: readonly string[];
    readonly deleteBeforeReplace: boolean;
  };
  readonly propertyDependencies?: Readonly<Record<string, readonly string[]>>;
  /** The plan's stand-in id (inputs that refer to this resource hold it). */
  readonly id?: string;
}

/** A bootstrap step as the plan JSON's `bootstrap[]` lists it. */
export interface ImpactStep {
  readonly id: string;
  readonly kind: string;
  /** URN of the step's remote.Command. */
  readonly urn: string;
  /** The node whose SSH endpoint runs the step's scripts. */
  readonly runOn: string;
  /** The node the step is about. */
  readonly node: string;
  /** Runs on create and on every in-place update. */
  readonly script: string;
  /** Runs when the command is deleted (removal, or the old command after a replacement). */
  readonly deleteScript?: string;
  /** node-remove.sh's REMOVE_STEP (prepare = drain, remove = node rm). */
  readonly deleteStep?: string;
}

export interface ImpactPlan {
  readonly resources: readonly ImpactResource[];
  readonly bootstrap: readonly ImpactStep[];
  readonly cost?: { readonly currency: string; readonly monthly: number | "unknown"; readonly knownMonthly: number };
}

export type Op = "create" | "update" | "replace" | "delete" | "same";

export interface ResourceChange {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly op: Op;
  /** Input paths that differ (for a create or delete: none). */
  readonly paths: string[];
  /** replace: the paths that force it. */
  readonly replaceBecause?: string[];
  /** replace: delete-first (deleteBeforeReplace or the provider's default) or create-first. */
  readonly order?: "delete-first" | "create-first";
  /** The change stops the `up`: the resource is protected. */
  readonly blockedByProtect?: boolean;
  /** What an in-place update of these inputs does (provider-rules inPlace), or why the estimate is weak. */
  readonly notes?: string[];
}

export type RunAction = "wait" | "init" | "token" | "join" | "node-config" | "drain" | "leave" | "node-removal";

export interface ScriptRun {
  /** The bootstrap step. */
  readonly step: string;
  readonly script: string;
  readonly action: RunAction;
  /** The node the script runs on. */
  readonly on: string;
  /** The node it is about. */
  readonly node: string;
  /** Why it runs: the command is created, updated in place, replaced, or deleted. */
  readonly because: "create" | "update" | "replace" | "delete";
}

export interface ServiceRestart {
  readonly service: string;
  readonly urn: string;
  readonly op: "update" | "replace";
  readonly paths: string[];
}

export interface ChangeImpact {
  readonly notice: string;
  readonly summary: Record<Op, number>;
  readonly changes: ResourceChange[];
  /** Scripts in the order they run: creates and updates first, deletes at the end of the `up`. */
  readonly runs: ScriptRun[];
  /** Swarm services whose tasks restart (any update of a service restarts its tasks). */
  readonly restarts: ServiceRestart[];
  readonly cost?: { readonly currency: string; readonly before: number | "unknown"; readonly after: number | "unknown"; readonly delta: number | "unknown"; readonly knownDelta: number };
}

/** Leaf paths where two input values differ; a value that is unknown or secret on both sides is equal. */
export function diffPaths(before: unknown, after: unknown, path = ""): string[] {
  if (before === after) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: string[] = [];
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      const p = `${path}[${i}]`;
      if (i >= before.length || i >= after.length) out.push(p);
      else out.push(...diffPaths(before[i], after[i], p));
    }
    return out;
  }
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffPaths(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [path];
}

/**
 * Where inside one input a renewed resource's outputs land: the leaves that hold its id; else
 * the leaves not known at plan time (secret or unknown values, which may come from it); else the
 * whole input.
 */
function referencingPaths(value: unknown, path: string, id: string | undefined): string[] {
  const leaves = (match: (v: unknown) => boolean): string[] => {
    const found: string[] = [];
    const walk = (v: unknown, p: string): void => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${p}[${i}]`));
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${p}.${k}`);
      else if (match(v)) found.push(p);
    };
    walk(value, path);
    return found;
  };
  const byId = id === undefined ? [] : leaves((v) => String(v) === id);
  if (byId.length > 0) return byId;
  const notKnown = leaves((v) => v === "[secret]" || v === "(known after deploy)");
  return notKnown.length > 0 ? notKnown : [path];
}

function actionOf(script: string, deleteStep: string | undefined, kind: string): RunAction {
  switch (script) {
    case "swarm-join": return "join";
    case "swarm-leave": return "leave";
    case "node-config": return "node-config";
    case "swarm-init": return "init";
    case "swarm-token": return "token";
    case "node-remove": return deleteStep === "prepare" ? "drain" : "node-removal";
    default: return kind === "wait" || script === "wait-ready" ? "wait" : "node-config";
  }
}

export function changeImpact(before: ImpactPlan, after: ImpactPlan): ChangeImpact {
  const old = new Map(before.resources.map((r) => [r.urn, r]));
  const now = new Map(after.resources.map((r) => [r.urn, r]));
  const decided = new Map<string, ResourceChange>();

  const decide = (r: ImpactResource): ResourceChange => {
    const done = decided.get(r.urn);
    if (done) return done;
    const o = old.get(r.urn);
    let change: ResourceChange;
    if (!o) {
      change = { urn: r.urn, type: r.type, name: r.name, op: "create", paths: [] };
    } else {
      const changed = new Set(diffPaths(o.inputs, r.inputs));
      // An input that comes from a resource being replaced (or created anew) gets a new value.
      for (const [prop, deps] of Object.entries(r.propertyDependencies ?? {})) {
        const renewed = deps.filter((d) => d !== r.urn && now.has(d) && ["replace", "create"].includes(decide(now.get(d)!).op));
        for (const d of renewed) for (const p of referencingPaths(r.inputs[prop], prop, now.get(d)!.id)) changed.add(p);
      }
      const paths = [...changed].filter((p) => !r.options.ignoreChanges.some((ig) => pathUnder(p, ig))).sort();
      const because = replacingPaths(r.type, paths, r.options.replaceOnChanges);
      const rule = ruleFor(r.type);
      const notes = [
        ...Object.entries(rule.inPlace ?? {}).filter(([p]) => because.length === 0 && paths.some((x) => pathUnder(x, p))).map(([p, what]) => `${p}: ${what}`),
        ...(hasRule(r.type) ? [] : [`no replacement rule for ${r.type} in analysis/provider-rules.ts: shown as an update`]),
      ];
      const protect = o.options.protect || r.options.protect;
      if (paths.length === 0) change = { urn: r.urn, type: r.type, name: r.name, op: "same", paths: [] };
      else if (because.length > 0) {
        change = {
          urn: r.urn, type: r.type, name: r.name, op: "replace", paths, replaceBecause: because,
          order: r.options.deleteBeforeReplace || rule.deleteFirst ? "delete-first" : "create-first",
          ...(protect ? { blockedByProtect: true } : {}),
          ...(notes.length ? { notes } : {}),
        };
      } else change = { urn: r.urn, type: r.type, name: r.name, op: "update", paths, ...(notes.length ? { notes } : {}) };
    }
    decided.set(r.urn, change);
    return change;
  };

  const changes: ResourceChange[] = after.resources.map(decide);
  for (const o of before.resources) {
    if (!now.has(o.urn)) changes.push({ urn: o.urn, type: o.type, name: o.name, op: "delete", paths: [], ...(o.options.protect ? { blockedByProtect: true } : {}) });
  }
  changes.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  const opOf = new Map(changes.map((c) => [c.urn, c.op]));

  const runs: ScriptRun[] = [];
  const run = (s: ImpactStep, script: string, because: ScriptRun["because"], deleting: boolean): ScriptRun => ({
    step: s.id, script, action: actionOf(script, deleting ? s.deleteStep : undefined, s.kind), on: s.runOn, node: s.node, because,
  });
  for (const s of after.bootstrap) {
    const op = opOf.get(s.urn);
    if (op === "create" || op === "update" || op === "replace") runs.push(run(s, s.script, op, false));
  }
  // Deletes run last, dependents first: the reverse of the old plan's step order.
  for (const s of [...before.bootstrap].reverse()) {
    const op = opOf.get(s.urn);
    if ((op === "delete" || op === "replace") && s.deleteScript) runs.push(run(s, s.deleteScript, op, true));
  }

  const restarts: ServiceRestart[] = changes
    .filter((c) => c.type === "docker:index/service:Service" && (c.op === "update" || c.op === "replace"))
    .map((c) => ({ service: String(now.get(c.urn)?.inputs.name ?? c.name), urn: c.urn, op: c.op as "update" | "replace", paths: c.paths }));

  const summary: Record<Op, number> = { create: 0, update: 0, replace: 0, delete: 0, same: 0 };
  for (const c of changes) summary[c.op]++;

  const cost = before.cost && after.cost ? {
    currency: after.cost.currency,
    before: before.cost.monthly,
    after: after.cost.monthly,
    delta: typeof before.cost.monthly === "number" && typeof after.cost.monthly === "number" ? round(after.cost.monthly - before.cost.monthly) : "unknown" as const,
    knownDelta: round(after.cost.knownMonthly - before.cost.knownMonthly),
  } : undefined;

  return { notice: ESTIMATE_NOTICE, summary, changes, runs, restarts, ...(cost ? { cost } : {}) };
}

function round(eur: number): number {
  return Math.round(eur * 100) / 100;
}
