import { vfTsup } from '@vf/tsup-config';

// The conformance fixtures are flow modules that task processes import by URL: each one is its own entry.
const fixtures = ['linear', 'diamond', 'aggregate', 'endless', 'throwing', 'branch', 'values'];

export default vfTsup({
  index: 'src/index.ts',
  engine: 'src/engine.ts',
  testing: 'src/testing.ts',
  nodes: 'src/nodes.ts',
  taskMain: 'src/runtime/taskMain.ts',
  taskProgram: 'src/runtime/taskProgramEntry.ts',
  ...Object.fromEntries(fixtures.map((name) => [`testing/flows/${name}`, `src/testing/flows/${name}.ts`])),
});
