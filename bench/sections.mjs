// A bench script's own section of BENCHMARKS.md, between `<!-- NAME:start -->` and `<!-- NAME:end -->`
// (replaced in place, or appended the first time); bench/run.mjs --write keeps these sections.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function writeSection(name, title, report) {
  const file = join(dirname(fileURLToPath(import.meta.url)), "..", "BENCHMARKS.md");
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n## ${title}\n\n${report}\n${end}`;
  const text = readFileSync(file, "utf8");
  const at = text.indexOf(start);
  const next = at >= 0 ? text.slice(0, at) + section + text.slice(text.indexOf(end) + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.error(`bench: wrote ${file}`);
}
