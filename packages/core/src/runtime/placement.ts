import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Launcher } from '../contracts/spawner.js';
import { FlowValidationError } from '../errors.js';
import type { ExecutionPlan, TaskSpec } from '../plan/executionPlan.js';
import { emitWarningOnce } from '../warnings.js';

/** Node name → the launcher that starts that node's tasks on another machine. */
export type Placement = Readonly<Record<string, Launcher>>;

/** The transport settings a placement implies, checked. */
export interface PlacementSettings {
  readonly placement: Placement;
  readonly transport: 'ipc' | 'tcp';
  readonly curve: boolean;
}

/**
 * Checks the multi-host options of a process engine and derives its transport. Any node placed on
 * another machine makes the whole flow use `tcp://` (an `ipc://` socket cannot be reached from
 * there) with CURVE on every socket (traffic leaves the machine); local tasks then bind `host`, which
 * must be an address the remote machines can reach, so loopback and wildcard addresses are refused.
 * Every `tcp` run uses CURVE unless the user opts out with `curve: false` (a warning, once): a TCP
 * port, even on loopback, is open to every user of the machine.
 */
export function checkPlacement(
  engine: string,
  options: { readonly placement?: unknown; readonly transport?: unknown; readonly curve?: unknown; readonly host?: string },
): PlacementSettings {
  const placement = options.placement ?? {};
  if (typeof placement !== 'object' || placement === null || Array.isArray(placement)) {
    throw new FlowValidationError('INVALID_OPTION', `${engine}: placement must map node names to launchers (sshLauncher, srunLauncher)`);
  }
  for (const [name, launcher] of Object.entries(placement)) {
    const candidate = launcher as Partial<Launcher> | null;
    if (typeof candidate?.spawn !== 'function' || typeof candidate.address !== 'string' || candidate.address === '') {
      throw new FlowValidationError(
        'INVALID_OPTION',
        `${engine}: placement of node "${name}" is not a launcher (sshLauncher, srunLauncher)`,
        {
          details: { node: name },
        },
      );
    }
  }
  const remote = Object.keys(placement).length > 0;
  if (remote && options.transport === 'ipc') {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `${engine}: transport 'ipc' cannot reach tasks on other machines: leave transport unset or use 'tcp'`,
    );
  }
  const transport = (options.transport as 'ipc' | 'tcp' | undefined) ?? (remote ? 'tcp' : 'ipc');
  const curve = options.curve ?? transport === 'tcp';
  if (typeof curve !== 'boolean')
    throw new FlowValidationError('INVALID_OPTION', `${engine}: curve must be a boolean, got ${String(curve)}`);
  if (remote && !curve) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `${engine}: a flow with tasks on other machines always uses CURVE: curve: false is refused`,
    );
  }
  const host = options.host ?? '127.0.0.1';
  if (remote && unreachableFromElsewhere(host)) {
    throw new FlowValidationError(
      'INVALID_OPTION',
      `${engine}: host is ${JSON.stringify(host)}, which the machines in placement cannot reach: set host to this machine's address on their network`,
    );
  }
  if (transport === 'tcp' && !curve) warnCurveOff(engine);
  return { placement: placement as Placement, transport, curve };
}

/** Once per process: a tcp run without CURVE lets anyone who reaches its ports read its data. */
function warnCurveOff(engine: string): void {
  emitWarningOnce(
    `${engine}: transport 'tcp' with curve: false sends the flow's data in clear, readable by anyone who reaches its ports (strangers still cannot join: every task proves it belongs to the run); leave curve unset to encrypt`,
    { code: 'VF_CURVE_OFF' },
  );
}

/** Loopback and wildcard addresses, IPv4-mapped IPv6 ones included. */
const UNREACHABLE = new BlockList();
UNREACHABLE.addSubnet('127.0.0.0', 8, 'ipv4');
UNREACHABLE.addAddress('0.0.0.0', 'ipv4');
UNREACHABLE.addAddress('::1', 'ipv6');
UNREACHABLE.addAddress('::', 'ipv6');
UNREACHABLE.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
UNREACHABLE.addAddress('::ffff:0.0.0.0', 'ipv6');
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', '*']);

/**
 * Whether `host` names this machine only (loopback) or no address (a wildcard), however written:
 * `[::1]`, `LOCALHOST.`, `::ffff:127.0.0.1`, and the IPv4 forms the resolver also takes (`0`,
 * `2130706433`, `0x7f000001`, `127.1`). The URL host parser reads those forms (WHATWG's IPv4
 * parser is inet_aton's) and lowercases names.
 */
function unreachableFromElsewhere(host: string): boolean {
  const given = host.trim().replace(/^\[(.*)\]$/, '$1');
  let name: string;
  try {
    name = new URL(`http://${isIPv6(given) ? `[${given}]` : given}`).hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  } catch {
    return false;
  }
  if (LOOPBACK_NAMES.has(name) || name.endsWith('.localhost')) return true;
  if (isIPv6(name)) return UNREACHABLE.check(name, 'ipv6');
  return isIPv4(name) && UNREACHABLE.check(name, 'ipv4');
}

/** Refuses placement entries that name no node of the flow (a typo would silently run locally). */
export function checkPlacedNodes(engine: string, placement: Placement, plan: ExecutionPlan): void {
  const names = new Set(plan.nodes.map((node) => node.name));
  for (const name of Object.keys(placement)) {
    if (!names.has(name)) {
      throw new FlowValidationError(
        'INVALID_OPTION',
        `${engine}: placement names node "${name}", which is not in the flow (nodes: ${[...names].map((n) => `"${n}"`).join(', ')})`,
        { details: { node: name } },
      );
    }
  }
}

/** Where a task binds with `tcp`: its machine's address, any port (ZeroMQ picks one; the task reports it). */
export function tcpBindEndpoint(spec: TaskSpec, placement: Placement, host: string): string {
  return `tcp://${placement[spec.nodeName]?.address ?? host}:*`;
}
