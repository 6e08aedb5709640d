/**
 * The drills: each breaks one thing on the running platform, measures what a client sees,
 * brings the node back and waits until the platform has converged again. Each returns its
 * figures and the facts the test asserts.
 */
import type { ServiceSpec } from "../core/model";
import type { FamilyArea, SectionContext } from "../families/kit/family";
import { redisArea, redisMembers, REDIS_ENDPOINT_SERVICE } from "../families/redis";
import { rabbitmqArea, rabbitmqMembers } from "../families/rabbitmq";
import { etcdArea, etcdMembers, etcdPrefix, ETCD_CLIENT_PORT } from "../families/etcd";
import { clientResult, figure, now, runClient, sleep, type E2e } from "./harness";

export interface Figure {
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
}

const RECONVERGE_MS = 420_000;

function nodeOf(e2e: E2e, service: string): string {
  const spec = e2e.stack.deployed.services.find((s) => s.name === service);
  if (!spec?.node) throw new Error(`service ${service} is not pinned to a node`);
  return spec.node;
}

/** What a family's client functions (members, endpoints) read, for the stack the drills run. */
function sectionContext<S>(e2e: E2e, area: FamilyArea<S>): SectionContext<S> {
  return { topology: e2e.stack.topology, section: e2e.stack.config.section(area) };
}

type Json = Record<string, unknown>;

const asNumber = (value: unknown): number => (typeof value === "number" ? value : Number.NaN);

/** Seconds from `since` until writes were steady again: the last recovery within `settleS` of the first one. */
function recoveredAfter(events: readonly Json[], since: number): number | undefined {
  const recoveries = events.filter((e) => e.event === "recovered" && asNumber(e.t) > since).map((e) => asNumber(e.t));
  if (recoveries.length === 0) return undefined;
  return recoveries[recoveries.length - 1] - since;
}

function failuresAfter(events: readonly Json[], since: number): number {
  return events.filter((e) => e.event === "failing" && asNumber(e.t) > since).length;
}

// ------------------------------------------------------------------ Prometheus

export interface PrometheusOutcome {
  readonly figures: Figure[];
  readonly down: { job: string; instance: string; error: string }[];
  readonly jobs: Record<string, number>;
  readonly excludedJobs: string[];
}

/** Jobs that scrape services the e2e deploy leaves out (their targets cannot be up here). */
export function excludedJobs(e2e: E2e): string[] {
  const left = e2e.stack.leftOut.map((s) => s.service);
  const jobs = new Set<string>();
  for (const name of left) jobs.add(name.replace(/-\d+$/, ""));
  return [...jobs].sort();
}

export async function prometheusDrill(e2e: E2e, timeoutMs = 150_000): Promise<PrometheusOutcome> {
  const excluded = new Set(excludedJobs(e2e));
  const deadline = Date.now() + timeoutMs;
  let down: PrometheusOutcome["down"] = [];
  let jobs: Record<string, number> = {};
  for (;;) {
    const result = (await clientResult(e2e, "prom-targets", { host: "prometheus" })) as unknown as { job: string; instance: string; health: string; error: string }[];
    const targets = Object.values(result);
    const relevant = targets.filter((t) => !excluded.has(t.job));
    jobs = {};
    for (const t of relevant) jobs[t.job] = (jobs[t.job] ?? 0) + 1;
    down = relevant.filter((t) => t.health !== "up").map((t) => ({ job: t.job, instance: t.instance, error: t.error }));
    if (down.length === 0 && relevant.length > 0) break;
    if (Date.now() > deadline) break;
    e2e.log(`prometheus: ${down.length} of ${relevant.length} targets not up yet: ${down.slice(0, 4).map((d) => `${d.job}/${d.instance} ${d.error}`).join("; ")}`);
    await sleep(5_000);
  }
  e2e.log(`prometheus targets by job: ${JSON.stringify(jobs)}; jobs of left-out services not counted: ${[...excluded].join(", ")}`);
  return { figures: [figure("prometheus_targets_down", down.length, "count")], down, jobs, excludedJobs: [...excluded] };
}

// ------------------------------------------------------------------ Redis

