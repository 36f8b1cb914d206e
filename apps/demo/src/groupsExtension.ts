import type { Command } from 'commander';

/**
 * EXTENSION POINT for "Groups in the demo" (issue 7, last part), waiting for `@vf/groups`.
 *
 * It will register the project commands on the demo's CLI: a `FlowProject` whose jobs are videos
 * (state point: source and parameters) with the operations `detect` (a flow, directive `ngpu: 1`),
 * `track` and `summarize`, and a group `analyze` = detect + track with its own directives, driven
 * by `vf-demo project status | run -o analyze | submit --pretend`. The pieces to build them from
 * are already public here: the nodes (`nodes/index.ts`), the flow module `flows/analyze.ts`, and
 * {@link analyzeVideo} for a whole job.
 *
 * Until then it adds nothing, so the CLI's behaviour is unchanged.
 */
export function registerGroupsCommands(_program: Command): void {}
