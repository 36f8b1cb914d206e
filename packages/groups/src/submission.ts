import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { combineDirectives, type ResolvedDirectives } from './directives.js';
import { GroupsError, requirePositiveInteger } from './errors.js';
import { describeGroupJob, type GroupJob } from './group.js';
import { lockWithin } from './locks.js';
import type { AggregateStatus, FlowProject, IgnoreConditions, Selection } from './project.js';
import { ACTIVE_STATES, type ClusterJob, type ClusterJobState, type Scheduler } from './schedulers/scheduler.js';
import { renderScript, type ScriptCommand, shellQuote } from './templates/renderScript.js';
import { type Statepoint, writeFileAtomic } from './workspace.js';

/** Options of {@link FlowProject.submit}. */
export interface SubmitOptions extends Selection {
  /** Print the scripts; submit nothing and write no file. */
  readonly pretend?: boolean;
  /** Put up to this many groups-on-jobs in one cluster job (default 1). */
  readonly bundle?: number;
  /** Run a bundle's commands at the same time (resources add up) instead of one after the other. */
  readonly parallel?: boolean;
  /** Submit held: the jobs wait until released (`scontrol release`, `qrls`, `bresume`). */
  readonly hold?: boolean;
  /** Start only after this cluster job succeeded. Submission itself never waits. */
  readonly after?: string;
  /** Partition (SLURM; several separated by commas) or queue (PBS, LSF): letters, digits and `_ . , @ : + -`, else `USAGE`. */
  readonly partition?: string;
  /** Submit at most this many groups-on-jobs (signac-flow's `-n`; a bundle counts its entries). */
  readonly num?: number;
  /** Ignore pre-conditions, post-conditions or both when deciding what is eligible. */
  readonly ignoreConditions?: IgnoreConditions;
}

/** One cluster job made by {@link FlowProject.submit}. */
export interface Submission {
  /** The cluster job name. */
  readonly name: string;
  /** The scheduler's id; undefined with `pretend`. */
  readonly clusterId?: string;
  readonly script: string;
  readonly entries: readonly GroupJob[];
  readonly directives: ResolvedDirectives;
}

/** A group's line in {@link StatusReport}. */
export interface GroupStatus {
  readonly name: string;
  readonly operations: readonly string[];
  readonly singleton: boolean;
  /** Jobs for which the group is eligible. */
  readonly eligible: number;
  /** Jobs for which every member is complete. */
  readonly complete: number;
  /** Jobs per scheduler state (members of a submitted group count with the group's state). */
  readonly states: Readonly<Partial<Record<ClusterJobState, number>>>;
}

/** A job's line in {@link StatusReport}. */
export interface JobStatus {
  readonly id: string;
  readonly statepoint: Statepoint;
  /** The job's labels (see `project.label()`). */
  readonly labels: readonly string[];
  readonly groups: Readonly<
    Record<
      string,
      { readonly eligible: boolean; readonly complete: boolean; readonly state?: ClusterJobState; readonly clusterId?: string }
    >
  >;
}

/** What {@link FlowProject.status} found. */
export interface StatusReport {
  readonly jobs: readonly JobStatus[];
  readonly groups: readonly GroupStatus[];
  /** Aggregate operations: counts over their aggregates of the selected jobs. */
  readonly aggregates: readonly AggregateStatus[];
  /** Each label that some job has, with how many jobs have it. */
  readonly labels: readonly { readonly name: string; readonly count: number }[];
  /** The scheduler whose queue was read, if any. */
  readonly scheduler?: string;
  /** Why the queue could not be read, if it could not. */
  readonly schedulerError?: string;
}

/** Options of {@link FlowProject.status}. */
export interface StatusOptions extends Selection {
  /** Called after each job is examined (the CLI draws a progress bar with it). */
  readonly onProgress?: (done: number, total: number) => void;
}

const BUNDLE_MARK = 'bundle';

/** Cluster jobs by `group\0job` and by `operation\0job`. */
interface ClusterStates {
  readonly byGroup: Map<string, ClusterJob>;
  readonly byOperation: Map<string, ClusterJob>;
}

