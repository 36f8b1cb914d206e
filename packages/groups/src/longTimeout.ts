/** The longest delay a Node timer takes (2³¹ − 1 ms, about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `setTimeout` for any delay: a walltime of 600 h, or `run -t` of a month, waits that long instead of
 * firing at once (Node turns a delay past {@link MAX_TIMER_MS} into 1 ms, with only a warning). Waits
 * in steps of at most that much. Returns what cancels it.
 */
export function setLongTimeout(callback: () => void, delayMs: number): () => void {
  let timer: NodeJS.Timeout;
  const deadline = Date.now() + delayMs;
  const arm = (remaining: number) => {
    timer = setTimeout(
      () => {
        const left = deadline - Date.now();
        if (left > 0) arm(left);
        else callback();
      },
      Math.min(remaining, MAX_TIMER_MS),
    );
  };
  arm(delayMs);
  return () => clearTimeout(timer);
}
