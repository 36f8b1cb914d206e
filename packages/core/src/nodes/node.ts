import { FlowValidationError } from '../errors.js';
import { checkJoinWiring, type TimeJoinSpec } from './joinOptions.js';

/** Where a node prefers to run. */
export type DeviceType = 'cpu' | 'gpu';

/** The role of a node in the graph. */
export type NodeKind = 'producer' | 'processor' | 'consumer';

/** @internal How a node knows whether the flow it belongs to is still in use (built, not yet finished). */
export interface FlowMembership {
  readonly active: boolean;
}

/** Options every node accepts. */
export interface NodeOptions {
  /** Unique within a flow. Default: class name plus a per-flow counter (`Doubler_1`). */
  readonly name?: string;
}

/** The longest {@link Node.deviceDetail} a task reports; longer ones are cut. */
export const DEVICE_DETAIL_MAX_LENGTH = 64;

/**
 * Base of every node. Holds identity, wiring and the lifecycle hooks; the work itself is defined by
 * {@link ProducerNode}, {@link ProcessorNode} and {@link ConsumerNode}.
 */
export abstract class Node {
  /** The node's role; fixed by its base class. */
  abstract readonly kind: NodeKind;
  readonly #explicitName: string | undefined;
  #assignedName: string | undefined;
  readonly #parents: Node[] = [];
  readonly #children: Node[] = [];
  #wired = false;
  #membership: FlowMembership | undefined;
  #timeJoin: TimeJoinSpec | undefined;

