import { Eta } from 'eta';
import type { ResolvedDirectives } from '../directives.js';
import { GroupsError } from '../errors.js';
import { BASE_TEMPLATE, LSF_TEMPLATE, PBS_TEMPLATE, SLURM_TEMPLATE } from './scripts.js';

/** One command of a script: a group run on a job. */
export interface ScriptCommand {
  readonly group: string;
  readonly operations: readonly string[];
  readonly job: string;
  /** The shell command line. */
  readonly command: string;
}

/** What a scheduler script is rendered from. */
export interface ScriptRequest {
  /** The cluster job name: `<project>-<root hash>.<job id>.<group>`, or `<project>-<root hash>.bundle.<hash>` for a bundle. */
  readonly name: string;
  /** The project root: the script `cd`s there. */
  readonly root: string;
  /** Folder for the scheduler's output files. */
  readonly logDir: string;
  /** Combined directives of everything the script runs. */
  readonly directives: ResolvedDirectives;
  readonly commands: readonly ScriptCommand[];
  /** Run the commands at the same time (`&` and `wait`). */
  readonly parallel: boolean;
  readonly hold: boolean;
  /** Cluster job id this one starts after (when it succeeded). */
  readonly after?: string;
  /** Partition / queue. */
  readonly partition?: string;
}

/** Templates by name: `base`, `slurm`, `pbs`, `lsf`, and any a project adds. */
export type ScriptTemplates = Readonly<Record<string, string>>;

/** The templates vf ships. */
export const DEFAULT_TEMPLATES: ScriptTemplates = { base: BASE_TEMPLATE, slurm: SLURM_TEMPLATE, pbs: PBS_TEMPLATE, lsf: LSF_TEMPLATE };

/** Quotes a word for POSIX shells (unchanged when it needs no quoting). */
export function shellQuote(word: string): string {
  if (word !== '' && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

const pad = (value: number) => String(value).padStart(2, '0');

/**
 * Wall time in hours as `D-HH:MM:SS` (SLURM), `HH:MM:SS` (PBS) and `HH:MM` (LSF, rounded up to the
 * minute), rounded up to the second (at least one).
 */
export function formatWalltime(hours: number): { slurm: string; hms: string; hm: string } {
  // To the millisecond first: 1.1 h is 3960.0000000000005 s in floating point, not 3961 s.
  const seconds = Math.max(1, Math.ceil(Math.round(hours * 3_600_000) / 1000));
  const minutes = Math.ceil(seconds / 60);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const days = Math.floor(h / 24);
  return {
    slurm: `${days > 0 ? `${days}-` : ''}${pad(h % 24)}:${pad(m)}:${pad(s)}`,
    hms: `${pad(h)}:${pad(m)}:${pad(s)}`,
    hm: `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`,
  };
}

/** Memory in GB as SLURM `--mem` (`4G`, `512M`), PBS `mem=` (`4gb`, `512mb`) and whole megabytes. */
export function formatMemory(gigabytes: number): { slurm: string; pbs: string; mb: number } {
  const mb = Math.ceil(gigabytes * 1024);
  const whole = Number.isInteger(gigabytes);
  return { slurm: whole ? `${gigabytes}G` : `${mb}M`, pbs: whole ? `${gigabytes}gb` : `${mb}mb`, mb };
}

/**
 * Renders the scheduler script of `scheduler` (a template name) with Eta. `templates` replaces or
 * adds templates by name (e.g. `{ slurm: myHeader }` or a new `base`).
 */
export function renderScript(scheduler: string, request: ScriptRequest, templates: ScriptTemplates = {}): string {
  const all = { ...DEFAULT_TEMPLATES, ...templates };
  if (all[scheduler] === undefined) {
    throw new GroupsError('TEMPLATE', `no script template for scheduler "${scheduler}" (known: ${Object.keys(all).join(', ')})`);
  }
  const eta = new Eta({ autoEscape: false, autoTrim: false, cache: false, useWith: false });
  for (const [name, source] of Object.entries(all)) eta.loadTemplate(`@${name}`, source);
  const data = {
    ...request,
    quote: shellQuote,
    memory: request.directives.memory === undefined ? undefined : formatMemory(request.directives.memory),
    walltime: request.directives.walltime === undefined ? undefined : formatWalltime(request.directives.walltime),
  };
  try {
    return eta.render(`@${scheduler}`, data);
  } catch (error) {
    throw new GroupsError('TEMPLATE', `the ${scheduler} script template failed: ${(error as Error).message}`, { cause: error });
  }
}
