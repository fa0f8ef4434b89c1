// The README's "HTTPS endpoints and the Data API" commands, run as written (one bash session, the
// address replaced by a fresh server's) against the example app they name; each `# → ` line is the
// output its command must print.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "../../scripts/server.mjs";
import { repoRoot, run } from "./helpers.mjs";

const README_BASE = "http://127.0.0.1:9090";
const START = "target/release/realm-wasm-server --app examples/endpoints-app --data ./realm-data";
const server = {};

before(async () => {
  Object.assign(server, await startServer({ extraArgs: ["--app", join(repoRoot, "examples/endpoints-app")] }));
});
after(async () => server.stop?.());

/** The section's shell blocks as commands (continuation lines joined), each with its expected output. */
function readmeCommands() {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const start = readme.indexOf("### HTTPS endpoints and the Data API");
  assert.ok(start >= 0, "the README has the section");
  const section = readme.slice(start, readme.indexOf("\n## ", start));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.shift().includes(START), "the first block starts the server on the example app, as this test does");
  const commands = [];
  for (const block of blocks) {
    let current = null;
    for (const line of block.split("\n")) {
      if (line.startsWith("# → ")) {
        assert.ok(commands.length > 0, `an output with no command: ${line}`);
        commands.at(-1).expected = line.slice(4);
      } else if (current !== null) {
        current.push(line);
        if (!line.endsWith("\\") && !unbalanced(current)) {
          commands.push({ text: current.join("\n") });
          current = null;
        }
      } else if (line.trim() !== "" && !line.startsWith("#")) {
        current = [line];
        if (!line.endsWith("\\") && !unbalanced(current)) {
          commands.push({ text: line });
          current = null;
        }
      }
    }
    assert.equal(current, null, "every command is complete");
  }
  return commands;
}

/** Whether a command's single quotes are still open (a quoted JSON body spanning lines). */
const unbalanced = (lines) => (lines.join("\n").match(/'/g) ?? []).length % 2 === 1;

test("the README's endpoint and Data API commands print what it shows", async () => {
  const commands = readmeCommands();
  assert.ok(commands.length >= 12, `found ${commands.length} commands`);
  assert.ok(commands.filter((c) => c.expected !== undefined).length >= 9);
  const separator = "--8<-- README command done --8<--";
  const script = ["set -euo pipefail"]
    .concat(commands.map((c) => `${c.text.replaceAll(README_BASE, server.baseUrl)}\necho; echo '${separator}'`))
    .join("\n");
  const { code, stdout, stderr } = await run("bash", ["-c", script]);
  assert.equal(code, 0, `the commands fail: ${stderr}\n${stdout}`);
  const outputs = stdout.split(`${separator}\n`);
  assert.equal(outputs.length, commands.length + 1);
  commands.forEach((command, i) => {
    if (command.expected === undefined) return;
    const got = outputs[i].trim();
    const parse = (text) => {
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    };
    assert.deepEqual(parse(got), parse(command.expected), `README command ${i + 1}:\n${command.text}`);
  });
});
