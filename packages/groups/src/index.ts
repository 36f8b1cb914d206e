/**
 * `@vf/groups`: signac-flow's FlowGroups for vf. A {@link FlowProject} holds a workspace of jobs
 * and operations with conditions and resource directives; groups of operations run locally
 * (`run`, `exec`) or are submitted to SLURM, PBS or LSF (`submit`), and `status` maps the queue
 * back onto groups. Operations can run vf flows within their group's `np`/`ngpu` budget.
 * @packageDocumentation
 */
export { type Aggregator, aggregateId, aggregator } from './aggregator.js';
export { formatDetailedStatus, formatStatus, PROGRESS_THRESHOLD, runCli, type StatusFormat, varyingParameters } from './cli.js';
export { type Condition, type ConditionContext, conditions, type OperationRef, post, pre } from './conditions.js';
export {
  combineDirectives,
  type Directives,
  type DirectiveValue,
  parallelDirectives,
  parseMemory,
  type ResolvedDirectives,
  resolveDirectives,
  STANDARD_DIRECTIVES,
  serialDirectives,
} from './directives.js';
export { DirectiveError, GroupsError, GroupsErrorCode, requirePositiveInteger } from './errors.js';
export { type JobFilter, jobMatcher, parseFilterArgs } from './filter.js';
export { budgetAllocator, type FlowBudget, type FlowRunnerOptions, flowBudget, runFlowWithBudget } from './flowBudget.js';
export { describeGroupJob, FlowGroup, type GroupJob, type GroupMembership, type GroupOptions } from './group.js';
export { type Hooks, withHooks } from './hooks.js';
export {
  commandOperation,
  expandCommand,
  FlowOperation,
  flowOperation,
  type OperationContext,
  type OperationFunction,
  type OperationOptions,
  type OperationOutput,
} from './operation.js';
export {
  type AggregateCondition,
  type AggregateFunction,
  type AggregateOperationOptions,
  type AggregateStatus,
  defaultExecutable,
  everyJob,
  FlowProject,
  type FlowProjectOptions,
  type IgnoreConditions,
  type LabelFunction,
  type MainOptions,
  type Output,
  type RunOptions,
  type RunRecord,
  type RunResult,
  type Selection,
} from './project.js';
export { type CommandOptions, type CommandResult, type CommandRunner, runCommand } from './runCommand.js';
export { detectScheduler, SCHEDULERS, type SchedulerName } from './schedulers/detectScheduler.js';
export { type LsfCommands, LsfScheduler, parseBjobs } from './schedulers/lsf.js';
export { type PbsCommands, PbsScheduler, parseQstat } from './schedulers/pbs.js';
export {
  ACTIVE_STATES,
  type ClusterJob,
  type ClusterJobState,
  CommandScheduler,
  type Scheduler,
  type SchedulerOptions,
} from './schedulers/scheduler.js';
export { parseSqueue, type SlurmCommands, SlurmScheduler, slurmState } from './schedulers/slurm.js';
export {
  type GroupStatus,
  type JobStatus,
  projectStatus,
  type StatusOptions,
  type StatusReport,
  type Submission,
  type SubmitOptions,
  submitGroups,
} from './submission.js';
export {
  DEFAULT_TEMPLATES,
  formatMemory,
  formatWalltime,
  renderScript,
  type ScriptCommand,
  type ScriptRequest,
  type ScriptTemplates,
  shellQuote,
} from './templates/renderScript.js';
export {
  calcJobId,
  canonicalJson,
  DOCUMENT_FILE,
  Job,
  JobDocument,
  removeStaleTemporaries,
  STATEPOINT_FILE,
  type Statepoint,
  Workspace,
  writeFileAtomic,
} from './workspace.js';
