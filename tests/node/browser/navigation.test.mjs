// Browser tests of the links that lead back into the NHS App (nhs-portal-web/static/navigation.mjs):
// inside the NHS App (its User-Agent, and a stand-in for its JS API v2 that records every call),
// `data-nhsapp-appointments` links call `goToPage(GO_BACK)` (or `YOUR_HEALTH` where the app has no
// GO_BACK) and the identity-too-low page's link calls `goToPage(UPLIFT)`, each exactly once and
// without leaving the page; in a browser no call is made and the link's href is followed, also
// when a page somehow has an `nhsapp` object that says it is not in the app. Each mode at 320px
// and 1280px; axe-core finds nothing on any of these pages, each saved as a screenshot.
//
// Environment: NHS_PORTAL_BIN (the nhs-portal-example binary), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default <repo>/target/screenshots).

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { APP_UA, axeViolations, screenshot, onePortal } from './harness.mjs'

const ADULT = '9000000009'
const P5 = '9000000033'
const NHS_LOGIN_HELP = 'https://help.login.nhs.uk/'

// A stand-in for the NHS App JS API v2 that records every call. `pages` is the app's AppPage.
function stub ({ inApp = true, pages = ['HOME_PAGE', 'YOUR_HEALTH', 'UPLIFT', 'GO_BACK'] } = {}) {
  const appPage = Object.fromEntries(pages.map((p) => [p, p]))
  return `window.__nhsappCalls = [];
window.nhsapp = {
  tools: { isOpenInNHSApp: () => ${inApp}, getAppPlatform: () => ${inApp ? "'android'" : "'none'"} },
  navigation: {
    AppPage: ${JSON.stringify(appPage)},
    goToHomePage () { window.__nhsappCalls.push('goToHomePage') },
    goToPage (p) { window.__nhsappCalls.push('goToPage:' + p) },
    openBrowserOverlay (u) { window.__nhsappCalls.push('openBrowserOverlay:' + u) },
    setBackAction () {},
    clearBackAction () {}
  },
  storage: {}
};`
}

// The modes: inside the NHS App (today's AppPage, and one without GO_BACK), and a browser (no
// NHS App script at all, and a stray `nhsapp` object that says it is not open in the app).
const MODES = [
  { name: 'app', ua: APP_UA, script: stub(), appointments: 'goToPage:GO_BACK', uplift: 'goToPage:UPLIFT' },
  { name: 'app-without-go-back', ua: APP_UA, script: stub({ pages: ['HOME_PAGE', 'YOUR_HEALTH', 'UPLIFT'] }), appointments: 'goToPage:YOUR_HEALTH', uplift: 'goToPage:UPLIFT' },
  { name: 'browser', ua: undefined, script: null },
  { name: 'browser-with-stray-nhsapp', ua: undefined, script: stub({ inApp: false }), initScript: true }
]

const shared = onePortal()

// Each mode at a phone's width and a desktop's.
const COMBOS = [320, 1280].flatMap((width) => MODES.map((m) => ({ ...m, width, name: `${width}px-${m.name}` })))

