// Browser tests of holding appointments (a trust's waiting-list placeholders): at 320 px and at
// 1280 px, inside the NHS App and in a browser (one portal: nothing here changes), the demo
// adult's list has an "On the waiting list" section with the real-time trust's holding record
// (no date, no time) and nothing of the request-only trust's hidden one; its page shows the
// waiting-list tag and no date, time or action. axe-core (WCAG 2.2 A and AA) finds nothing on
// either page, and both are saved as screenshots.
//
// Environment: NHS_PORTAL_BIN (the nhs-portal-example binary), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default <repo>/target/screenshots).

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { APP_UA, axeViolations, screenshot, onePortal } from './harness.mjs'

// Weekday, day, month and year, as the portal writes a date ("Monday 3 June 2024").
const A_DATE = /\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} [A-Z][a-z]+ \d{4}\b/

const shared = onePortal()

const combos = []
for (const width of [320, 1280]) {
  combos.push({ name: `${width}px-app`, width, ua: APP_UA }, { name: `${width}px-browser`, width })
}

for (const combo of combos) {
  describe(`holding appointments at ${combo.name}`, () => {
    let context, page
    before(async () => {
      context = await shared.browser.newContext({ viewport: { width: combo.width, height: 900 }, userAgent: combo.ua })
      await context.route('https://assets.nhs.uk/**', (r) => r.abort())
      await context.route('https://www.nhsapp.service.nhs.uk/**', (r) =>
        r.fulfill({ status: 200, contentType: 'text/javascript', body: 'window.nhsapp = { navigation: {} };' }))
      page = await context.newPage()
    })
    after(async () => { await context?.close() })

    async function check (name) {
      const violations = await axeViolations(page)
      await screenshot(page, `${combo.name}-${name}`)
      assert.deepEqual(violations, [], `${name}: axe violations`)
    }

    test('the list shows the holding record the trust shows, without a date, and its page has no actions', async () => {
      await page.goto(shared.base + '/patient-portal/appointments')
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
