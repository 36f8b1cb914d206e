import { describe, expect, it } from 'vitest';
import type { Launcher } from '../contracts/spawner.js';
import { FlowValidationError } from '../errors.js';
import type { ExecutionPlan } from '../plan/executionPlan.js';
import { captureLogs } from '../testing/captureLogs.js';
import { checkPlacedNodes, checkPlacement, tcpBindEndpoint } from './placement.js';

const launcher: Launcher = {
  address: '10.0.0.2',
  description: 'test',
  spawn: () => {
    throw new Error('not started in these tests');
  },
};

function refusal(action: () => unknown): FlowValidationError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(FlowValidationError);
    return error as FlowValidationError;
  }
  throw new Error('expected a FlowValidationError');
}

describe('placement of nodes on other machines', () => {
  it('without placement: ipc, no CURVE, unless asked for', () => {
    expect(checkPlacement('E', {})).toEqual({ placement: {}, transport: 'ipc', curve: false });
    expect(checkPlacement('E', { transport: 'ipc', curve: true })).toMatchObject({ transport: 'ipc', curve: true });
  });

  it("tcp: CURVE unless opted out with curve: false, which warns once per process (logged, as vf's other warnings)", () => {
    const logs = captureLogs();
    try {
      const curveOff = () => logs.records.filter((record) => record.code === 'VF_CURVE_OFF').map((record) => String(record.msg));
      expect(checkPlacement('E', { transport: 'tcp' })).toMatchObject({ transport: 'tcp', curve: true });
      expect(curveOff()).toEqual([]);
      expect(checkPlacement('E', { transport: 'tcp', curve: false })).toMatchObject({ transport: 'tcp', curve: false });
      expect(checkPlacement('E', { transport: 'tcp', curve: false })).toMatchObject({ curve: false });
      expect(curveOff()).toEqual([expect.stringMatching(/curve: false sends the flow's data in clear/)]);
    } finally {
      logs.stop();
    }
  });

  it('any remote node implies tcp and CURVE', () => {
    expect(checkPlacement('E', { host: '10.0.0.1', placement: { relay: launcher } })).toMatchObject({ transport: 'tcp', curve: true });
  });

  it('refuses ipc, curve: false, and a host address the remote machine cannot reach', () => {
    expect(refusal(() => checkPlacement('E', { host: '10.0.0.1', transport: 'ipc', placement: { relay: launcher } })).code).toBe(
      'INVALID_OPTION',
    );
    expect(refusal(() => checkPlacement('E', { host: '10.0.0.1', curve: false, placement: { relay: launcher } })).message).toMatch(/CURVE/);
    for (const host of [undefined, '127.0.0.1', 'localhost', '0.0.0.0']) {
      expect(
        refusal(() => checkPlacement('E', { ...(host === undefined ? {} : { host }), placement: { relay: launcher } })).message,
      ).toMatch(/cannot reach/);
    }
  });

  it('refuses loopback and wildcard hosts however written, and takes addresses other machines can reach', () => {
    // Before, a string match let all of these through.
    const written = [
      '[::1]',
      '::ffff:127.0.0.1',
      '[::ffff:127.0.0.1]',
      'LOCALHOST',
      'localhost.',
      'ip6-localhost',
      '0x7f000001',
      '2130706433',
      '0',
      '127.1',
      '[::]',
      'app.localhost',
    ];
    for (const host of written) {
      expect(refusal(() => checkPlacement('E', { host, placement: { relay: launcher } })).message, host).toMatch(/cannot reach/);
    }
    for (const host of ['10.0.0.1', '192.0.2.2', '[fd00::2]', 'fd00::2', 'node17.cluster', '128.0.0.1', '::ffff:10.0.0.1']) {
      expect(checkPlacement('E', { host, placement: { relay: launcher } }), host).toMatchObject({ transport: 'tcp', curve: true });
    }
  });

  it('refuses a placement that is not a launcher', () => {
    expect(refusal(() => checkPlacement('E', { host: '10.0.0.1', placement: { relay: { host: 'x' } } })).message).toMatch(
      /"relay" is not a launcher/,
    );
    expect(refusal(() => checkPlacement('E', { placement: [] })).code).toBe('INVALID_OPTION');
  });

  it('an unknown node name is refused, naming it', () => {
    const plan = { nodes: [{ name: 'numbers' }, { name: 'relay' }] } as unknown as ExecutionPlan;
    expect(() => checkPlacedNodes('E', { relay: launcher }, plan)).not.toThrow();
    const error = refusal(() => checkPlacedNodes('E', { realy: launcher }, plan));
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain('"realy"');
    expect(error.details).toEqual({ node: 'realy' });
  });

  it('tasks bind any port on their own machine', () => {
    const spec = { nodeName: 'relay' } as Parameters<typeof tcpBindEndpoint>[0];
    expect(tcpBindEndpoint(spec, { relay: launcher }, '10.0.0.1')).toBe('tcp://10.0.0.2:*');
    expect(tcpBindEndpoint({ ...spec, nodeName: 'sink' }, { relay: launcher }, '10.0.0.1')).toBe('tcp://10.0.0.1:*');
  });
});