/** Cluster jobs of this project, keyed by `group\0job`; members of a submitted group inherit its state. */
async function clusterStates(project: FlowProject, scheduler: Scheduler): Promise<ClusterStates> {
  const byGroup = new Map<string, ClusterJob>();
  const byOperation = new Map<string, ClusterJob>();
  const prefix = `${project.clusterPrefix}.`;
  const note = (group: string, job: string, clusterJob: ClusterJob) => {
    if (!project.groups.some((known) => known.name === group)) return;
    byGroup.set(`${group}\0${job}`, clusterJob);
    for (const operation of project.group(group).operationNames) byOperation.set(`${operation}\0${job}`, clusterJob);
  };
  for (const clusterJob of await scheduler.queue()) {
    if (!clusterJob.name.startsWith(prefix)) continue;
    const rest = clusterJob.name.slice(prefix.length);
    const single = /^([0-9a-f]{32})\.(.+)$/.exec(rest);
    if (single !== null) {
      note(single[2]!, single[1]!, clusterJob);
      continue;
    }
    const bundle = new RegExp(`^${BUNDLE_MARK}\\.([0-9a-f]+)$`).exec(rest);
    const file = bundle === null ? undefined : join(bundleDir(project), bundle[1]!);
    if (file === undefined || !existsSync(file)) continue;
    for (const entry of JSON.parse(readFileSync(file, 'utf8')) as GroupJob[]) note(entry.group, entry.job, clusterJob);
  }
  return { byGroup, byOperation };
}

/**
 * `project.submit()`: renders and submits scheduler scripts for the selected groups on the jobs where they are
 * eligible and not already queued, held or running. With `pretend`, prints the scripts and
 * neither submits nor writes anything. Never waits for a cluster job (`after` is a dependency).
 */
export async function submitGroups(project: FlowProject, options: SubmitOptions = {}): Promise<Submission[]> {
  if (options.pretend === true) return submitLocked(project, options);
  // One submit at a time per project: reading the queue and submitting what is missing from it
  // must not interleave with another submit, or both submit the same groups.
  mkdirSync(join(project.root, '.vf'), { recursive: true });
  const release = await lockWithin(join(project.root, '.vf', 'submit'), `submission in ${project.root}`, 120_000);
  try {
    return await submitLocked(project, options);
  } finally {
    await release();
  }
}

async function submitLocked(project: FlowProject, options: SubmitOptions): Promise<Submission[]> {
  const groups = project.selectGroups(options.operations);
  const aggregates = options.operations === undefined ? [] : project.aggregateOperationNames(options.operations);
  if (aggregates.length > 0) project.err(`not submitted: ${aggregates.join(', ')} (aggregate operations run with \`run -o NAME\`)\n`);
  const jobs = project.jobsOf(options);
  const num = options.num === undefined ? Number.POSITIVE_INFINITY : requirePositiveInteger('-n/--num', options.num);
  const bundleSize = requirePositiveInteger('--bundle', options.bundle ?? 1);
  if (options.after !== undefined && !/^[\w.[\]-]+$/.test(options.after)) {
    throw new GroupsError('USAGE', `--after ${options.after}: not a cluster job id`);
  }
  // Written unquoted into the script header, where a space or newline would end the directive.
  if (options.partition !== undefined && !/^[\w.,@:+-]+$/.test(options.partition)) {
    throw new GroupsError(
      'USAGE',
      `--partition ${JSON.stringify(options.partition)}: not a partition or queue name (letters, digits and _ . , @ : + -; a comma separates partitions)`,
    );
  }
  const scheduler = await project.scheduler();
  if (scheduler === undefined && options.pretend !== true) {
    throw new GroupsError(
      'SCHEDULER',
      'no scheduler found (sbatch, qsub or bsub on PATH with a readable queue, or VF_SCHEDULER=slurm|pbs|lsf); use --pretend to see the scripts',
    );
  }
  let active = new Map<string, ClusterJob>();
  if (scheduler !== undefined) {
    try {
      active = (await clusterStates(project, scheduler)).byOperation;
    } catch (error) {
      if (options.pretend !== true) throw error;
    }
  }
  const entries: GroupJob[] = [];
  for (const job of jobs) {
    for (const group of groups) {
      const busy = group.operationNames.some((operation) => {
        const state = active.get(`${operation}\0${job.id}`)?.state;
        return state !== undefined && ACTIVE_STATES.includes(state);
      });
      if (entries.length < num && !busy && (await project.isGroupEligible(group.name, job, options.ignoreConditions))) {
        entries.push({ group: group.name, job: job.id, operations: group.operationNames });
      }
    }
  }
  const schedulerName = scheduler?.name ?? 'slurm';
  const logDir = join(project.root, '.vf', 'logs');
  const submissions: Submission[] = [];
  for (let start = 0; start < entries.length; start += bundleSize) {
    const bundle = entries.slice(start, start + bundleSize);
    const perEntry = bundle.map((entry) => project.groupDirectives(entry.group, project.openJobById(entry.job)));
    const directives = combineDirectives(perEntry, options.parallel === true ? 'parallel' : 'serial');
    const name =
      bundle.length === 1
        ? project.clusterJobName(bundle[0]!.group, bundle[0]!.job)
        : `${project.clusterPrefix}.${BUNDLE_MARK}.${createHash('sha1').update(JSON.stringify(bundle)).digest('hex').slice(0, 16)}`;
    const commands: ScriptCommand[] = bundle.map((entry, index) => ({
      ...entry,
      command: [
        perEntry[index]!.executable,
        ...[
          project.script,
          'run',
          '-o',
          `^${escapeRegExp(entry.group)}$`,
          '-j',
          entry.job,
          ...(project.group(entry.group).options.submitOptions ?? []),
        ].map(shellQuote),
      ].join(' '),
    }));
    const script = renderScript(
      schedulerName,
      {
        name,
        root: project.root,
        logDir,
        directives,
        commands,
        parallel: options.parallel === true && bundle.length > 1,
        hold: options.hold === true,
        ...(options.after === undefined ? {} : { after: options.after }),
        ...(options.partition === undefined ? {} : { partition: options.partition }),
      },
      project.templates,
    );
    if (options.pretend === true || scheduler === undefined) {
      project.out(`${script}\n`);
      submissions.push({ name, script, entries: bundle, directives });
      continue;
    }
    mkdirSync(logDir, { recursive: true });
    if (bundle.length > 1) {
      mkdirSync(bundleDir(project), { recursive: true });
      writeFileAtomic(join(bundleDir(project), name.split('.').at(-1)!), JSON.stringify(bundle));
    }
    const clusterId = await scheduler.submit(script);
    project.out(`submitted ${name} as cluster job ${clusterId}: ${bundle.map(describeGroupJob).join('; ')}\n`);
    submissions.push({ name, clusterId, script, entries: bundle, directives });
  }
  if (entries.length === 0) project.out('nothing to submit: no selected group is eligible (or all are already submitted)\n');
  return submissions;
}

