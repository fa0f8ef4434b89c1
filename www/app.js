// The page's logic: register / log in, show user.id and user.customData, set favoriteColor
// through the MongoDB service, refresh the custom data, log out. Bundled by www/build.mjs.
// Server address comes from the query string: ?baseUrl=http://127.0.0.1:PORT&appId=realm-wasm-demo
import { App, Credentials } from "realm-wasm";

const $ = (id) => document.getElementById(id);
const statusEl = $("status");

function setStatus(text, kind = "info") {
  statusEl.textContent = text;
  statusEl.dataset.kind = kind;
}

function describe(err) {
  if (err && typeof err === "object" && "message" in err) return String(err.message);
  return String(err);
}

// Every failure ends up in the status element, never as an uncaught error.
function guarded(fn) {
  return async (event) => {
    event?.preventDefault?.();
    try {
      await fn(event);
    } catch (err) {
      setStatus(`Error: ${describe(err)}`, "error");
    }
  };
}
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  setStatus(`Error: ${describe(event.reason)}`, "error");
});

const params = new URLSearchParams(location.search);
const baseUrl = params.get("baseUrl");
const appId = params.get("appId") ?? "realm-wasm-demo";

let app = null;

function usersCollection(user) {
  return user.mongoClient("mongodb-atlas").db("app").collection("users");
}

function render() {
  const user = app?.currentUser ?? null;
  const loggedIn = Boolean(user && user.isLoggedIn);
  $("logged-out").hidden = loggedIn;
  $("logged-in").hidden = !loggedIn;
  if (loggedIn) {
    $("user-id").textContent = user.id;
    $("custom-data").textContent = JSON.stringify(user.customData, null, 2);
  } else {
    $("user-id").textContent = "";
    $("custom-data").textContent = "";
  }
}

$("login-form").addEventListener(
  "submit",
  guarded(async (event) => {
    const email = $("email").value.trim();
    const password = $("password").value;
    const register = event.submitter?.value === "register";
    if (register) {
      setStatus(`Registering ${email}…`);
      await app.emailPasswordAuth.registerUser({ email, password });
    }
    setStatus(`Logging in ${email}…`);
    const user = await app.logIn(Credentials.emailPassword(email, password));
    render();
    setStatus(`Logged in as ${user.id}`);
  }),
);

$("color-form").addEventListener(
  "submit",
  guarded(async () => {
    const user = app.currentUser;
    if (!user) throw new Error("Not logged in");
    const favoriteColor = $("color").value.trim();
    const users = usersCollection(user);
    setStatus("Saving…");
    const existing = await users.findOne({ userID: user.id });
    if (existing === null) {
      await users.insertOne({ userID: user.id, favoriteColor });
    } else {
      await users.updateOne({ userID: user.id }, { $set: { favoriteColor } });
    }
    await user.refreshCustomData();
    render();
    setStatus(`Saved favoriteColor = ${favoriteColor}`);
  }),
);

$("logout-button").addEventListener(
  "click",
  guarded(async () => {
    const user = app.currentUser;
    if (user) await user.logOut();
    render();
    setStatus("Logged out");
  }),
);

try {
  if (!baseUrl) throw new Error("Missing ?baseUrl=… in the page address (e.g. ?baseUrl=http://127.0.0.1:9090&appId=realm-wasm-demo)");
  app = new App({ id: appId, baseUrl });
  render();
  setStatus(app.currentUser ? `Logged in as ${app.currentUser.id}` : "Logged out");
} catch (err) {
  setStatus(`Error: ${describe(err)}`, "error");
}
