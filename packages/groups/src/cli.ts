import { isVfError } from '@vf/core';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { parseFilterArgs } from './filter.js';
import type { FlowProject, IgnoreConditions, MainOptions, Output, Selection } from './project.js';
import type { ClusterJobState } from './schedulers/scheduler.js';
import type { StatusReport } from './submission.js';

/** Jobs above which `status` draws a progress bar (on a terminal). */
export const PROGRESS_THRESHOLD = 100;

const STATE_COLUMNS: readonly ClusterJobState[] = ['queued', 'held', 'running', 'completed', 'failed', 'cancelled', 'unknown'];

/** The selection flags every command shares (`-o`, `-j`, `-f`, `--doc-filter`). */
interface SelectionFlags {
  operation?: string[];
  jobId?: string[];
  filter?: string[];
  docFilter?: string[];
}

function selection(flags: SelectionFlags): Selection {
  return {
    ...(flags.operation === undefined ? {} : { operations: flags.operation }),
    ...(flags.jobId === undefined ? {} : { jobs: flags.jobId }),
    ...(flags.filter === undefined ? {} : { filter: parseFilterArgs(flags.filter) }),
    ...(flags.docFilter === undefined ? {} : { docFilter: parseFilterArgs(flags.docFilter) }),
  };
}

