/**
 * `@vf/core/nodes`: ready-made nodes Videoflow users expect (counters, identity, joiner,
 * aggregators, printing and file sinks). Domain nodes (video, vision) live in their own packages.
 * @packageDocumentation
 */
export {
  AggregatorNode,
  CountAggregator,
  MaxAggregator,
  MinAggregator,
  MultiplicationAggregator,
  SumAggregator,
} from './library/aggregators.js';
export { IdentityProcessor, JoinerProcessor } from './library/basicProcessors.js';
export {
  CommandlineConsumer,
  type CommandlineConsumerOptions,
  FileAppenderConsumer,
  type FileAppenderOptions,
  VoidConsumer,
} from './library/consumers.js';
export { IntProducer } from './library/intProducer.js';
