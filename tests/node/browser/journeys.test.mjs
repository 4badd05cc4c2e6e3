// Browser tests for the reference portal: every journey for both kinds of trust, at 320px and
// 1280px, inside the NHS App (its User-Agent) and in a browser. Headless Chromium through
// playwright-core; axe-core runs on every portal page (WCAG 2.2 A and AA tags, zero violations
// allowed) and every page is saved as a screenshot under target/screenshots/.
//
// Each combination starts its own portal (harness.mjs's startPortal: the example binary, debug
// build is fine, on a free port with a fresh temporary database), so journeys do not see each
// other's changes.
//
// Environment: NHS_PORTAL_BIN (the nhs-portal-example binary), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default <repo>/target/screenshots).

import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  STAFF_CODE, axeViolations, cardPath, checkPage, launchBrowser, newContext, pastPages, screenshot, signInOn, startPortal
} from './harness.mjs'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const combos = []
for (const width of [320, 1280]) {
  for (const inApp of [false, true]) combos.push({ width, inApp, name: `${width}px-${inApp ? 'app' : 'browser'}` })
}
// BROWSER_COMBOS=320px-app,1280px-browser runs only those (for working on the tests).
const only = (process.env.BROWSER_COMBOS || '').split(',').filter(Boolean)
if (only.length) combos.splice(0, combos.length, ...combos.filter((c) => only.includes(c.name)))

let browser
before(async () => { browser = await launchBrowser() })
after(async () => { await browser?.close() })

