// A bench script's own section of BENCHMARKS.md, between `<!-- NAME:start -->` and `<!-- NAME:end -->`
// (replaced in place, or appended the first time); bench/run.mjs --write keeps these sections.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
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

/** A report's first line: when, on what, against which server, and the load when it ended. */
export function runLine(server, quick = false) {
  const load = loadavg().map((l) => l.toFixed(2)).join(" ");
  return `Run ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}, server ${server}; load average at the end ${load}${quick ? "; --quick" : ""}.`;
}

/** `[measurement, result, target]` rows as a markdown table (lines). */
export function tableLines(rows) {
  return ["| measurement | result | target |", "|---|---|---|", ...rows.map((r) => `| ${r.join(" | ")} |`)];
}
