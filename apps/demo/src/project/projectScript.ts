/**
 * The demo project's own program, for scheduler scripts and forked operations
 * (`<executable> projectScript.ts run -o ^analyze$ -j ID`): the project rooted at the working
 * directory, which both set to the project root (the script `cd`s there; forks start there).
 * People use `vf-demo project [--root DIR] ...` instead.
 */
import { createVideoProject } from './videoProject.js';

await createVideoProject({ root: process.cwd() }).main(process.argv.slice(2));
