import { ValueError } from '../errors.js';

/**
 * How instances of one class travel between tasks: `encode` turns an instance into a value that
 * travels by itself (plain data, typed arrays, Maps, other registered types...), `decode` rebuilds
 * the instance from it in the receiving task.
 */
export interface ValueTypeDefinition<TValue extends object, TData> {
  /**
   * Names the type on the wire: the same in every process, unique among registered types. Not the
   * class name by default, because bundlers may rename classes.
   */
  readonly name: string;
  /** The class. Only its own instances use this definition; a subclass needs its own. */
  readonly type: abstract new (
    ...args: never[]
  ) => TValue;
  /** Turns an instance into data that can travel. Called in the sending task. */
  encode(value: TValue): TData;
  /** Rebuilds an instance from what `encode` returned. Called in the receiving task. */
  decode(data: TData): TValue;
}

/** A registered type, as the codec uses it. */
export interface RegisteredValueType {
  readonly name: string;
  readonly prototype: object;
  encode(value: object): unknown;
  decode(data: unknown): object;
}

interface Registry {
  readonly byName: Map<string, RegisteredValueType>;
  readonly byPrototype: Map<object, RegisteredValueType>;
}

// One registry per process, shared by every copy of @vf/core loaded in it (source and build, or two
// versions): the flow module registers through the copy it imports, the task runtime reads through its own.
const REGISTRY_KEY = Symbol.for('vf.valueTypes');
const shared = globalThis as Record<symbol, Registry | undefined>;
const registry: Registry = shared[REGISTRY_KEY] ?? { byName: new Map(), byPrototype: new Map() };
shared[REGISTRY_KEY] = registry;

/**
 * Lets instances of a class travel between tasks and arrive as instances of that class. Call it at
 * the top level of the flow module (or of a module it imports), so that every task process, which
 * imports the flow module, registers the type before any value arrives.
 *
 * Without it an instance of a user class is refused when sent (`VALUE_NOT_CLONEABLE`): it would
 * otherwise arrive as a plain object without its methods, which the type system cannot catch.
 *
 * @example
 * ```ts
 * class Box {
 *   constructor(readonly x: number, readonly y: number, readonly w: number, readonly h: number) {}
 *   get area() { return this.w * this.h; }
 * }
 * registerValueType({
 *   name: 'Box',
 *   type: Box,
 *   encode: (box) => [box.x, box.y, box.w, box.h],
 *   decode: ([x, y, w, h]) => new Box(x, y, w, h),
 * });
 * ```
 *
 * Registering the same name again replaces the definition when the class has the same name (a
 * module evaluated twice); a different class under a taken name throws `VALUE_TYPE_INVALID`.
 */
export function registerValueType<TValue extends object, TData>(definition: ValueTypeDefinition<TValue, TData>): void {
  const { name, type, encode, decode } = definition;
  if (typeof name !== 'string' || name === '') {
    throw new ValueError('VALUE_TYPE_INVALID', `registerValueType: name must be a non-empty string, got ${String(name)}`);
  }
  if (typeof type !== 'function' || typeof type.prototype !== 'object' || type.prototype === null) {
    throw new ValueError('VALUE_TYPE_INVALID', `registerValueType("${name}"): type must be a class`);
  }
  if (typeof encode !== 'function' || typeof decode !== 'function') {
    throw new ValueError('VALUE_TYPE_INVALID', `registerValueType("${name}"): encode and decode must be functions`);
  }
  const builtin = BUILTIN_PROTOTYPES.find((prototype) => prototype === type.prototype);
  if (builtin !== undefined) {
    throw new ValueError(
      'VALUE_TYPE_INVALID',
      `registerValueType("${name}"): ${type.name} is built in; register your own subclass instead`,
    );
  }
  const previous = registry.byName.get(name);
  if (previous !== undefined && previous.prototype !== type.prototype) {
    const previousClass = (previous.prototype as { constructor?: { name?: string } }).constructor?.name;
    if (previousClass !== type.name) {
      throw new ValueError(
        'VALUE_TYPE_INVALID',
        `registerValueType("${name}"): the name is taken by class ${previousClass ?? '?'}; give ${type.name} another name`,
      );
    }
  }
  const entry: RegisteredValueType = {
    name,
    prototype: type.prototype,
    encode: encode as (value: object) => unknown,
    decode: decode as (data: unknown) => object,
  };
  registry.byName.set(name, entry);
  registry.byPrototype.set(type.prototype, entry);
}

/** The registered type whose class has exactly this prototype, if any. */
export function valueTypeOf(prototype: object): RegisteredValueType | undefined {
  return registry.byPrototype.get(prototype);
}

/** The registered type of this name, if any. */
export function valueTypeNamed(name: string): RegisteredValueType | undefined {
  return registry.byName.get(name);
}

const BUILTIN_PROTOTYPES: readonly object[] = [
  Object.prototype,
  Array.prototype,
  Function.prototype,
  Date.prototype,
  RegExp.prototype,
  Map.prototype,
  Set.prototype,
  Error.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Buffer.prototype,
  Promise.prototype,
];
