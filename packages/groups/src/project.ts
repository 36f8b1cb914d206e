import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExecutionEngine, FlowReport } from '@vf/core';
import type { DeviceAllocator } from '@vf/core/engine';
import { onExit } from 'signal-exit';
import { type Aggregator, aggregateId } from './aggregator.js';
import { runCli } from './cli.js';
import type { Condition, ConditionContext } from './conditions.js';
import { combineDirectives, type Directives, type ResolvedDirectives, resolveDirectives } from './directives.js';
import { GroupsError, requirePositiveInteger } from './errors.js';
import { type JobFilter, jobMatcher } from './filter.js';
import { type FlowBudget, flowBudget, GpuPool, runFlowWithBudget } from './flowBudget.js';
import { checkName, describeGroupJob, FlowGroup, type GroupJob, type GroupMembership, type GroupOptions } from './group.js';
import { type Hooks, withHooks } from './hooks.js';
import { tryLock } from './locks.js';
import { setLongTimeout } from './longTimeout.js';
import { FlowOperation, type OperationContext, type OperationFunction, type OperationOptions } from './operation.js';
import { detectScheduler, SCHEDULERS, type SchedulerName } from './schedulers/detectScheduler.js';
import type { Scheduler } from './schedulers/scheduler.js';
import { projectStatus, type StatusOptions, type StatusReport, type Submission, type SubmitOptions, submitGroups } from './submission.js';
import { type ScriptTemplates, shellQuote } from './templates/renderScript.js';
import { type Job, removeStaleTemporaries, type Statepoint, Workspace } from './workspace.js';

/** Set in a forked operation's environment to `<operation>/<job id>`: its parent holds that operation's lock. */
const LOCK_HELD_ENV = 'VF_GROUPS_LOCK_HELD';

/** Where the CLI and long-running calls write. */
export interface Output {
  write(text: string): unknown;
}

/**
 * A label function (signac-flow's `@FlowProject.label`): `true` gives the job the label's name,
 * a string gives it that string, anything falsy no label.
 */
export type LabelFunction = (job: Job) => boolean | string | null | undefined | Promise<boolean | string | null | undefined>;

/** A pre- or post-condition of an aggregate operation: a predicate on its jobs. */
export type AggregateCondition = (jobs: readonly Job[], context: ConditionContext) => boolean | Promise<boolean>;

/** Lifts a job condition to aggregates: it holds when it holds for every job of the aggregate. */
export function everyJob(condition: Condition): AggregateCondition {
  return async (jobs, context) => {
    for (const job of jobs) if (!(await condition(job, context))) return false;
    return true;
  };
}

/** Options of `project.aggregateOperation()`. */
export interface AggregateOperationOptions {
  /** Only `np`, `ngpu` and the like matter: aggregate operations run in the `run` process, never forked. */
  readonly directives?: OperationOptions['directives'];
  readonly pre?: readonly AggregateCondition[];
  readonly post?: readonly AggregateCondition[];
  readonly hooks?: Hooks;
}

/** The body of an aggregate operation: all the jobs of one aggregate. */
export type AggregateFunction = (jobs: readonly Job[], context: OperationContext) => void | Promise<void>;

interface AggregateOperation {
  readonly name: string;
  readonly aggregator: Aggregator;
  readonly fn: AggregateFunction;
  readonly options: AggregateOperationOptions;
}

/** An aggregate operation's line in `status`: counts over its aggregates of the selected jobs. */
export interface AggregateStatus {
  readonly name: string;
  readonly aggregator: string;
  readonly aggregates: number;
  readonly eligible: number;
  readonly complete: number;
}

/** Options of `new FlowProject()`. */
export interface FlowProjectOptions {
  /** The project's folder; the workspace is `<root>/workspace`. */
  readonly root: string;
  /** Used in cluster job names (default: the root folder's name, made safe). */
  readonly name?: string;
  /** The workspace folder (default `<root>/workspace`). */
  readonly workspace?: string;
  /** The project script that scheduler scripts and forked operations run (default: `process.argv[1]`). */
  readonly script?: string;
  /** Default of the `executable` directive (default: this Node.js with this process's `execArgv`, e.g. a loader). */
  readonly executable?: string;
  /** The scheduler for `submit` and `status`: a name, an instance, or undefined to detect it (see `detectScheduler`). */
  readonly scheduler?: Scheduler | SchedulerName;
  /** Script templates replaced or added by name (`base`, `slurm`, `pbs`, `lsf`). */
  readonly templates?: ScriptTemplates;
  /** Builds the engine of flows run by operations (default: core's `InProcessEngine`). */
  readonly flowEngine?: (budget: FlowBudget) => ExecutionEngine;
  /** Builds the device allocator of flows run by operations (default: core's CPU-only one); always capped by the budget. */
  readonly deviceAllocator?: (budget: FlowBudget) => DeviceAllocator;
  /** Project hooks, called around every operation after the operation's own (see {@link Hooks}). */
  readonly hooks?: Hooks;
  /** Where output goes (default: the process's). */
  readonly stdout?: Output;
  readonly stderr?: Output;
}

/** One operation run by `run` or `exec`. */
export interface RunRecord {
  readonly pass: number;
  readonly group: string;
  readonly operation: string;
  readonly job: string;
}

