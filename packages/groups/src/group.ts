import type { Directives } from './directives.js';
import { GroupsError } from './errors.js';
import type { FlowOperation } from './operation.js';

/** Options of `project.makeGroup()`. */
export interface GroupOptions {
  /** Extra arguments for the `run` command in submission scripts of this group, e.g. `['--parallel', '2']`. */
  readonly submitOptions?: readonly string[];
  /** Extra arguments for the `exec` command that runs a forked operation of this group. */
  readonly runOptions?: readonly string[];
}

/** An operation's membership of a group, with group-specific directives: what `group.with()` returns. */
export interface GroupMembership {
  readonly group: FlowGroup;
  /** Replace the operation's own directives inside this group (they are not merged). */
  readonly directives?: Directives;
}

interface Member {
  readonly operation: FlowOperation;
  readonly directives: Directives | undefined;
}

/** Names of groups and operations: used in cluster job names and on command lines. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Checks a group or operation name; throws `GROUP_DEFINITION`. */
export function checkName(kind: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new GroupsError(
      'GROUP_DEFINITION',
      `${kind} name ${JSON.stringify(name)} is invalid: use letters, digits, "_", "." and "-", starting with a letter or "_"`,
    );
  }
  return name;
}

/**
 * A FlowGroup: operations run (and submitted) together, each with the directives it has in this
 * group. Every operation is also a singleton group of its own name. A group is eligible for a job
 * when at least one member is, and complete when all are.
 */
export class FlowGroup {
  readonly #members = new Map<string, Member>();
  readonly #resolve: (operation: unknown) => FlowOperation;

  /** @internal Made by `project.makeGroup()` or `project.operation()` (singletons). */
  constructor(
    readonly name: string,
    readonly options: GroupOptions,
    /** True for the group every operation forms alone. */
    readonly singleton: boolean,
    resolve: (operation: unknown) => FlowOperation,
  ) {
    this.#resolve = resolve;
  }

  /** A membership with group-specific directives, for `project.operation(..., { groups: [group.with(...)] })`. */
  with(options: { readonly directives?: Directives } = {}): GroupMembership {
    return { group: this, ...(options.directives === undefined ? {} : { directives: options.directives }) };
  }

  /**
   * Adds an operation already defined (by handle or name), optionally with group-specific directives.
   * Throws `GROUP_DEFINITION` for something that is not an operation of this project, or one added twice.
   */
  add(operation: FlowOperation | string, options: { readonly directives?: Directives } = {}): this {
    const resolved = this.#resolve(operation);
    if (this.singleton && this.#members.size > 0) {
      throw new GroupsError('GROUP_DEFINITION', `"${this.name}" is the singleton group of an operation: nothing can join it`);
    }
    if (this.#members.has(resolved.name)) {
      throw new GroupsError('GROUP_DEFINITION', `operation "${resolved.name}" was added to group "${this.name}" twice`, {
        details: { group: this.name, operation: resolved.name },
      });
    }
    this.#members.set(resolved.name, { operation: resolved, directives: options.directives });
    return this;
  }

  /** The member operations, in the order they joined. */
  get operations(): readonly FlowOperation[] {
    return [...this.#members.values()].map((member) => member.operation);
  }

  /** Names of the member operations. */
  get operationNames(): readonly string[] {
    return [...this.#members.keys()];
  }

  /** True when `operation` is a member. */
  includes(operation: string): boolean {
    return this.#members.has(operation);
  }

  /** The directives `operation` runs with in this group: the group-specific ones, else its own. */
  directivesOf(operation: string): Directives {
    const member = this.#members.get(operation);
    if (member === undefined) throw new GroupsError('NOT_FOUND', `operation "${operation}" is not in group "${this.name}"`);
    return member.directives ?? member.operation.directives;
  }
}

/** A group run on one job: which of its operations, on which job. */
export interface GroupJob {
  readonly group: string;
  readonly job: string;
  readonly operations: readonly string[];
}

/** `ex (op1, op2) on job <id>`, or `op1 on job <id>` for a singleton group. */
export function describeGroupJob(entry: GroupJob): string {
  const members = entry.operations.length === 1 && entry.operations[0] === entry.group ? '' : ` (${entry.operations.join(', ')})`;
  return `${entry.group}${members} on job ${entry.job}`;
}
