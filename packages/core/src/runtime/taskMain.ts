/**
 * Entry point of every task process (started by the spawner). Kept tiny on purpose: all the work
 * is in `runTaskProcess`, which is testable like any function.
 */
import { runTaskProcess } from './taskProcess.js';

runTaskProcess();
