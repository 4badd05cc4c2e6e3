// Browser tests for the consequence-aware cancel and the details a patient needs: the question
// "Do you still need this appointment?" with both answers at both demo trusts, its error
// summary, the trust's policy warning on the check page, and the appointment page's contact,
// preparation and "what happens next" blocks. At 320px and 1280px, inside the NHS App and in a
// browser, on one portal (nothing here is confirmed, so the combinations do not see each other);
// every page through axe-core (zero violations) and saved as a screenshot.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cardPath, newContext, signInOn, checkPage, onePortal } from './harness.mjs'

const combos = []
for (const width of [320, 1280]) {
  for (const inApp of [true, false]) combos.push({ width, inApp, name: `${width}px-${inApp ? 'app' : 'browser'}` })
}

const shared = onePortal()

for (const combo of combos) {
  describe(`cancel choice at ${combo.name}`, () => {
    let context, page
    const check = (name) => checkPage(page, combo, name)

    before(async () => {
      context = await newContext(shared.browser, combo)
      page = await context.newPage()
      await signInOn(page, shared.base, '9000000009')
    })
    after(async () => { await context?.close() })

    // From the list (or, for a past or cancelled one, its pages) to the appointment.
    async function openAppointment (titleText) {
      await page.goto(shared.base + await cardPath(page, shared.base, titleText))
    }

    // From the appointment page to the question, answered with `label` (none: just Continue).
    async function answer (cancelLink, label) {
      await page.getByRole('link', { name: cancelLink }).click()
      await page.getByRole('heading', { level: 1, name: 'Do you still need this appointment?' }).waitFor()
      if (label) await page.getByRole('radio', { name: label }).check()
      await page.getByRole('button', { name: 'Continue' }).click()
    }

    test('real-time trust: the question, its error, and "cannot make it" leads to the free slots', async () => {
      await openAppointment('Urology appointment')
      await check('guide-appointment-real-time')
      assert.equal(await page.getByRole('heading', { name: 'Contact the booking team' }).count(), 1)
      await page.getByRole('link', { name: 'Cancel this appointment' }).click()
      await check('cancel-question')
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.locator('.nhsuk-error-summary').waitFor()
      await check('cancel-question-error')
      const summary = page.locator('.nhsuk-error-summary')
      assert.match(await summary.innerText(), /Select whether you still need this appointment/)
      await summary.getByRole('link', { name: 'Select whether you still need this appointment' }).click()
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'still_needed', 'the error link focuses the first radio')
      await page.getByRole('radio', { name: 'Yes, but I cannot make this date or time' }).check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.waitForURL(/\/reschedule$/)
      assert.ok(await page.locator('input[name="slot"]').count() > 0, 'free slots offered')
      await check('cancel-question-to-slots')
    })

    test('real-time trust: "no longer need it" goes on to cancel, with no policy warning', async () => {
      await openAppointment('Urology appointment')
      await answer('Cancel this appointment', 'No, I no longer need it')
      await page.waitForURL(/\/cancel$/)
      await page.getByLabel('I do not have transport').check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.waitForURL(/\/cancel\/check$/)
      assert.equal(await page.locator('[data-policy-warning]').count(), 0)
      await check('cancel-check-no-policy-warning')
    })

    test('request-only trust: "cannot make it" leads to the change request; "no longer need it" shows the policy warning', async () => {
      await openAppointment('Ophthalmology appointment')
      assert.equal(await page.getByRole('heading', { name: 'How to prepare' }).count(), 1)
      assert.equal(await page.getByRole('heading', { name: 'Contact the clinic' }).count(), 1)
      await check('guide-appointment-request-only')
      await answer('Ask to cancel this appointment', 'Yes, but I cannot make this date or time')
      await page.getByRole('heading', { level: 1, name: 'Why do you need to change this appointment?' }).waitFor()
      await check('cancel-question-to-request')
      await openAppointment('Ophthalmology appointment')
      await answer('Ask to cancel this appointment', 'No, I no longer need it')
      await page.getByLabel('I do not have transport').check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.waitForURL(/\/cancel\/check$/)
      const warning = page.locator('.nhsuk-card--warning [data-policy-warning]')
      assert.match(await warning.innerText(), /referred back to your GP/)
      assert.ok(await warning.isVisible())
      await check('cancel-check-policy-warning')
    })

    test('whom to call when the trust does not reschedule online', async () => {
      await openAppointment('Ophthalmology appointment')
      await page.goto(page.url() + '/cancel/need?then=contact')
      await page.getByRole('heading', { level: 1, name: 'Contact the hospital to change this appointment' }).waitFor()
      assert.equal(await page.locator('a[href="tel:01632960513"]').count(), 1, 'the eye clinic line')
      await check('cancel-contact-hospital')
    })

    test('what happens next: a pending request, and an appointment the hospital cancelled', async () => {
      await openAppointment('Gastroenterology appointment')
      await page.getByRole('heading', { name: 'What happens next' }).waitFor()
      assert.match(await page.locator('[data-next-steps]').innerText(), /You sent your request to cancel this appointment on/)
      await check('guide-pending-request')
      await openAppointment('Ear, nose and throat appointment')
      await page.getByRole('heading', { name: 'What happens now' }).waitFor()
      assert.match(await page.locator('[data-next-steps]').innerText(), /The hospital cancelled this appointment/)
      for (const name of ['Cancel this appointment', 'Change date or time', 'Ask to cancel this appointment']) {
        assert.equal(await page.getByRole('link', { name }).count(), 0, `no "${name}"`)
      }
      assert.equal(await page.getByText('Contact the hospital if:').count(), 0)
      await check('guide-hospital-cancelled')
    })
  })
}
