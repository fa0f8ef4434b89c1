// Drives www/ in headless Chromium like a person: register + log in, set favoriteColor, see it in
// the custom data, log out. Real realm-wasm-server (scripts/server.mjs), real bundle (www/build.mjs).
//   node --test www/tests/          (WWW_SDK=realm-web runs the same page against realm-web 2.0.1)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { build } from "../build.mjs";
import { serveStatic } from "../serve.mjs";
import { startServer } from "../../scripts/server.mjs";

const sdk = process.env.WWW_SDK ?? "realm-wasm";
let server, site, browser;

before(async () => {
  const { outdir } = await build({ sdk, quiet: true });
  server = await startServer();
  site = await serveStatic(outdir);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  await site?.stop();
  await server?.stop();
});

test(`www page: register, log in, set favoriteColor, see it in customData, log out (${sdk})`, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`);
  });

  const url = `${site.url}?baseUrl=${encodeURIComponent(server.baseUrl)}&appId=${encodeURIComponent(server.appId)}`;
  await page.goto(url);
  const status = page.getByRole("status");
  const errorStatus = page.locator('#status[data-kind="error"]');
  // Waits (auto-waiting locators, no sleeps) until `locator` appears or the page reports an error.
  const waitFor = async (locator) => {
    try {
      await locator.or(errorStatus).first().waitFor();
    } catch (err) {
      err.message += `\nstatus: ${await status.textContent()}\npage problems: ${JSON.stringify(problems)}`;
      throw err;
    }
    if (await errorStatus.isVisible()) assert.fail(`page reported: ${await status.textContent()}`);
  };
  await waitFor(status.filter({ hasText: "Logged out" }));

  const email = `www-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Register and log in" }).click();

  const userId = page.locator("#user-id");
  await waitFor(userId.filter({ hasText: /\S/ }));
  const shownId = (await userId.textContent()).trim();
  assert.match(shownId, /^[0-9a-f]{24}$/, `user id shown on the page: ${JSON.stringify(shownId)}`);
  await waitFor(status.filter({ hasText: `Logged in as ${shownId}` }));

  await page.getByLabel("Favorite color").fill("pink");
  await page.getByRole("button", { name: "Save" }).click();
  const customData = page.locator("#custom-data");
  await waitFor(customData.filter({ hasText: "pink" }));
  await waitFor(status.filter({ hasText: "Saved favoriteColor = pink" }));
  const data = JSON.parse(await customData.textContent());
  assert.equal(data.favoriteColor, "pink");
  assert.equal(data.userID, shownId);
  assert.ok(data._id, "custom data has an _id");
  await page.screenshot({ path: "/tmp/www.png", fullPage: true });

  await page.getByRole("button", { name: "Log out" }).click();
  await waitFor(status.filter({ hasText: "Logged out" }));
  assert.equal(await page.locator("#logged-out").isVisible(), true, "login form visible after logout");
  assert.equal(await page.locator("#logged-in").isVisible(), false, "user section hidden after logout");
  assert.equal(await userId.textContent(), "");

  assert.equal(await status.getAttribute("data-kind"), "info", `status: ${await status.textContent()}`);
  assert.deepEqual(problems, [], "no page errors or console errors");
  await context.close();
});