export interface RedisOutcome {
  readonly figures: Figure[];
  readonly oldMaster: string;
  readonly newMaster: string;
  readonly rolesAfter: Record<string, { role: string | null; link?: string }>;
  readonly confirmed: number;
  readonly lost: number;
}

export async function redisDrill(e2e: E2e): Promise<RedisOutcome> {
  const members = redisMembers(sectionContext(e2e, redisArea)).map((m) => m.name);
  const roles = async (): Promise<Record<string, { role: string | null; link?: string; master_host?: string }>> =>
    (await clientResult(e2e, "redis-roles", { members })) as Record<string, { role: string | null; link?: string; master_host?: string }>;
  const before = await roles();
  const masters = members.filter((m) => before[m]?.role === "master");
  if (masters.length !== 1) throw new Error(`expected one Redis master before the drill, found ${JSON.stringify(before)}`);
  const oldMaster = masters[0];
  const node = nodeOf(e2e, oldMaster);
  const prefix = `e2e-drill:${Date.now()}`;

  const writer = await runClient(e2e, "redis-writer", { host: REDIS_ENDPOINT_SERVICE, prefix });
  await writer.waitFor((e) => e.event === "started", 30_000);
  await sleep(5_000);
  const tStop = await e2e.stopNode(node);
  e2e.log(`redis: master ${oldMaster} was on ${node}; writing through ${REDIS_ENDPOINT_SERVICE} meanwhile`);
  await writer.waitFor((e) => e.event === "recovered" && asNumber(e.t) > tStop, 180_000);
  // Keep writing: a client may still be sent to a task on the dead node until Swarm notices it.
  await sleep(20_000);
  const result = await writer.finish();
  const failoverS = recoveredAfter(writer.events, tStop) ?? Number.NaN;
  e2e.log(`redis: ${asNumber(result.confirmed_count)} confirmed writes, ${failuresAfter(writer.events, tStop)} outages after the stop, longest gap ${asNumber(result.max_gap_s)} s`);

  const during = await roles();
  const newMaster = members.find((m) => m !== oldMaster && during[m]?.role === "master") ?? "";

  await e2e.startNode(node);
  await e2e.waitConverged(`redis: ${node} back`, RECONVERGE_MS);
  // The returned member may need a moment to finish its sync after its task is healthy.
  let after = await roles();
  for (let i = 0; i < 15 && after[oldMaster]?.link !== "up"; i++) {
    await sleep(2_000);
    after = await roles();
  }
  const verify = await clientResult(e2e, "redis-verify", { host: REDIS_ENDPOINT_SERVICE, prefix, confirmed: result.confirmed });
  const lost = asNumber(verify.missing);
  return {
    figures: [figure("redis_failover_s", failoverS, "s"), figure("redis_acked_writes_lost", lost, "count")],
    oldMaster,
    newMaster,
    rolesAfter: after,
    confirmed: asNumber(result.confirmed_count),
    lost,
  };
}

// ------------------------------------------------------------------ RabbitMQ

export interface RabbitOutcome {
  readonly figures: Figure[];
  readonly queueType: string;
  readonly defaultQueueTypeGives: string;
  readonly stoppedMember: string;
  readonly confirmed: number;
  readonly received: number;
  readonly lost: number;
}

function expand(ranges: unknown): Set<number> {
  const out = new Set<number>();
  for (const [lo, hi] of (ranges as [number, number][]) ?? []) for (let n = lo; n <= hi; n++) out.add(n);
  return out;
}

