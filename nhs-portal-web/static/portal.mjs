// nhs-portal browser script. Everything here is progressive enhancement: every page and form
// works without it.
// Relative, so that the portal works under a path prefix (this file is /assets/portal/portal.mjs).
import { initAll } from '../nhsuk/nhsuk-frontend.min.js'
import { wireNavigation } from './navigation.mjs'

initAll()

// The NHS App JS API v2 (loaded only inside the NHS App). Feature-detect every call.
const app = window.nhsapp
const nav = app && app.navigation

// Links back into the NHS App's own pages (appointments, proving who you are).
wireNavigation(document, app)

function goHome () {
  if (nav && typeof nav.goToHomePage === 'function') {
    nav.goToHomePage()
    return true
  }
  if (nav && typeof nav.goToHomepage === 'function') {
    nav.goToHomepage()
    return true
  }
  return false
}

if (nav) {
  // External links open in the NHS App's browser overlay, not inside the web view.
  for (const link of document.querySelectorAll('a[data-external]')) {
    link.addEventListener('click', (event) => {
      if (typeof nav.openBrowserOverlay === 'function') {
        event.preventDefault()
        nav.openBrowserOverlay(link.href)
      }
    })
  }
  for (const link of document.querySelectorAll('a[data-nhsapp-home]')) {
    link.addEventListener('click', (event) => {
      if (goHome()) event.preventDefault()
    })
  }
  // "Add to calendar": file downloads do not work in the NHS App's web view, so the app's own
  // calendar call takes the event; a cancellation file goes through its download call.
  const storage = app.storage
  for (const link of document.querySelectorAll('a[data-nhsapp-calendar]')) {
    link.addEventListener('click', (event) => {
      const d = link.dataset
      if (d.cancels !== 'true' && storage && typeof storage.addEventToCalendar === 'function') {
        event.preventDefault()
        const end = d.end ? Number(d.end) : undefined
        storage.addEventToCalendar(d.subject, d.body, d.location, Number(d.start), end)
        return
      }
      const download = (storage && storage.downloadFromBytes) || app.downloadFromBytes
      if (d.cancels === 'true' && typeof download === 'function') {
        event.preventDefault()
        fetch(link.href, { credentials: 'same-origin' })
          .then((res) => res.ok ? res.arrayBuffer() : Promise.reject(new Error(String(res.status))))
          .then((buffer) => {
            let binary = ''
            for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte)
            download.call(storage || app, window.btoa(binary), 'hospital-appointment.ics', 'text/calendar')
          })
          .catch(() => { window.location.href = link.href })
      }
    })
  }
  // The NHS App's own back button follows the page's back link when there is one.
  const back = document.querySelector('a.nhsuk-back-link')
  if (typeof nav.setBackAction === 'function') {
    if (back) {
      nav.setBackAction(() => { window.location.href = back.href })
    } else if (typeof nav.clearBackAction === 'function') {
      nav.clearBackAction()
    }
  }
  // A page that tells the app to go home (the timed-out page inside the NHS App).
  if (document.body.dataset.nhsappGoHome === 'true') goHome()
}

// Session-timeout warning: opens after the warning time, signs out at the end.
const dialog = document.getElementById('portal-timeout-dialog')
if (dialog && typeof dialog.showModal === 'function') {
  const warnAfter = Number(dialog.dataset.warnAfter) * 1000
  const expireAfter = Number(dialog.dataset.expireAfter) * 1000
  window.setTimeout(() => {
    dialog.showModal()
    const first = dialog.querySelector('button')
    if (first) first.focus()
  }, warnAfter)
  window.setTimeout(() => {
    if (nav && goHome()) return
    // From the page (the portal moves it under its path prefix), never written here.
    window.location.href = dialog.dataset.timedOutHref
  }, expireAfter)
}
