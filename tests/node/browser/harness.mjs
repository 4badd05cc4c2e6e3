// What the browser test files share: the reference portal started on a free port with a fresh
// database, headless Chromium, a browser context for one mode (inside the NHS App, by its
// User-Agent, or in a browser), signing in through the NHS login simulator, axe-core, screenshots,
// and keyboard focus as a user sees it.
//
// Environment: NHS_PORTAL_BIN (the nhs-portal-example binary), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default <repo>/target/screenshots).

import assert from 'node:assert/strict'
import { before, after } from 'node:test'
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

export const BIN = process.env.NHS_PORTAL_BIN || join(repo, 'target', 'debug', 'nhs-portal-example')
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
export const SHOTS = process.env.SCREENSHOT_DIR || join(repo, 'target', 'screenshots')
export const STAFF_CODE = 'browser-test-code'
export const APP_UA = 'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0 Mobile Safari/537.36 nhsapp-android/3.12.0'
export const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']

/** A small phone's screen (iPhone SE, first generation): 320 by 568 CSS pixels. */
export const PHONE = { width: 320, height: 568 }

// A stand-in for the NHS App JS API v2 (the real one loads only inside the NHS App): records calls.
export const NHS_APP_STUB = `window.nhsapp = {
  tools: { isOpenInNHSApp: () => true, getAppPlatform: () => 'android' },
  navigation: {
    AppPage: { HOME_PAGE: 'HOME_PAGE', YOUR_HEALTH: 'YOUR_HEALTH', APPOINTMENTS: 'APPOINTMENTS' },
    goToHomePage () { window.__nhsappCalls.push('goToHomePage') },
    goToPage (p) { window.__nhsappCalls.push('goToPage:' + p) },
    openBrowserOverlay (u) { window.__nhsappCalls.push('openBrowserOverlay:' + u) },
    setBackAction () { window.__nhsappCalls.push('setBackAction') },
    clearBackAction () { window.__nhsappCalls.push('clearBackAction') }
  },
  storage: {
    addEventToCalendar (subject, body, location, start, end) {
      window.__nhsappCalls.push('addEventToCalendar:' + [subject, location, start, end].join('|'))
    }
  }
};
window.__nhsappCalls = [];`

assert.ok(existsSync(BIN), `the portal binary is missing: ${BIN} (build it with cargo build -p nhs-portal-example)`)
assert.ok(existsSync(CHROMIUM), `Chromium is missing: ${CHROMIUM} (run bash scripts/setup/browser.sh)`)
mkdirSync(SHOTS, { recursive: true })

/** Starts the reference portal (demo mode) with a fresh SQLite database; `ready` is its base URL. */
export function startPortal (extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nhs-portal-browser-'))
  const child = spawn(BIN, [], {
    env: {
      ...process.env,
      NHS_PORTAL_ADDR: '127.0.0.1:0',
      NHS_PORTAL_DATABASE_URL: `sqlite://${join(dir, 'portal.sqlite3')}?mode=rwc`,
      NHS_PORTAL_STAFF_CODE: STAFF_CODE,
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

/**
 * One portal and one Chromium for a whole test file, for tests whose combinations change
 * nothing the others would see: `shared.base` and `shared.browser` once the file's first
 * `before` has run; both stopped after the file.
 */
export function onePortal (extraEnv = {}) {
  const shared = {}
  before(async () => {
    shared.portal = startPortal(extraEnv)
    shared.base = await shared.portal.ready
    shared.browser = await launchBrowser()
  })
  after(async () => {
    await shared.browser?.close()
    shared.portal?.stop()
  })
  return shared
}

/** Headless Chromium. */
export function launchBrowser () {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run']
  })
}

/**
 * A browser context for one mode: `inApp` sends the NHS App's User-Agent. Offline: fonts from
 * assets.nhs.uk are refused, the NHS App's script is the stub above.
 */
export async function newContext (browser, { width, height = 900, inApp }) {
  const context = await browser.newContext({
    viewport: { width, height },
    userAgent: inApp ? APP_UA : undefined
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

/** axe-core's WCAG 2.2 A and AA violations on the current page. */
export async function axeViolations (page) {
  await page.evaluate(axeSource)
  return page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } })
    return r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }))
  }, WCAG)
}

/** Saves the whole page as `<name>.png` under the screenshot folder. */
export function screenshot (page, name) {
  return page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}

/**
 * The element that has keyboard focus, and whether a user can see it: its focus styles (outline
 * or box-shadow, on it, its text, or, for a radio or checkbox whose input is hidden, its label's
 * drawn control) differ from the same element unfocused. `null` when nothing has focus.
 */