/**
 * `project.status()`: eligible and complete counts per group, and the scheduler's state of each submitted group,
 * mapped back onto groups and their operations. A queue that cannot be read is reported, not thrown.
 */
export async function projectStatus(project: FlowProject, options: StatusOptions = {}): Promise<StatusReport> {
  const groups =
    options.operations === undefined || options.operations.length === 0 ? project.groups : project.matchGroups(options.operations);
  const jobs = project.jobsOf(options);
  const scheduler = await project.scheduler();
  let states: ClusterStates = { byGroup: new Map(), byOperation: new Map() };
  let schedulerError: string | undefined;
  if (scheduler !== undefined) {
    try {
      states = await clusterStates(project, scheduler);
    } catch (error) {
      schedulerError = (error as Error).message;
    }
  }
  const jobStatuses: JobStatus[] = [];
  for (const [index, job] of jobs.entries()) {
    const perGroup: Record<string, { eligible: boolean; complete: boolean; state?: ClusterJobState; clusterId?: string }> = {};
    for (const group of groups) {
      // A group shows only its own submission; an operation (a singleton group) also shows that of
      // any submitted group containing it, since it runs there. Another group sharing an operation
      // with a submitted one was not submitted, and is not shown as such.
      const clusterJob =
        states.byGroup.get(`${group.name}\0${job.id}`) ??
        (group.singleton ? states.byOperation.get(`${group.name}\0${job.id}`) : undefined);
      perGroup[group.name] = {
        eligible: await project.isGroupEligible(group.name, job),
        complete: await project.isGroupComplete(group.name, job),
        ...(clusterJob === undefined ? {} : { state: clusterJob.state, clusterId: clusterJob.id }),
      };
    }
    jobStatuses.push({ id: job.id, statepoint: job.statepoint, labels: await project.labelsOf(job), groups: perGroup });
    options.onProgress?.(index + 1, jobs.length);
  }
  const groupStatuses = groups.map((group): GroupStatus => {
    const counts: Partial<Record<ClusterJobState, number>> = {};
    let eligible = 0;
    let complete = 0;
    for (const job of jobStatuses) {
      const entry = job.groups[group.name]!;
      if (entry.eligible) eligible++;
      if (entry.complete) complete++;
      if (entry.state !== undefined) counts[entry.state] = (counts[entry.state] ?? 0) + 1;
    }
    return { name: group.name, operations: group.operationNames, singleton: group.singleton, eligible, complete, states: counts };
  });
  const labelCounts = new Map<string, number>();
  for (const job of jobStatuses) for (const label of job.labels) labelCounts.set(label, (labelCounts.get(label) ?? 0) + 1);
  return {
    jobs: jobStatuses,
    groups: groupStatuses,
    aggregates: await project.aggregateStatus(jobs, options.operations),
    labels: [...labelCounts].map(([name, count]) => ({ name, count })),
    ...(scheduler === undefined ? {} : { scheduler: scheduler.name }),
    ...(schedulerError === undefined ? {} : { schedulerError }),
  };
}

function bundleDir(project: FlowProject): string {
  return join(project.root, '.vf', 'bundles');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
