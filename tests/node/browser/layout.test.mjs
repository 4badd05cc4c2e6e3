// Layout and keyboard tests of the patient pages (issue 17).
//
// 1. Every patient page, at 320 px wide, inside the NHS App and in a browser, is no taller than
//    five screens of a small phone (5 x 568 px): the landing page, the whole list and each page of
//    its past and cancelled appointments, appointment pages at
//    both demo trusts, every step of a cancel and a reschedule (real time) and of a request to
//    cancel or change (request only), the error pages. axe-core finds nothing on any of them and
//    each is saved as a screenshot (layout-<mode>-<page>.png).
// 2. With the keyboard alone (Tab, Shift+Tab, Space, Enter), a patient cancels one appointment
//    and reschedules another at the real-time trust and asks to change one at the request-only
//    trust; on every Tab stop the focus can be seen, and a form sent incomplete puts the focus on
//    its error summary.
//
// Each block starts its own portal with a fresh database.

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  PHONE, axeViolations, focused, launchBrowser, newContext, pastPages, screenshot, signInOn, startPortal, tabTo
} from './harness.mjs'

const MOST_HEIGHT = 5 * PHONE.height
const ADULT = '9000000009'
const SECOND_ADULT = '9000000017'

let browser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser?.close() })

const modes = [{ inApp: true, name: 'app' }, { inApp: false, name: 'browser' }]

/** The path of an appointment, found on the list by its card's title. */
async function appointmentPath (page, base, title) {
  await page.goto(base + '/patient-portal/appointments')
  const href = await page.locator('a.nhsapp-card__link', { hasText: title }).first().getAttribute('href')
  assert.ok(href, `a card "${title}"`)
  return new URL(href, base).pathname
}