for (const combo of combos) {
  describe(`journeys at ${combo.name}`, () => {
    let portal, base, context, page
    const cspErrors = []
    const titles = new Map()

    before(async () => {
      portal = startPortal()
      base = await portal.ready
      context = await newContext(browser, combo)
      page = await context.newPage()
      page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text()) })
    })
    after(async () => {
      await context?.close()
      portal?.stop()
    })

    // axe on the current page, a screenshot, and the page-level rules every portal page keeps.
    async function check (name) {
      await checkPage(page, combo, name)
      const title = await page.title()
      const h1 = (await page.locator('h1').first().innerText()).trim()
      if (titles.has(title) && titles.get(title) !== h1) assert.fail(`${name}: title "${title}" is not unique`)
      titles.set(title, h1)
      if (combo.inApp) {
        assert.equal(await page.getByText('Sign out', { exact: true }).count(), 0, `${name}: no sign-out link in the app`)
      }
      assert.deepEqual(cspErrors, [], `${name}: CSP violations`)
    }

    async function signIn (nhsNumber, target = '/patient-portal/appointments') {
      await signInOn(page, base, nhsNumber, target)
      await screenshot(page, `${combo.name}-nhs-login-simulator`)
    }

    // The actions an appointment page offers, by their accessible names.
    const ACTIONS = {
      cancel: ['link', 'Cancel this appointment'],
      reschedule: ['button', 'Change date or time'],
      askCancel: ['link', 'Ask to cancel this appointment'],
      askReschedule: ['button', 'Ask to change date or time']
    }

    // The page offers exactly the `allowed` actions: each one present, every other one absent.
    async function assertOnlyActions (name, allowed) {
      for (const [key, [role, label]] of Object.entries(ACTIONS)) {
        const count = await page.getByRole(role, { name: label, exact: true }).count()
        assert.equal(count, allowed.includes(key) ? 1 : 0, `${name}: "${label}" ${allowed.includes(key) ? 'offered once' : 'not offered'}`)
      }
    }

    // The value of a row of the appointment summary ("Date", "Time", ...).
    async function summary (key) {
      const row = page.locator('.nhsuk-summary-list__row').filter({ has: page.locator('dt', { hasText: new RegExp(`^${key}$`) }) })
      return (await row.locator('dd').innerText()).trim()
    }

    async function openAppointment (titleText) {
      await page.goto(base + await cardPath(page, base, titleText))
    }

    test('landing page', async () => {
      await page.goto(base + '/')
      await check('landing')
    })

    test('consent refused at NHS login shows the mandated page', async () => {
      await page.goto(base + '/patient-portal/appointments')
      await page.getByRole('button', { name: 'I do not want to use NHS login' }).click()
      await page.waitForURL(/\/sign-in\/callback/)
      await assert.doesNotReject(page.getByRole('heading', { name: 'You cannot continue without sharing your information' }).waitFor())
      await check('consent-refused')
    })

    test('sign in and see upcoming and past appointments', async () => {
      await signIn('9000000009')
      await check('appointments')
      const section = (heading) => page.locator(`xpath=//h2[normalize-space()="${heading}"]/following-sibling::ul[1]`)
      const upcoming = (await section('Upcoming appointments').locator('.nhsapp-card .nhsapp-tag').allInnerTexts()).map((t) => t.trim())
      assert.ok(upcoming.length >= 5, `upcoming: ${upcoming}`)
      // The past and cancelled ones are not on the list: a link leads to them, a few a page.
      assert.match(await page.locator('main').innerText(), /You have \d+ past or cancelled appointments\./)
      const pages = await pastPages(page, base, (i) => check(i === 0 ? 'past-appointments' : `past-appointments-${i + 1}`))
      assert.ok(pages.length >= 2, `pages of past appointments: ${pages.length}`)
      for (const p of pages) assert.ok(p.cards.length >= 1 && p.cards.length <= 3, `${p.url}: ${p.cards.length} cards`)
      const past = pages.flatMap((p) => p.cards)
      assert.equal(new Set(past.map((c) => c.href)).size, past.length, 'no appointment on two pages')
      // The demo patient's attended, missed and cancelled appointments are under "past", and only there.
      for (const tag of ['Attended', 'Did not attend', 'Cancelled']) {
        assert.ok(past.some((c) => c.tag === tag), `a "${tag}" appointment among the past ones: ${past.map((c) => c.tag)}`)
        assert.ok(!upcoming.includes(tag), `no "${tag}" appointment among the upcoming ones: ${upcoming}`)
      }
      assert.ok(past.every((c) => ['Attended', 'Did not attend', 'Cancelled'].includes(c.tag)), `past: ${past.map((c) => c.tag)}`)
      // Newest first; upcoming dates are after today, and some past one is before.
      const when = (d) => new Date(d.replace(/^\w+ /, ''))
      const pastDates = past.map((c) => when(c.date))
      for (let i = 1; i < pastDates.length; i++) assert.ok(pastDates[i - 1] >= pastDates[i], `newest first: ${past.map((c) => c.date)}`)
      const today = new Date(new Date().toDateString())
      await page.goto(base + '/patient-portal/appointments')
      const upcomingDates = await section('Upcoming appointments').locator('.nhsapp-card__description strong').allInnerTexts()
      for (const d of upcomingDates) assert.ok(when(d) >= today, `upcoming on ${d}`)
      assert.ok(pastDates.some((d) => d < today), `some past appointment is before today: ${past.map((c) => c.date)}`)
      // "Show more recent" leads back from the last page to the first, and from there back to the list.
      await page.goto(pages.at(-1).url)
      for (let i = pages.length - 2; i >= 0; i--) {
        await Promise.all([page.waitForURL(pages[i].url), page.locator('a[rel="prev"]', { hasText: 'Show more recent' }).click()])
      }
      assert.equal(await page.locator('a[rel="prev"]').count(), 0, 'the first page has no more recent one')
      await Promise.all([page.waitForURL(/\/patient-portal\/appointments$/), page.getByRole('link', { name: 'View your upcoming appointments' }).click()])
      // A page that is not one: a clear page, and the way back.
      const bad = await page.goto(base + '/patient-portal/appointments?past=two')
      assert.equal(bad.status(), 400)
      await check('past-appointments-not-a-page')
      assert.equal(await page.getByRole('link', { name: 'View your hospital appointments' }).count(), 1)
    })

    test('appointment pages offer only the allowed actions', async () => {
      await openAppointment('Urology appointment')
      await assertOnlyActions('real-time, booked', ['cancel', 'reschedule'])
      await openAppointment('Ophthalmology appointment')
      await assertOnlyActions('request-only, booked', ['askCancel', 'askReschedule'])
      await openAppointment('Rheumatology appointment')
      await assertOnlyActions('request pending', [])
      // Every past or cancelled appointment: nothing to do.
      const hrefs = (await pastPages(page, base)).flatMap((p) => p.cards.map((c) => c.href))
      assert.ok(hrefs.length >= 3)
      for (const href of hrefs) {
        await page.goto(base + href)
        await assertOnlyActions(`past or cancelled ${href}`, [])
      }
    })

    test('add to calendar: the NHS App\'s calendar inside the app, an iCalendar file in a browser', async () => {
      await openAppointment('Urology appointment')
      const link = page.getByRole('link', { name: 'Add to calendar' })
      const start = Number(await link.getAttribute('data-start'))
      if (combo.inApp) {
        await page.waitForFunction(() => Array.isArray(window.__nhsappCalls))
        await link.click()
        const calls = await page.evaluate(() => window.__nhsappCalls)
        const call = calls.find((c) => c.startsWith('addEventToCalendar:'))
        assert.ok(call, JSON.stringify(calls))
        const [subject, , callStart] = call.slice('addEventToCalendar:'.length).split('|')
        assert.match(subject, /^Urology appointment/)
        assert.equal(Number(callStart), start)
      } else {
        const [download] = await Promise.all([page.waitForEvent('download'), link.click()])
        const text = readFileSync(await download.path(), 'utf8')
        assert.match(text, /^BEGIN:VCALENDAR\r\n/)
        const m = /\r\nDTSTART:(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\r\n/.exec(text)
        assert.ok(m, text)
        assert.equal(Date.UTC(m[1], m[2] - 1, m[3], m[4], m[5], m[6]) / 1000, start)
      }
    })

    test('real-time trust: cancel', async () => {
      await openAppointment('Dermatology appointment')
      await check('appointment-real-time')
      await assertOnlyActions('dermatology before cancelling', ['cancel', 'reschedule'])
      await page.getByRole('link', { name: 'Cancel this appointment' }).click()
      // The question first (its branches: cancel_choice.test.mjs).
      await page.getByRole('radio', { name: 'No, I no longer need it' }).check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await check('cancel-reason')
      await page.getByRole('button', { name: 'Continue' }).click()
      await check('cancel-reason-error')
      await page.getByLabel('I do not have transport').check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await check('cancel-check')
      await page.getByRole('button', { name: 'Cancel appointment' }).click()
      await page.getByRole('heading', { name: 'Your appointment has been cancelled' }).waitFor()
      await check('cancel-done-real-time')
      await page.getByRole('button', { name: 'View this appointment' }).click()
      await page.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
      assert.ok(await page.locator('.nhsuk-tag', { hasText: 'Cancelled' }).count() === 1)
      await assertOnlyActions('dermatology after cancelling', [])
      await check('appointment-cancelled')
    })

    test('real-time trust: reschedule to a free slot, and the new time is the one chosen', async () => {
      await openAppointment('Urology appointment')
      const appointmentUrl = page.url()
      const before = { date: await summary('Date'), time: await summary('Time') }
      await page.getByRole('button', { name: 'Change date or time' }).click()
      await check('reschedule-slots')
      await page.getByRole('button', { name: 'Continue' }).click()
      await check('reschedule-slots-error')
      // Afternoons only (the filters, a GET form), then the later dates (a plain link).
      await page.locator('details.nhsuk-details summary').click()
      await page.getByRole('radio', { name: 'Afternoon', exact: true }).check()
      await Promise.all([page.waitForURL(/[?&]time=afternoon/), page.getByRole('button', { name: 'Show times' }).click()])
      await check('reschedule-slots-afternoon')
      await Promise.all([page.waitForURL(/[?&]page=2/), page.getByRole('link', { name: /Later dates/ }).click()])
      await check('reschedule-slots-afternoon-later')
      const slotsUrl = page.url()
      const slotIds = async () => page.locator('input[name="slot"]').evaluateAll((els) => els.map((e) => e.value))
      const shown = await slotIds()
      // Not the first slot: one further down, so a mix-up with the first or the current time shows.
      const radios = page.locator('input[name="slot"]')
      assert.ok(await radios.count() >= 3, 'at least three free slots')
      const radio = radios.nth(2)
      const label = (await page.locator(`label[for="${await radio.getAttribute('id')}"]`).textContent()).trim()
      const m = label.match(/^(.+?) on (.+?)(?: \(.*\))?$/)
      assert.ok(m, `slot label "${label}"`)
      const chosen = { time: m[1], date: m[2].trim() }
      assert.notDeepEqual(chosen, before, 'a different time')
      assert.match(chosen.time, /pm|midday/, `an afternoon: ${chosen.time}`)
      await radio.check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.waitForURL(/\/reschedule\/check\?/)
      await check('reschedule-check')
      // "Change" goes back to the page and filters the time was chosen on.
      await Promise.all([page.waitForURL(slotsUrl), page.getByRole('link', { name: /^Change/ }).click()])
      assert.deepEqual(await slotIds(), shown, 'the same page of afternoons')
      assert.ok(await page.getByRole('radio', { name: 'Afternoon', exact: true }).isChecked(), 'still afternoons')
      await page.locator('input[name="slot"]').nth(2).check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.waitForURL(/\/reschedule\/check\?/)
      await page.getByRole('button', { name: 'Confirm new date and time' }).click()
      await page.getByRole('heading', { name: 'Your appointment has been changed' }).waitFor()
      await check('reschedule-done-real-time')
      assert.equal(await summary('Date'), chosen.date, 'the confirmation shows the chosen date')
      assert.equal(await summary('Time'), chosen.time, 'the confirmation shows the chosen time')
      // And the appointment itself now says so.
      await page.goto(appointmentUrl)
      assert.equal(await summary('Date'), chosen.date, 'the appointment is on the chosen date')
      assert.equal(await summary('Time'), chosen.time, 'the appointment is at the chosen time')
    })

    test('request-only trust: ask to cancel, staff then cancel it', async () => {
      await openAppointment('Ophthalmology appointment')
      await check('appointment-request-only')
      await page.getByRole('link', { name: 'Ask to cancel this appointment' }).click()
      await page.getByRole('radio', { name: 'No, I no longer need it' }).check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.getByRole('radio', { name: 'Other' }).check()
      await page.getByRole('button', { name: 'Continue' }).click()
      await check('cancel-reason-other-error')
      await page.getByLabel('Tell us why you need to cancel (needed if you chose Other)').fill('I am moving to another area')
      await page.getByRole('button', { name: 'Continue' }).click()
      await check('cancel-request-check')
      await page.getByRole('button', { name: 'Submit request to cancel' }).click()
      await page.getByRole('heading', { name: 'Your request to cancel has been submitted' }).waitFor()
      await check('cancel-request-done')
      await openAppointment('Ophthalmology appointment')
      const appointmentUrl = page.url()
      assert.equal(await page.locator('.nhsuk-tag', { hasText: 'Pending Cancellation' }).count(), 1)
      await assertOnlyActions('pending cancellation', [])
      await check('appointment-pending-cancellation')

      // The booking team, in their own browser, finds this request on the worklist and cancels it.
      const staff = await newContext(browser, { width: 1280, inApp: false })
      try {
        const desk = await staff.newPage()
        await desk.goto(base + '/staff')
        await desk.getByLabel('Your name').fill('Sam Taylor')
        await desk.getByLabel('Access code').fill(STAFF_CODE)
        await desk.getByRole('button', { name: 'Sign in' }).click()
        await desk.getByRole('heading', { name: 'Booking team worklist' }).waitFor()
        const card = desk.locator('.nhsuk-card', { hasText: 'I am moving to another area' })
        assert.equal(await card.count(), 1, 'the patient\'s request is on the worklist once')
        assert.match(await card.locator('h3').innerText(), /Ophthalmology appointment/)
        assert.match(await card.innerText(), /900 000 0009/)
        await card.getByRole('button', { name: 'Mark as cancelled' }).click()
        await desk.getByText('Done.').waitFor()
        assert.equal(await desk.locator('.nhsuk-card', { hasText: 'I am moving to another area' }).count(), 0, 'off the worklist')
      } finally {
        await staff.close()
      }

      // The patient now sees it cancelled, with nothing pending and nothing to do.
      await page.goto(appointmentUrl)
      assert.equal(await page.locator('.nhsuk-tag', { hasText: 'Cancelled' }).count(), 1)
      assert.equal(await page.locator('.nhsuk-tag', { hasText: 'Pending' }).count(), 0)
      await assertOnlyActions('cancelled by the booking team', [])
      await check('appointment-cancelled-by-staff')
    })

    test('pending requests from the demo show their status', async () => {
      await openAppointment('Rheumatology appointment')
      assert.equal(await page.locator('.nhsuk-tag', { hasText: 'Pending Reschedule' }).count(), 1)
      await check('appointment-pending-reschedule')
    })

    test('an appointment that is not yours cannot be viewed', async () => {
      // Another patient's real appointment, found by signing in as them in another browser.
      const other = await newContext(browser, { width: 1280, inApp: false })
      let theirs
      try {
        const p = await other.newPage()
        await signInOn(p, base, '9000000017')
        const link = p.locator('a.nhsapp-card__link').first()
        const href = await link.getAttribute('href')
        await link.click()
        await p.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
        theirs = {
          href,
          title: (await p.locator('h1').innerText()).trim(),
          date: (await p.locator('.nhsuk-summary-list__row', { has: p.locator('dt', { hasText: /^Date$/ }) }).locator('dd').innerText()).trim()
        }
      } finally {
        await other.close()
      }
      const mine = await page.goto(base + theirs.href)
      assert.equal(mine.status(), 404)
      await check('cannot-view')
      assert.equal((await page.locator('h1').innerText()).trim(), 'You cannot view this appointment')
      const shown = await page.locator('main').innerText()
      for (const leak of [theirs.title, theirs.date, '9000000017', '900 000 0017']) {
        assert.ok(!shown.includes(leak), `the page does not show "${leak}"`)
      }
      // Exactly the page an id nobody owns gets, so ids cannot be probed.
      const unknown = await page.goto(base + '/patient-portal/appointment/7f1c2a3e-0d4b-4c55-9a8e-1b2c3d4e5f60')
      assert.equal(unknown.status(), 404)
      assert.equal(await page.locator('main').innerText(), shown, 'same page as an unknown id')
      await page.goto(base + '/no-such-page')
      await check('page-not-found')
    })

    test('second patient: request-only trust, ask to change the date', async () => {
      if (!combo.inApp) {
        await page.goto(base + '/patient-portal/appointments')
        await page.getByRole('button', { name: 'Sign out' }).first().click()
        await page.waitForURL(/\/signed-out/)
        await check('signed-out')
      } else {
        await context.clearCookies()
      }
      await signIn('9000000017')
      await page.goto(base + '/patient-portal/appointments')
      const cards = page.locator('a.nhsapp-card__link')
      const count = await cards.count()
      let opened = false
      for (let i = 0; i < count && !opened; i++) {
        await page.goto(base + '/patient-portal/appointments')
        await page.locator('a.nhsapp-card__link').nth(i).click()
        await page.waitForURL(/\/patient-portal\/appointment\/[^/]+$/)
        if (await page.getByRole('button', { name: 'Ask to change date or time' }).count() > 0) opened = true
      }
      assert.ok(opened, '9000000017 has an appointment at the request-only trust')
      await page.getByRole('button', { name: 'Ask to change date or time' }).click()
      await check('reschedule-request-reason')
      await page.getByLabel('I cannot attend due to work, holiday or other commitments').check()
      await page.getByLabel('When can you come? (optional)').fill('Any weekday morning')
      await page.getByRole('button', { name: 'Continue' }).click()
      await check('reschedule-request-check')
      await page.getByRole('button', { name: 'Submit request to change' }).click()
      await page.getByRole('heading', { name: 'Your request to change this appointment has been submitted' }).waitFor()
      await check('reschedule-request-done')
    })

    if (combo.inApp) {
      test('inside the NHS App, external links use the NHS App JS API', async () => {
        await page.goto(base + '/patient-portal/appointments')
        await page.waitForFunction(() => Array.isArray(window.__nhsappCalls))
        await page.locator('a[data-external]').first().click()
        const calls = await page.evaluate(() => window.__nhsappCalls)
        assert.ok(calls.some((c) => c.startsWith('openBrowserOverlay:https://111.nhs.uk/')), JSON.stringify(calls))
      })
      test('timed out inside the NHS App goes to the NHS App home page', async () => {
        await page.goto(base + '/session/timed-out')
        await page.waitForFunction(() => (window.__nhsappCalls || []).includes('goToHomePage'))
        await check('timed-out-app')
      })
    } else {
      test('timed out in a browser says to close the tab', async () => {
        await page.goto(base + '/session/timed-out')
        assert.ok(await page.getByText('Close this tab').count() > 0)
        await check('timed-out-browser')
      })
      test('staff worklist: the booking team rejects a request', async () => {
        await page.goto(base + '/staff')
        await page.getByLabel('Your name').fill('Sam Taylor')
        await page.getByLabel('Access code').fill(STAFF_CODE)
        await page.getByRole('button', { name: 'Sign in' }).click()
        await page.getByRole('heading', { name: 'Booking team worklist' }).waitFor()
        const before = await page.locator('.nhsuk-card').count()
        assert.ok(before >= 1)
        await screenshot(page, `${combo.name}-staff-worklist`)
        await page.getByRole('button', { name: /^Reject request/ }).first().click()
        await page.getByText('Done.').waitFor()
        assert.equal(await page.locator('.nhsuk-card').count(), before - 1)
      })
    }
  })
}

