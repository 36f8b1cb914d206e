import { writeFileSync } from 'node:fs';
import { ConsumerNode, defineFlow, Flow, ProducerNode } from '@vf/core';
import { IdentityProcessor } from '@vf/core/nodes';
class Source extends ProducerNode {
    params;
    constructor(params) {
        super({ name: 'source' });
        this.params = params;
    }
    *produce() {
        // Frames are made once and re-sent: the benchmark measures transport, not allocation.
        const frame = new Uint8Array(1920 * 1080 * 3).fill(7);
        for (let index = 0; index < this.params.count; index++) {
            yield this.params.payload === 'frame' ? { index, data: frame } : { index, x: index * 2, y: 3.5, label: 'car', ok: true };
        }
    }
}
/** Records wall-clock times of the first and last item; the parent computes rates from them. */
class Timer extends ConsumerNode {
    out;
    #first = 0;
    #last = 0;
    #count = 0;
    constructor(out) {
        super({ name: 'timer' });
        this.out = out;
    }
    consume() {
        const now = Date.now() + (performance.now() % 1);
        if (this.#count === 0) {
            this.#first = now;
            writeFileSync(`${this.out}.first`, String(now));
        }
        this.#last = now;
        this.#count += 1;
    }
    close() {
        writeFileSync(this.out, JSON.stringify({ first: this.#first, last: this.#last, count: this.#count }));
    }
}
export default defineFlow((params) => {
    const source = new Source(params);
    let last = source;
    for (let index = 0; index < params.identities; index++) {
        last = new IdentityProcessor({ name: `identity${index}`, nbTasks: index === 0 ? params.nbTasks : 1 }).from(last);
    }
    const timer = new Timer(params.out).from(last);
    return new Flow([source], [timer]);
});
