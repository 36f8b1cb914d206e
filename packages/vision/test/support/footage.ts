import { realFootage } from '../../src/index.js';

/**
 * vtest.avi for a test file: its path, or undefined (with the reason printed) when apt is absent so
 * it cannot be fetched. Where apt exists a failed fetch throws: CI must run these tests.
 */
export async function vtestOrSkip(): Promise<string | undefined> {
  const footage = await realFootage('vtest.avi', { log: (line) => console.error(line) });
  if ('unavailable' in footage) {
    console.warn(`skipping the tests on real footage: ${footage.unavailable}`);
    return undefined;
  }
  return footage.path;
}

/**
 * Persons in frames of vtest.avi, annotated by hand (looking at each frame): one point on each
 * person's torso, in pixels of the 768×576 frame. People hidden behind others for most of their
 * body are left out; people cut by the frame's edge are in.
 */
export const VTEST_PERSONS: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>> = new Map([
  [
    0,
    [
      [267, 265],
      [515, 195],
      [661, 280],
    ],
  ],
  [
    10,
    [
      [332, 250],
      [484, 205],
      [565, 280],
      [760, 360],
    ],
  ],
  [
    20,
    [
      [378, 235],
      [458, 275],
      [706, 325],
      [741, 320],
    ],
  ],
  [
    30,
    [
      [391, 225],
      [415, 260],
      [648, 295],
      [683, 300],
    ],
  ],
  [
    40,
    [
      [389, 218],
      [411, 225],
      [449, 230],
      [587, 270],
      [617, 270],
      [757, 340],
    ],
  ],
  [
    50,
    [
      [385, 218],
      [419, 220],
      [445, 210],
      [523, 255],
      [567, 250],
      [692, 315],
    ],
  ],
  [
    60,
    [
      [375, 200],
      [388, 220],
      [412, 222],
      [485, 240],
      [518, 240],
      [633, 270],
    ],
  ],
  [
    70,
    [
      [308, 200],
      [385, 210],
      [418, 220],
      [460, 230],
      [492, 225],
      [604, 260],
    ],
  ],
]);
