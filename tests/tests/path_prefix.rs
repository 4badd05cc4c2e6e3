//! The demo portal served under a path (`http://127.0.0.1:{port}/hospital`), as a vendor serves
//! it beside their own site: sign-in through the simulator, a cancel and a reschedule in real
//! time, and sign-out, each step through the links and forms the pages themselves carry. Every
//! response on the way is checked: each redirect, each cookie's `Path`, and each link, form
//! action, button target, script, style sheet and icon on each page stays under `/hospital`
//! (or leaves the portal for another site); every asset and link on the portal loads. The NHS
//! App simulator's deep link (SSO) and the Get Appointments API work there too.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use nhs_portal_pas::demo::{self, ADULT, SECOND_ADULT};
use nhs_portal_tests::{Client, NHS_NUMBER_FIELD, TestPortal, body_text, input_value, location};

const PREFIX: &str = "/hospital";

/// One attribute holding a URL, on one tag.
#[derive(Debug)]
struct UrlAttr {
    tag: String,
    name: String,
    value: String,
}

/// Every `href`, `src`, `action`, `formaction` and `data-…-href` on a page, entities undone.
fn url_attributes(html: &str) -> Vec<UrlAttr> {
    let mut found = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let tag_name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let mut rest = tag;
        while let Some(at) = rest.find("=\"") {
            let before = &rest[..at];
            let name_start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |i| i + 1);
            let name = before[name_start..].to_ascii_lowercase();
            let after = &rest[at + 2..];
            let end = after.find('"').unwrap_or(after.len());
            let value = after[..end]
                .replace("&amp;", "&")
                .replace("&#x3D;", "=")
                .replace("&#x2F;", "/");
            if ["href", "src", "action", "formaction"].contains(&name.as_str())
                || (name.starts_with("data-") && name.ends_with("-href"))
            {
                found.push(UrlAttr {
                    tag: tag_name.clone(),
                    name,
                    value,
                });
            }
            rest = &after[(end + 1).min(after.len())..];
        }
    }
    found
}

/// A browser that checks every response it gets and follows redirects itself.
struct Walk {
    c: Client,
    /// `http://127.0.0.1:{port}`.
    origin: String,
    /// Same-site URLs already loaded by [`Walk::load_all`].
    loaded: BTreeSet<String>,
    /// How many links, forms, assets, redirects and cookies were checked.
    checked: usize,
}

impl Walk {
    fn new(t: &TestPortal) -> Self {
        Self {
            c: t.client(),
            origin: format!("http://{}", t.addr()),
            loaded: BTreeSet::new(),
            checked: 0,
        }
    }

    /// Whether a root-relative path is under the prefix.
    fn under(path: &str) -> bool {
        path == PREFIX || path.starts_with(&format!("{PREFIX}/"))
    }

    /// The same-site path of a URL as the page gives it, or `None` for another site's. Panics
    /// when it is on the portal's host but outside the prefix, or relative.
    fn own_path(&self, url: &str, at: &str, what: &str) -> Option<String> {
        if url.starts_with('#') || url.starts_with("tel:") || url.starts_with("mailto:") {
            return None;
        }
        let path = if let Some(rest) = url.strip_prefix(&self.origin) {
            if rest.is_empty() { "/" } else { rest }
        } else if url.starts_with("https://") || url.starts_with("http://") {
            return None;
        } else {
            url
        };
        assert!(
            Self::under(path),
            "{what} {url:?} on {at} is not under {PREFIX}"
        );
        Some(path.to_owned())
    }

    /// Checks a response's redirect, cookies and (for HTML) every URL on the page; loads each
    /// asset and link it names.
    async fn check(&mut self, res: &Response<Bytes>, at: &str) {
        assert!(Self::under(at), "{at} was requested outside {PREFIX}");
        if let Some(to) = location(res) {
            self.own_path(&to, at, "the redirect");
            self.checked += 1;
        }
        for cookie in res.headers().get_all(header::SET_COOKIE) {
            let cookie = cookie.to_str().unwrap();
            let path = cookie
                .split(';')
                .map(str::trim)
                .find_map(|a| {
                    a.get(..5)
                        .filter(|n| n.eq_ignore_ascii_case("path="))
                        .map(|_| &a[5..])
                })
                .unwrap_or_else(|| panic!("a cookie without a Path from {at}: {cookie}"));
            assert!(
                Self::under(path),
                "cookie {cookie:?} from {at} is not under {PREFIX}"
            );
            self.checked += 1;
        }
        let html = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
        if !html {
            return;
        }
        let page = body_text(res);
        let mut to_load = Vec::new();
        for attr in url_attributes(&page) {
            let what = format!("<{} {}>", attr.tag, attr.name);
            let own = self.own_path(&attr.value, at, &what);
            self.checked += 1;
            // Links and assets must load; forms and buttons are sent by the journey itself.
            let loads = attr.name == "src" || (attr.name == "href" && attr.tag != "base");
            if let Some(path) = own.filter(|_| loads) {
                to_load.push(path);
            }
        }
        self.load_all(to_load, at).await;
    }

