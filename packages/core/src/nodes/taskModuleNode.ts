import { FlowValidationError } from '../errors.js';
import { topologicalSort } from '../graph/topologicalSort.js';
import { assignNames } from '../graph/validateGraph.js';
import { emitWarningOnce } from '../warnings.js';
import { checkNodeOptions, describe, type Node, validateNbTasks } from './node.js';
import { OneTaskProcessorNode, ProcessorNode } from './processorNode.js';

/**
 * What became of one member's `process()` under its `onError` policy: its output, or the item given
 * up (`marker`: what the task publishes in the module's output's place).
 */
export type MemberOutcome = { readonly done: true; readonly value: unknown } | { readonly done: false; readonly marker: unknown };

/**
 * Runs `call` (one member's `process()` on `args`, its own inputs) under that member's `onError`
 * policy. Given by the task loop to {@link TaskModuleNode.processGuarded}.
 */
export type MemberAttempt = (member: ProcessorNode, args: readonly unknown[], call: () => unknown) => Promise<MemberOutcome>;

/** Options of a {@link TaskModuleNode}. */
export interface TaskModuleOptions {
  readonly name?: string;
  /** Replicas of the whole module. Forced to 1 when the module holds a one-task processor. */
  readonly nbTasks?: number;
}

/**
 * Fuses a CPU-only sub-graph of processors, from `entry` down to `exit`, into one task: the items
 * flow through the sub-graph by plain function calls, with no messaging in between. The module is
 * then wired like any processor; its parents feed `entry`, and `exit`'s output is its output.
 *
 * @example
 * ```ts
 * const entry = new Resize();
 * const exit = new Normalize().from(entry);
 * const module = new TaskModuleNode(entry, exit, { nbTasks: 2 }).from(reader);
 * ```
 */
export class TaskModuleNode<TIn extends unknown[] = unknown[], TOut = unknown> extends ProcessorNode<TIn, TOut> {
  /** The module's processors in the order they run for each item. */
  readonly members: readonly ProcessorNode[];
  readonly entry: ProcessorNode;
  readonly exit: ProcessorNode;

  // Typed so that any processor fits: `ProcessorNode` alone means `ProcessorNode<unknown[], unknown>`,
  // which a processor with typed inputs (`ProcessorNode<[Frame], Frame>`) is not assignable to.
  constructor(entry: ProcessorNode<TIn, unknown>, exit: ProcessorNode<never, TOut>, options: TaskModuleOptions = {}) {
    checkNodeOptions(options, new.target.name);
    const label = `task module "${options.name ?? 'TaskModuleNode'}"`;
    const members = collectMembers(entry as ProcessorNode, exit as ProcessorNode, label);
    // Members are not nodes of the flow, which names only its own: a member's name must still say
    // which one it is (its dead letters and log lines carry it).
    assignNames(members, label);
    for (const member of members) {
      if (member.nbTasks === 1) continue;
      // Every item goes through the whole module in one task: its members run as many tasks as it does.
      emitWarningOnce(
        `${label}: member "${member.name}" asks for nbTasks ${member.nbTasks}, which is ignored inside a module; set nbTasks on the module`,
        {
          code: 'VF_NBTASKS_IGNORED',
        },
      );
    }
    const stateful = members.some((member) => member instanceof OneTaskProcessorNode);
    const requested = validateNbTasks(options.nbTasks, label);
    if (stateful && requested !== 1) {
      emitWarningOnce(`${label} holds a one-task processor: nbTasks ${requested} is ignored`, {
        code: 'VF_NBTASKS_IGNORED',
      });
    }
    super({ ...(options.name === undefined ? {} : { name: options.name }), nbTasks: stateful ? 1 : requested });
    this.entry = entry as ProcessorNode;
    this.exit = exit as ProcessorNode;
    this.members = members;
  }

  override async open(): Promise<void> {
    for (const member of this.members) await member.open();
  }

