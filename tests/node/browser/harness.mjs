// What browser test files share: the portal binary started on a free port with a fresh database,
// Chromium, a browser context at a width (inside the NHS App or not), sign-in through the NHS
// login simulator, and the page check every portal page passes (axe-core WCAG 2.2 A and AA with
// zero violations, a screenshot, the title rule, no own header or footer inside the NHS App).
// (journeys.test.mjs predates it and keeps its own copies.)
//
// Environment: NHS_PORTAL_BIN (the nhs-portal-example binary), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default <repo>/target/screenshots).

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..', '..', '..')
const require = createRequire(import.meta.url)
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
const BIN = process.env.NHS_PORTAL_BIN || join(repo, 'target', 'debug', 'nhs-portal-example')
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
export const SHOTS = process.env.SCREENSHOT_DIR || join(repo, 'target', 'screenshots')
export const APP_UA = 'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0 Mobile Safari/537.36 nhsapp-android/3.12.0'
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']
const SERVICE = 'Manage your hospital appointments'

// A stand-in for the NHS App JS API v2 (the real one loads only inside the NHS App): records calls.
const NHS_APP_STUB = `window.nhsapp = {
  tools: { isOpenInNHSApp: () => true, getAppPlatform: () => 'android' },
  navigation: {
    AppPage: { HOME_PAGE: 'HOME_PAGE', YOUR_HEALTH: 'YOUR_HEALTH' },
    goToHomePage () { window.__nhsappCalls.push('goToHomePage') },
    goToPage (p) { window.__nhsappCalls.push('goToPage:' + p) },
    openBrowserOverlay (u) { window.__nhsappCalls.push('openBrowserOverlay:' + u) },
    setBackAction () { window.__nhsappCalls.push('setBackAction') },
    clearBackAction () { window.__nhsappCalls.push('clearBackAction') }
  },
  storage: { addEventToCalendar () { window.__nhsappCalls.push('addEventToCalendar') } }
};
window.__nhsappCalls = [];`

assert.ok(existsSync(BIN), `the portal binary is missing: ${BIN} (build it with cargo build -p nhs-portal-example)`)
assert.ok(existsSync(CHROMIUM), `Chromium is missing: ${CHROMIUM} (run bash scripts/setup/browser.sh)`)
mkdirSync(SHOTS, { recursive: true })

/** Starts the demo portal; `ready` resolves to its base URL. */
export function startPortal (extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nhs-portal-browser-'))
  const child = spawn(BIN, [], {
    env: {
      ...process.env,
      NHS_PORTAL_ADDR: '127.0.0.1:0',
      NHS_PORTAL_DATABASE_URL: `sqlite://${join(dir, 'portal.sqlite3')}?mode=rwc`,
      RUST_LOG: 'warn',
      ...extraEnv
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const ready = new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`portal did not start in 60s: ${stderr}`)), 60000)
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/nhs-portal listening on (\S+)/)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`portal exited (${code}): ${stderr}`)) })
  })
  return {
    ready,
    stop () {
      child.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Headless Chromium. */
export function launchBrowser () {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run']
  })
}

/** A context at `combo.width`, inside the NHS App when `combo.inApp`, offline but for the portal. */
export async function newContext (browser, combo) {
  const context = await browser.newContext({
    viewport: { width: combo.width, height: 900 },
    userAgent: combo.inApp ? APP_UA : undefined
  })
  await context.route('https://assets.nhs.uk/**', (r) => r.abort())
  await context.route('https://www.nhsapp.service.nhs.uk/**', (r) =>
    r.fulfill({ status: 200, contentType: 'text/javascript', body: NHS_APP_STUB }))
  return context
}

/** Signs in through the NHS login simulator as `nhsNumber`, starting from `target`. */
export async function signInOn (page, base, nhsNumber, target = '/patient-portal/appointments') {
  await page.goto(base + target)
  assert.match(page.url(), /\/nhs-login-simulator\/authorize/)
  await page.locator(`input[name="nhs_number"][value="${nhsNumber}"]`).check()
  await page.getByRole('button', { name: 'Continue as this patient' }).click()
  await page.waitForURL((u) => u.pathname.startsWith('/patient-portal/'))
}

/** The checks every portal page passes, and its screenshot as `{combo}-{name}.png`. */
export async function checkPage (page, combo, name) {
  const title = await page.title()
  assert.ok(title.endsWith(`${SERVICE} – NHS`), `${name}: title "${title}"`)
  assert.equal(title.split(SERVICE).length, 2, `${name}: title "${title}" names the service once`)
  const h1 = (await page.locator('h1').first().innerText()).trim()
  assert.ok(title.startsWith('Error: ') ? title.slice(7).startsWith(h1) : title.startsWith(h1), `${name}: title "${title}" starts with the H1 "${h1}"`)
  await page.evaluate(axeSource)
  const result = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } })
    return r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }))
  }, WCAG)
  await page.screenshot({ path: join(SHOTS, `${combo.name}-${name}.png`), fullPage: true })
  assert.deepEqual(result, [], `${name}: axe violations ${JSON.stringify(result, null, 2)}`)
  if (combo.inApp) {
    const chrome = await page.locator('header.nhsuk-header, footer.nhsuk-footer').count()
    assert.equal(chrome, 0, `${name}: no own header or footer inside the NHS App`)
  }
}
