import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { userPath } from './cliParsers.js';

describe('userPath', () => {
  it('resolves a relative path against INIT_CWD when pnpm/npm set it', () => {
    expect(userPath('clip.mp4', { INIT_CWD: '/home/me/videos' }, '/repo/apps/demo')).toBe('/home/me/videos/clip.mp4');
    expect(userPath('../clip.mp4', { INIT_CWD: '/home/me/videos' }, '/repo/apps/demo')).toBe('/home/me/clip.mp4');
  });

  it('resolves against the working directory without INIT_CWD (or with an empty one)', () => {
    expect(userPath('clip.mp4', {}, '/work')).toBe(join('/work', 'clip.mp4'));
    expect(userPath('clip.mp4', { INIT_CWD: '' }, '/work')).toBe(join('/work', 'clip.mp4'));
  });

  it('keeps an absolute path as it is', () => {
    expect(userPath('/data/clip.mp4', { INIT_CWD: '/home/me' }, '/work')).toBe('/data/clip.mp4');
  });
});
