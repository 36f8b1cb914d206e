import { isVfError } from '@vf/core';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { FlowProject, MainOptions, Output } from './project.js';
import type { ClusterJobState } from './schedulers/scheduler.js';
import type { StatusReport } from './submission.js';

/** Jobs above which `status` draws a progress bar (on a terminal). */
export const PROGRESS_THRESHOLD = 100;

const STATE_COLUMNS: readonly ClusterJobState[] = ['queued', 'held', 'running', 'completed', 'failed', 'cancelled', 'unknown'];

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

/** The status table: one row per group, eligible/complete counts and scheduler states. */
export function formatStatus(report: StatusReport): string {
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
      `${group.complete}/${total}`,
      ...states.map((state) => String(group.states[state] ?? 0)),
    ]);
  }
  const scheduler =
    report.scheduler === undefined
      ? 'scheduler: none found'
      : `scheduler: ${report.scheduler}${report.schedulerError === undefined ? '' : ` (queue unreadable: ${report.schedulerError})`}`;
  return `${table.toString()}\n${total} job(s); ${scheduler}\n`;
}

/** The detailed view: one row per job, each group's label (scheduler state, complete, eligible or -). */
export function formatDetailedStatus(report: StatusReport): string {
  const names = report.groups.map((group) => group.name);
  const table = new Table({ head: ['job', 'state point', ...names], style: { head: [], border: [] } });
  for (const job of report.jobs) {
    table.push([
      job.id.slice(0, 8),
      JSON.stringify(job.statepoint),
      ...names.map((name) => {
        const entry = job.groups[name]!;
        if (entry.state !== undefined) return `${entry.state} (${entry.clusterId})`;
        return entry.complete ? 'complete' : entry.eligible ? 'eligible' : '-';
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

    program
      .command('status')
      .description('eligible and complete jobs per group, and their scheduler states')
      .option('-o, --operation <regex...>', 'groups or operations to show')
      .option('-j, --job-id <id...>', 'jobs to show (ids or unique prefixes)')
      .option('-d, --detailed', 'one row per job')
      .option('--json', 'print the report as JSON')
      .action(async (options: { operation?: string[]; jobId?: string[]; detailed?: boolean; json?: boolean }) => {
        let bar: SingleBar | undefined;
        const report = await project.status({
          ...(options.operation === undefined ? {} : { operations: options.operation }),
          ...(options.jobId === undefined ? {} : { jobs: options.jobId }),
          onProgress: (done, total) => {
            if (total < PROGRESS_THRESHOLD || !isTerminal(stderr)) return;
            if (bar === undefined) {
              bar = new SingleBar({
                stream: stderr,
                format: 'status |{bar}| {value}/{total} jobs',
                clearOnComplete: true,
                hideCursor: true,
              });
              bar.start(total, 0);
            }
            bar.update(done);
            if (done === total) bar.stop();
          },
        });
        if (options.json === true) stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else stdout.write(options.detailed === true ? formatDetailedStatus(report) + formatStatus(report) : formatStatus(report));
      });

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
      .option('--num-passes <n>', 'stop after this many passes', positiveInt)
      .option('--pretend', 'print what would run, run nothing')
      .option('--parallel <n>', 'run up to n groups-on-jobs at once', positiveInt)
      .action(async (options: { operation?: string[]; jobId?: string[]; numPasses?: number; pretend?: boolean; parallel?: number }) => {
        const result = await project.run({
          ...(options.operation === undefined ? {} : { operations: options.operation }),
          ...(options.jobId === undefined ? {} : { jobs: options.jobId }),
          ...(options.numPasses === undefined ? {} : { numPasses: options.numPasses }),
          ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
          pretend: options.pretend === true,
        });
        if (options.pretend !== true) {
          stdout.write(`ran ${result.executed.length} operation(s) in ${result.passes} pass(es)\n`);
        }
      });

    program
      .command('submit')
      .description('submit eligible groups to the cluster scheduler')
      .option('-o, --operation <regex...>', 'groups or operations to submit')
      .option('-j, --job-id <id...>', 'jobs to submit (ids or unique prefixes)')
      .option('--pretend', 'print the scripts; submit nothing, write nothing')
      .option('--bundle <n>', 'put up to n groups-on-jobs in one cluster job', positiveInt)
      .option('--parallel', 'run a bundle’s commands at the same time')
      .option('--hold', 'submit held')
      .option('--after <id>', 'start after this cluster job succeeded (does not wait)')
      .option('--partition <name>', 'partition or queue')
      .action(
        async (options: {
          operation?: string[];
          jobId?: string[];
          pretend?: boolean;
          bundle?: number;
          parallel?: boolean;
          hold?: boolean;
          after?: string;
          partition?: string;
        }) => {
          await project.submit({
            ...(options.operation === undefined ? {} : { operations: options.operation }),
            ...(options.jobId === undefined ? {} : { jobs: options.jobId }),
            ...(options.bundle === undefined ? {} : { bundle: options.bundle }),
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
      return isVfError(error) && error.code === 'USAGE' ? 2 : 1;
    }
  });
}
