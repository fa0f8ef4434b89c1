// The `context` global: app, environment, values, user, request, functions, services
// (mongodb-atlas collections over host calls) and http. The module gives `makeContext`, which
// makes a call's `context` the first time that call uses it.
export default function (rt) {
  const { native, hostCall, bson, EJSON } = rt;

const defined = (o) => { for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]; return o; };
const asNumber = (n) => (n !== null && typeof n === "object" && typeof n.toNumber === "function" ? n.toNumber() : n);
const notSupported = (what) => () => { throw new Error(`${what} is not supported by realm-wasm-server functions`); };

class Cursor {
  constructor(collection, kind, spec) { this._c = collection; this._kind = kind; this._spec = spec; this._buf = null; }
  sort(sort) { this._spec.sort = sort; return this; }
  skip(n) { this._spec.skip = n; return this; }
  limit(n) { this._spec.limit = n; return this; }
  project(p) { this._spec.projection = p; return this; }
  _run() {
    const s = this._spec;
    if (this._kind === "aggregate") return this._c._call("aggregate", { pipeline: s.pipeline });
    if (!s.skip) return this._c._call("find", defined({ query: s.query, project: s.projection, sort: s.sort, limit: s.limit }));
    const pipeline = [{ $match: s.query || {} }];
    if (s.sort) pipeline.push({ $sort: s.sort });
    pipeline.push({ $skip: s.skip });
    if (s.limit) pipeline.push({ $limit: Math.abs(s.limit) });
    if (s.projection) pipeline.push({ $project: s.projection });
    return this._c._call("aggregate", { pipeline });
  }
  toArray() { return this._buf ? Promise.resolve(this._buf.splice(0)) : this._run(); }
  _fill() { return this._buf ? Promise.resolve(this._buf) : this._run().then((a) => (this._buf = a)); }
  next() { return this._fill().then((b) => (b.length ? b.shift() : null)); }
  hasNext() { return this._fill().then((b) => b.length > 0); }
  async *[Symbol.asyncIterator]() { const b = await this._fill(); while (b.length) yield b.shift(); }
}

