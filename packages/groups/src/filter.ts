import sift from 'sift';
import { GroupsError } from './errors.js';
import type { Job } from './workspace.js';

/**
 * A job filter in signac's query language (MongoDB's): `{ a: 1 }`, `{ a: { $gt: 1 } }`,
 * `{ a: { $in: [1, 2] } }`, `{ $or: [...] }`, dotted keys for nested values. Keys are state point
 * keys unless prefixed `sp.` or `doc.` (the job document).
 */
export type JobFilter = { readonly [key: string]: unknown };

const COMBINATORS = new Set(['$and', '$or', '$nor']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Prefixes bare keys with `sp.` (or `prefix`), recursing into `$and`/`$or`/`$nor`. */
function qualify(filter: JobFilter, prefix: 'sp' | 'doc'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(filter)) {
    if (COMBINATORS.has(key)) {
      if (!Array.isArray(value)) throw new GroupsError('USAGE', `filter: ${key} takes a list of filters`);
      out[key] = value.map((item) => (isObject(item) ? qualify(item, prefix) : item));
    } else if (key.startsWith('$')) out[key] = value;
    else if (key.startsWith('sp.') || key.startsWith('doc.')) out[key] = value;
    else out[`${prefix}.${key}`] = value;
  }
  return out;
}

/**
 * A predicate on jobs from a state point filter and a document filter (either may be undefined).
 * Throws `USAGE` for an operator the query language does not know.
 */
export function jobMatcher(filter?: JobFilter, docFilter?: JobFilter): (job: Job) => boolean {
  const query = { ...(filter === undefined ? {} : qualify(filter, 'sp')), ...(docFilter === undefined ? {} : qualify(docFilter, 'doc')) };
  if (Object.keys(query).length === 0) return () => true;
  let test: (item: unknown) => boolean;
  try {
    // sift is CommonJS: its tester is `default` of the module, in Node and in its types alike.
    test = sift.default(query);
  } catch (error) {
    throw new GroupsError('USAGE', `invalid filter ${JSON.stringify(filter ?? docFilter)}: ${(error as Error).message}`, { cause: error });
  }
  // The document is read only when the query asks for it.
  const needsDoc = JSON.stringify(query).includes('"doc.');
  return (job) => test({ sp: job.statepoint, doc: needsDoc ? job.doc.data() : {} });
}

function parseValue(text: string): unknown {
  // A regular expression written /like this/ (signac's shorthand for $regex).
  if (text.length >= 2 && text.startsWith('/') && text.endsWith('/')) return { $regex: text.slice(1, -1) };
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Parses the words of `-f`/`--doc-filter` as signac does: one JSON object
 * (`'{"a": {"$gt": 1}}'`), or `key value` pairs where a value is JSON when it parses
 * (`1`, `true`, `null`, `[1, 2]`, `{"$lt": 3}`), a `/regex/`, else a string; a key without a value
 * means "has this key", and `key !` "has not".
 */
export function parseFilterArgs(words: readonly string[]): JobFilter {
  if (words.length === 1 && words[0]!.trim().startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(words[0]!);
    } catch (error) {
      throw new GroupsError('USAGE', `filter ${words[0]}: not JSON (${(error as Error).message})`);
    }
    if (!isObject(parsed)) throw new GroupsError('USAGE', `filter ${words[0]}: must be a JSON object`);
    return parsed;
  }
  const filter: Record<string, unknown> = {};
  for (let index = 0; index < words.length; index += 2) {
    const key = words[index]!;
    const value = words[index + 1];
    filter[key] = value === undefined || value === '!' ? { $exists: value !== '!' } : parseValue(value);
  }
  return filter;
}