  constructor(options: NodeOptions = {}) {
    checkNodeOptions(options, new.target.name);
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.trim() === '')) {
      throw new FlowValidationError('INVALID_OPTION', `node name must be a non-empty string, got ${String(options.name)}`);
    }
    this.#explicitName = options.name;
  }

  /** The node's name: the one given in options, else the one its flow assigned, else its class name. */
  get name(): string {
    return this.#explicitName ?? this.#assignedName ?? this.constructor.name;
  }

  /** True when the name was given explicitly in the options. */
  get hasExplicitName(): boolean {
    return this.#explicitName !== undefined;
  }

  /** Parents in wiring order: the k-th parent feeds the k-th positional input. */
  get parents(): readonly Node[] {
    return this.#parents;
  }

  /** Children in the order they were wired. */
  get children(): readonly Node[] {
    return this.#children;
  }

  /** Number of tasks (OS processes, for multi-process engines) this node runs as. */
  get nbTasks(): number {
    return 1;
  }

  /** The device this node prefers. */
  get deviceType(): DeviceType {
    return 'cpu';
  }

  /** True when the node cannot run without a GPU (see `gpuOnly` in `@vf/gpu`). */
  get requiresGpu(): boolean {
    return false;
  }

  /** GPU memory one task needs, in MB, when it may share a GPU with other tasks; undefined: a whole GPU. */
  get gpuMemoryMb(): number | undefined {
    return undefined;
  }

  /**
   * What this task really runs on, when its device alone does not say it: e.g. the TensorFlow.js
   * backend it got (`wasm` on a `gpu:0` task whose native binding is missing). Set it in `open()`
   * (or later); it travels with the task's counters, and the report and `flow.liveStats()` show the
   * device as `gpu:0 (wasm)` (`NodeReport.deviceLabel`). Up to 64
   * characters are kept. Default: none.
   *
   * @example
   * ```ts
   * override async open() {
   *   const { tf, backend } = await loadTensorflow(); // @vf/gpu
   *   this.deviceDetail = backend;
   * }
   * ```
   */
  deviceDetail: string | undefined = undefined;

  /**
   * Runs once per task before the first item. Open models, files and sockets here, not in the
   * constructor: the constructor also runs in the parent process, which never processes items.
   */
  open(): void | Promise<void> {}

  /** Runs exactly once per task after the last item, also when the flow is stopped or fails. */
  close(): void | Promise<void> {}

  /** @internal True while a flow that holds this node has not finished: no other flow may take it. */
  get inActiveFlow(): boolean {
    return this.#membership?.active === true;
  }

  /** @internal Used by `Flow` to claim its nodes. */
  joinFlow(membership: FlowMembership): void {
    this.#membership = membership;
  }

  /** The node's time join (`join` option of processors and consumers), if it has one. */
  get timeJoin(): TimeJoinSpec | undefined {
    return this.#timeJoin;
  }

  /** @internal Set once by the constructors that take a `join` option. */
  protected setTimeJoin(spec: TimeJoinSpec | undefined): void {
    this.#timeJoin = spec;
  }

  /** @internal Used by {@link Flow} to give unnamed nodes a per-flow unique name. */
  assignName(name: string): void {
    this.#assignedName = name;
  }

  /**
   * Records the parents of this node, in order, and returns the node, so that
   * `const b = new B().from(a)` reads as data flow.
   */
  from(...parents: Node[]): this {
    if (this.kind === 'producer') {
      throw new FlowValidationError('INVALID_WIRING', `producer "${this.name}" cannot have parents`, {
        details: { node: this.name },
      });
    }
    if (this.#wired) {
      throw new FlowValidationError('WIRED_TWICE', `node "${this.name}" is already wired to ${describe(this.#parents)}`, {
        details: { node: this.name, parents: this.#parents.map((p) => p.name) },
      });
    }
    if (parents.length === 0) {
      throw new FlowValidationError('INVALID_WIRING', `node "${this.name}" must be wired to at least one parent`, {
        details: { node: this.name },
      });
    }
    for (const [index, parent] of parents.entries()) {
      if (!(parent instanceof Node)) {
        throw new FlowValidationError('INVALID_WIRING', `parent ${index} of node "${this.name}" is not a node`, {
          details: { node: this.name, index },
        });
      }
      if (parent.kind === 'consumer') {
        throw new FlowValidationError(
          'INVALID_WIRING',
          `consumer "${parent.name}" cannot feed node "${this.name}": consumers have no children`,
          {
            details: { node: this.name, parent: parent.name },
          },
        );
      }
      if (parent === this) {
        throw new FlowValidationError('CYCLE', `node "${this.name}" cannot be its own parent`, { details: { nodes: [this.name] } });
      }
      if (parent.inActiveFlow) {
        // A new child would change the graph of a flow already built: it would break at run time.
        throw new FlowValidationError(
          'IN_ANOTHER_FLOW',
          `node "${this.name}" cannot be wired to "${parent.name}": "${parent.name}" is in a flow that is built and not finished, whose graph cannot change; build the second flow from new nodes (a flow module's factory makes fresh ones on every call)`,
          { details: { node: this.name, parent: parent.name } },
        );
      }
      if (parents.indexOf(parent) !== index) {
        throw new FlowValidationError('INVALID_WIRING', `node "${this.name}" lists parent "${parent.name}" twice`, {
          details: { node: this.name, parent: parent.name },
        });
      }
    }
    checkJoinWiring(this.#timeJoin, this.name, parents.length);
    this.#wired = true;
    this.#parents.push(...parents);
    for (const parent of parents) parent.#children.push(this);
    return this;
  }

  /** `Name(kind)` for messages. */
  toString(): string {
    return `${this.name} (${this.kind})`;
  }
}

/** `"a", "b"` for error messages. */
export function describe(nodes: readonly Node[]): string {
  return nodes.map((node) => `"${node.name}"`).join(', ');
}

/**
 * Throws `INVALID_OPTION` unless a node's `options` argument is an object (or left out): `null`
 * failed with a bare TypeError reading its `name`, and a number or string was taken as no options.
 */
export function checkNodeOptions(options: unknown, nodeClass: string): void {
  if (options === undefined || (typeof options === 'object' && options !== null && !Array.isArray(options))) return;
  const got = options === null ? 'null' : Array.isArray(options) ? 'an array' : `${typeof options} ${String(options)}`;
  throw new FlowValidationError('INVALID_OPTION', `${nodeClass}: node options must be an object, got ${got}`, {
    details: { option: 'options', value: got },
  });
}

/** Validates the `nbTasks` option; returns the value or throws `INVALID_OPTION`. */
export function validateNbTasks(value: unknown, nodeLabel: string): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new FlowValidationError('INVALID_OPTION', `${nodeLabel}: nbTasks must be a positive integer, got ${String(value)}`, {
      details: { option: 'nbTasks', value: String(value) },
    });
  }
  return value;
}

/** Validates the `deviceType` option; returns the value or throws `INVALID_OPTION`. */
export function validateDeviceType(value: unknown, nodeLabel: string): DeviceType {
  if (value === undefined) return 'cpu';
  if (value !== 'cpu' && value !== 'gpu') {
    throw new FlowValidationError('INVALID_OPTION', `${nodeLabel}: deviceType must be 'cpu' or 'gpu', got ${String(value)}`, {
      details: { option: 'deviceType', value: String(value) },
    });
  }
  return value;
}

/** Validates the `gpuMemoryMb` option; returns the value or throws `INVALID_OPTION`. */
export function validateGpuMemoryMb(value: unknown, nodeLabel: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new FlowValidationError('INVALID_OPTION', `${nodeLabel}: gpuMemoryMb must be a positive number of MB, got ${String(value)}`, {
      details: { option: 'gpuMemoryMb', value: String(value) },
    });
  }
  return value;
}

/** Rejects `nbTasks` other than 1 on nodes that cannot be replicated (producers, consumers). */
export function rejectReplicas(value: unknown, nodeLabel: string): void {
  if (value !== undefined && value !== 1) {
    throw new FlowValidationError(
      'NOT_REPLICABLE',
      `${nodeLabel} cannot be replicated (nbTasks ${String(value)}): producers and consumers always run as one task`,
      {
        details: { option: 'nbTasks', value: String(value) },
      },
    );
  }
}
