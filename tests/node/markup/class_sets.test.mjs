// The class-set comparison: every nhsuk-frontend component the portal's handlebars templates use,
// as the running reference portal serves it, against the upstream Nunjucks macro of the same
// pinned nhsuk-frontend (the version the web crate embeds) rendered with the same content. For
// each component instance on a page: the nhsuk-* classes of its root must be the macro's root's,
// and the set of nhsuk-* classes among its descendants the macro's. So a class that drifts (a
// renamed element class, a deprecated component, a missing modifier) fails here, which axe
// cannot see.
//
// The pages come from the reference portal's debug binary in demo mode (a fresh temporary
// database), through the NHS login simulator, in a browser (no NHS App User-Agent), so header,
// footer and back link are there. The macro's parameters are read from our own element (its
// texts, items, variant), so the content is the same and only the markup differs.
//
// Environment: NHS_PORTAL_BIN (the nhs-portal-example binary).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import nunjucks from 'nunjucks'
import { parse } from 'node-html-parser'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..', '..', '..')
const require = createRequire(import.meta.url)
const BIN = process.env.NHS_PORTAL_BIN || join(repo, 'target', 'debug', 'nhs-portal-example')
const ADULT = '9000000009'

assert.ok(existsSync(BIN), `the portal binary is missing: ${BIN} (build it with cargo build -p nhs-portal-example)`)

// The macros come from this folder's nhsuk-frontend: the version the web crate embeds.
const frontendDir = dirname(require.resolve('nhsuk-frontend/package.json'))
const env = nunjucks.configure(join(frontendDir, 'dist'), { autoescape: true })

test('this harness pins the nhsuk-frontend version the web crate embeds', () => {
  const ours = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).dependencies['nhsuk-frontend']
  const web = JSON.parse(readFileSync(join(repo, 'nhs-portal-web', 'assets', 'package.json'), 'utf8')).dependencies['nhsuk-frontend']
  assert.equal(ours, web)
  const installed = JSON.parse(readFileSync(join(frontendDir, 'package.json'), 'utf8')).version
  assert.equal(installed, web)
})

// One upstream macro with `params`, as a parsed element (the first one it renders).
function macro (component, name, params) {
  const html = env.renderString(`{% from "nhsuk/components/${component}/macro.njk" import ${name} %}{{ ${name}(params) }}`, { params })
  const root = parse(html).childNodes.find((n) => n.nodeType === 1)
  assert.ok(root, `${component} rendered nothing: ${html}`)
  return root
}

const nhsukClasses = (el) => (el.getAttribute('class') || '').split(/\s+/).filter((c) => c.startsWith('nhsuk-'))
const text = (el) => (el ? el.text.replace(/\s+/g, ' ').trim() : '')

// The comparison: the root's nhsuk-* classes, and the set among its descendants.
function classSets (root) {
  const inner = new Set()
  for (const el of root.querySelectorAll('*')) for (const c of nhsukClasses(el)) inner.add(c)
  return { root: [...new Set(nhsukClasses(root))].sort(), inner: [...inner].sort() }
}

function assertSameClasses (what, ours, upstream) {
  const a = classSets(ours)
  const b = classSets(upstream)
  assert.deepEqual(a.root, b.root, `${what}: the root's classes (ours, then nhsuk-frontend's)`)
  assert.deepEqual(a.inner, b.inner, `${what}: the classes inside (ours, then nhsuk-frontend's)\n${ours.outerHTML}\n---\n${upstream.outerHTML}`)
}

// What each component's macro needs, read from our element. `modifier(el, base)` is the variant
// our element carries (`nhsuk-button--secondary` gives `secondary`).
function modifier (el, base) {
  const m = nhsukClasses(el).find((c) => c.startsWith(`${base}--`))
  return m ? m.slice(base.length + 2) : undefined
}

