import type { Options } from 'tsup';

/** Build preset for a vf package: ESM + declaration files, one output file per entry. */
export declare function vfTsup(entry: Record<string, string>, overrides?: Options): Options | Options[];
