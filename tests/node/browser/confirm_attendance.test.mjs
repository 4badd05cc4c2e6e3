// Confirming attendance in a browser (the journey of tests/tests/confirm_attendance.rs): at the
// real-time demo trust, which offers it, the appointment page has the button; pressing it shows
// the confirmation page; the appointment page and the list then show "Confirmed Attendance" and
// the button is gone. At the request-only trust, which does not offer it, there is no button.
// At 320px and 1280px, inside the NHS App and in a browser, on one portal: each combination
// confirms an appointment of its own. axe-core on every page, screenshots
// (confirm-attendance-<mode>-<page>.png), and each page at 320px within five phone screens.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { PHONE, axeViolations, newContext, screenshot, signInOn, onePortal } from './harness.mjs'

const BUTTON = 'Confirm you will attend'
const STATUS = 'Confirmed Attendance'

const shared = onePortal()

// Each combination: whom it signs in as, the real-time appointment it confirms, and one at the
// request-only trust.
const modes = [
  { inApp: true, width: 320, name: '320px-app', patient: '9000000009', title: 'Dermatology appointment', requestOnly: 'Ophthalmology appointment' },
  { inApp: false, width: 1280, name: '1280px-browser', patient: '9000000009', title: 'Urology appointment', requestOnly: 'Ophthalmology appointment' },
  { inApp: false, width: 320, name: '320px-browser', patient: '9000000009', title: 'Trauma and orthopaedics appointment', requestOnly: 'Ophthalmology appointment' },
  { inApp: true, width: 1280, name: '1280px-app', patient: '9000000017', title: 'Neurology appointment', requestOnly: 'Pre-assessment appointment' }
]

for (const mode of modes) {
  describe(`confirm attendance (${mode.name})`, () => {
    let context, page

    before(async () => {
      context = await newContext(shared.browser, { width: mode.width, height: PHONE.height, inApp: mode.inApp })
      page = await context.newPage()
    })
    after(async () => { await context?.close() })

    async function check (name) {
      await screenshot(page, `confirm-attendance-${mode.name}-${name}`)
      assert.deepEqual(await axeViolations(page), [], `${name}: axe violations`)
      if (mode.width === PHONE.width) {
        const height = await page.evaluate(() => document.documentElement.scrollHeight)
        assert.ok(height <= 5 * PHONE.height, `${name}: ${height}px tall at 320px`)
      }
    }

    async function open (title) {
      await page.goto(shared.base + '/patient-portal/appointments')
      await page.locator('a.nhsapp-card__link', { hasText: title }).first().click()
      await page.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
      return page.url()
    }

    test('the button, the confirmation, and the status after', async () => {
      await signInOn(page, shared.base, mode.patient)
      // Not offered by the request-only trust.
      await open(mode.requestOnly)
      assert.equal(await page.getByRole('button', { name: BUTTON }).count(), 0, 'no button at the request-only trust')

      const url = await open(mode.title)
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

      await page.goto(shared.base + '/patient-portal/appointments')
      const card = page.locator('.nhsapp-card', { has: page.locator('a.nhsapp-card__link', { hasText: mode.title }) })
      assert.equal(await card.locator('.nhsapp-tag', { hasText: STATUS }).count(), 1, 'and on the list')
      await check('appointments')
    })
  })
}