const COMPONENTS = {
  button: {
    selector: '.nhsuk-button',
    params: (el) => ({
      text: text(el),
      variant: modifier(el, 'nhsuk-button'),
      href: el.tagName === 'A' ? el.getAttribute('href') : undefined
    }),
    macro: ['button', 'button']
  },
  tag: {
    selector: '.nhsuk-tag',
    params: (el) => ({ text: text(el), colour: modifier(el, 'nhsuk-tag') }),
    macro: ['tag', 'tag']
  },
  pagination: {
    selector: '.nhsuk-pagination',
    params: (el) => {
      const side = (dir) => {
        const a = el.querySelector(`.nhsuk-pagination__link--${dir}`)
        return a
          ? { href: a.getAttribute('href'), text: text(a.querySelector('.nhsuk-pagination__title')), labelText: text(a.querySelector('.nhsuk-pagination__page')) }
          : undefined
      }
      return { previous: side('prev'), next: side('next'), ariaLabel: el.getAttribute('aria-label') }
    },
    macro: ['pagination', 'pagination']
  },
  backLink: {
    selector: '.nhsuk-back-link',
    params: (el) => ({ text: text(el), href: el.getAttribute('href') }),
    macro: ['back-link', 'backLink']
  },
  insetText: {
    selector: '.nhsuk-inset-text',
    // Its content after the visually hidden "Information: " the macro adds itself.
    params: (el) => ({ html: el.childNodes.filter((n) => !(n.nodeType === 1 && nhsukClasses(n).includes('nhsuk-u-visually-hidden'))).map((n) => n.toString()).join('') }),
    macro: ['inset-text', 'insetText']
  },
  panel: {
    selector: '.nhsuk-panel',
    params: (el) => ({
      titleText: text(el.querySelector('.nhsuk-panel__heading')),
      text: text(el.querySelector('.nhsuk-panel__body')) || undefined
    }),
    macro: ['panel', 'panel']
  },
  summaryList: {
    selector: '.nhsuk-summary-list',
    params: (el) => ({
      rows: el.querySelectorAll('.nhsuk-summary-list__row').map((row) => {
        const action = row.querySelector('.nhsuk-summary-list__actions a')
        return {
          key: { text: text(row.querySelector('.nhsuk-summary-list__key')) },
          value: { html: row.querySelector('.nhsuk-summary-list__value').innerHTML },
          actions: action
            ? { items: [{ href: action.getAttribute('href'), text: 'Change', visuallyHiddenText: text(action.querySelector('.nhsuk-u-visually-hidden')) }] }
            : undefined
        }
      })
    }),
    macro: ['summary-list', 'summaryList']
  },
  card: {
    selector: '.nhsuk-card',
    params: (el) => {
      const care = modifier(el, 'nhsuk-card--care')
      return {
        variant: care || modifier(el, 'nhsuk-card'),
        heading: text(el.querySelector('.nhsuk-card__heading')).replace(/^Non-urgent advice: /, ''),
        headingLevel: 2,
        descriptionHtml: care ? el.querySelector('.nhsuk-card__content').innerHTML : el.querySelector('.nhsuk-card__description')?.outerHTML
      }
    },
    macro: ['card', 'card']
  },
  errorSummary: {
    selector: '.nhsuk-error-summary',
    params: (el) => ({
      titleText: text(el.querySelector('.nhsuk-error-summary__heading')),
      errorList: el.querySelectorAll('.nhsuk-error-summary__list a').map((a) => ({ text: text(a), href: a.getAttribute('href') }))
    }),
    macro: ['error-summary', 'errorSummary']
  },
  radios: {
    // The whole form group: fieldset, legend, hint, error message and the radios.
    selector: '.nhsuk-form-group',
    only: (el) => el.querySelector('.nhsuk-radios'),
    params: (el) => {
      const error = el.querySelector('.nhsuk-error-message')
      return {
        name: el.querySelector('.nhsuk-radios__input').getAttribute('name'),
        idPrefix: 'reason',
        fieldset: {
          legend: {
            text: text(el.querySelector('.nhsuk-fieldset__legend')),
            isPageHeading: Boolean(el.querySelector('.nhsuk-fieldset__heading')),
            size: modifier(el.querySelector('.nhsuk-fieldset__legend'), 'nhsuk-fieldset__legend')
          }
        },
        hint: el.querySelector('.nhsuk-hint') ? { text: text(el.querySelector('.nhsuk-hint')) } : undefined,
        errorMessage: error ? { text: text(error).replace(/^Error: /, '') } : undefined,
        items: el.querySelectorAll('.nhsuk-radios__input').map((input) => ({
          value: input.getAttribute('value'),
          text: text(el.querySelector(`label[for="${input.getAttribute('id')}"]`))
        }))
      }
    },
    macro: ['radios', 'radios']
  },
  header: {
    selector: '.nhsuk-header',
    params: (el) => {
      const account = el.querySelector('.nhsuk-header__account')
      return {
        service: { text: text(el.querySelector('.nhsuk-header__service-name')), href: '/' },
        account: account
          ? { items: account.querySelectorAll('.nhsuk-header__account-item').map((item) => ({ text: text(item), action: item.querySelector('form')?.getAttribute('action') })) }
          : undefined
      }
    },
    macro: ['header', 'header']
  },
  footer: {
    selector: '.nhsuk-footer',
    params: (el) => ({
      meta: {
        items: el.querySelectorAll('.nhsuk-footer__list-item a').map((a) => ({ href: a.getAttribute('href'), text: text(a) }))
      }
    }),
    macro: ['footer', 'footer']
  }
}

