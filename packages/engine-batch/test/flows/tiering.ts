import { writeFileSync } from 'node:fs';
import { cachedDataVersionTag } from 'node:v8';
import { ConsumerNode, defineFlow, Flow } from '@vf/core';
import { IntProducer } from '@vf/core/nodes';

/**
 * Writes, when it closes, V8's code-cache tag (a hash of V8's options, `v8.cachedDataVersionTag()`)
 * as its task saw it when it opened and at each item it consumed.
 */
class TagRecorder extends ConsumerNode<[number]> {
  readonly #tags: { open: number; consumed: number[] } = { open: 0, consumed: [] };

  constructor(private readonly out: string) {
    super({ name: 'tags' });
  }

  override open(): void {
    this.#tags.open = cachedDataVersionTag();
  }

  consume(): void {
    this.#tags.consumed.push(cachedDataVersionTag());
  }

  override close(): void {
    writeFileSync(this.out, JSON.stringify(this.#tags));
  }
}

/** numbers 0–4 → tags. */
export default defineFlow((params: { out: string }) => {
  const numbers = new IntProducer(0, 4, { name: 'numbers' });
  return new Flow([numbers], [new TagRecorder(params.out).from(numbers)]);
});