export function focused (page) {
  return page.evaluate(() => {
    const el = document.activeElement
    if (!el || el === document.body || el === document.documentElement) return null
    const label = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`) : null
    const parts = () => {
      const styles = [getComputedStyle(el)]
      for (const child of el.querySelectorAll(':scope > span')) styles.push(getComputedStyle(child))
      if (label) styles.push(getComputedStyle(label, '::before'), getComputedStyle(label, '::after'))
      return styles.map((s) => ({
        outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 && s.outlineColor !== 'rgba(0, 0, 0, 0)',
        shadow: s.boxShadow !== 'none',
        look: [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.backgroundColor].join('|')
      }))
    }
    const withFocus = parts()
    el.blur()
    const without = parts()
    el.focus({ preventScroll: true })
    const name = (label?.textContent || el.getAttribute('aria-label') || el.textContent || el.value || '')
      .trim().replace(/\s+/g, ' ')
    // A ring (an outline that is not transparent, or a box-shadow) where the unfocused element
    // has a different look.
    const visible = withFocus.some((f, i) => (f.outline || f.shadow) && f.look !== without[i].look)
    return {
      tag: el.tagName.toLowerCase(),
      type: el.getAttribute('type'),
      id: el.id,
      classes: typeof el.className === 'string' ? el.className : '',
      name,
      visible
    }
  })
}

/**
 * Presses Tab (or Shift+Tab with `back`) until the focused element `matches`, checking on every
 * stop that the focus can be seen. Returns what has focus.
 */
export async function tabTo (page, matches, { back = false, max = 80, what = 'the wanted element' } = {}) {
  const seen = []
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab')
    const f = await focused(page)
    if (!f) continue
    seen.push(`${f.tag}${f.type ? `[${f.type}]` : ''} "${f.name.slice(0, 40)}"`)
    assert.ok(f.visible, `focus is visible on ${seen.at(-1)}`)
    if (matches(f)) return f
  }
  assert.fail(`${back ? 'Shift+Tab' : 'Tab'} never reached ${what}; focus went to: ${seen.join(', ')}`)
}

/** The service name every page title ends with (before "– NHS"). */
export const SERVICE = 'Manage your hospital appointments'

/**
 * The checks every portal page passes (its title names the service once and starts with its
 * H1; no axe violations; no own header or footer inside the NHS App), and its screenshot as
 * `{combo.name}-{name}.png`.
 */
export async function checkPage (page, combo, name) {
  const title = await page.title()
  assert.ok(title.endsWith(`${SERVICE} – NHS`), `${name}: title "${title}"`)
  assert.equal(title.split(SERVICE).length, 2, `${name}: title "${title}" names the service once`)
  const h1 = (await page.locator('h1').first().innerText()).trim()
  assert.ok(title.startsWith('Error: ') ? title.slice(7).startsWith(h1) : title.startsWith(h1), `${name}: title "${title}" starts with the H1 "${h1}"`)
  const violations = await axeViolations(page)
  await screenshot(page, `${combo.name}-${name}`)
  assert.deepEqual(violations, [], `${name}: axe violations ${JSON.stringify(violations, null, 2)}`)
  if (combo.inApp) {
    const chrome = await page.locator('header.nhsuk-header, footer.nhsuk-footer').count()
    assert.equal(chrome, 0, `${name}: no own header or footer inside the NHS App`)
  }
}

/** The list of appointments; its past and cancelled ones are on pages of their own. */
export const LIST = '/patient-portal/appointments'

/**
 * From the list, "Show past and cancelled appointments", then "Show earlier appointments" to the
 * last page, by clicking the links (plain GET links, no script needed): each page's address and
 * its cards (href, title, tag, date), newest first. `onPage(i)` runs on each page as it is shown.
 */
export async function pastPages (page, base, onPage = async () => {}) {
  await page.goto(base + LIST)
  await Promise.all([page.waitForURL(/[?&]past=1$/), page.getByRole('link', { name: 'Show past and cancelled appointments' }).click()])
  const pages = []
  for (let i = 0; i < 20; i++) {
    const cards = await page.locator('.nhsapp-card').evaluateAll((els) => els.map((e) => ({
      href: e.querySelector('a.nhsapp-card__link').getAttribute('href'),
      title: e.querySelector('a.nhsapp-card__link').textContent.trim(),
      tag: e.querySelector('.nhsapp-tag').textContent.trim(),
      date: e.querySelector('.nhsapp-card__description strong')?.textContent.trim()
    })))
    pages.push({ url: page.url(), cards })
    await onPage(i)
    const earlier = page.locator('a[rel="next"]', { hasText: 'Show earlier appointments' })
    if (await earlier.count() === 0) return pages
    await Promise.all([page.waitForURL((u) => u.href !== pages.at(-1).url), earlier.click()])
  }
  assert.fail('the pages of past appointments end')
}

/**
 * The address of the appointment whose card is titled `title`: on the list, or on a page of
 * past and cancelled appointments.
 */
export async function cardPath (page, base, title) {
  await page.goto(base + LIST)
  const upcoming = page.locator('a.nhsapp-card__link', { hasText: title })
  if (await upcoming.count() > 0) return new URL(await upcoming.first().getAttribute('href'), base).pathname
  const found = (await pastPages(page, base)).flatMap((p) => p.cards).find((c) => c.title.includes(title))
  assert.ok(found, `a card "${title}" on the list or its past pages`)
  return new URL(found.href, base).pathname
}
