// Confirming attendance in a browser (the journey of tests/tests/confirm_attendance.rs): at the
// real-time demo trust, which offers it, the appointment page has the button; pressing it shows
// the confirmation page; the appointment page and the list then show "Confirmed Attendance" and
// the button is gone. At the request-only trust, which does not offer it, there is no button.
// Inside the NHS App at 320px and in a browser at 1280px; axe-core on every page, screenshots
// (confirm-attendance-<mode>-<page>.png), and each page but the list at 320px within five phone screens.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { PHONE, axeViolations, launchBrowser, newContext, screenshot, signInOn, startPortal } from './harness.mjs'

const BUTTON = 'Confirm you will attend'
const STATUS = 'Confirmed Attendance'

let browser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser?.close() })

for (const mode of [{ inApp: true, width: 320, name: '320px-app' }, { inApp: false, width: 1280, name: '1280px-browser' }]) {
  describe(`confirm attendance (${mode.name})`, () => {
    let portal, base, context, page

    before(async () => {
      portal = startPortal()
      base = await portal.ready
      context = await newContext(browser, { width: mode.width, height: PHONE.height, inApp: mode.inApp })
      page = await context.newPage()
    })
    after(async () => {
      await context?.close()
      portal?.stop()
    })

    // (The list's height grows with the patient's appointments: layout.test.mjs has its rule.)
    async function check (name, { list = false } = {}) {
      await screenshot(page, `confirm-attendance-${mode.name}-${name}`)
      assert.deepEqual(await axeViolations(page), [], `${name}: axe violations`)
      if (mode.width === PHONE.width && !list) {
        const height = await page.evaluate(() => document.documentElement.scrollHeight)
        assert.ok(height <= 5 * PHONE.height, `${name}: ${height}px tall at 320px`)
      }
    }

    async function open (title) {
      await page.goto(base + '/patient-portal/appointments')
      await page.locator('a.nhsapp-card__link', { hasText: title }).first().click()
      await page.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
      return page.url()
    }

    test('the button, the confirmation, and the status after', async () => {
      await signInOn(page, base, '9000000009')
      // Not offered by the request-only trust.
      await open('Ophthalmology appointment')
      assert.equal(await page.getByRole('button', { name: BUTTON }).count(), 0, 'no button at the request-only trust')

      const url = await open('Dermatology appointment')
      const button = page.getByRole('button', { name: BUTTON })
      assert.equal(await button.count(), 1, 'offered at the real-time trust')
      assert.equal(await page.locator('.nhsuk-tag', { hasText: STATUS }).count(), 0, 'not confirmed yet')
      await check('appointment')
      await Promise.all([page.waitForURL(/\/confirm-attendance\/done$/), button.click()])
      await page.getByRole('heading', { name: 'You have confirmed you will attend' }).waitFor()
      await check('done')

      await page.goto(url)
      assert.equal(await page.locator('.nhsuk-tag', { hasText: STATUS }).count(), 1, 'the status on the appointment page')
      assert.equal(await page.getByRole('button', { name: BUTTON }).count(), 0, 'the button is gone')
      await check('appointment-confirmed')

      await page.goto(base + '/patient-portal/appointments')
      const card = page.locator('.nhsapp-card', { has: page.locator('a.nhsapp-card__link', { hasText: 'Dermatology appointment' }) })
      assert.equal(await card.locator('.nhsapp-tag', { hasText: STATUS }).count(), 1, 'and on the list')
      await check('appointments', { list: true })
    })
  })
}
