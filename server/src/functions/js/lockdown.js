// Makes a context safe to reuse for many calls (see engine.rs): every object reachable from the
// globals, and the intrinsics reachable only through syntax, is frozen, so no call can change
// what the next one sees; the global object keeps its bindings fixed and only gains (and, after
// the call, loses again) the globals a call creates.
//
// Freezing alone would break ordinary code through the "override mistake": `this.name = "X"` in
// an Error subclass, or `Foo.prototype.toString = …`, fails when the inherited property is
// read-only. As SES does, such commonly overridden properties become accessors whose setter
// defines an own property on the object assigned to.
export default function lockdown() {
  const { defineProperty, freeze, getOwnPropertyDescriptor, getPrototypeOf, isExtensible } = Object;
  const ownKeys = Reflect.ownKeys;

  // V8-style stack hooks are state of the whole context behind accessors: make them constants.
  defineProperty(Error, "prepareStackTrace", { value: undefined, writable: false, enumerable: false, configurable: false });
  defineProperty(Error, "stackTraceLimit", { value: 10, writable: false, enumerable: false, configurable: false });

  const overridable = new Set(["constructor", "name", "message", "toString", "valueOf", "toJSON", "toLocaleString"]);
  const tame = (o, key, d) => {
    const value = d.value;
    defineProperty(o, key, {
      configurable: false,
      enumerable: d.enumerable,
      get() { return value; },
      set(v) {
        if (this === o) throw new TypeError(`Cannot assign to read only property '${String(key)}'`);
        defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
    });
  };

  const hidden = [];
  const add = (make) => { try { const v = make(); if (v) hidden.push(v); } catch (e) { /* not in this engine */ } };
  add(() => getPrototypeOf(function* () {}));
  add(() => getPrototypeOf(async function () {}));
  add(() => getPrototypeOf(async function* () {}));
  add(() => getPrototypeOf((function* () {})()));
  add(() => getPrototypeOf((async function* () {})()));
  add(() => getPrototypeOf([][Symbol.iterator]()));
  add(() => getPrototypeOf(new Map().entries()));
  add(() => getPrototypeOf(new Set().values()));
  add(() => getPrototypeOf(""[Symbol.iterator]()));
  add(() => getPrototypeOf(/x/[Symbol.matchAll]("")));
  add(() => getPrototypeOf([].values().map((x) => x)));
  add(() => getPrototypeOf(Uint8Array));
  add(() => getOwnPropertyDescriptor(Function.prototype, "caller").get);
  add(() => getPrototypeOf(Promise.resolve()));

  const seen = new Set([globalThis]);
  const stack = [...hidden, getPrototypeOf(globalThis)];
  for (const key of ownKeys(globalThis)) {
    const d = getOwnPropertyDescriptor(globalThis, key);
    stack.push(d.value, d.get, d.set);
  }
  while (stack.length) {
    const o = stack.pop();
    if ((typeof o !== "object" && typeof o !== "function") || o === null || seen.has(o)) continue;
    seen.add(o);
    for (const key of ownKeys(o)) {
      const d = getOwnPropertyDescriptor(o, key);
      if ("value" in d) {
        stack.push(d.value);
        if (d.writable && d.configurable && overridable.has(key)) tame(o, key, d);
      } else {
        stack.push(d.get, d.set);
      }
    }
    stack.push(getPrototypeOf(o));
    freeze(o);
  }
  // The global bindings stay as they are; `context` is remade for every call.
  for (const key of ownKeys(globalThis)) {
    if (key === "context") continue;
    const d = getOwnPropertyDescriptor(globalThis, key);
    if (d.configurable) {
      defineProperty(globalThis, key, "value" in d ? { writable: false, configurable: false } : { configurable: false });
    }
  }
  return isExtensible(globalThis);
}
