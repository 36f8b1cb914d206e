import { describe, expect, it } from 'vitest';
import { connectedComponents } from './connectedComponents.js';

function mask(rows: readonly string[]): { bits: number[]; width: number; height: number } {
  return { bits: rows.flatMap((row) => [...row].map((char) => (char === '#' ? 1 : 0))), width: rows[0]?.length ?? 0, height: rows.length };
}

describe('connectedComponents', () => {
  it('finds 8-connected regions with their boxes and areas, largest first', () => {
    const { bits, width, height } = mask(['##.....#', '##....#.', '.....#..', '..###...', '..#.#..#']);
    expect(connectedComponents(bits, width, height)).toEqual([
      { x: 2, y: 0, w: 6, h: 5, area: 8, label: 'object', score: 1 }, // the diagonal joins the U: 8-connectivity
      { x: 0, y: 0, w: 2, h: 2, area: 4, label: 'object', score: 1 },
      { x: 7, y: 4, w: 1, h: 1, area: 1, label: 'object', score: 1 },
    ]);
  });

  it('merges labels that meet late (a U shape scanned top-down) and drops regions under minArea', () => {
    const { bits, width, height } = mask(['#...#', '#...#', '#####', '.....', '.#...']);
    expect(connectedComponents(bits, width, height, 2)).toEqual([{ x: 0, y: 0, w: 5, h: 3, area: 9, label: 'object', score: 1 }]);
  });

  it('rejects a mask of the wrong size', () => {
    expect(() => connectedComponents([1, 0, 1], 2, 2)).toThrow(RangeError);
  });
});
