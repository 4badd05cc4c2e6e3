// nhs-portal: links that lead back into the NHS App's own pages, through the NHS App JS API v2
// (`nhsapp.navigation.goToPage`). Progressive enhancement only: outside the NHS App (no
// `window.nhsapp`, or the API says it is not open in the app), or when the app's API lacks the
// call or the page, nothing is done and the link's own href is followed.
//
// - `a[data-nhsapp-appointments]`: back to the NHS App's appointments. The JS API names no
//   appointments page of its own, so `GO_BACK` (the app page the patient came from: the
//   deep link's hospital appointments list), else `YOUR_HEALTH` (the hub holding them).
// - `a[data-nhsapp-uplift]`: the NHS App's own journey for proving who you are (`UPLIFT`).

// The app pages to try for each kind of link, in order: the first the app's `AppPage` defines.
export const APP_PAGES = {
  appointments: ['GO_BACK', 'YOUR_HEALTH'],
  uplift: ['UPLIFT']
}

// Whether the page is open inside the NHS App, by its JS API (when it answers).
function openInApp (app) {
  const tools = app && app.tools
  if (tools && typeof tools.isOpenInNHSApp === 'function') return tools.isOpenInNHSApp() === true
  return Boolean(app)
}

// The `AppPage` value to go to for `kind`, or `undefined` when the app offers none of them.
export function appPage (nav, kind) {
  const pages = nav && nav.AppPage
  if (!pages) return undefined
  for (const name of APP_PAGES[kind] || []) {
    if (pages[name] !== undefined) return pages[name]
  }
  return undefined
}

// Wires the links of `doc` to the NHS App `app` (normally `window.nhsapp`).
export function wireNavigation (doc, app) {
  if (!openInApp(app)) return
  const nav = app.navigation
  if (!nav || typeof nav.goToPage !== 'function') return
  for (const [kind, selector] of [['appointments', 'a[data-nhsapp-appointments]'], ['uplift', 'a[data-nhsapp-uplift]']]) {
    for (const link of doc.querySelectorAll(selector)) {
      link.addEventListener('click', (event) => {
        const page = appPage(nav, kind)
        if (page === undefined) return
        event.preventDefault()
        nav.goToPage(page)
      })
    }
  }
}