/** Which groups on which jobs: the `-o` and `-j` of the command line. */
export interface Selection {
  /** Regular expressions selecting groups by full name (default: every operation's singleton group). */
  readonly operations?: readonly string[];
  /** Job ids or unique prefixes (default: every job). Not with `filter` or `docFilter`. */
  readonly jobs?: readonly string[];
  /** Only jobs whose state point matches (signac's filter language, `-f`); see {@link JobFilter}. */
  readonly filter?: JobFilter;
  /** Only jobs whose document matches (`--doc-filter`). */
  readonly docFilter?: JobFilter;
}

/** Conditions `run` and `submit` may ignore when deciding what is eligible (signac-flow's `--ignore-conditions`). */
export type IgnoreConditions = 'none' | 'pre' | 'post' | 'all';

/** Options of {@link FlowProject.run}. */
export interface RunOptions extends Selection {
  /** Stop after this many passes (default: until nothing selected is eligible). */
  readonly numPasses?: number;
  /** Print what would run and run nothing. */
  readonly pretend?: boolean;
  /** Run up to this many groups-on-jobs at once (default 1). */
  readonly parallel?: number;
  /** Run at most this many groups-on-jobs in all (signac-flow's `-n`). */
  readonly num?: number;
  /** Seconds after which one operation is killed (it is forked to be killable, as in signac-flow's `-t`). */
  readonly timeout?: number;
  /** Ignore pre-conditions, post-conditions or both when deciding eligibility (default `'none'`). */
  readonly ignoreConditions?: IgnoreConditions;
  /** Called after each group-on-job ran, with how many of the pass's were done (the CLI's `--progress`). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What {@link FlowProject.run} did. */
export interface RunResult {
  /** Passes that ran something. */
  readonly passes: number;
  readonly executed: readonly RunRecord[];
  /** With `pretend`: what the first pass would run. */
  readonly planned: readonly GroupJob[];
  /** Operations that ran but are still not complete (their post-conditions do not hold). */
  readonly incomplete: readonly RunRecord[];
  /** Operations not run because another process (or machine) was running them on that job. */
  readonly busy: readonly RunRecord[];
}

const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);

/**
 * This Node.js with its `execArgv`, loaders made absolute: Node resolved a bare `--import tsx`
 * from the launch folder, and a scheduler script or forked operation starts elsewhere.
 */
export function defaultExecutable(execArgv: readonly string[] = process.execArgv, cwd = process.cwd()): string {
  const absolute = (specifier: string) => {
    if (/^(\.{0,2}\/|file:|data:|node:)/.test(specifier)) return specifier.startsWith('.') ? resolve(cwd, specifier) : specifier;
    try {
      return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(specifier)).href;
    } catch {
      return specifier;
    }
  };
  const words: string[] = [];
  for (let index = 0; index < execArgv.length; index++) {
    const word = execArgv[index]!;
    const [flag, inline] = word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
    if (!LOADER_FLAGS.has(flag)) words.push(word);
    else if (inline !== undefined) words.push(`${flag}=${absolute(inline)}`);
    else if (index + 1 < execArgv.length) words.push(flag, absolute(execArgv[++index]!));
    else words.push(word);
  }
  return [process.execPath, ...words].map(shellQuote).join(' ');
}

/**
 * A signac-flow style project: a workspace of jobs, operations with conditions and directives,
 * and groups of operations run locally (`run`, `exec`) or submitted to a cluster scheduler.
 *
 * @example
 * ```ts
 * const project = new FlowProject({ root: import.meta.dirname });
 * const ex = project.makeGroup('ex');
 * project.operation('op1', async (job) => writeFileSync(job.fn('done.txt'), 'ok'), {
 *   directives: { ngpu: 1 },
 *   post: [post.isFile('done.txt')],
 *   groups: [ex.with({ directives: { ngpu: 2 } })],
 * });
 * await project.main(process.argv.slice(2));
 * ```
 */
export class FlowProject implements ConditionContext {
  readonly root: string;
  readonly name: string;
  /**
   * The start of this project's cluster job names: `<name>-<8 hex digits of the root's hash>`.
   * Job ids depend only on the state point, so two projects of one name (`study1/project`,
   * `study2/project`) would otherwise take each other's queued jobs for their own.
   */
  readonly clusterPrefix: string;
  readonly workspace: Workspace;
  readonly script: string;
  readonly executable: string;
  /** Script templates replacing or adding to vf's, by name. */
  readonly templates: ScriptTemplates;
  readonly #options: FlowProjectOptions;
  readonly #operations = new Map<string, FlowOperation>();
  readonly #groups = new Map<string, FlowGroup>();
  readonly #labels = new Map<string, LabelFunction>();
  readonly #aggregates = new Map<string, AggregateOperation>();
  readonly #hooks: Hooks[] = [];
  #scheduler: Promise<Scheduler | undefined> | undefined;

  constructor(options: FlowProjectOptions) {
    if (typeof options?.root !== 'string' || options.root === '')
      throw new GroupsError('USAGE', 'new FlowProject({ root }) needs a root folder');
    this.#options = options;
    this.root = resolve(options.root);
    this.name = (options.name ?? basename(this.root)).replace(/[^A-Za-z0-9_-]/g, '_') || 'project';
    this.clusterPrefix = `${this.name}-${createHash('sha1').update(this.root).digest('hex').slice(0, 8)}`;
    this.workspace = new Workspace(resolve(options.workspace ?? join(this.root, 'workspace')));
    this.script = resolve(options.script ?? process.argv[1] ?? 'project.js');
    this.executable = options.executable ?? defaultExecutable();
    this.templates = options.templates ?? {};
    if (options.hooks !== undefined) this.#hooks.push(options.hooks);
  }

  /** Adds project hooks, called around every operation (after the operation's own hooks). */
  addHooks(hooks: Hooks): void {
    this.#hooks.push(hooks);
  }