    /// Loads each same-site URL once, in a copy of the browser (what a patient's click would
    /// do, without moving this walk): none may be missing.
    async fn load_all(&mut self, paths: Vec<String>, at: &str) {
        for path in paths {
            if !self.loaded.insert(path.clone()) {
                continue;
            }
            let res = self.c.clone().get(&path).await;
            assert_ne!(
                res.status(),
                StatusCode::NOT_FOUND,
                "{path}, linked from {at}"
            );
            assert!(
                !res.status().is_server_error(),
                "{path}, linked from {at}: {}",
                res.status()
            );
        }
    }

    /// Follows redirects from `res`, checking each response; returns the last and its path.
    async fn follow(
        &mut self,
        mut res: Response<Bytes>,
        mut at: String,
    ) -> (Response<Bytes>, String) {
        self.check(&res, &at).await;
        for _ in 0..10 {
            let Some(to) = location(&res).filter(|_| res.status().is_redirection()) else {
                break;
            };
            let Some(path) = self.own_path(&to, &at, "the redirect") else {
                panic!("{at} redirected off the portal: {to}");
            };
            at = path;
            res = self.c.get(&at).await;
            self.check(&res, &at).await;
        }
        (res, at)
    }

    async fn get(&mut self, path: &str) -> (Response<Bytes>, String) {
        let res = self.c.get(path).await;
        self.follow(res, path.to_owned()).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (Response<Bytes>, String) {
        let res = self.c.post_form(path, form).await;
        self.follow(res, path.to_owned()).await
    }

    /// Sends the form on `page` whose action contains `needle`, with its hidden inputs (the
    /// CSRF token, the idempotency key, a sealed slot) and `answers`.
    async fn submit(
        &mut self,
        page: &str,
        needle: &str,
        answers: &[(&str, &str)],
    ) -> (Response<Bytes>, String) {
        let action = url_attributes(page)
            .into_iter()
            .find(|a| a.tag == "form" && a.name == "action" && a.value.contains(needle))
            .unwrap_or_else(|| panic!("no form for {needle} on the page: {page}"))
            .value;
        let mut form: Vec<(&str, String)> =
            answers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        for hidden in ["csrf_token", "idempotency_key"] {
            if let Some(v) = input_value(page, hidden) {
                form.push((hidden, v));
            }
        }
        if !answers.iter().any(|(k, _)| *k == "slot")
            && let Some(v) = input_value(page, "slot")
        {
            form.push(("slot", v));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(&action, &form).await
    }

    /// The `<a href>` on `page` whose value contains `needle`.
    fn link(page: &str, needle: &str) -> String {
        url_attributes(page)
            .into_iter()
            .find(|a| a.tag == "a" && a.name == "href" && a.value.contains(needle))
            .unwrap_or_else(|| panic!("no link to {needle} on the page: {page}"))
            .value
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_portal_works_under_a_path_and_never_leaves_it() {
    let t = TestPortal::builder().base_path(PREFIX).start().await;
    assert!(t.base_url().ends_with(PREFIX), "{}", t.base_url());
    let mut w = Walk::new(&t);

    // The landing page, and sign-in through the simulator's own page.
    let (landing, _) = w.get(&format!("{PREFIX}/")).await;
    assert_eq!(landing.status(), StatusCode::OK);
    let (sign_in, at) = w
        .get(&format!("{PREFIX}/patient-portal/appointments"))
        .await;
    assert_eq!(sign_in.status(), StatusCode::OK, "{at}");
    let sign_in = body_text(&sign_in);
    let (list, at) = w
        .submit(
            &sign_in,
            "/authorize",
            &[(NHS_NUMBER_FIELD, ADULT), ("decision", "allow")],
        )
        .await;
    assert_eq!(list.status(), StatusCode::OK, "{at}");
    assert_eq!(at, format!("{PREFIX}/patient-portal/appointments"));
    let list = body_text(&list);

    // Cancel the telephone appointment in real time, through the pages' links and forms.
    let phone = demo::appointment_id(demo::KEY_ADULT_TELEPHONE).to_string();
    let (page, _) = w.get(&Walk::link(&list, &phone)).await;
    let page = body_text(&page);
    let (question, _) = w.get(&Walk::link(&page, "/cancel/need")).await;
    let (form, at) = w
        .submit(
            &body_text(&question),
            "/cancel/need",
            &[("still_needed", "no-longer-needed")],
        )
        .await;
    assert!(at.ends_with("/cancel"), "{at}");
    let (check, at) = w
        .submit(&body_text(&form), "/cancel", &[("reason", "no-transport")])
        .await;
    assert!(at.ends_with("/cancel/check"), "{at}");
    let (done, at) = w.submit(&body_text(&check), "/cancel/check", &[]).await;
    assert_eq!(done.status(), StatusCode::OK, "{at}");
    assert!(at.ends_with("/cancel/done"), "{at}");

    // Reschedule the dermatology appointment into the first free slot offered.
    let derm = demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY).to_string();
    let (page, _) = w
        .get(&format!("{PREFIX}/patient-portal/appointment/{derm}"))
        .await;
    let (slots, _) = w.get(&Walk::link(&body_text(&page), "/reschedule")).await;
    let slots = body_text(&slots);
    let slot = input_value(&slots, "slot").expect("a free slot offered");
    let (check, at) = w.submit(&slots, "/reschedule", &[("slot", &slot)]).await;
    assert!(at.contains("/reschedule/check"), "{at}");
    let (done, at) = w.submit(&body_text(&check), "/reschedule/check", &[]).await;
    assert_eq!(done.status(), StatusCode::OK, "{at}");
    assert!(at.ends_with("/reschedule/done"), "{at}");
    let moved = t
        .demo
        .pas
        .inspect_appointment(&demo::appointment_id(demo::KEY_ADULT_DERMATOLOGY))
        .unwrap();
    let phone_now = t
        .demo
        .pas
        .inspect_appointment(&demo::appointment_id(demo::KEY_ADULT_TELEPHONE))
        .unwrap();
    assert_eq!(
        phone_now.status,
        nhs_portal_core::AppointmentStatus::Cancelled
    );
    assert_ne!(
        moved.start,
        t.demo
            .data
            .appointment(demo::KEY_ADULT_DERMATOLOGY)
            .unwrap()
            .start
    );

    // Sign out with the header's form.
    let (page, _) = w
        .get(&format!("{PREFIX}/patient-portal/appointments"))
        .await;
    let (out, at) = w.submit(&body_text(&page), "/sign-out", &[]).await;
    assert_eq!(out.status(), StatusCode::OK, "{at}");
    assert_eq!(at, format!("{PREFIX}/signed-out"));

    // The NHS App's way in: a deep link the Get Appointments API gave, opened with SSO.
    let mut app = Walk::new(&t);
    let (home, _) = app
        .get(&format!(
            "{PREFIX}/nhs-app-simulator/?nhs_number={SECOND_ADULT}"
        ))
        .await;
    let open = Walk::link(&body_text(&home), "/open?");
    let (page, at) = app.get(&open).await;
    assert_eq!(page.status(), StatusCode::OK, "{at}");
    assert!(
        at.starts_with(&format!("{PREFIX}/patient-portal/appointment/")),
        "{at}"
    );

    // The PCA's Get Appointments API under the path, its deep links on the base URL.
    let mut req = t.pca_request(ADULT, ADULT);
    *req.uri_mut() = format!("{PREFIX}{}", req.uri()).parse().unwrap();
    let res = t.portal().handle(req).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", body_text(&res));
    let bundle = body_text(&res);
    let links: Vec<&str> = bundle
        .split("\"valueUrl\":\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert!(!links.is_empty(), "{bundle}");
    let deep = format!("{}/patient-portal/appointment/", t.base_url());
    for link in links {
        assert!(link.starts_with(&deep), "{link}");
    }
    let health = t.client().get(&format!("{PREFIX}/health")).await;
    assert_eq!(health.status(), StatusCode::OK);

    // The portal claims nothing outside its path.
    for outside in [
        "/",
        "/patient-portal/appointments",
        "/assets/portal/portal.css",
        "/fhir/Appointment",
        "/nhs-login-simulator/.well-known/openid-configuration",
        "/hospitals",
    ] {
        let res = t.client().get(outside).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{outside}");
    }
    assert!(w.checked > 100, "only {} URLs checked", w.checked);
}