describe('session timeout warning', () => {
  let portal, base, context, page
  before(async () => {
    portal = startPortal({ NHS_PORTAL_SESSION_IDLE_SECONDS: '64' })
    base = await portal.ready
    context = await newContext(browser, { width: 1280, inApp: false })
    page = await context.newPage()
  })
  after(async () => { await context?.close(); portal?.stop() })

  // Idle timeout 64 s: the warning opens after 4 s. The patient waits 15 s, stays signed in, and
  // is checked again after the first session would have ended (64 s) but before the extended one
  // does (15 + 64 s).
  test('the warning opens, is accessible, and "Stay signed in" keeps the session', async () => {
    await signInOn(page, base, '9000000009')
    const signedInAt = Date.now()
    assert.equal(new URL(page.url()).pathname, '/patient-portal/appointments')
    const dialog = page.getByRole('dialog', { name: "You're about to be signed out" })
    await dialog.waitFor({ timeout: 15000 })
    const violations = await axeViolations(page)
    await screenshot(page, '1280px-browser-timeout-warning')
    assert.deepEqual(violations, [])
    await sleep(Math.max(0, signedInAt + 15000 - Date.now()))

    // "Stay signed in" posts to /session/extend, which must answer with a redirect back here
    // (not an error, not the sign-in or signed-out page); then the page loads again.
    const isExtend = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/session/extend'
    const isReload = (r) => r.request().method() === 'GET' && r.request().isNavigationRequest() &&
      new URL(r.url()).pathname === '/patient-portal/appointments'
    let reloadedAt
    const [extend, reload] = await Promise.all([
      page.waitForResponse(isExtend),
      page.waitForResponse(isReload).then((r) => { reloadedAt = Date.now(); return r }),
      dialog.getByRole('button', { name: 'Stay signed in' }).click()
    ])
    assert.equal(extend.status(), 303, '/session/extend redirects')
    assert.equal(new URL(extend.headers().location, base).pathname, '/patient-portal/appointments', 'back to the page the patient was on')
    assert.equal(reload.status(), 200, 'the page loads, signed in')
    await page.waitForLoadState('load')
    await page.getByRole('heading', { name: 'Your hospital appointments' }).waitFor()
    // The dialog is closed and its timers start again from a whole idle period.
    assert.equal(await page.locator('dialog#portal-timeout-dialog[open]').count(), 0, 'the dialog is closed')
    const expireAfter = Number(await page.locator('dialog#portal-timeout-dialog').getAttribute('data-expire-after'))
    assert.ok(expireAfter >= 60, `a fresh idle period after staying signed in: ${expireAfter} s`)
    // When the dialog opens again, by the page's own clock (milliseconds since this page load
    // began), so a test process slowed by a busy machine does not skew the measure.
    await page.evaluate(() => {
      const d = document.getElementById('portal-timeout-dialog')
      new MutationObserver(() => { if (d.open && window.__openedAt === undefined) window.__openedAt = performance.now() })
        .observe(d, { attributes: true })
    })
    const reopened = page.waitForSelector('dialog#portal-timeout-dialog[open]', { timeout: 30000 })
      .then(() => page.evaluate(() => window.__openedAt))

    // Past the first session's end (signed in + 64 s), within the extended one.
    await sleep(Math.max(0, signedInAt + 70000 - Date.now()))
    assert.ok(Date.now() < reloadedAt + 60000, 'still inside the extended session (the machine was not too slow)')
    const reopenedAfter = await reopened
    // The page's timer waits the warning time it was given, and that is a fresh one (the first
    // session's had run out: it would open at once). Load on the machine only delays the page.
    const warnAfter = Number(await page.locator('dialog#portal-timeout-dialog').getAttribute('data-warn-after'))
    assert.ok(warnAfter >= 2, `a fresh warning time after staying signed in: ${warnAfter} s`)
    assert.ok(reopenedAfter >= warnAfter * 1000, `the warning came back only after a fresh wait (${reopenedAfter} ms, warn after ${warnAfter} s)`)
    assert.equal(new URL(page.url()).pathname, '/patient-portal/appointments', 'not sent to the timed-out page')
    const later = await page.request.get(base + '/patient-portal/appointments', { maxRedirects: 0 })
    assert.equal(later.status(), 200, 'the session is still valid after the first one would have ended')
    assert.match(await later.text(), /Your hospital appointments/)
  })
})