for (const mode of modes) {
  describe(`every page fits five phone screens at 320px (${mode.name})`, () => {
    let portal, base, context, page
    const measured = []

    before(async () => {
      portal = startPortal()
      base = await portal.ready
      context = await newContext(browser, { width: PHONE.width, height: PHONE.height, inApp: mode.inApp })
      page = await context.newPage()
    })
    after(async () => {
      await context?.close()
      portal?.stop()
    })

    // The page as it is now: its height, axe, a screenshot.
    async function measure (name, status) {
      const height = await page.evaluate(() => document.documentElement.scrollHeight)
      const width = await page.evaluate(() => document.documentElement.scrollWidth)
      measured.push({ name, height, width, status })
      await screenshot(page, `layout-320px-${mode.name}-${name}`)
      assert.deepEqual(await axeViolations(page), [], `${name}: axe violations`)
    }

    async function visit (name, path, status = 200) {
      const res = await page.goto(base + path)
      assert.equal(res.status(), status, `${name}: ${path}`)
      await measure(name, status)
    }

    async function submit (button) {
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: button, exact: true }).click()])
      await page.waitForLoadState('load')
    }

    test('the pages of both trusts\' journeys', async () => {
      await visit('landing', '/')
      await signInOn(page, base, ADULT)
      // The whole list: every upcoming appointment and the waiting list; the past and
      // cancelled ones on short pages of their own, each page measured.
      assert.ok(await page.locator('.nhsapp-card').count() >= 7, 'the demo adult\'s upcoming cards')
      await measure('appointments')
      const past = await pastPages(page, base, (i) => measure(i === 0 ? 'past-appointments' : `past-appointments-${i + 1}`))
      assert.ok(past.length >= 2, `pages of past appointments: ${past.length}`)
      await visit('past-appointments-not-a-page', '/patient-portal/appointments?past=next', 400)

      // Real-time trust: cancel.
      const derm = await appointmentPath(page, base, 'Dermatology appointment')
      await visit('appointment-real-time', derm)
      await visit('cancel-need', `${derm}/cancel/need`)
      await submit('Continue')
      await measure('cancel-need-error')
      await page.getByRole('radio', { name: 'No, I no longer need it' }).check()
      await submit('Continue')
      await measure('cancel-reasons')
      await submit('Continue')
      await measure('cancel-reasons-error')
      await page.getByLabel('I do not have transport').check()
      await submit('Continue')
      await measure('cancel-check')
      await submit('Cancel appointment')
      await page.getByRole('heading', { name: 'Your appointment has been cancelled' }).waitFor()
      await measure('cancel-done')
      await visit('appointment-cancelled', derm)

      // Real-time trust: reschedule, through the pages of slots.
      const uro = await appointmentPath(page, base, 'Urology appointment')
      await visit('reschedule-slots', `${uro}/reschedule`)
      await submit('Continue')
      await measure('reschedule-slots-error')
      await page.getByRole('link', { name: /Later dates/ }).click()
      await page.waitForURL(/page=2/)
      await measure('reschedule-slots-later')
      await page.goto(`${base}${uro}/reschedule`)
      await page.locator('details.nhsuk-details summary').click()
      assert.equal(await page.locator('details.nhsuk-details[open]').count(), 1)
      await measure('reschedule-slots-filters-open')
      // Filtered: the filters stay open.
      await visit('reschedule-slots-afternoon', `${uro}/reschedule?time=afternoon`)
      assert.equal(await page.locator('details.nhsuk-details[open]').count(), 1)
      await visit('reschedule-slots-refused', `${uro}/reschedule?page=next`, 400)
      // A time chosen on a filtered page, then taken: the page again with its filters.
      await visit('reschedule-slots-afternoon-taken', `${uro}/reschedule?time=afternoon&page=2&taken=1`, 422)
      await page.goto(`${base}${uro}/reschedule`)
      await page.locator('input[name="slot"]').first().check()
      await submit('Continue')
      await measure('reschedule-check')
      await submit('Confirm new date and time')
      await page.getByRole('heading', { name: 'Your appointment has been changed' }).waitFor()
      await measure('reschedule-done')

      // Request-only trust: ask to cancel.
      const oph = await appointmentPath(page, base, 'Ophthalmology appointment')
      await visit('appointment-request-only', oph)
      await page.goto(`${base}${oph}/cancel/need`)
      await page.getByRole('radio', { name: 'No, I no longer need it' }).check()
      await submit('Continue')
      await page.getByRole('radio', { name: 'Other' }).check()
      await submit('Continue')
      await measure('cancel-request-other-error')
      await page.getByLabel('Tell us why you need to cancel (needed if you chose Other)').fill('I am moving to another area')
      await submit('Continue')
      await measure('cancel-request-check')
      await submit('Submit request to cancel')
      await page.getByRole('heading', { name: 'Your request to cancel has been submitted' }).waitFor()
      await measure('cancel-request-done')
      await visit('appointment-pending-cancellation', oph)

      // The error pages.
      await visit('page-not-found', '/no-such-page', 404)
      await visit('cannot-view', '/patient-portal/appointment/7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60', 404)

      // Request-only trust: ask to change (the second adult's appointment there).
      await context.clearCookies()
      await signInOn(page, base, SECOND_ADULT)
      const cards = await page.locator('a.nhsapp-card__link').evaluateAll((links) => links.map((a) => a.getAttribute('href')))
      let asked = false
      for (const href of cards) {
        await page.goto(new URL(href, base).href)
        const ask = page.getByRole('button', { name: 'Ask to change date or time' })
        if (await ask.count() === 0) continue
        await ask.click()
        await page.waitForURL(/\/reschedule$/)
        await measure('reschedule-request-reasons')
        await page.getByLabel('I cannot attend due to work, holiday or other commitments').check()
        await page.getByLabel('When can you come? (optional)').fill('Any weekday morning')
        await submit('Continue')
        await measure('reschedule-request-check')
        await submit('Submit request to change')
        await page.getByRole('heading', { name: 'Your request to change this appointment has been submitted' }).waitFor()
        await measure('reschedule-request-done')
        asked = true
        break
      }
      assert.ok(asked, 'the second adult has an appointment at the request-only trust')

      await context.clearCookies()
      await visit('timed-out', '/session/timed-out')

      const tall = measured.filter((m) => m.height > MOST_HEIGHT)
      const wide = measured.filter((m) => m.width > PHONE.width)
      const table = measured.map((m) => `${m.name}: ${m.height}px`).join('\n')
      assert.deepEqual(tall.map((m) => m.name), [], `taller than ${MOST_HEIGHT}px at 320px:\n${table}`)
      assert.deepEqual(wide.map((m) => `${m.name}: ${m.width}px`), [], 'no page scrolls sideways at 320px')
      assert.ok(measured.length >= 32, `${measured.length} pages measured`)
    })
  })
}