  /**
   * Defines an aggregate operation (signac-flow's `@aggregator`): it runs once per aggregate of
   * jobs that `aggregator` makes, receiving all of them. It is selected by `run -o` like any
   * operation, runs in the `run` process (never forked, not submitted) and is shown by `status`.
   *
   * @example
   * ```ts
   * project.aggregateOperation('mean', aggregator.groupby('temperature'), (jobs) => {
   *   const mean = jobs.reduce((sum, job) => sum + Number(job.doc.get('energy')), 0) / jobs.length;
   *   for (const job of jobs) job.doc.set('mean_energy', mean);
   * }, { post: [everyJob(post.hasKey('mean_energy'))] });
   * ```
   */
  aggregateOperation(name: string, by: Aggregator, fn: AggregateFunction, options: AggregateOperationOptions = {}): void {
    checkName('operation', name);
    if (typeof fn !== 'function') throw new GroupsError('GROUP_DEFINITION', `aggregate operation "${name}" needs a function`);
    if (typeof by?.aggregate !== 'function') {
      throw new GroupsError(
        'GROUP_DEFINITION',
        `aggregate operation "${name}" needs an aggregator (aggregator.groupby(...), aggregator.groupsof(n), ...)`,
      );
    }
    if (this.#groups.has(name) || this.#aggregates.has(name)) {
      throw new GroupsError('GROUP_DEFINITION', `cannot define aggregate operation "${name}": the name is taken`, { details: { name } });
    }
    this.#aggregates.set(name, { name, aggregator: by, fn, options });
  }

  // ---------------------------------------------------------------- definition

  /**
   * Defines an operation; it is also a singleton group of its own name. Throws `GROUP_DEFINITION`
   * for a name already used by an operation or a group, and for invalid `groups` entries.
   */
  operation(name: string, fn: OperationFunction, options: OperationOptions = {}): FlowOperation {
    checkName('operation', name);
    if (typeof fn !== 'function') throw new GroupsError('GROUP_DEFINITION', `operation "${name}" needs a function`);
    if (this.#groups.has(name) || this.#aggregates.has(name)) {
      const what = this.#operations.has(name) || this.#aggregates.has(name) ? 'an operation' : 'a group';
      throw new GroupsError('GROUP_DEFINITION', `cannot define operation "${name}": ${what} of that name exists`, { details: { name } });
    }
    const operation = new FlowOperation(name, fn, options.directives ?? {}, options.pre ?? [], options.post ?? [], options.hooks ?? {});
    this.#checkDirectives(operation.directives, name);
    this.#operations.set(name, operation);
    const singleton = new FlowGroup(name, {}, true, (ref) => this.#resolveOperation(ref));
    singleton.add(operation);
    this.#groups.set(name, singleton);
    for (const entry of options.groups ?? []) {
      const membership: GroupMembership = entry instanceof FlowGroup ? { group: entry } : entry;
      if (!(membership?.group instanceof FlowGroup) || this.#groups.get(membership.group.name) !== membership.group) {
        throw new GroupsError('GROUP_DEFINITION', `operation "${name}": groups must hold groups made by this project's makeGroup()`);
      }
      if (membership.directives !== undefined) this.#checkDirectives(membership.directives, name, membership.group.name);
      membership.group.add(operation, membership.directives === undefined ? {} : { directives: membership.directives });
    }
    return operation;
  }

  /** Directives without functions are checked at definition, so an invalid one fails before anything runs. */
  #checkDirectives(directives: Directives, operation: string, group?: string): void {
    if (Object.values(directives).some((value) => typeof value === 'function')) return;
    resolveDirectives(directives, { defaultExecutable: this.executable, operation, ...(group === undefined ? {} : { group }) });
  }