/** The stack of `error` and of each of its causes. */
function traceback(error: unknown): string {
  const lines: string[] = [];
  for (let current: unknown = error, depth = 0; current !== undefined && depth < 10; depth++) {
    lines.push(`${depth === 0 ? '' : 'caused by: '}${current instanceof Error ? (current.stack ?? current.message) : String(current)}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return `${lines.join('\n')}\n`;
}

function startBar(stream: Output, what: string, total: number, unit = ''): SingleBar {
  const progress = new SingleBar({
    stream: stream as NodeJS.WritableStream,
    format: `${what} |{bar}| {value}/{total}${unit}`,
    clearOnComplete: true,
    hideCursor: true,
    // `--progress` was asked for: draw it into a pipe or a log file too.
    noTTYOutput: true,
    notTTYSchedule: 1000,
  });
  progress.start(total, 0);
  return progress;
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0) || !Number.isFinite(parsed)) throw new InvalidArgumentError('must be a positive number');
  return parsed;
}

function ignoreConditions(value: string): IgnoreConditions {
  if (!['none', 'pre', 'post', 'all'].includes(value)) throw new InvalidArgumentError('must be none, pre, post or all');
  return value as IgnoreConditions;
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

/** How {@link formatStatus} and {@link formatDetailedStatus} draw: `pretty` uses bars and symbols. */
export interface StatusFormat {
  readonly pretty?: boolean;
  /** State point keys shown as columns of the detailed view (instead of the whole state point). */
  readonly parameters?: readonly string[];
}

function bar(count: number, total: number): string {
  const width = 10;
  const filled = total === 0 ? 0 : Math.round((count / total) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${total === 0 ? 0 : Math.round((count / total) * 100)}%`;
}

/** The status table: one row per group, eligible/complete counts and scheduler states; then labels. */
export function formatStatus(report: StatusReport, format: StatusFormat = {}): string {
  const states = STATE_COLUMNS.filter(
    (state) => report.groups.some((group) => (group.states[state] ?? 0) > 0) || ['queued', 'held', 'running'].includes(state),
  );
  const table = new Table({ head: ['group', 'operations', 'eligible', 'complete', ...states], style: { head: [], border: [] } });
  const total = report.jobs.length;
  for (const group of report.groups) {
    table.push([
      group.name,
      group.singleton ? '' : group.operations.join(', '),
      `${group.eligible}/${total}`,
      format.pretty === true ? bar(group.complete, total) : `${group.complete}/${total}`,
      ...states.map((state) => String(group.states[state] ?? 0)),
    ]);
  }
  for (const op of report.aggregates) {
    table.push([
      op.name,
      `${op.aggregator}: ${op.aggregates} aggregate(s)`,
      `${op.eligible}/${op.aggregates}`,
      format.pretty === true ? bar(op.complete, op.aggregates) : `${op.complete}/${op.aggregates}`,
      ...states.map(() => ''),
    ]);
  }
  let labels = '';
  if (report.labels.length > 0) {
    const labelTable = new Table({ head: ['label', 'jobs'], style: { head: [], border: [] } });
    for (const label of report.labels) {
      labelTable.push([label.name, format.pretty === true ? bar(label.count, total) : `${label.count}/${total}`]);
    }
    labels = `${labelTable.toString()}\n`;
  }
  const scheduler =
    report.scheduler === undefined
      ? 'scheduler: none found'
      : `scheduler: ${report.scheduler}${report.schedulerError === undefined ? '' : ` (queue unreadable: ${report.schedulerError})`}`;
  return `${table.toString()}\n${labels}${total} job(s); ${scheduler}\n`;
}

/** State point keys whose values differ between jobs (what `status -p` with no key shows). */
export function varyingParameters(report: StatusReport): string[] {
  const keys = [...new Set(report.jobs.flatMap((job) => Object.keys(job.statepoint)))].sort();
  return keys.filter((key) => new Set(report.jobs.map((job) => JSON.stringify(job.statepoint[key]))).size > 1);
}

/**
 * The detailed view: one row per job, its labels, and each group's state (scheduler state,
 * complete, eligible or -); with `parameters`, those state point keys as columns.
 */
export function formatDetailedStatus(report: StatusReport, format: StatusFormat = {}): string {
  const names = report.groups.map((group) => group.name);
  const parameters = format.parameters;
  const pointHead = parameters === undefined ? ['state point'] : [...parameters];
  const symbols =
    format.pretty === true ? { complete: '✓', eligible: '▶', none: '·' } : { complete: 'complete', eligible: 'eligible', none: '-' };
  const table = new Table({ head: ['job', ...pointHead, 'labels', ...names], style: { head: [], border: [] } });
  for (const job of report.jobs) {
    const point =
      parameters === undefined
        ? [JSON.stringify(job.statepoint)]
        : parameters.map((key) => (Object.hasOwn(job.statepoint, key) ? JSON.stringify(job.statepoint[key]) : ''));
    table.push([
      job.id.slice(0, 8),
      ...point,
      job.labels.join(', '),
      ...names.map((name) => {
        const entry = job.groups[name]!;
        if (entry.state !== undefined) return `${entry.state} (${entry.clusterId})`;
        return entry.complete ? symbols.complete : entry.eligible ? symbols.eligible : symbols.none;
      }),
    ]);
  }
  return `${table.toString()}\n`;
}

function isTerminal(stream: Output): stream is Output & NodeJS.WritableStream {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/**
 * Runs the project's command line; resolves with the exit code (0 ok, 1 failure, 2 usage).
 * Commands: `status`, `next OP`, `run`, `submit`, `exec OP [IDS...]`.
 */
export async function runCli(project: FlowProject, argv: readonly string[], io: MainOptions = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  return project.withOutput({ stdout, stderr }, async () => {
    const program = new Command('project')
      .description(`vf FlowProject "${project.name}" (${project.root})`)
      .exitOverride()
      .showHelpAfterError()
      .configureOutput({ writeOut: (text) => stdout.write(text), writeErr: (text) => stderr.write(text) });

    program.option('--show-traceback', 'on error, print the stack trace and the chain of causes');

    program
      .command('status')
      .description('eligible and complete jobs per group, their scheduler states, and labels')
      .option('-o, --operation <regex...>', 'groups or operations to show')
      .option('-j, --job-id <id...>', 'jobs to show (ids or unique prefixes)')
      .option('-f, --filter <filter...>', 'jobs whose state point matches (signac filter: key value ..., or JSON)')
      .option('--doc-filter <filter...>', 'jobs whose document matches (same syntax as -f)')
      .option('-d, --detailed', 'one row per job')
      .option('-p, --parameters [key...]', 'show these state point keys in the detailed view (none given: those that vary)')
      .option('--pretty', 'bars and symbols instead of counts and words')
      .option('--hide-progress', 'never draw a progress bar')
      .option('--json', 'print the report as JSON')
      .action(
        async (
          options: SelectionFlags & {
            detailed?: boolean;
            parameters?: string[] | true;
            pretty?: boolean;
            hideProgress?: boolean;
            json?: boolean;
          },
        ) => {
          let progress: SingleBar | undefined;
          const report = await project.status({
            ...selection(options),
            onProgress: (done, total) => {
              if (options.hideProgress === true || total < PROGRESS_THRESHOLD || !isTerminal(stderr)) return;
              progress ??= startBar(stderr, 'status', total, ' jobs');
              progress.update(done);
              if (done === total) progress.stop();
            },
          });
          if (options.json === true) {
            stdout.write(`${JSON.stringify(report, null, 2)}\n`);
            return;
          }
          const parameters = options.parameters === true ? varyingParameters(report) : options.parameters;
          const format: StatusFormat = { pretty: options.pretty === true, ...(parameters === undefined ? {} : { parameters }) };
          const detailed = options.detailed === true || options.parameters !== undefined;
          stdout.write(detailed ? formatDetailedStatus(report, format) + formatStatus(report, format) : formatStatus(report, format));
        },
      );

    program
      .command('next')
      .description('ids of the jobs for which an operation (or group) is eligible')
      .argument('<operation>')
      .action(async (operation: string) => {
        for (const job of await project.next(operation)) stdout.write(`${job.id}\n`);
      });

    program
      .command('run')
      .description('run eligible groups in passes until nothing selected is eligible')
      .option('-o, --operation <regex...>', 'groups or operations to run (full-name regular expressions)')
      .option('-j, --job-id <id...>', 'jobs to run on (ids or unique prefixes)')
      .option('-f, --filter <filter...>', 'jobs whose state point matches (signac filter: key value ..., or JSON)')
      .option('--doc-filter <filter...>', 'jobs whose document matches (same syntax as -f)')
      .option('-n, --num <n>', 'run at most n groups-on-jobs in all', positiveInt)
      .option('-t, --timeout <seconds>', 'kill an operation after this many seconds (forks it)', positiveNumber)
      .option('--ignore-conditions <which>', 'ignore pre, post or all conditions when deciding eligibility', ignoreConditions)
      .option('--num-passes <n>', 'stop after this many passes', positiveInt)
      .option('--pretend', 'print what would run, run nothing')
      .option('--progress', 'draw a progress bar of each pass')
      .option('--parallel <n>', 'run up to n groups-on-jobs at once', positiveInt)
      .action(
        async (
          options: SelectionFlags & {
            num?: number;
            timeout?: number;
            ignoreConditions?: IgnoreConditions;
            numPasses?: number;
            pretend?: boolean;
            progress?: boolean;
            parallel?: number;
          },
        ) => {
          let progress: SingleBar | undefined;
          const result = await project.run({
            ...selection(options),
            ...(options.num === undefined ? {} : { num: options.num }),
            ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
            ...(options.ignoreConditions === undefined ? {} : { ignoreConditions: options.ignoreConditions }),
            ...(options.numPasses === undefined ? {} : { numPasses: options.numPasses }),
            ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
            ...(options.progress === true
              ? {
                  onProgress: (done: number, total: number) => {
                    progress ??= startBar(stderr, 'run', total);
                    progress.update(done);
                    if (done === total) {
                      progress.stop();
                      progress = undefined;
                    }
                  },
                }
              : {}),
            pretend: options.pretend === true,
          });
          if (options.pretend !== true) {
            stdout.write(`ran ${result.executed.length} operation(s) in ${result.passes} pass(es)\n`);
          }
        },
      );

    program
      .command('submit')
      .description('submit eligible groups to the cluster scheduler')
      .option('-o, --operation <regex...>', 'groups or operations to submit')
      .option('-j, --job-id <id...>', 'jobs to submit (ids or unique prefixes)')
      .option('-f, --filter <filter...>', 'jobs whose state point matches (signac filter: key value ..., or JSON)')
      .option('--doc-filter <filter...>', 'jobs whose document matches (same syntax as -f)')
      .option('-n, --num <n>', 'submit at most n groups-on-jobs', positiveInt)
      .option('--ignore-conditions <which>', 'ignore pre, post or all conditions when deciding eligibility', ignoreConditions)
      .option('--pretend', 'print the scripts; submit nothing, write nothing')
      .option('-b, --bundle [n]', 'put up to n groups-on-jobs in one cluster job (no n: all in one)', positiveInt)
      .option('-p, --parallel', 'run a bundle’s commands at the same time')
      .option('--hold', 'submit held')
      .option('--after <id>', 'start after this cluster job succeeded (does not wait)')
      .option('--partition <name>', 'partition or queue')
      .action(
        async (
          options: SelectionFlags & {
            num?: number;
            ignoreConditions?: IgnoreConditions;
            pretend?: boolean;
            bundle?: number | true;
            parallel?: boolean;
            hold?: boolean;
            after?: string;
            partition?: string;
          },
        ) => {
          await project.submit({
            ...selection(options),
            ...(options.num === undefined ? {} : { num: options.num }),
            ...(options.ignoreConditions === undefined ? {} : { ignoreConditions: options.ignoreConditions }),
            // signac-flow's bare -b: one bundle of everything selected.
            ...(options.bundle === undefined ? {} : { bundle: options.bundle === true ? Number.MAX_SAFE_INTEGER : options.bundle }),
            ...(options.after === undefined ? {} : { after: options.after }),
            ...(options.partition === undefined ? {} : { partition: options.partition }),
            pretend: options.pretend === true,
            parallel: options.parallel === true,
            hold: options.hold === true,
          });
        },
      );

    program
      .command('exec')
      .description('run an operation on jobs (default: all) whatever its conditions')
      .argument('<operation>')
      .argument('[ids...]')
      .option('--group <name>', 'use the operation’s directives in this group')
      .action(async (operation: string, ids: string[], options: { group?: string }) => {
        await project.exec(operation, ids, options.group === undefined ? {} : { group: options.group });
      });

    try {
      await program.parseAsync([...argv], { from: 'user' });
      return 0;
    } catch (error) {
      if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
      const code = isVfError(error) ? ` [${error.code}]` : '';
      stderr.write(`error${code}: ${error instanceof Error ? error.message : String(error)}\n`);
      if (program.opts<{ showTraceback?: boolean }>().showTraceback === true) stderr.write(traceback(error));
      return isVfError(error) && error.code === 'USAGE' ? 2 : 1;
    }
  });
}
