import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isVfError } from '@vf/core';
import { GroupsError } from '@vf/groups';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { nonNegative, positiveInteger, videoSize } from './cliParsers.js';
import {
  addVideoJobs,
  DEFAULT_DETECTOR_TASKS,
  DEFAULT_VIDEO_PARAMETERS,
  type ParameterGrid,
  parseParameterList,
  type VideoParameters,
} from './project/videoJobs.js';
import { ANALYZE_GROUP, createVideoProject } from './project/videoProject.js';

/** The project folder when `--root` is not given, relative to the working directory. */
export const DEFAULT_PROJECT_ROOT = 'vf-demo-project';

/**
 * How the user started the demo, to say what to type next: `pnpm demo` (its `start` script, the
 * README's way) or the built `vf-demo` binary, which is on no PATH unless installed.
 */
function demoCommand(): string {
  return process.env.npm_package_name === '@vf/demo' && process.env.npm_lifecycle_event === 'start' ? 'pnpm demo' : 'vf-demo';
}

/** The `@vf/groups` commands `vf-demo project` hands on as they are. */
const GROUPS_COMMANDS = [
  ['status', 'eligible and complete jobs per group (-d: per job), and their scheduler states'],
  ['next', 'ids of the jobs for which an operation or group is eligible'],
  ['run', `run eligible groups in passes until nothing is eligible (e.g. -o ${ANALYZE_GROUP})`],
  ['submit', 'submit eligible groups to SLURM, PBS or LSF (--pretend: print the scripts)'],
  ['exec', 'run an operation on jobs whatever its conditions'],
] as const;

/** The parameter options of `init`: each takes a comma-separated list; one job per combination. */
const PARAMETER_OPTIONS: ReadonlyArray<readonly [keyof VideoParameters, string, string]> = [
  ['threshold', '--threshold <list>', 'detector: foreground threshold, 0–255'],
  ['minArea', '--min-area <list>', 'detector: smallest object, in pixels'],
  ['maxAge', '--max-age <list>', 'tracker: frames a track survives unmatched'],
  ['minHits', '--min-hits <list>', 'tracker: matches before a track counts'],
  ['iouThreshold', '--iou-threshold <list>', 'tracker: smallest IoU for a match, in (0, 1]'],
];

interface InitOptions extends ParameterGrid {
  readonly root?: string;
  readonly sample?: number;
  readonly duration: number;
  readonly size: { width: number; height: number };
  readonly fps: number;
  readonly detectorTasks?: number;
}

/**
 * Registers `vf-demo project`: the demo as a `@vf/groups` FlowProject (see `project/videoProject.ts`)
 * whose jobs are videos. `project init` adds videos (or generated samples) as jobs; `status`, `next`,
 * `run`, `submit` and `exec` are the `@vf/groups` command line on that project, e.g.
 * `vf-demo project run -o analyze` or `vf-demo project submit --pretend`. `--root DIR` (before or
 * after the command) picks the project folder, default `./vf-demo-project`.
 */
