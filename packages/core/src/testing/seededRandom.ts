/**
 * A seeded generator of numbers in [0, 1) (a linear congruential one: the same runs every time),
 * for the property tests that replay random interleavings (`runtime/inputAligner.test.ts`,
 * `runtime/timeAligner.test.ts`).
 */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