  /**
   * Makes a group of several operations. Throws `GROUP_DEFINITION` when an operation or another
   * group has this name.
   */
  makeGroup(name: string, options: GroupOptions = {}): FlowGroup {
    checkName('group', name);
    if (this.#operations.has(name)) {
      throw new GroupsError('GROUP_DEFINITION', `cannot make group "${name}": an operation of that name exists`, { details: { name } });
    }
    if (this.#groups.has(name)) throw new GroupsError('GROUP_DEFINITION', `group "${name}" is defined twice`, { details: { name } });
    const group = new FlowGroup(name, options, false, (ref) => this.#resolveOperation(ref));
    this.#groups.set(name, group);
    return group;
  }

  #resolveOperation(ref: unknown): FlowOperation {
    const name = ref instanceof FlowOperation ? ref.name : ref;
    const found = typeof name === 'string' ? this.#operations.get(name) : undefined;
    if (found === undefined || (ref instanceof FlowOperation && found !== ref)) {
      throw new GroupsError('GROUP_DEFINITION', `${describe(ref)} is not an operation of this project`, {
        details: { name: describe(ref) },
      });
    }
    return found;
  }

  /**
   * Defines a label, shown by `status` for the jobs that have it (signac-flow's labels).
   *
   * @example
   * ```ts
   * project.label('converged', (job) => Number(job.doc.get('residual')) < 1e-6);
   * project.label('phase', (job) => `phase-${job.doc.get('phase') ?? 'unknown'}`);
   * ```
   */
  label(name: string, fn: LabelFunction): void {
    checkName('label', name);
    if (typeof fn !== 'function') throw new GroupsError('GROUP_DEFINITION', `label "${name}" needs a function`);
    if (this.#labels.has(name)) throw new GroupsError('GROUP_DEFINITION', `label "${name}" is defined twice`, { details: { name } });
    this.#labels.set(name, fn);
  }

  /** The labels `job` has, in definition order. */
  async labelsOf(job: Job): Promise<string[]> {
    const labels: string[] = [];
    for (const [name, fn] of this.#labels) {
      const value = await fn(job);
      if (typeof value === 'string' && value !== '') labels.push(value);
      else if (value === true) labels.push(name);
    }
    return labels;
  }

  /** Every operation, in definition order. */
  get operations(): readonly FlowOperation[] {
    return [...this.#operations.values()];
  }

  /** Every group: each operation's singleton group and those from `makeGroup`, in definition order. */
  get groups(): readonly FlowGroup[] {
    return [...this.#groups.values()];
  }

  /** The group (or operation's singleton group) named `name`; throws `NOT_FOUND`. */
  group(name: string): FlowGroup {
    const group = this.#groups.get(name);
    if (group === undefined) {
      throw new GroupsError('NOT_FOUND', `no group or operation named "${name}" (known: ${[...this.#groups.keys()].join(', ')})`);
    }
    return group;
  }

  // ---------------------------------------------------------------- jobs

  /** The job of `statepoint` (created on `job.init()` or the first document write). */
  openJob(statepoint: Statepoint): Job {
    return this.workspace.openJob(statepoint);
  }

  /** The existing job with this id or unique id prefix. */
  openJobById(id: string): Job {
    return this.workspace.openJobById(id);
  }

  /** Every initialised job, by id. */
  jobs(): Job[] {
    return this.workspace.jobs();
  }

  /** Jobs whose state point contains `filter`. */
  findJobs(filter: Statepoint = {}): Job[] {
    return this.workspace.findJobs(filter);
  }

  // ---------------------------------------------------------------- conditions

  /** True when `operation` has post-conditions and all hold for `job`. */
  async isComplete(operation: string, job: Job): Promise<boolean> {
    const op = this.#resolveOperation(operation);
    if (op.post.length === 0) return false;
    for (const condition of op.post) if (!(await condition(job, this))) return false;
    return true;
  }

  /**
   * True when every pre-condition of `operation` holds and it is not complete (signac-flow's rule);
   * `ignore` skips the pre-conditions, the post-conditions or both.
   */
  async isEligible(operation: string, job: Job, ignore: IgnoreConditions = 'none'): Promise<boolean> {
    const op = this.#resolveOperation(operation);
    if (ignore !== 'pre' && ignore !== 'all') for (const condition of op.pre) if (!(await condition(job, this))) return false;
    return ignore === 'post' || ignore === 'all' || !(await this.isComplete(operation, job));
  }

  /** A group is eligible when at least one member is. */
  async isGroupEligible(group: string, job: Job, ignore: IgnoreConditions = 'none'): Promise<boolean> {
    for (const name of this.group(group).operationNames) if (await this.isEligible(name, job, ignore)) return true;
    return false;
  }

  /** A group is complete when every member is. */
  async isGroupComplete(group: string, job: Job): Promise<boolean> {
    for (const name of this.group(group).operationNames) if (!(await this.isComplete(name, job))) return false;
    return true;
  }

  /** The jobs for which `operation` (or a group) is eligible. */
  async next(operation: string): Promise<Job[]> {
    this.group(operation);
    const eligible: Job[] = [];
    for (const job of this.jobs()) if (await this.isGroupEligible(operation, job)) eligible.push(job);
    return eligible;
  }

  // ---------------------------------------------------------------- selection

  /**
   * The groups whose full name matches one of `patterns` (regular expressions); by default every
   * operation's singleton group. Throws `NOT_FOUND` for a pattern matching nothing and
   * `OVERLAPPING_GROUPS` when two selected groups share an operation.
   */
  selectGroups(patterns?: readonly string[]): FlowGroup[] {
    if (patterns === undefined || patterns.length === 0) return this.groups.filter((group) => group.singleton);
    const selected = this.matchGroups(patterns);
    const owner = new Map<string, string>();
    for (const group of selected) {
      for (const operation of group.operationNames) {
        const other = owner.get(operation);
        if (other !== undefined) {
          throw new GroupsError(
            'OVERLAPPING_GROUPS',
            `the selected groups "${other}" and "${group.name}" both contain operation "${operation}": select groups that share no operation`,
            { details: { groups: [other, group.name], operation } },
          );
        }
        owner.set(operation, group.name);
      }
    }
    return selected;
  }

  /**
   * The groups whose full name matches one of `patterns`, overlapping or not (what `status -o`
   * shows). Throws `USAGE` for a pattern that is not a regular expression and `NOT_FOUND` for one
   * matching no group, operation or aggregate operation.
   */
  matchGroups(patterns: readonly string[]): FlowGroup[] {
    const selected = new Set<FlowGroup>();
    for (const pattern of patterns) {
      const regex = patternRegExp(pattern);
      const matches = this.groups.filter((group) => regex.test(group.name));
      if (matches.length === 0 && ![...this.#aggregates.keys()].some((name) => regex.test(name))) {
        throw new GroupsError('NOT_FOUND', `-o ${pattern} matches no group or operation`);
      }
      for (const group of matches) selected.add(group);
    }
    return [...selected];
  }

  /**
   * The jobs with these ids or prefixes, else those matching the filters (default: all). Throws
   * `USAGE` for ids given with a filter (as signac-flow does).
   */
  selectJobs(ids?: readonly string[], filter?: JobFilter, docFilter?: JobFilter): Job[] {
    const filtered = filter !== undefined || docFilter !== undefined;
    if (ids !== undefined && ids.length > 0) {
      if (filtered) throw new GroupsError('USAGE', '-j/--job-id cannot be combined with -f/--filter or --doc-filter: use one or the other');
      return [...new Map(ids.map((id) => this.openJobById(id)).map((job) => [job.id, job])).values()];
    }
    return filtered ? this.jobs().filter(jobMatcher(filter, docFilter)) : this.jobs();
  }

  /** {@link FlowProject.selectJobs} for a {@link Selection}. */
  jobsOf(selection: Selection): Job[] {
    return this.selectJobs(selection.jobs, selection.filter, selection.docFilter);
  }

  /** Names of the aggregate operations `-o patterns` selects (all of them without patterns). */
  aggregateOperationNames(patterns?: readonly string[]): string[] {
    return this.#selectAggregates(patterns).map((op) => op.name);
  }

  /** The aggregate operations `-o patterns` selects (all of them without patterns). */
  #selectAggregates(patterns?: readonly string[]): AggregateOperation[] {
    const all = [...this.#aggregates.values()];
    if (patterns === undefined || patterns.length === 0) return all;
    const regexes = patterns.map(patternRegExp);
    return all.filter((op) => regexes.some((regex) => regex.test(op.name)));
  }

  async #aggregateEligible(op: AggregateOperation, jobs: readonly Job[], ignore: IgnoreConditions): Promise<boolean> {
    if (ignore !== 'pre' && ignore !== 'all')
      for (const condition of op.options.pre ?? []) if (!(await condition(jobs, this))) return false;
    return ignore === 'post' || ignore === 'all' || !(await this.#aggregateComplete(op, jobs));
  }

  async #aggregateComplete(op: AggregateOperation, jobs: readonly Job[]): Promise<boolean> {
    const post = op.options.post ?? [];
    if (post.length === 0) return false;
    for (const condition of post) if (!(await condition(jobs, this))) return false;
    return true;
  }

  /** Eligible and complete counts of each aggregate operation `-o patterns` selects, over the aggregates of `jobs`. */
  async aggregateStatus(jobs: readonly Job[], patterns?: readonly string[]): Promise<AggregateStatus[]> {
    const statuses: AggregateStatus[] = [];
    for (const op of this.#selectAggregates(patterns)) {
      const aggregates = op.aggregator.aggregate(jobs);
      let eligible = 0;
      let complete = 0;
      for (const members of aggregates) {
        if (await this.#aggregateEligible(op, members, 'none')) eligible++;
        if (await this.#aggregateComplete(op, members)) complete++;
      }
      statuses.push({ name: op.name, aggregator: op.aggregator.description, aggregates: aggregates.length, eligible, complete });
    }
    return statuses;
  }

  // ---------------------------------------------------------------- running

  /** Resolved directives of `operation` inside `group` for `job`. */
  directivesIn(group: string, operation: string, job?: Job): ResolvedDirectives {
    return resolveDirectives(this.group(group).directivesOf(operation), {
      ...(job === undefined ? {} : { job }),
      defaultExecutable: this.executable,
      operation,
      group,
    });
  }

  /** A group's submission resources for a job: its members' directives combined serially. */
  groupDirectives(group: string, job?: Job): ResolvedDirectives {
    const members = this.group(group).operationNames;
    return combineDirectives(
      members.map((operation) => this.directivesIn(group, operation, job)),
      'serial',
    );
  }

  /**
   * Runs the selected groups on the selected jobs in passes: each pass runs every group that is
   * eligible, member by member (each member only while eligible), until a pass finds nothing to run.
   * An operation runs at most once per job per call, so this always ends. The first failure stops
   * the run (running ones finish, nothing new starts) and throws `OPERATION_FAILED` naming the job
   * and operation.
   */
  async run(options: RunOptions = {}): Promise<RunResult> {
    const groups = this.selectGroups(options.operations);
    const aggregateOps = this.#selectAggregates(options.operations);
    const jobs = this.jobsOf(options);
    const parallel = requirePositiveInteger('--parallel', options.parallel ?? 1);
    const num = options.num === undefined ? Number.POSITIVE_INFINITY : requirePositiveInteger('-n/--num', options.num);
    const ignore = options.ignoreConditions ?? 'none';
    if (!['none', 'pre', 'post', 'all'].includes(ignore)) {
      throw new GroupsError('USAGE', `--ignore-conditions ${ignore}: use none, pre, post or all`);
    }
    const timeoutMs = options.timeout === undefined ? undefined : options.timeout * 1000;
    if (timeoutMs !== undefined && !(timeoutMs > 0))
      throw new GroupsError('USAGE', `-t/--timeout must be a positive number of seconds, got ${options.timeout}`);
    let started = 0;
    const numPasses =
      options.numPasses === undefined ? Number.POSITIVE_INFINITY : requirePositiveInteger('--num-passes', options.numPasses);
    const ran = new Set<string>();
    const executed: RunRecord[] = [];
    const busy: RunRecord[] = [];
    const planned: GroupJob[] = [];
    let passes = 0;
    // Groups-on-jobs running at once (--parallel) get disjoint GPUs from this run's.
    const gpus = new GpuPool(process.env.CUDA_VISIBLE_DEVICES);
    if (options.pretend !== true) for (const job of jobs) removeStaleTemporaries(job.path);
    for (let pass = 1; pass <= numPasses; pass++) {
      const todo: GroupJob[] = [];
      for (const job of jobs) {
        for (const group of groups) {
          const runnable: string[] = [];
          for (const operation of group.operationNames) {
            if (!ran.has(`${operation}\0${job.id}`) && (await this.isEligible(operation, job, ignore))) runnable.push(operation);
          }
          if (runnable.length > 0) todo.push({ group: group.name, job: job.id, operations: runnable });
        }
      }
      const aggregateTodo: { op: AggregateOperation; jobs: Job[]; id: string }[] = [];
      for (const op of aggregateOps) {
        for (const members of op.aggregator.aggregate(jobs)) {
          const id = aggregateId(members);
          if (!ran.has(`${op.name}\0${id}`) && (await this.#aggregateEligible(op, members, ignore)))
            aggregateTodo.push({ op, jobs: members, id });
        }
      }
      todo.splice(Math.max(0, num - started));
      started += todo.length;
      aggregateTodo.splice(Math.max(0, num - started));
      started += aggregateTodo.length;
      if (todo.length === 0 && aggregateTodo.length === 0) break;
      if (options.pretend === true) {
        for (const entry of todo) this.#out(`would run ${describeGroupJob(entry)}\n`);
        for (const entry of aggregateTodo) this.#out(`would run ${entry.op.name} on aggregate ${entry.id} (${entry.jobs.length} jobs)\n`);
        planned.push(...todo, ...aggregateTodo.map((entry) => ({ group: entry.op.name, job: entry.id, operations: [entry.op.name] })));
        break;
      }
      passes = pass;
      let done = 0;
      await runPool(todo, parallel, async (entry) => {
        const job = this.openJobById(entry.job);
        for (const operation of this.group(entry.group).operationNames) {
          const key = `${operation}\0${job.id}`;
          // Eligibility is checked again: an earlier member may have made this one eligible or complete.
          if (ran.has(key) || !(await this.isEligible(operation, job, ignore))) continue;
          ran.add(key);
          const record = { pass, group: entry.group, operation, job: job.id };
          const release = await this.#lockOperation(operation, job);
          if (release === undefined) {
            this.#err(`skipped ${operation} on job ${job.id}: another process is running it\n`);
            busy.push(record);
            continue;
          }
          try {
            // Asked again under the lock: the process that held it may have just completed it.
            if (!(await this.isEligible(operation, job, ignore))) continue;
            await this.#runOperation(entry.group, operation, job, timeoutMs === undefined ? { gpus } : { timeoutMs, gpus });
            executed.push(record);
          } finally {
            await release();
          }
        }
        options.onProgress?.(++done, todo.length + aggregateTodo.length);
      });
      await runPool(aggregateTodo, parallel, async (entry) => {
        const key = `${entry.op.name}\0${entry.id}`;
        if (ran.has(key) || !(await this.#aggregateEligible(entry.op, entry.jobs, ignore))) return;
        ran.add(key);
        const record = { pass, group: entry.op.name, operation: entry.op.name, job: entry.id };
        mkdirSync(join(this.root, '.vf', 'locks'), { recursive: true });
        const release = await tryLock(join(this.root, '.vf', 'locks', `${entry.op.name}.${entry.id}`), (error) =>
          this.#err(`warning: lost the lock of ${entry.op.name} on aggregate ${entry.id} (${error.message})\n`),
        );
        if (release === undefined) {
          this.#err(`skipped ${entry.op.name} on aggregate ${entry.id}: another process is running it\n`);
          busy.push(record);
          return;
        }
        try {
          if (!(await this.#aggregateEligible(entry.op, entry.jobs, ignore))) return;
          await this.#runAggregate(entry.op, entry.jobs, entry.id, gpus);
          executed.push(record);
        } finally {
          await release();
        }
        options.onProgress?.(++done, todo.length + aggregateTodo.length);
      });
    }
    const incomplete: RunRecord[] = [];
    for (const record of executed) {
      if (this.#aggregates.has(record.operation)) continue;
      const op = this.#resolveOperation(record.operation);
      if (op.post.length > 0 && !(await this.isComplete(record.operation, this.openJobById(record.job)))) incomplete.push(record);
    }
    for (const record of incomplete) {
      this.#err(`warning: ${record.operation} ran on job ${record.job} but its post-conditions still do not hold\n`);
    }
    return { passes, executed, planned, incomplete, busy };
  }

  /**
   * Runs `operation` on the jobs (default: all), whatever its conditions (signac-flow's `exec`).
   * With `group`, it runs with its directives in that group. Never forks. Throws `LOCKED` when
   * another process is running the operation on one of the jobs (an operation never runs twice at
   * once on a job).
   */
  async exec(operation: string, jobIds?: readonly string[], options: { readonly group?: string } = {}): Promise<RunRecord[]> {
    if (!this.#operations.has(operation)) {
      throw new GroupsError('NOT_FOUND', `no operation named "${operation}" (known: ${[...this.#operations.keys()].join(', ')})`, {
        details: { operation },
      });
    }
    const group = options.group ?? operation;
    if (!this.group(group).includes(operation)) throw new GroupsError('NOT_FOUND', `operation "${operation}" is not in group "${group}"`);
    const records: RunRecord[] = [];
    const gpus = new GpuPool(process.env.CUDA_VISIBLE_DEVICES);
    for (const job of this.selectJobs(jobIds)) {
      // A forked operation's parent `run` holds the lock already.
      const held = process.env[LOCK_HELD_ENV] === `${operation}/${job.id}`;
      const release = held ? async () => {} : await this.#lockOperation(operation, job);
      if (release === undefined) {
        throw new GroupsError(
          'LOCKED',
          `operation "${operation}" is running on job ${job.id} in another process: wait for it to end (a lock left by a killed process is taken over after 30 s)`,
          { details: { operation, job: job.id } },
        );
      }
      try {
        await this.#runOperation(group, operation, job, { inProcess: true, gpus });
      } finally {
        await release();
      }
      records.push({ pass: 1, group, operation, job: job.id });
    }
    return records;
  }

  /** Takes the lock of `operation` on `job` (the folder `<job>/.vf_operation_<name>.lock`); undefined when another holder has it. */
  #lockOperation(operation: string, job: Job): Promise<(() => Promise<void>) | undefined> {
    return tryLock(job.fn(`.vf_operation_${operation}`), (error) =>
      this.#err(`warning: lost the lock of ${operation} on job ${job.id} (${error.message}); another process may run it too\n`),
    );
  }

  async #runAggregate(op: AggregateOperation, jobs: readonly Job[], id: string, gpus: GpuPool): Promise<void> {
    const directives = resolveDirectives(op.options.directives ?? {}, { defaultExecutable: this.executable, operation: op.name });
    const lease = await gpus.acquire(directives.ngpu, `operation "${op.name}" on aggregate ${id}`);
    const budget = flowBudget(directives, { CUDA_VISIBLE_DEVICES: lease.devices.join(',') });
    try {
      await withHooks([op.options.hooks ?? {}, ...this.#hooks], op.name, jobs, () =>
        Promise.resolve(op.fn(jobs, this.#context(op.name, op.name, directives, budget, `aggregate ${id}`))),
      );
    } catch (error) {
      throw new GroupsError(
        'OPERATION_FAILED',
        `operation "${op.name}" failed on aggregate ${id} (${jobs.length} jobs): ${errorMessage(error)}`,
        {
          cause: error,
          details: { operation: op.name, aggregate: id, jobs: jobs.map((job) => job.id) },
        },
      );
    } finally {
      lease.release();
    }
  }

  #context(operation: string, group: string, directives: ResolvedDirectives, budget: FlowBudget, target: string): OperationContext {
    const label = `operation "${operation}" (group "${group}") on ${target}`;
    return {
      operation,
      group,
      directives,
      budget,
      runFlow: (moduleUrl: string | URL, params?: unknown): Promise<FlowReport> =>
        runFlowWithBudget(moduleUrl, params ?? null, budget, {
          ...(this.#options.flowEngine === undefined ? {} : { engine: this.#options.flowEngine }),
          ...(this.#options.deviceAllocator === undefined ? {} : { deviceAllocator: this.#options.deviceAllocator }),
          label,
        }),
      stdout: { write: (text) => this.#out(text) },
      stderr: { write: (text) => this.#err(text) },
    };
  }

  async #runOperation(
    group: string,
    operation: string,
    job: Job,
    options: { readonly inProcess?: boolean; readonly timeoutMs?: number; readonly gpus: GpuPool },
  ): Promise<void> {
    const directives = this.directivesIn(group, operation, job);
    const where = `operation "${operation}" on job ${job.id}${group === operation ? '' : ` (group "${group}")`}`;
    // Held while the operation (or its fork) runs: the GPUs of operations running at once are disjoint.
    const lease = await options.gpus.acquire(directives.ngpu, where);
    try {
      await this.#runWithin(
        group,
        operation,
        job,
        directives,
        flowBudget(directives, { CUDA_VISIBLE_DEVICES: lease.devices.join(',') }),
        options,
      );
    } finally {
      lease.release();
    }
  }

  async #runWithin(
    group: string,
    operation: string,
    job: Job,
    directives: ResolvedDirectives,
    budget: FlowBudget,
    options: { readonly inProcess?: boolean; readonly timeoutMs?: number },
  ): Promise<void> {
    const op = this.#resolveOperation(operation);
    // A forked operation's hooks run in its parent, around the fork, not again in the child.
    const forkedChild = process.env[LOCK_HELD_ENV] === `${operation}/${job.id}`;
    try {
      await withHooks(forkedChild ? [] : [op.hooks, ...this.#hooks], operation, [job], async () => {
        // As in signac-flow, a timeout needs a process to kill: it forks the operation.
        if ((directives.fork || options.timeoutMs !== undefined) && options.inProcess !== true) {
          await this.#fork(group, operation, job, directives, budget, options.timeoutMs);
          return;
        }
        await op.fn(job, this.#context(operation, group, directives, budget, `job ${job.id}`));
      });
    } catch (error) {
      throw new GroupsError(
        'OPERATION_FAILED',
        `operation "${operation}" failed on job ${job.id}${group === operation ? '' : ` (group "${group}")`}: ${errorMessage(error)}`,
        {
          cause: error,
          details: { operation, group, job: job.id },
        },
      );
    }
  }

  /**
   * Runs `<executable> <script> exec OP ID --group G` in a child, its output forwarded, bounded by
   * walltime. The child leads its own process group, so the walltime (or this process exiting)
   * kills everything it started, not only the shell; the promise settles once the child is gone.
   * Exiting includes a fatal signal (Ctrl-C, SIGTERM), after which Node emits no `exit`: the group
   * is killed then too (`signal-exit`), or it would run on, orphaned, without the lock this process
   * held for it, and the next `run` would start the operation again beside it.
   */
  #fork(
    group: string,
    operation: string,
    job: Job,
    directives: ResolvedDirectives,
    budget: FlowBudget,
    runTimeoutMs?: number,
  ): Promise<void> {
    const words = [this.script, 'exec', operation, job.id, '--group', group, ...(this.group(group).options.runOptions ?? [])];
    const command = `${directives.executable} ${words.map(shellQuote).join(' ')}`;
    const walltimeMs = directives.walltime === undefined ? undefined : directives.walltime * 3_600_000;
    const timeoutMs = Math.min(walltimeMs ?? Number.POSITIVE_INFINITY, runTimeoutMs ?? Number.POSITIVE_INFINITY);
    const limit =
      runTimeoutMs !== undefined && runTimeoutMs <= (walltimeMs ?? Number.POSITIVE_INFINITY)
        ? `its timeout of ${runTimeoutMs / 1000} s (-t)`
        : `its walltime of ${directives.walltime} h`;
    return new Promise((resolvePromise, reject) => {
      const child = spawn('/bin/sh', ['-c', command], {
        cwd: this.root,
        env: { ...process.env, ...budget.env, [LOCK_HELD_ENV]: `${operation}/${job.id}` },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const killGroup = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      };
      const forgetKill = onExit(killGroup);
      child.stdout.on('data', (chunk: Buffer) => this.#out(chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => this.#err(chunk.toString('utf8')));
      let timedOut = false;
      const cancelTimeout =
        timeoutMs === Number.POSITIVE_INFINITY
          ? undefined
          : setLongTimeout(() => {
              timedOut = true;
              killGroup();
            }, timeoutMs);
      const settle = () => {
        cancelTimeout?.();
        forgetKill();
      };
      child.once('error', (error) => {
        settle();
        reject(error);
      });
      child.once('close', (code, signal) => {
        settle();
        // Whatever the shell left behind (a grandchild still writing) must not outlive a timeout.
        if (timedOut) {
          killGroup();
          reject(new GroupsError('TIMEOUT', `forked operation ran past ${limit} and was killed with its process group`));
        } else if (code === 0) resolvePromise();
        else reject(new Error(`forked process (${command}) exited with ${code ?? signal}`));
      });
    });
  }

  // ---------------------------------------------------------------- scheduler

  /** The project's scheduler (given, named, or detected); undefined when none is found. */
  scheduler(): Promise<Scheduler | undefined> {
    const given = this.#options.scheduler;
    this.#scheduler ??=
      typeof given === 'string' ? Promise.resolve(SCHEDULERS[given]()) : given !== undefined ? Promise.resolve(given) : detectScheduler();
    return this.#scheduler;
  }

  /** The cluster job name of a group on a job: `<project>-<root hash>.<job id>.<group>` (see {@link FlowProject.clusterPrefix}). */
  clusterJobName(group: string, job: string): string {
    return `${this.clusterPrefix}.${job}.${group}`;
  }

  /**
   * Renders and submits scheduler scripts for the selected groups on the jobs where they are
   * eligible and not already queued, held or running. With `pretend`, prints the scripts and
   * neither submits nor writes anything. Never waits for a cluster job (`after` is a dependency).
   */
  submit(options: SubmitOptions = {}): Promise<Submission[]> {
    return submitGroups(this, options);
  }

  /**
   * Eligible and complete counts per group, and the scheduler's state of each submitted group,
   * mapped back onto groups and their operations. A queue that cannot be read is reported, not thrown.
   */
  status(options: StatusOptions = {}): Promise<StatusReport> {
    return projectStatus(this, options);
  }

  /** Runs the command line (`status`, `next`, `run`, `submit`, `exec`); resolves with the exit code. See `cli.ts`. */
  async main(argv: readonly string[], io: MainOptions = {}): Promise<number> {
    const code = await runCli(this, argv, io);
    if (io.setExitCode !== false && code !== 0) process.exitCode = code;
    return code;
  }

  /** @internal Output used by the CLI and by run/submit. */
  out(text: string): void {
    this.#out(text);
  }

  /** @internal */
  err(text: string): void {
    this.#err(text);
  }

  #out(text: string): void {
    (this.#stdoutOverride ?? this.#options.stdout ?? process.stdout).write(text);
  }

  #err(text: string): void {
    (this.#stderrOverride ?? this.#options.stderr ?? process.stderr).write(text);
  }

  #stdoutOverride: Output | undefined;
  #stderrOverride: Output | undefined;

  /** @internal Routes output to `io` while `fn` runs (the CLI's `main(argv, io)`). */
  async withOutput<T>(io: { readonly stdout?: Output; readonly stderr?: Output }, fn: () => Promise<T>): Promise<T> {
    const previous = [this.#stdoutOverride, this.#stderrOverride] as const;
    this.#stdoutOverride = io.stdout ?? previous[0];
    this.#stderrOverride = io.stderr ?? previous[1];
    try {
      return await fn();
    } finally {
      [this.#stdoutOverride, this.#stderrOverride] = previous;
    }
  }
}

/** Options of {@link FlowProject.main}. */
export interface MainOptions {
  readonly stdout?: Output;
  readonly stderr?: Output;
  /** Set `process.exitCode` on failure (default true). */
  readonly setExitCode?: boolean;
}

/** `-o PATTERN` as a regular expression matching whole names; throws `USAGE` for an invalid one. */
function patternRegExp(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (error) {
    throw new GroupsError('USAGE', `-o ${pattern}: not a regular expression (${(error as Error).message})`);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}"`;
  if (value instanceof FlowGroup) return `group "${value.name}"`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  return String(value);
}

/** Runs `worker` over `items`, at most `limit` at once; after the first failure starts nothing new and rethrows it. */
async function runPool<T>(items: readonly T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await worker(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure.error;
}
