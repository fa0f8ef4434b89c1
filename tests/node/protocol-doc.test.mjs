// The code cites the wire protocol description by section (`§4.4`, `§11`): every such citation,
// in the code and in docs/protocol.md itself, must name a heading of docs/protocol.md.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, relative, extname } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const doc = join(root, "docs/protocol.md");
const SCANNED = ["src", "server", "tests", "bench", "scripts", "pkg-template", "www", "examples", "docs"];
const TOP_FILES = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"];
const EXTENSIONS = new Set([".rs", ".js", ".mjs", ".cjs", ".ts", ".md", ".sh", ".html"]);
const SKIPPED = new Set(["node_modules", "target", "pkg", ".git"]);

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (EXTENSIONS.has(extname(entry.name))) yield path;
  }
}

/** Every `§N` / `§N.M` in `text`, with its line number. */
function citations(text) {
  const found = [];
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(/§\s*(\d+(?:\.\d+)?)/g)) found.push({ section: m[1], line: i + 1 });
  });
  return found;
}

/** The section numbers of a markdown text's headings (`## 4. …`, `### 4.4 …`). */
function headings(markdown) {
  const sections = new Set();
  for (const m of markdown.matchAll(/^#{2,4}\s+(\d+(?:\.\d+)?)\.?\s/gm)) sections.add(m[1]);
  return sections;
}

test("the citation and heading readers see what they should", () => {
  assert.deepEqual(
    citations("see §0.4 and §10.2;\n(§6.3/§11 steps 6–9)").map((c) => `${c.section}@${c.line}`),
    ["0.4@1", "10.2@1", "6.3@2", "11@2"],
  );
  assert.deepEqual([...headings("## 0. General\n### 0.1 URL\n### 9.5 see §2.4\ntext ## 3. no\n#### 11.2 Resume\n")], ["0", "0.1", "9.5", "11.2"]);
});

test("docs/protocol.md has a heading for every § the code cites", () => {
  assert.ok(existsSync(doc), "docs/protocol.md is missing (the code cites it by section)");
  const have = headings(readFileSync(doc, "utf8"));
  const paths = [...SCANNED.filter((d) => existsSync(join(root, d))).flatMap((d) => [...files(join(root, d))])];
  paths.push(...TOP_FILES.map((f) => join(root, f)).filter(existsSync));
  const missing = [];
  let cited = 0;
  for (const path of paths) {
    for (const { section, line } of citations(readFileSync(path, "utf8"))) {
      cited++;
      if (!have.has(section)) missing.push(`${relative(root, path)}:${line}: §${section}`);
    }
  }
  assert.ok(cited > 50, `only ${cited} citations found: is the scan looking in the right places?`);
  assert.deepEqual(missing, [], `cited sections without a heading in docs/protocol.md:\n${missing.join("\n")}`);
});
