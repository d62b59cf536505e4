// The network-fault schedule both network tests run, toward Redis or toward Postgres: a clean
// start, latency and jitter, loss over the latency, a blackhole, then a partition with resets,
// healing after each and checking on the proxy's counters that each fault happened, that the
// roles kept sending meanwhile, and that their traffic came back through the proxy.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { waitFor } from '../../support/context.ts';
import { statsSince, type Delay, type Loss, type PartitionMode, type ProxyStats, type TcpProxy } from './tcp-proxy.ts';

export interface NetworkFaultPlan {
  // Resolves once the pipeline has done more work, naming when in a failure message.
  moving: (what: string) => Promise<void>;
  // Orders sent so far by the test's clients.
  sent: () => number;
  rate: number; // orders a second the clients send
  latency: Delay;
  loss: Loss;
  holdMs: number; // how long latency, and loss, are held at least
  partitionMs: number;
}

export interface NetworkFaultRun {
  slow: ProxyStats;
  slowAt: number; // Date.now() when the latency began
  slowUntil: number; // and when the pipeline had moved on the slow network
  lossy: ProxyStats;
  healedAt: number; // Date.now() at the last heal
  afterCut: ProxyStats; // traffic since the last heal
}

export async function runNetworkFaults(net: TcpProxy, plan: NetworkFaultPlan): Promise<NetworkFaultRun> {
  const phase = (name: string, from: ProxyStats) => {
    const d = statsSince(from, net.stats());
    console.info(`${name}: ${JSON.stringify(d)}`);
    return d;
  };
  // A partition held for partitionMs: what went through the proxy meanwhile, and the orders sent.
  const holdPartition = async (mode: PartitionMode) => {
    const from = net.stats();
    net.partition(mode);
    const sentBefore = plan.sent();
    await sleep(plan.partitionMs); // hold the fault
    return { stats: phase(mode === 'reset' ? 'reset partition' : mode, from), sent: plan.sent() - sentBefore };
  };

  await plan.moving('with the network clean');
  const clean = net.stats();
  // Every role connected through the proxy (api, relay and worker each keep connections).
  expect(clean.accepted).toBeGreaterThanOrEqual(3);
  expect(clean.bytesUp).toBeGreaterThan(0);
  expect(clean.bytesDown).toBeGreaterThan(0);

  // 1. Latency and jitter.
  const slowFrom = net.stats();
  const slowAt = Date.now();
  net.delay('both', plan.latency);
  await sleep(plan.holdMs); // hold the fault
  await plan.moving('on the slow network');
  const slowUntil = Date.now();
  const slow = phase('latency', slowFrom);
  expect(slow.chunksDelayed).toBeGreaterThan(100);

  // 2. Loss: stalled chunks and reset connections, over the latency.
  const lossyFrom = net.stats();
  net.loss(plan.loss);
  await sleep(plan.holdMs); // hold the fault
  await waitFor('the loss to stall chunks and reset connections', () => {
    const d = statsSince(lossyFrom, net.stats());
    return d.chunksStalled >= 10 && d.reset >= 3;
  });
  const lossy = phase('loss', lossyFrom);
  net.calm();
  await plan.moving('once the loss is over');

  // 3. Blackhole: nothing goes through, sockets stay open.
  const { stats: hole, sent: sentDuringHole } = await holdPartition('blackhole');
  // The partition stopped the traffic the roles kept sending, and orders kept arriving.
  expect(hole.bytesUp + hole.bytesDown).toBe(0);
  expect(hole.chunksHeld).toBeGreaterThan(0);
  expect(sentDuringHole).toBeGreaterThan(plan.rate);
  const afterHoleFrom = net.stats();
  net.heal();
  await plan.moving('after the blackhole');
  const afterHole = phase('after the blackhole', afterHoleFrom);
  expect(afterHole.bytesUp).toBeGreaterThan(0);
  expect(afterHole.bytesDown).toBeGreaterThan(0);

  // 4. Partition with resets: every connection reset, every reconnect refused.
  const { stats: cut, sent: sentDuringCut } = await holdPartition('reset');
  expect(cut.reset).toBeGreaterThanOrEqual(3);
  expect(cut.refused).toBeGreaterThan(0); // the roles' drivers kept trying to reconnect
  expect(cut.bytesUp + cut.bytesDown).toBe(0);
  expect(cut.accepted).toBe(0);
  expect(sentDuringCut).toBeGreaterThan(plan.rate);
  const afterCutFrom = net.stats();
  net.heal();
  const healedAt = Date.now();
  await plan.moving('after the reset partition');
  const afterCut = phase('after the reset partition', afterCutFrom);
  // Every role reconnected, through the proxy: new connections, and traffic on them.
  expect(afterCut.accepted).toBeGreaterThanOrEqual(3);
  expect(afterCut.bytesUp).toBeGreaterThan(0);
  expect(afterCut.bytesDown).toBeGreaterThan(0);
  return { slow, slowAt, slowUntil, lossy, healedAt, afterCut };
}
