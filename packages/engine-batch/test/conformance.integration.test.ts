import { describeEngineConformance } from '@vf/core/testing';
import { BatchExecutionEngine } from '../src/index.js';

describeEngineConformance(() => new BatchExecutionEngine({ queueSize: 4 }));
// With re-dispatch on, senders keep items until their output is taken downstream: the contract must not change.
describeEngineConformance(() => new BatchExecutionEngine({ queueSize: 2, restartOnFailure: true }), {
  name: 'BatchExecutionEngine, restartOnFailure',
});
