/**
 * What a task program's generated entry imports (see `runtime/taskProgram.ts`): one module, so that
 * the built package can point the program at one file (`dist/taskProgram.js`).
 */
export { registerBundledModules, registerBundledPackages, registerFlowProgram } from './bundledModules.js';
export { mapProgramStackTraces } from './programStackTraces.js';
export { runTaskProcess } from './taskProcess.js';