export async function rabbitmqDrill(e2e: E2e): Promise<RabbitOutcome> {
  const members = rabbitmqMembers(sectionContext(e2e, rabbitmqArea)).map((m) => m.name);
  const user = e2e.stack.config.section(rabbitmqArea).adminUser;
  const queue = "e2e-drill";
  const declared = await clientResult(e2e, "rabbit-declare", { host: members[0], queue, user }, 90_000);
  const leader = String(declared.leader ?? "");
  const victim = members.find((m) => leader === `rabbit@${m}`);
  if (!victim) throw new Error(`quorum queue ${queue} has no known leader: ${JSON.stringify(declared)}`);
  const node = nodeOf(e2e, victim);
  const publishTo = members.filter((m) => m !== victim);
  e2e.log(`rabbitmq: queue ${queue} (${String(declared.type)}) led by ${leader}; stopping ${node}, publishing through ${publishTo.join(", ")}`);

  const publisher = await runClient(e2e, "rabbit-publish", { hosts: publishTo, queue, user });
  await publisher.waitFor((e) => e.event === "started", 30_000);
  await sleep(5_000);
  const tStop = await e2e.stopNode(node);
  await sleep(25_000);
  const result = await publisher.finish(120_000);
  const confirmed = expand(result.confirmed);
  const unavailableS = asNumber(result.max_gap_s);
  e2e.log(`rabbitmq: ${confirmed.size} confirmed, ${failuresAfter(publisher.events, tStop)} publish failures after the stop, longest time without a confirm ${unavailableS} s`);

  const consumed = await clientResult(e2e, "rabbit-consume", { hosts: publishTo, queue, user }, 180_000);
  if (consumed.complete !== true) throw new Error(`rabbitmq: the queue was not emptied: ${JSON.stringify(consumed.errors)}`);
  if (Array.isArray(consumed.errors) && consumed.errors.length > 0) e2e.log(`rabbitmq: the consumer reconnected after: ${JSON.stringify(consumed.errors)}`);
  const received = expand(consumed.received);
  let lost = 0;
  for (const n of confirmed) if (!received.has(n)) lost++;

  await e2e.startNode(node);
  await e2e.waitConverged(`rabbitmq: ${node} back`, RECONVERGE_MS);
  return {
    figures: [figure("rabbitmq_confirmed_lost", lost, "count"), figure("rabbitmq_unavailable_s", unavailableS, "s")],
    queueType: String(declared.type),
    defaultQueueTypeGives: String(declared.default_queue_type_gives),
    stoppedMember: victim,
    confirmed: confirmed.size,
    received: received.size,
    lost,
  };
}

// ------------------------------------------------------------------ etcd

export interface EtcdOutcome {
  readonly figures: Figure[];
  readonly stoppedMember: string;
  readonly written: number;
  readonly missing: number;
}

export async function etcdDrill(e2e: E2e): Promise<EtcdOutcome> {
  const c = sectionContext(e2e, etcdArea);
  const members = etcdMembers(c).map((m) => m.name);
  const endpoints = members.map((m) => `http://${m}:${ETCD_CLIENT_PORT}`);
  const status = await clientResult(e2e, "etcd-status", { endpoints });
  const leaders = (status.leaders as string[]) ?? [];
  if (leaders.length !== 1 || !members.includes(leaders[0])) throw new Error(`expected one etcd leader among ${members.join(", ")}: ${JSON.stringify(status)}`);
  const victim = leaders[0];
  const node = nodeOf(e2e, victim);
  // The client starts on the leader, as one whose first endpoint is the leader would.
  const ordered = [`http://${victim}:${ETCD_CLIENT_PORT}`, ...endpoints.filter((ep) => !ep.includes(`//${victim}:`))];
  const prefix = `${etcdPrefix(c)}/e2e-drill-${Date.now()}`;
  e2e.log(`etcd: leader ${victim} on ${node}; writing under ${prefix}`);

  const writer = await runClient(e2e, "etcd-writer", { endpoints: ordered, prefix });
  await writer.waitFor((e) => e.event === "started", 30_000);
  await sleep(5_000);
  const tStop = await e2e.stopNode(node);
  await sleep(20_000);
  const result = await writer.finish(180_000);
  e2e.log(`etcd: ${asNumber(result.written)} writes, ${failuresAfter(writer.events, tStop)} outages after the stop, longest gap ${asNumber(result.max_gap_s)} s`);

  await e2e.startNode(node);
  await e2e.waitConverged(`etcd: ${node} back`, RECONVERGE_MS);
  return {
    figures: [figure("etcd_write_gap_s", asNumber(result.max_gap_s), "s")],
    stoppedMember: victim,
    written: asNumber(result.written),
    missing: asNumber(result.missing_after),
  };
}