// The keyboard alone: Tab and Shift+Tab to move, Space to choose a radio, Enter to follow a link
// or press a button. Inside the NHS App at 320px; in a browser at 1280px.
for (const mode of [{ inApp: true, width: 320, name: '320px-app' }, { inApp: false, width: 1280, name: '1280px-browser' }]) {
  describe(`keyboard only (${mode.name})`, () => {
    let portal, base, context, page

    before(async () => {
      portal = startPortal()
      base = await portal.ready
      context = await newContext(browser, { width: mode.width, height: 800, inApp: mode.inApp })
      page = await context.newPage()
    })
    after(async () => {
      await context?.close()
      portal?.stop()
    })

    const named = (re) => (f) => re.test(f.name)
    const isRadio = (name) => (f) => f.tag === 'input' && f.type === 'radio' && (!name || name.test(f.name))

    /** Tab to the control named `re` and press Enter; waits for the page it leads to. */
    async function activate (re, { back = false } = {}) {
      const f = await tabTo(page, named(re), { back, what: String(re) })
      await Promise.all([page.waitForEvent('framenavigated'), page.keyboard.press('Enter')])
      await page.waitForLoadState('load')
      return f
    }

    /** Starts on `path` with nothing focused (as a page load leaves it). */
    async function open (path) {
      await page.goto(base + path)
      await page.waitForLoadState('load')
    }

    async function errorSummaryHasFocus (name) {
      await page.waitForFunction(() => document.activeElement?.classList.contains('nhsuk-error-summary'), null, { timeout: 5000 })
        .catch(() => {})
      const f = await focused(page)
      assert.ok(f && f.classes.includes('nhsuk-error-summary'), `${name}: focus on the error summary, not ${JSON.stringify(f)}`)
      await screenshot(page, `keyboard-${mode.name}-${name}`)
      assert.deepEqual(await axeViolations(page), [], `${name}: axe`)
    }

    async function shot (name) {
      await screenshot(page, `keyboard-${mode.name}-${name}`)
      assert.deepEqual(await axeViolations(page), [], `${name}: axe`)
    }

    test('cancel and reschedule at the real-time trust, ask to change at the request-only trust', async () => {
      await signInOn(page, base, ADULT)
      const derm = await appointmentPath(page, base, 'Dermatology appointment')
      const uro = await appointmentPath(page, base, 'Urology appointment')
      const oph = await appointmentPath(page, base, 'Ophthalmology appointment')

      // Cancel (real time).
      await open(derm)
      await activate(/^Cancel this appointment$/)
      // First "Do you still need this appointment?": Tab into its radios, the arrow key to the
      // second answer (which chooses it), then Continue.
      assert.match(page.url(), /\/cancel\/need$/)
      await shot('cancel-need')
      await tabTo(page, isRadio(), { what: 'the first answer' })
      await page.keyboard.press('ArrowDown')
      const noLonger = await focused(page)
      assert.ok(noLonger && /no longer need/.test(noLonger.name), `the arrow key moved to the second answer: ${JSON.stringify(noLonger)}`)
      assert.ok(noLonger.visible, 'and it can be seen')
      assert.ok(await page.locator(`input#${noLonger.id}`).isChecked(), 'the arrow key chose it')
      await activate(/^Continue$/)
      assert.match(page.url(), /\/cancel$/)
      await shot('cancel-reasons')
      // Sent with nothing chosen: the error summary takes the focus.
      await activate(/^Continue$/)
      await errorSummaryHasFocus('cancel-reasons-error')
      // Its link takes the focus to the question; Space chooses the first answer.
      await tabTo(page, named(/^Select why you need to cancel$/), { what: 'the error summary\'s link' })
      await page.keyboard.press('Enter')
      const reason = await focused(page)
      assert.ok(reason && isRadio()(reason), `the link moved the focus to the first reason: ${JSON.stringify(reason)}`)
      assert.ok(reason.visible, 'and it can be seen')
      await page.keyboard.press('Space')
      assert.ok(await page.locator(`input#${reason.id}`).isChecked(), 'Space chose the reason')
      // On to Continue and back again with Shift+Tab: the choice stays.
      await tabTo(page, named(/^Continue$/), { what: 'Continue' })
      await tabTo(page, isRadio(), { back: true, what: 'back to the reasons' })
      assert.ok(await page.locator(`input#${reason.id}`).isChecked())
      await activate(/^Continue$/)
      assert.match(page.url(), /\/cancel\/check$/)
      await shot('cancel-check')
      await activate(/^Cancel appointment$/)
      await page.getByRole('heading', { name: 'Your appointment has been cancelled' }).waitFor()
      await shot('cancel-done')

      // Reschedule (real time): Later dates, then a slot there.
      await open(uro)
      await activate(/^Change date or time$/)
      assert.match(page.url(), /\/reschedule$/)
      await activate(/^Continue$/)
      await errorSummaryHasFocus('reschedule-slots-error')
      await activate(/Later dates/)
      assert.match(page.url(), /page=2/)
      await shot('reschedule-slots-later')
      const slot = await tabTo(page, isRadio(), { what: 'a slot' })
      await page.keyboard.press('Space')
      assert.ok(await page.locator(`input#${slot.id}`).isChecked(), 'Space chose the slot')
      const chosen = slot.name.replace(/ \(.*\)$/, '')
      await activate(/^Continue$/)
      assert.match(page.url(), /\/reschedule\/check\?slot=/)
      await shot('reschedule-check')
      await activate(/^Confirm new date and time$/)
      await page.getByRole('heading', { name: 'Your appointment has been changed' }).waitFor()
      await shot('reschedule-done')
      const [time, date] = chosen.split(' on ')
      const text = await page.locator('main').innerText()
      assert.ok(text.includes(date) && text.includes(time.split(' to ')[0]), `the new time "${chosen}" on ${text}`)

      // Ask to change (request only): the reason, then submit.
      await open(oph)
      await activate(/^Ask to change date or time$/)
      await activate(/^Continue$/)
      await errorSummaryHasFocus('reschedule-request-error')
      await tabTo(page, isRadio(), { what: 'a reason' })
      await page.keyboard.press('Space')
      await activate(/^Continue$/)
      assert.match(page.url(), /\/reschedule\/check$/)
      await shot('reschedule-request-check')
      await activate(/^Submit request to change$/)
      await page.getByRole('heading', { name: 'Your request to change this appointment has been submitted' }).waitFor()
      await shot('reschedule-request-done')
    })
  })
}