export function registerGroupsCommands(program: Command): void {
  // The main command's options (-o, -i, ...) stop at `project`: after it, -o is the groups' -o.
  program.enablePositionalOptions();
  const project = program
    .command('project')
    .description('the demo as a FlowProject: one job per video; operations detect, track, summarize; group analyze = detect + track')
    .option('--root <dir>', 'the project folder', DEFAULT_PROJECT_ROOT)
    .addHelpText(
      'after',
      `\nExample:\n  vf-demo project init --sample 2\n  vf-demo project run -o ${ANALYZE_GROUP}\n  vf-demo project run\n  vf-demo project status -d\n  vf-demo project submit -o ${ANALYZE_GROUP} --pretend\n` +
        '\nHelp of a @vf/groups command: vf-demo project <command> --help',
    );

  const init = project
    .command('init')
    .alias('add')
    .description('add videos (and/or generated samples) as jobs: one per video and combination of parameter values')
    .argument('[videos...]', 'video files')
    .option('--root <dir>', 'the project folder (as before the command)')
    .option('--sample <n>', 'generate n sample videos of moving shapes into <root>/videos and add them', positiveInteger)
    .option('--duration <seconds>', 'length of generated samples', nonNegative, 2)
    .addOption(new Option('--size <WxH>', 'size of generated samples').argParser(videoSize).default({ width: 320, height: 180 }, '320x180'))
    .option('--fps <n>', 'frame rate of generated samples', positiveInteger, 25)
    .option(
      '-d, --detector-tasks <n>',
      `detector replicas, kept in the job document (default: the job's, else ${DEFAULT_DETECTOR_TASKS})`,
      positiveInteger,
    );
  for (const [name, flags, description] of PARAMETER_OPTIONS) {
    init.option(flags, `${description} (default ${DEFAULT_VIDEO_PARAMETERS[name]})`, (text: string) => {
      try {
        return parseParameterList(name, text);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    });
  }
  init.action(async (videos: string[], options: InitOptions) => {
    const root = options.root ?? project.opts<{ root: string }>().root;
    process.exitCode = await runInit(root, videos, options);
  });

  for (const [name, description] of GROUPS_COMMANDS) {
    project
      .command(name)
      .description(description)
      // Everything after the command, --help included, goes to @vf/groups' own parser.
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument('[args...]')
      .action(async (_args: string[], _options: unknown, command: Command) => {
        const { root, rest } = takeRootOption(command.args, project.opts<{ root: string }>().root);
        process.exitCode = await runGroupsCommand(root, [name, ...rest]);
      });
  }
}

/**
 * Takes `--root DIR` / `--root=DIR` out of a groups command's arguments (so it may also come after
 * the command); the last one wins over `root`.
 */
export function takeRootOption(args: readonly string[], root: string): { root: string; rest: string[] } {
  const rest: string[] = [];
  let chosen = root;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--') {
      rest.push(...args.slice(index));
      break;
    }
    if (arg === '--root' && index + 1 < args.length) chosen = args[++index]!;
    else if (arg.startsWith('--root=')) chosen = arg.slice('--root='.length);
    else rest.push(arg);
  }
  return { root: chosen, rest };
}

async function runGroupsCommand(root: string, argv: readonly string[]): Promise<number> {
  if (!existsSync(resolve(root, 'workspace'))) {
    return fail(
      new GroupsError(
        'NOT_FOUND',
        `no project in ${resolve(root)} (it has no workspace): add videos first, e.g. vf-demo project --root ${root} init --sample 2`,
      ),
    );
  }
  return createVideoProject({ root }).main(argv, { setExitCode: false });
}

async function runInit(root: string, videos: readonly string[], options: InitOptions): Promise<number> {
  const project = createVideoProject({ root });
  try {
    const grid: ParameterGrid = Object.fromEntries(
      PARAMETER_OPTIONS.map(([name]) => [name, options[name]]).filter(([, values]) => values !== undefined),
    );
    const added = await addVideoJobs(project, {
      videos,
      ...(options.sample === undefined ? {} : { samples: options.sample }),
      sampleOptions: { durationS: options.duration, fps: options.fps, ...options.size },
      grid,
      ...(options.detectorTasks === undefined ? {} : { detectorTasks: options.detectorTasks }),
      log: (line) => console.log(line),
    });
    for (const { job, statepoint, created } of added) {
      const { source, ...parameters } = statepoint;
      const settings = Object.entries(parameters)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ');
      console.log(`${created ? 'added ' : 'exists'} ${job.id}  ${basename(source)}  ${settings}`);
    }
    console.log(
      `${project.jobs().length} job(s) in ${project.workspace.path}\nnext: ${demoCommand()} project${root === DEFAULT_PROJECT_ROOT ? '' : ` --root ${root}`} run -o ${ANALYZE_GROUP}`,
    );
    return 0;
  } catch (error) {
    return fail(error);
  }
}

/** Reports an error as the @vf/groups command line does (`error [CODE]: message`); 2 for bad usage, else 1. */
function fail(error: unknown): number {
  const code = isVfError(error) ? ` [${error.code}]` : '';
  console.error(`error${code}: ${error instanceof Error ? error.message : String(error)}`);
  return isVfError(error) && error.code === 'USAGE' ? 2 : 1;
}
