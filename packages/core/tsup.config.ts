import { readdirSync } from 'node:fs';
import { vfTsup } from '@vf/tsup-config';

// The conformance fixtures are flow modules that task processes import by URL: each one is its own
// entry (every module of their folder but the helpers they share). A list kept by hand had fallen
// behind: an engine's conformance run against the built package could not load half of them.
const helpers = new Set(['fixtureNodes.ts', 'valueCases.ts']);
const fixtures = readdirSync('src/testing/flows')
  .filter((file) => file.endsWith('.ts') && !helpers.has(file))
  .map((file) => file.slice(0, -'.ts'.length));

export default vfTsup({
  index: 'src/index.ts',
  engine: 'src/engine.ts',
  testing: 'src/testing.ts',
  nodes: 'src/nodes.ts',
  taskMain: 'src/runtime/taskMain.ts',
  taskProgram: 'src/runtime/taskProgramEntry.ts',
  ...Object.fromEntries(fixtures.map((name) => [`testing/flows/${name}`, `src/testing/flows/${name}.ts`])),
});