  override async close(): Promise<void> {
    // Close every member even if one throws; report the first failure.
    let failure: unknown;
    for (const member of [...this.members].reverse()) {
      try {
        await member.close();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * The members whose `onError` is not `'fail'`: the task loop applies their policies ({@link processGuarded}).
   * @internal
   */
  get guardedMembers(): readonly ProcessorNode[] {
    return this.members.filter((member) => member.errorPolicy.mode !== 'fail');
  }

  /**
   * {@link process} as a task runs it: each member's call goes through `attempt`, which applies the
   * member's own `onError`; the first member to give up on the item ends it there (the members after
   * it do not run), and its outcome is the module's.
   * @internal
   */
  async processGuarded(inputs: readonly unknown[], attempt: MemberAttempt): Promise<MemberOutcome> {
    const outputs = new Map<Node, unknown>();
    for (const member of this.members) {
      const args = member === this.entry ? inputs : member.parents.map((parent) => outputs.get(parent));
      const outcome = await attempt(member, args, () => member.process(...args));
      if (!outcome.done) return outcome;
      outputs.set(member, outcome.value);
    }
    return { done: true, value: outputs.get(this.exit) };
  }

  /** Runs the members on one item by plain calls; a member that throws throws here (its `onError` applies only in a task: {@link processGuarded}). */
  async process(...inputs: TIn): Promise<TOut> {
    // Every member called as it is: nothing is given up, a throw propagates.
    const outcome = await this.processGuarded(inputs, async (_member, _args, call) => ({ done: true, value: await call() }));
    return (outcome as { value: unknown }).value as TOut;
  }
}

function collectMembers(entry: ProcessorNode, exit: ProcessorNode, label: string): ProcessorNode[] {
  for (const [role, node] of [
    ['entry', entry],
    ['exit', exit],
  ] as const) {
    if (!(node instanceof ProcessorNode)) {
      throw new FlowValidationError('INVALID_WIRING', `${label}: ${role} must be a processor node`);
    }
  }
  if (entry.parents.length > 0) {
    throw new FlowValidationError('INVALID_WIRING', `${label}: entry "${entry.name}" must not be wired; wire the module instead`, {
      details: { node: entry.name },
    });
  }
  if (exit.children.length > 0) {
    throw new FlowValidationError(
      'INVALID_WIRING',
      `${label}: exit "${exit.name}" must not have children; wire them to the module instead`,
      {
        details: { node: exit.name },
      },
    );
  }
  const sorted = topologicalSort([entry]);
  if (sorted.cycle.length > 0) {
    throw new FlowValidationError('CYCLE', `${label}: cycle through ${describe(sorted.cycle)}`, {
      details: { nodes: sorted.cycle.map((node) => node.name) },
    });
  }
  if (!sorted.order.includes(exit)) {
    throw new FlowValidationError('UNREACHABLE', `${label}: exit "${exit.name}" is not reachable from entry "${entry.name}"`, {
      details: { nodes: [entry.name, exit.name] },
    });
  }
  const members = sorted.order;
  const memberSet = new Set<Node>(members);
  for (const member of members) {
    if (!(member instanceof ProcessorNode)) {
      throw new FlowValidationError('INVALID_WIRING', `${label}: "${member.name}" is a ${member.kind}; a module holds processors only`, {
        details: { node: member.name },
      });
    }
    if (member.deviceType !== 'cpu' || member.requiresGpu) {
      throw new FlowValidationError('INVALID_OPTION', `${label}: "${member.name}" asks for a GPU; a task module is CPU-only`, {
        details: { node: member.name },
      });
    }
    if (member.timeJoin !== undefined) {
      // Members run by plain calls, one item through the whole module at a time: nothing to group by time.
      throw new FlowValidationError('INVALID_OPTION', `${label}: "${member.name}" has a time join; put it outside the module`, {
        details: { node: member.name, option: 'join' },
      });
    }
    if (member !== exit && member.children.length === 0) {
      throw new FlowValidationError(
        'INVALID_WIRING',
        `${label}: "${member.name}" leads nowhere; every member must lead to exit "${exit.name}"`,
        {
          details: { node: member.name },
        },
      );
    }
    const outside = member.parents.filter((parent) => !memberSet.has(parent));
    if (outside.length > 0) {
      throw new FlowValidationError('INVALID_WIRING', `${label}: "${member.name}" has parents outside the module: ${describe(outside)}`, {
        details: { node: member.name, parents: outside.map((parent) => parent.name) },
      });
    }
  }
  return members as ProcessorNode[];
}