// ------------------------------------------------------------------ Swarm

export interface SwarmOutcome {
  readonly figures: Figure[];
  readonly oldLeader: string;
  readonly newLeader: string;
  /** Replicated services that had a task on the stopped node and are not pinned to it. */
  readonly movable: string[];
  readonly rescheduled: boolean;
}

interface NodeLine {
  Hostname: string;
  ManagerStatus: string;
  Status: string;
}

async function nodeList(e2e: E2e, on: string): Promise<NodeLine[] | undefined> {
  const r = await e2e.swarm.docker(on, ["node", "ls", "--format", "{{json .}}"], { timeoutMs: 5_000 });
  if (r.code !== 0) return undefined;
  return r.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as NodeLine);
}

function isMovable(spec: ServiceSpec): boolean {
  return "replicas" in spec.mode && !spec.placement.constraints.some((c) => c.startsWith("node.hostname"));
}

export async function swarmDrill(e2e: E2e): Promise<SwarmOutcome> {
  const prefix = e2e.stack.config.namePrefix;
  const managers = e2e.stack.topology.managers.map((m) => m.name);
  const listed = await nodeList(e2e, managers[0]) ?? (await nodeList(e2e, managers[1])) ?? [];
  const oldLeader = listed.find((n) => n.ManagerStatus === "Leader")?.Hostname;
  if (!oldLeader) throw new Error(`no Swarm leader before the drill: ${JSON.stringify(listed)}`);
  const others = managers.filter((m) => m !== oldLeader);

  // Replicated, unpinned services with a task on the leader's node: Swarm must move them.
  const movable: string[] = [];
  for (const spec of e2e.stack.deployed.services.filter(isMovable)) {
    const ps = await e2e.swarm.docker(oldLeader, ["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${prefix}_${spec.name}`]);
    if (ps.stdout.trim() !== "") movable.push(spec.name);
  }
  e2e.log(`swarm: stopping the leader ${oldLeader}; tasks to reschedule: ${movable.join(", ") || "none"}`);

  const tStop = await e2e.stopNode(oldLeader);
  let newLeader = "";
  let gap = Number.NaN;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && newLeader === "") {
    for (const m of others) {
      const nodes = await nodeList(e2e, m);
      const leader = nodes?.find((n) => n.ManagerStatus === "Leader" && n.Hostname !== oldLeader);
      if (leader) {
        newLeader = leader.Hostname;
        gap = now() - tStop;
        break;
      }
    }
    if (newLeader === "") await sleep(200);
  }
  if (newLeader === "") throw new Error(`no new Swarm leader within 120 s of stopping ${oldLeader}`);
  e2e.log(`swarm: ${newLeader} leads after ${gap.toFixed(2)} s`);

  // Rescheduling: every movable service back at its desired replicas, none of them on the stopped node.
  let rescheduled = movable.length === 0;
  let rescheduleS = 0;
  const until = Date.now() + 180_000;
  while (!rescheduled && Date.now() < until) {
    const checks = await Promise.all(
      movable.map(async (name) => {
        const ps = await e2e.managerDocker(["service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}\t{{.CurrentState}}", `${prefix}_${name}`]);
        const spec = e2e.stack.deployed.services.find((s) => s.name === name);
        const want = spec && "replicas" in spec.mode ? spec.mode.replicas : 1;
        const running = ps.stdout.trim().split("\n").filter((l) => !l.startsWith(`${oldLeader}\t`) && l.includes("\tRunning"));
        return running.length >= want;
      }),
    );
    if (checks.every(Boolean)) {
      rescheduled = true;
      rescheduleS = now() - tStop;
    } else await sleep(1_000);
  }
  const figures = [figure("swarm_leader_gap_s", gap, "s")];
  if (movable.length > 0) figures.push(figure("swarm_reschedule_s", rescheduleS, "s"));

  await e2e.startNode(oldLeader);
  await e2e.waitConverged(`swarm: ${oldLeader} back`, RECONVERGE_MS);
  return { figures, oldLeader, newLeader, movable, rescheduled };
}