for (const mode of COMBOS) {
  describe(`NHS App navigation: ${mode.name}`, () => {
    let context, page
    const inApp = Boolean(mode.appointments)

    before(async () => {
      context = await shared.browser.newContext({ viewport: { width: mode.width, height: 900 }, userAgent: mode.ua })
      await context.route('https://assets.nhs.uk/**', (r) => r.abort())
      // The NHS App's script is only requested inside the app; here it is the recording stand-in.
      await context.route('https://www.nhsapp.service.nhs.uk/**', (r) =>
        r.fulfill({ status: 200, contentType: 'text/javascript', body: mode.script || '' }))
      // NHS login's help site, offline: a blank page, so a followed link can be seen arriving.
      await context.route(`${NHS_LOGIN_HELP}**`, (r) =>
        r.fulfill({ status: 200, contentType: 'text/html', body: '<title>NHS login help</title>' }))
      if (mode.initScript) await context.addInitScript(mode.script)
      page = await context.newPage()
    })
    after(async () => { await context?.close() })

    async function signIn (nhsNumber) {
      await page.goto(shared.base + '/patient-portal/appointments')
      await page.locator(`input[name="nhs_number"][value="${nhsNumber}"]`).check()
      await page.getByRole('button', { name: 'Continue as this patient' }).click()
    }

    // The goToPage calls recorded so far (none when there is no recorder).
    const calls = () => page.evaluate(() => (window.__nhsappCalls || []).filter((c) => c.startsWith('goToPage:')))

    // Clicks `link`: inside the app exactly `expected` is called and the page stays; in a
    // browser nothing is called and the browser arrives at the link's href.
    async function follows (name, link, expected) {
      await link.waitFor()
      const href = await link.getAttribute('href')
      const from = page.url()
      await page.waitForLoadState('load')
      if (inApp) await page.waitForFunction(() => Array.isArray(window.__nhsappCalls))
      assert.deepEqual(await calls(), [], `${name}: nothing called before the click`)
      await screenshot(page, `navigation-${mode.name}-${name}`)
      assert.deepEqual(await axeViolations(page), [], `${name}: axe violations`)
      if (inApp) {
        await link.click()
        await page.waitForFunction(() => window.__nhsappCalls.some((c) => c.startsWith('goToPage:')))
        assert.deepEqual(await calls(), [expected], `${name}: the NHS App call`)
        assert.equal(page.url(), from, `${name}: the page stays (the app navigates)`)
      } else {
        const target = new URL(href, page.url()).href
        await Promise.all([page.waitForURL(target), link.click()])
        assert.equal(page.url(), target, `${name}: the href is followed`)
        assert.deepEqual(await calls(), [], `${name}: no NHS App call in a browser`)
      }
    }

    test('the identity-too-low page: the NHS App\'s uplift journey in the app, NHS login\'s help in a browser', async () => {
      await signIn(P5)
      await page.getByRole('heading', { name: 'You need to prove who you are to use this service' }).waitFor()
      const name = inApp ? 'Prove who you are in the NHS App' : 'Get help with NHS login'
      await follows('identity-too-low', page.getByRole('link', { name, exact: true }), mode.uplift)
    })

    test('the appointment page\'s "View all your appointments"', async () => {
      await context.clearCookies()
      await signIn(ADULT)
      await page.waitForURL(/\/patient-portal\/appointments$/)
      await page.locator('a.nhsapp-card__link', { hasText: 'Urology appointment' }).first().click()
      await page.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
      await follows('appointment', page.getByRole('link', { name: 'View all your appointments', exact: true }), mode.appointments)
    })

    test('the "you cannot view this appointment" page\'s link to the appointments', async () => {
      await page.goto(shared.base + '/patient-portal/appointment/00000000-0000-4000-8000-000000000000')
      await page.getByRole('heading', { name: 'You cannot view this appointment' }).waitFor()
      await follows('cannot-view', page.getByRole('link', { name: 'View your hospital appointments', exact: true }), mode.appointments)
    })

    test('the confirmation page\'s "View all your appointments"', async () => {
      await page.goto(shared.base + '/patient-portal/appointments')
      await page.locator('a.nhsapp-card__link', { hasText: 'Urology appointment' }).first().click()
      await page.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
      const confirm = page.getByRole('button', { name: 'Confirm you will attend' })
      // The demo's real-time trust offers it once; a later mode finds it already confirmed.
      if (await confirm.count()) {
        await confirm.click()
      } else {
        await page.goto(page.url() + '/confirm-attendance/done')
      }
      await page.getByRole('heading', { name: 'You have confirmed you will attend' }).waitFor()
      await follows('confirmed', page.getByRole('link', { name: 'View all your appointments', exact: true }), mode.appointments)
    })
  })
}
