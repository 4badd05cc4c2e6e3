// The Express 5 + Nunjucks + nhsuk-frontend peer for scripts/bench: what many NHS teams would
// build instead of this kit. The appointment page from nhsuk-frontend's own Nunjucks templates,
// behind an in-memory session (a Map keyed by a random cookie value, idle rule checked and
// touched per request) and a per-request audit line kept in memory. Usage:
//   node server.js [port]      (default 8092); GET /sign-in gives a session cookie.
const crypto = require("node:crypto");
const path = require("node:path");
const express = require("express");
const nunjucks = require("nunjucks");

const port = Number(process.argv[2] || 8092);
const app = express();
nunjucks.configure(
  [path.join(__dirname, "views"), path.join(require.resolve("nhsuk-frontend/package.json"), "..", "dist")],
  { autoescape: true, express: app, noCache: false },
);
app.set("view engine", "njk");
app.disable("x-powered-by");

const IDLE_MS = 10 * 60 * 1000;
const sessions = new Map();
const audit = [];
const appointments = new Map([
  ["appt-1", { id: "appt-1", service: "Dermatology", status: "Booked", date: "Tuesday 5 May 2026",
    time: "10:30am", location: "Outpatients B, Example Hospital, 1 Hospital Road, Leeds",
    clinician: "Dr A Example", patient: "9000000009" }],
]);

function cookie(req, name) {
  const header = req.headers.cookie || "";
  for (const part of header.split(";")) {
    const [k, v] = part.trim().split("=");
    if (k === name) return v;
  }
  return undefined;
}

app.get("/sign-in", (req, res) => {
  const id = crypto.randomBytes(32).toString("base64url");
  sessions.set(id, { patient: "9000000009", name: "Alice Example", csrf: crypto.randomBytes(32).toString("base64url"), lastSeen: Date.now() });
  res.cookie("sid", id, { httpOnly: true, sameSite: "lax", path: "/" });
  res.redirect(303, "/patient-portal/appointment/appt-1");
});

app.get("/patient-portal/appointment/:id", (req, res) => {
  const session = sessions.get(cookie(req, "sid"));
  if (!session || Date.now() - session.lastSeen > IDLE_MS) return res.redirect(303, "/sign-in");
  session.lastSeen = Date.now();
  const appt = appointments.get(req.params.id);
  if (!appt || appt.patient !== session.patient) return res.status(404).send("Not found");
  audit.push({ at: Date.now(), action: "viewed", appointment: appt.id });
  if (audit.length > 10000) audit.length = 0;
  res.set("Cache-Control", "no-store");
  res.render("appointment", { appt, session });
});

app.listen(port, "127.0.0.1");