class Collection {
  constructor(service, database, name) { this._service = service; this._db = database; this.name = name; }
  _call(op, extra) { return hostCall("mongo", this._service, op, Object.assign({ database: this._db, collection: this.name }, extra)); }
  find(query = {}, projection, options = {}) {
    return new Cursor(this, "find", { query, projection, sort: options.sort, skip: options.skip, limit: options.limit });
  }
  findOne(query = {}, projection, options = {}) { return this._call("findOne", defined({ query, project: projection, sort: options.sort })); }
  findOneAndUpdate(filter, update, o = {}) {
    return this._call("findOneAndUpdate", defined({ filter, update, sort: o.sort, projection: o.projection, upsert: o.upsert, returnNewDocument: o.returnNewDocument }));
  }
  findOneAndReplace(filter, replacement, o = {}) {
    return this._call("findOneAndReplace", defined({ filter, update: replacement, sort: o.sort, projection: o.projection, upsert: o.upsert, returnNewDocument: o.returnNewDocument }));
  }
  findOneAndDelete(filter = {}, o = {}) { return this._call("findOneAndDelete", defined({ filter, sort: o.sort, projection: o.projection })); }
  insertOne(document) { return this._call("insertOne", { document }); }
  insertMany(documents) { return this._call("insertMany", { documents }); }
  updateOne(query, update, o = {}) { return this._call("updateOne", defined({ query, update, upsert: o.upsert, arrayFilters: o.arrayFilters })); }
  updateMany(query, update, o = {}) { return this._call("updateMany", defined({ query, update, upsert: o.upsert, arrayFilters: o.arrayFilters })); }
  replaceOne(query, replacement, o = {}) {
    if (replacement && Object.keys(replacement).some((k) => k.startsWith("$"))) {
      return Promise.reject(new TypeError("replaceOne: the replacement must not contain update operators"));
    }
    return this._call("updateOne", defined({ query, update: replacement, upsert: o.upsert }));
  }
  deleteOne(query = {}) { return this._call("deleteOne", { query }); }
  deleteMany(query = {}) { return this._call("deleteMany", { query }); }
  aggregate(pipeline = []) { return new Cursor(this, "aggregate", { pipeline }); }
  count(query = {}, o = {}) { return this._call("count", defined({ query, limit: o.limit })).then(asNumber); }
  countDocuments(query = {}, o = {}) {
    if (!o.skip) return this.count(query, o);
    const pipeline = [{ $match: query }, { $skip: o.skip }];
    if (o.limit) pipeline.push({ $limit: o.limit });
    pipeline.push({ $count: "n" });
    return this._call("aggregate", { pipeline }).then((r) => (r.length ? asNumber(r[0].n) : 0));
  }
  estimatedDocumentCount() { return this.count({}); }
  distinct(field, query = {}) {
    if (typeof field !== "string" || field === "" || field.startsWith("$")) {
      return Promise.reject(new TypeError("distinct: the field must be a field path such as \"a.b\""));
    }
    const pipeline = [{ $match: query }, { $unwind: "$" + field }, { $group: { _id: "$" + field } }, { $sort: { _id: 1 } }];
    return this._call("aggregate", { pipeline }).then((r) => r.map((d) => d._id));
  }
  async bulkWrite(operations, o = {}) {
    const ordered = o.ordered !== false;
    const failures = [];
    for (const op of operations) {
      const [kind] = Object.keys(op);
      const a = op[kind] || {};
      const run = {
        insertOne: () => this.insertOne(a.document),
        updateOne: () => this.updateOne(a.filter, a.update, a),
        updateMany: () => this.updateMany(a.filter, a.update, a),
        replaceOne: () => this.replaceOne(a.filter, a.replacement, a),
        deleteOne: () => this.deleteOne(a.filter),
        deleteMany: () => this.deleteMany(a.filter),
      }[kind];
      if (!run) throw new TypeError(`bulkWrite: unknown operation ${kind}`);
      try { await run(); } catch (e) { if (ordered) throw e; failures.push(e); }
    }
    if (failures.length) throw new Error(`bulkWrite: ${failures.length} operation(s) failed: ${failures.map((e) => e.message).join("; ")}`);
    return null;
  }
  watch() { return notSupported("collection.watch()")(); }
}

const mongoClient = (service) => ({
  db: (name) => ({
    name,
    collection: (c) => new Collection(service, String(name), String(c)),
    getCollectionNames: notSupported("db.getCollectionNames()"),
  }),
  admin: () => ({ getDBNames: notSupported("admin().getDBNames()") }),
});

const httpCall = (method) => (request = {}) => {
  const r = Object.assign({}, request);
  if (r.body !== undefined && r.encodeBodyAsJSON) { r.body = EJSON.stringify(r.body); }
  else if (typeof r.body === "string") { r.body = native("utf8Encode", r.body); }
  return hostCall("http", method, r);
};

function makeContext() {
  const services = native("env", "services");
  const ctx = {
    values: Object.freeze({ get: (name) => native("value", String(name)) }),
    functions: Object.freeze({ execute: (name, ...args) => native("load", String(name))(...args) }),
    services: Object.freeze({ get: (name) => (services.includes(name) ? mongoClient(name) : undefined) }),
    http: Object.freeze({
      get: httpCall("GET"), post: httpCall("POST"), put: httpCall("PUT"), patch: httpCall("PATCH"),
      delete: httpCall("DELETE"), head: httpCall("HEAD"),
    }),
    runningAsSystem: () => native("env", "system"),
  };
  for (const key of ["app", "environment", "user", "request"]) {
    let cached;
    Object.defineProperty(ctx, key, { enumerable: true, get: () => (cached === undefined ? (cached = native("env", key)) : cached) });
  }
  return ctx;
}

  return makeContext;
}