// The reference portal, on a free port, with its own database.
let portal, base, dir
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nhs-portal-markup-'))
  portal = spawn(BIN, [], {
    env: {
      ...process.env,
      NHS_PORTAL_ADDR: '127.0.0.1:0',
      NHS_PORTAL_DATABASE_URL: `sqlite://${join(dir, 'portal.sqlite3')}?mode=rwc`,
      NHS_PORTAL_STAFF_CODE: 'markup-test-code',
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
})
after(() => {
  portal?.kill('SIGTERM')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

// A browser without JavaScript: a cookie jar, redirects followed by hand.
const jar = new Map()
async function request (path, { method = 'GET', form } = {}) {
  let url = new URL(path, base).href
  let init = { method, body: form ? new URLSearchParams(form).toString() : undefined }
  for (let hops = 0; hops < 10; hops++) {
    const headers = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') }
    if (init.body) headers['content-type'] = 'application/x-www-form-urlencoded'
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';')
      const at = pair.indexOf('=')
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)]
      if (value === '' || /max-age=0/i.test(c)) jar.delete(name); else jar.set(name, value)
    }
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).href
      init = { method: 'GET' }
      continue
    }
    return { status: res.status, url, doc: parse(await res.text()) }
  }
  throw new Error(`too many redirects from ${path}`)
}

const csrf = (doc) => doc.querySelector('input[name="csrf_token"]').getAttribute('value')
const hrefOf = (doc, label) => doc.querySelectorAll('a').find((a) => text(a) === label)?.getAttribute('href')

// Every component instance on `doc` against its macro; returns the names of those found.
function compareAll (page, doc) {
  const main = doc.querySelector('body')
  const seen = []
  for (const [name, c] of Object.entries(COMPONENTS)) {
    for (const [i, el] of main.querySelectorAll(c.selector).entries()) {
      if (c.only && !c.only(el)) continue
      const upstream = macro(c.macro[0], c.macro[1], c.params(el))
      assertSameClasses(`${page}: ${name} #${i + 1}`, el, upstream)
      seen.push(name)
    }
  }
  return seen
}

test('every component on the patient pages has the upstream macro\'s classes', async () => {
  const seen = new Set()
  const visit = (page, doc) => { for (const n of compareAll(page, doc)) seen.add(n) }

  const landing = await request('/')
  visit('landing', landing.doc)

  // Sign in through the NHS login simulator.
  const simulator = await request('/patient-portal/appointments')
  const form = simulator.doc.querySelector('form')
  const list = await request(form.getAttribute('action'), { method: 'POST', form: { nhs_number: ADULT, decision: 'allow' } })
  assert.match(list.url, /\/patient-portal\/appointments$/)
  visit('appointments', list.doc)

  // A real-time trust's appointment, its cancel journey (with the error state), check and done.
  const cards = list.doc.querySelectorAll('a.nhsapp-card__link')
  const derm = cards.find((a) => text(a) === 'Dermatology appointment').getAttribute('href')
  const page = await request(derm)
  visit('appointment', page.doc)
  // First "Do you still need this appointment?", then the reasons.
  const need = await request(hrefOf(page.doc, 'Cancel this appointment'))
  visit('cancel-need', need.doc)
  const needAction = need.doc.querySelectorAll('form').find((f) => f.querySelector('.nhsuk-radios')).getAttribute('action')
  const cancel = await request(needAction, { method: 'POST', form: { csrf_token: csrf(need.doc), still_needed: 'no-longer-needed' } })
  assert.ok(cancel.doc.querySelector('input[name="reason"]'), `the answer leads to the reasons: ${cancel.status} ${cancel.url}`)
  visit('cancel-reason', cancel.doc)
  const action = cancel.doc.querySelectorAll('form').find((f) => f.querySelector('.nhsuk-radios')).getAttribute('action')
  const error = await request(action, { method: 'POST', form: { csrf_token: csrf(cancel.doc) } })
  assert.ok(error.doc.querySelector('.nhsuk-error-summary'), `the answer without a reason shows the error summary: ${error.status} ${error.url} ${error.doc.querySelector('h1')}`)
  visit('cancel-reason-error', error.doc)
  const reason = cancel.doc.querySelector('.nhsuk-radios__input').getAttribute('value')
  const check = await request(action, { method: 'POST', form: { csrf_token: csrf(cancel.doc), reason } })
  visit('cancel-check', check.doc)
  const confirm = check.doc.querySelectorAll('form').find((f) => f.querySelector('input[name="idempotency_key"]'))
  const fields = Object.fromEntries(confirm.querySelectorAll('input').map((i) => [i.getAttribute('name'), i.getAttribute('value') || '']))
  const done = await request(confirm.getAttribute('action'), { method: 'POST', form: fields })
  visit('cancel-done', done.doc)

  // The past and cancelled appointments, a page at a time: the pagination (the one partial the
  // pages of free slots use too), with "Show earlier appointments", then both links.
  const past = await request(hrefOf(list.doc, 'Show past and cancelled appointments'))
  visit('past-appointments', past.doc)
  const earlier = past.doc.querySelector('a[rel="next"]')
  assert.ok(earlier, 'the past appointments have a second page')
  visit('past-appointments-2', (await request(earlier.getAttribute('href'))).doc)

  // A request waiting for the trust (the inset text).
  const pending = cards.find((a) => text(a) === 'Rheumatology appointment').getAttribute('href')
  visit('pending-request', (await request(pending)).doc)

  for (const name of Object.keys(COMPONENTS)) assert.ok(seen.has(name), `${name} was compared on some page: ${[...seen]}`)
})
