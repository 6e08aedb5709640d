/**
 * End-to-end drills on a real multi-node Swarm (npm run test:e2e): deploy the platform the
 * program renders for the e2e profile, then break it. Every figure is printed as one JSON
 * line {"figure", "value", "unit"} on stdout; the assertions are the acceptance bar.
 */
import assert from "node:assert/strict";
import { after, test, type TestContext } from "node:test";
import { figure, missingPrerequisite, type E2e, startE2e } from "./harness";
import { etcdDrill, prometheusDrill, rabbitmqDrill, redisDrill, swarmDrill, type Figure } from "./drills";

let e2e: E2e | undefined;
const figures: Figure[] = [];

after(async () => {
  await e2e?.stop();
});

void test("the platform deploys on a real Swarm and survives its drills", { timeout: 1_500_000 }, async (t: TestContext) => {
  const missing = missingPrerequisite();
  if (missing) {
    if (process.env.CI === "true") assert.fail(`CI=true but the end-to-end drills cannot run: ${missing}`);
    t.skip(missing);
    return;
  }
  const begin = Date.now();

  let failed = false;
  const step = async (name: string, body: () => Promise<void>): Promise<void> => {
    await t.test(name, async (st) => {
      if (failed) {
        st.skip("an earlier step failed");
        return;
      }
      try {
        await body();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  };

  await step("1. deploy: images, bare daemons, bootstrap, stack, every service healthy", async () => {
    e2e = await startE2e();
    const timings = e2e.timings;
    figures.push(figure("deploy_converge_s", timings.deploy_converge_s ?? Number.NaN, "s"));
    t.diagnostic(`image build ${timings.image_build_s?.toFixed(1)} s, import ${timings.image_import_s?.toFixed(1)} s, bootstrap ${timings.bootstrap_s?.toFixed(1)} s, deploy to healthy ${timings.deploy_to_healthy_s?.toFixed(1)} s`);
    const state = await e2e.state();
    assert.equal(state.ready, true, `converged: ${JSON.stringify(state)}`);
    assert.equal(state.services.length, e2e.stack.deployed.services.length);
  });

  await step("5. prometheus: every scrape target of the running services is up", async () => {
    if (!e2e) throw new Error("no platform");
    const outcome = await prometheusDrill(e2e);
    figures.push(...outcome.figures);
    assert.deepEqual(outcome.down, [], "targets down");
    for (const job of ["prometheus", "alertmanager", "node-exporter", "redis", "redis-sentinel", "rabbitmq", "etcd"]) {
      assert.ok((outcome.jobs[job] ?? 0) > 0, `job ${job} has targets (${JSON.stringify(outcome.jobs)})`);
    }
    assert.equal(outcome.jobs["node-exporter"], e2e.stack.topology.nodes.length, "one node-exporter target per node");
  });

  await step("2. redis: the master's node stops; confirmed writes survive; it returns as a replica", async () => {
    if (!e2e) throw new Error("no platform");
    const outcome = await redisDrill(e2e);
    figures.push(...outcome.figures);
    assert.ok(outcome.confirmed > 0, "the writer had confirmed writes");
    assert.equal(outcome.lost, 0, "confirmed (WAIT 1) writes lost");
    assert.ok(Number.isFinite(outcome.figures[0].value), "writes succeeded again through the endpoint");
    assert.notEqual(outcome.newMaster, "", "a replica was promoted");
    assert.equal(outcome.rolesAfter[outcome.oldMaster]?.role, "slave", `${outcome.oldMaster} came back as a replica: ${JSON.stringify(outcome.rolesAfter)}`);
    const masters = Object.entries(outcome.rolesAfter).filter(([, r]) => r.role === "master").map(([m]) => m);
    assert.deepEqual(masters, [outcome.newMaster], "exactly one master after the node returned");
  });

  await step("3. rabbitmq: a node stops mid-stream; no confirmed message is lost", async () => {
    if (!e2e) throw new Error("no platform");
    const outcome = await rabbitmqDrill(e2e);
    figures.push(...outcome.figures);
    t.diagnostic(`rabbitmq: queue type ${outcome.queueType}; a durable queue declared without x-queue-type is ${outcome.defaultQueueTypeGives}`);
    assert.equal(outcome.queueType, "quorum");
    assert.ok(outcome.confirmed > 0, "the publisher had confirmed messages");
    assert.equal(outcome.lost, 0, "confirmed messages lost");
  });

  await step("4. etcd: the leader's node stops; writes under the APISIX prefix go on", async () => {
    if (!e2e) throw new Error("no platform");
    const outcome = await etcdDrill(e2e);
    figures.push(...outcome.figures);
    assert.ok(outcome.written > 0, "writes succeeded");
    assert.equal(outcome.missing, 0, "acknowledged etcd writes missing");
    assert.ok(Number.isFinite(outcome.figures[0].value));
  });

  await step("6. swarm: the leading manager stops; another leads, tasks move", async () => {
    if (!e2e) throw new Error("no platform");
    const outcome = await swarmDrill(e2e);
    figures.push(...outcome.figures);
    assert.notEqual(outcome.newLeader, outcome.oldLeader);
    assert.ok(outcome.rescheduled, `replicated tasks of ${outcome.movable.join(", ")} were rescheduled`);
  });

  if (!failed) {
    figures.push(figure("e2e_total_s", (Date.now() - begin) / 1000, "s"));
    t.diagnostic(`figures: ${JSON.stringify(figures)}`);
  }
});
