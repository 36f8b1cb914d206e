import { describe, expect, it } from 'vitest';
import { Flow } from '../flow/flow.js';
import { FileAppenderConsumer, IdentityProcessor, IntProducer, JoinerProcessor } from '../nodes.js';
import { captureLogs } from '../testing/captureLogs.js';
import { unrelatedOriginJoins } from './originJoins.js';

const byTime = { mode: 'time', toleranceMs: 25 } as const;

/** The flow's unrelated origin joins, as `[join, grouped parent, other parent, time join]` names. */
function found(flow: Flow): string[][] {
  return unrelatedOriginJoins(flow.nodes).map(({ node, grouped, other, timeJoin }) => [node.name, grouped.name, other.name, timeJoin.name]);
}

describe('unrelatedOriginJoins', () => {
  it("finds a join by origin of a time join's output with a stream that time join reads, directly or through other nodes", () => {
    const camera = new IntProducer(0, 9, { name: 'camera' });
    const relay = new IdentityProcessor({ name: 'relay' }).from(camera);
    const grouped = new JoinerProcessor({ name: 'grouped', join: byTime }).from(camera, relay);
    const after = new IdentityProcessor({ name: 'after' }).from(grouped);
    const direct = new JoinerProcessor({ name: 'direct' }).from(grouped, camera);
    const through = new JoinerProcessor({ name: 'through' }).from(relay, after);
    const sink = new FileAppenderConsumer('/dev/null', { name: 'sink' }).from(direct, through);
    expect(found(new Flow([camera], [sink]))).toEqual([
      ['direct', 'grouped', 'camera', 'grouped'],
      ['through', 'after', 'relay', 'grouped'],
      // direct carries camera's seqs and grouped's, through too: the same on both sides.
    ]);
  });

  it('leaves alone joins whose seqs count the same thing: independent producers, a time join with its own output, a zip with one of its producers', () => {
    const left = new IntProducer(0, 9, { name: 'left' });
    const right = new IntProducer(0, 9, { name: 'right' });
    const zip = new JoinerProcessor({ name: 'zip' }).from(left, right);
    const zipAgain = new JoinerProcessor({ name: 'zipAgain' }).from(zip, left);
    const grouped = new JoinerProcessor({ name: 'grouped', join: byTime }).from(left, right);
    const relayed = new IdentityProcessor({ name: 'relayed' }).from(grouped);
    const own = new JoinerProcessor({ name: 'own' }).from(grouped, relayed);
    const sink = new FileAppenderConsumer('/dev/null', { name: 'sink', join: byTime }).from(zipAgain, own);
    expect(found(new Flow([left, right], [sink]))).toEqual([]);
  });

  it('is logged once as a coded warning when the flow is built', () => {
    const logs = captureLogs('warn');
    try {
      const camera = new IntProducer(0, 9, { name: 'camera' });
      const grouped = new JoinerProcessor({ name: 'grouped', join: byTime }).from(
        camera,
        new IdentityProcessor({ name: 'relay' }).from(camera),
      );
      new Flow([camera], [new FileAppenderConsumer('/dev/null', { name: 'pairs' }).from(grouped, camera)]);
    } finally {
      logs.stop();
    }
    const warnings = logs.records.filter((record) => record.code === 'VF_JOIN_UNRELATED_ORIGINS');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('"pairs" joins "grouped" and "camera" by origin');
    expect(warnings[0]?.msg).toContain("join: { mode: 'time'");
  });
});
