// Browser tests of holding appointments (a trust's waiting-list placeholders): at 320 px inside the
// NHS App and at 1280 px in a browser, the demo adult's list has an "On the waiting list" section
// with the real-time trust's holding record (no date, no time) and nothing of the request-only
// trust's hidden one; its page shows the waiting-list tag and no date, time or action. axe-core
// (WCAG 2.2 A and AA) finds nothing on either page, and both are saved as screenshots.
//
// Environment: NHS_PORTAL_BIN (the nhs-portal-example binary), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default <repo>/target/screenshots).

import { test, describe, before, after } from 'node:test'
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
const SHOTS = process.env.SCREENSHOT_DIR || join(repo, 'target', 'screenshots')
const APP_UA = 'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/148.0 Mobile Safari/537.36 nhsapp-android/3.12.0'
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']
// Weekday, day, month and year, as the portal writes a date ("Monday 3 June 2024").
const A_DATE = /\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]+ \d{4}\b/

assert.ok(existsSync(BIN), `the portal binary is missing: ${BIN} (build it with cargo build -p nhs-portal-example)`)
assert.ok(existsSync(CHROMIUM), `Chromium is missing: ${CHROMIUM} (run bash scripts/setup/browser.sh)`)
mkdirSync(SHOTS, { recursive: true })

let browser, portal, base, dir
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nhs-portal-holding-'))
  portal = spawn(BIN, [], {
    env: {
      ...process.env,
      NHS_PORTAL_ADDR: '127.0.0.1:0',
      NHS_PORTAL_DATABASE_URL: `sqlite://${join(dir, 'portal.sqlite3')}?mode=rwc`,
      NHS_PORTAL_STAFF_CODE: 'holding-test-code',
      RUST_LOG: 'warn'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  portal.stderr.on('data', (d) => { stderr += d })
  base = await new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`portal did not start in 60s: ${stderr}`)), 60000)
    portal.stdout.on('data', (d) => {
      out += d
      const m = out.match(/nhs-portal listening on (\S+)/)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    })
    portal.on('exit', (code) => { clearTimeout(timer); reject(new Error(`portal exited (${code}): ${stderr}`)) })
  })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run']
  })
})
after(async () => {
  await browser?.close()
  portal?.kill('SIGTERM')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

for (const combo of [{ name: '320px-app', width: 320, ua: APP_UA }, { name: '1280px-browser', width: 1280 }]) {
  describe(`holding appointments at ${combo.name}`, () => {
    let context, page
    before(async () => {
      context = await browser.newContext({ viewport: { width: combo.width, height: 900 }, userAgent: combo.ua })
      await context.route('https://assets.nhs.uk/**', (r) => r.abort())
      await context.route('https://www.nhsapp.service.nhs.uk/**', (r) =>
        r.fulfill({ status: 200, contentType: 'text/javascript', body: 'window.nhsapp = { navigation: {} };' }))
      page = await context.newPage()
    })
    after(async () => { await context?.close() })

    async function check (name) {
      await page.evaluate(axeSource)
      const violations = await page.evaluate(async (tags) => {
        // eslint-disable-next-line no-undef
        const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } })
        return r.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }))
      }, WCAG)
      await page.screenshot({ path: join(SHOTS, `${combo.name}-${name}.png`), fullPage: true })
      assert.deepEqual(violations, [], `${name}: axe violations`)
    }

    test('the list shows the holding record the trust shows, without a date, and its page has no actions', async () => {
      await page.goto(base + '/patient-portal/appointments')
      await page.locator('input[name="nhs_number"][value="9000000009"]').check()
      await page.getByRole('button', { name: 'Continue as this patient' }).click()
      await page.waitForURL(/\/patient-portal\/appointments$/)
      const section = page.locator('xpath=//h2[normalize-space()="On the waiting list"]/following-sibling::ul[1]')
      const cards = section.locator('.nhsapp-card')
      assert.equal(await cards.count(), 1, 'one holding record shown')
      const card = (await cards.first().innerText()).trim()
      assert.match(card, /Gynaecology appointment/)
      assert.match(card, /On the waiting list/)
      assert.doesNotMatch(card, A_DATE, `no date on the card: ${card}`)
      assert.equal(await page.getByText('General surgery appointment').count(), 0, 'the hidden one is not listed')
      await check('appointments-with-waiting-list')

      await section.locator('a.nhsapp-card__link').click()
      await page.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
      await page.getByRole('heading', { level: 1, name: 'Gynaecology appointment' }).waitFor()
      const main = (await page.locator('main').innerText()).trim()
      assert.match(main, /On the waiting list/)
      assert.doesNotMatch(main, A_DATE, `no date on the page: ${main}`)
      for (const action of ['Cancel this appointment', 'Change date or time', 'Confirm you will attend', 'Add to calendar']) {
        assert.equal(await page.getByText(action, { exact: true }).count(), 0, `no "${action}"`)
      }
      await check('waiting-list')
    })
  })
}
