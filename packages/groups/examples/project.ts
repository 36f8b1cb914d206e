// An example vf FlowProject. Run it with a TypeScript loader (inside this repository, without a
// build, add --conditions=@vf/source so that @vf/* resolve to their sources), e.g.:
//   node --import tsx examples/project.ts init      # make three jobs
//   node --import tsx examples/project.ts status    # eligible/complete per group
//   node --import tsx examples/project.ts run -o pipeline     # its operations, "prepare" then "compute", in passes
//   node --import tsx examples/project.ts submit --pretend    # the SLURM scripts it would submit
import { readFileSync, writeFileSync } from 'node:fs';
import { FlowProject, flowOperation, post, pre } from '@vf/groups';

// The workspace lives beside this file unless EXAMPLE_ROOT says otherwise (the tests use a temporary one).
const project = new FlowProject({ root: process.env.EXAMPLE_ROOT ?? import.meta.dirname, name: 'example' });

// `pipeline` runs prepare then compute in one go (and in one cluster job when submitted).
const pipeline = project.makeGroup('pipeline');

project.operation('prepare', (job) => writeFileSync(job.fn('input.json'), JSON.stringify({ n: job.sp.n })), {
  post: [post.isFile('input.json')],
  groups: [pipeline],
});

// A vf flow as an operation: its 5 tasks (numbers, 2 × square, sum, sink) fit in np=5; no GPU.
// Inside the pipeline it may use 6 processes and 2 hours; with np below 5 it would refuse to start.
project.operation(
  'compute',
  flowOperation(new URL('./flows/sumOfSquares.ts', import.meta.url), (job) => ({
    n: (JSON.parse(readFileSync(job.fn('input.json'), 'utf8')) as { n: number }).n,
    out: job.fn('sums.jsonl'),
    nbTasks: 2,
  })),
  {
    directives: { np: 5, walltime: 1 },
    pre: [pre.after('prepare')],
    post: [post.isFile('sums.jsonl')],
    groups: [pipeline.with({ directives: { np: 6, walltime: 2, memory: '2g' } })],
  },
);

project.operation(
  'report',
  (job) => {
    const last = readFileSync(job.fn('sums.jsonl'), 'utf8').trim().split('\n').at(-1);
    job.doc.set('sum_of_squares', Number(last));
  },
  { pre: [pre.after('compute')], post: [post.hasKey('sum_of_squares')] },
);

const argv = process.argv.slice(2);
if (argv[0] === 'init') {
  for (const n of [10, 100, 1000]) project.openJob({ n }).init();
  console.log(`${project.jobs().length} jobs in ${project.workspace.path}`);
} else {
  await project.main(argv);
}
