import type { Device, DeviceAllocator } from '../contracts/deviceAllocator.js';
import { AllocationError } from '../errors.js';
import type { FlowGraph } from '../graph/validateGraph.js';
import { ConsumerNode } from '../nodes/consumerNode.js';
import type { TimeJoinSpec } from '../nodes/joinOptions.js';
import type { DeviceType, NodeKind } from '../nodes/node.js';
import { ProducerNode } from '../nodes/producerNode.js';

/** A node as the plan sees it: plain data, identical in every process. */
export interface PlannedNode {
  /** Position in the flow's deterministic topological order. */
  readonly index: number;
  readonly name: string;
  readonly kind: NodeKind;
  /** Indices of the parents, in wiring order. */
  readonly parents: readonly number[];
  /** Indices of the children, in wiring order. */
  readonly children: readonly number[];
  readonly nbTasks: number;
  readonly deviceType: DeviceType;
  readonly requiresGpu: boolean;
  /** GPU memory one task needs, in MB, when it may share a GPU; absent: a whole GPU per GPU task. */
  readonly gpuMemoryMb?: number;
  /** Producers only: pacing in items per second. */
  readonly fps?: number;
  /** Consumers only: receives metadata instead of values. */
  readonly wantsMetadata?: boolean;
  /** Nodes with a time join: how their parents are grouped (see `TimeJoinOptions`). */
  readonly join?: TimeJoinSpec;
}

/** One task: one replica of one node, placed on a device. */
export interface TaskSpec {
  /** Unique within the plan; tasks are numbered in topological order of their nodes. */
  readonly id: number;
  readonly nodeIndex: number;
  readonly nodeName: string;
  /** Replica index, 0 ≤ taskIndex < nbTasks. */
  readonly taskIndex: number;
  readonly nbTasks: number;
  readonly device: Device;
  /** Extra environment for the task (device visibility). */
  readonly env: Readonly<Record<string, string>>;
}

/** Where a task process rebuilds the flow: a flow module and the params given to its factory. */
export interface FlowSource {
  readonly moduleUrl: string;
  readonly params: unknown;
}

/** Everything an engine needs to start a flow's tasks. */
export interface ExecutionPlan {
  readonly version: 1;
  readonly nodes: readonly PlannedNode[];
  readonly tasks: readonly TaskSpec[];
  /** Present when the flow came from a flow module: multi-process engines need it. */
  readonly source?: FlowSource;
  /** The node objects, for engines that run tasks in the calling process. */
  readonly graph: FlowGraph;
}

/** Describes the graph as plain data, in topological order. */
export function planNodes(graph: FlowGraph): PlannedNode[] {
  const indexOf = new Map(graph.nodes.map((node, index) => [node, index]));
  return graph.nodes.map((node, index) => {
    const planned: PlannedNode = {
      index,
      name: node.name,
      kind: node.kind,
      parents: node.parents.map((parent) => indexOf.get(parent) as number),
      children: node.children.map((child) => indexOf.get(child) as number),
      nbTasks: node.nbTasks,
      deviceType: node.deviceType,
      requiresGpu: node.requiresGpu,
      ...(node.timeJoin === undefined ? {} : { join: node.timeJoin }),
    };
    if (node instanceof ProducerNode && node.fps !== undefined) return { ...planned, fps: node.fps };
    if (node instanceof ConsumerNode) return { ...planned, wantsMetadata: node.wantsMetadata };
    if (node.gpuMemoryMb !== undefined) return { ...planned, gpuMemoryMb: node.gpuMemoryMb };
    return planned;
  });
}

/** Places every task with `allocator` and returns the plan. Throws `AllocationError` before anything starts. */
export async function buildExecutionPlan(graph: FlowGraph, allocator: DeviceAllocator, source?: FlowSource): Promise<ExecutionPlan> {
  const nodes = planNodes(graph);
  const placements = await allocator.allocate(nodes);
  if (placements.length !== nodes.length) {
    throw new AllocationError('BAD_ALLOCATION', `the device allocator placed ${placements.length} nodes, expected ${nodes.length}`);
  }
  const tasks: TaskSpec[] = [];
  for (const node of nodes) {
    const nodePlacements = placements[node.index] ?? [];
    if (nodePlacements.length !== node.nbTasks) {
      throw new AllocationError(
        'BAD_ALLOCATION',
        `the device allocator placed ${nodePlacements.length} tasks of node "${node.name}", expected ${node.nbTasks}`,
        {
          details: { node: node.name },
        },
      );
    }
    for (const [taskIndex, placement] of nodePlacements.entries()) {
      tasks.push({
        id: tasks.length,
        nodeIndex: node.index,
        nodeName: node.name,
        taskIndex,
        nbTasks: node.nbTasks,
        device: placement.device,
        env: placement.env,
      });
    }
  }
  return source === undefined ? { version: 1, nodes, tasks, graph } : { version: 1, nodes, tasks, graph, source };
}
