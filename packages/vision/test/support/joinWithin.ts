import type { Flow, FlowReport } from '@vf/core';

/** The flow's report, or a rejection after `ms` (the flow then stopped): a test never waits for ever. */
export async function joinWithin(flow: Flow, ms = 60_000): Promise<FlowReport> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      flow.join(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          flow.stop();
          reject(new Error(`the flow did not end within ${ms / 1000} s`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
