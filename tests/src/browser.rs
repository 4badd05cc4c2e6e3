//! [`Browser`]: a browserless HTTP client for journeys that cross sites (the portal, NHS login's
//! stand-in and back), as the live-mode test makes them: no automatic redirects, a cookie jar per
//! origin, forms posted with the page's CSRF token.

use std::collections::{BTreeMap, HashMap};

use http::StatusCode;

/// One answer a [`Browser`] got.
#[derive(Debug)]
pub struct Page {
    /// Where it came from.
    pub url: url::Url,
    /// Its status.
    pub status: StatusCode,
    /// Its `Location`, resolved against [`Page::url`].
    pub location: Option<url::Url>,
    /// Its `Set-Cookie` headers, as sent.
    pub set_cookies: Vec<String>,
    /// Its body as text.
    pub body: String,
}

/// A browserless HTTP client: no automatic redirects, a cookie jar per origin (scheme, host and
/// port; cookie attributes are not enforced).
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    jars: HashMap<String, BTreeMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// An empty jar.
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            jars: HashMap::new(),
        }
    }

    async fn send(&mut self, url: url::Url, req: reqwest::RequestBuilder) -> Page {
        let origin = url.origin().ascii_serialization();
        let jar = self.jars.entry(origin).or_default();
        let req = if jar.is_empty() {
            req
        } else {
            let cookie: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req.header(http::header::COOKIE, cookie.join("; "))
        };
        let res = req.send().await.expect("an answer");
        crate::keep_cookies(jar, res.headers());
        let set_cookies = res
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let status = res.status();
        let location = res
            .headers()
            .get(http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok());
        let body = res.text().await.unwrap_or_default();
        Page {
            url,
            status,
            location,
            set_cookies,
            body,
        }
    }

    /// `GET url`.
    pub async fn get(&mut self, url: &str) -> Page {
        let url = url::Url::parse(url).expect("an absolute URL");
        let req = self.http.get(url.clone());
        self.send(url, req).await
    }

    /// `POST url` with a URL-encoded form.
    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let url = url::Url::parse(url).expect("an absolute URL");
        let req = self.http.post(url.clone()).form(form);
        self.send(url, req).await
    }

    /// Follows redirects from `page` with `GET` (at most 20).
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..20 {
            match (&page.location, page.status.is_redirection()) {
                (Some(next), true) => {
                    let next = next.to_string();
                    page = self.get(&next).await;
                }
                _ => return page,
            }
        }
        panic!("more than 20 redirects, at {}", page.url);
    }

    /// Follows redirects from `page` like [`Browser::follow`], but stops before one to a URL
    /// starting with `stop` and returns that URL (to open it in another browser, or altered).
    pub async fn follow_until(&mut self, mut page: Page, stop: &str) -> Result<Page, url::Url> {
        for _ in 0..20 {
            match (&page.location, page.status.is_redirection()) {
                (Some(next), true) if next.as_str().starts_with(stop) => return Err(next.clone()),
                (Some(next), true) => {
                    let next = next.to_string();
                    page = self.get(&next).await;
                }
                _ => return Ok(page),
            }
        }
        panic!("more than 20 redirects, at {}", page.url);
    }

    /// `GET url`, following redirects.
    pub async fn get_following(&mut self, url: &str) -> Page {
        let page = self.get(url).await;
        self.follow(page).await
    }

    /// Posts `form` (with the page's `csrf_token` when it has one) to the first form's action on
    /// `page`, and follows the redirects.
    pub async fn submit(&mut self, page: &Page, form: &[(&str, &str)]) -> Page {
        let action = crate::form_action(&page.body).unwrap_or_else(|| page.url.to_string());
        let action = page.url.join(&action).expect("a form action").to_string();
        let csrf = crate::csrf_token(&page.body);
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if let Some(csrf) = &csrf {
            fields.push(("csrf_token", csrf));
        }
        let res = self.post_form(&action, &fields).await;
        self.follow(res).await
    }

    /// Cancels (or asks to cancel) the appointment whose page is `at` through the portal's own
    /// pages, as a patient would: "No, I no longer need it", the reason "no-longer-needed", the
    /// check page, confirm; returns the page it ends on (the done page), followed.
    ///
    /// # Panics
    /// When a step does not lead to the next (a redirect to the check page, a check page with
    /// its idempotency key, a redirect after confirming).
    pub async fn cancel_through_pages(&mut self, at: &str, csrf: &str) -> Page {
        let need = self
            .post_form(
                &format!("{at}/cancel/need"),
                &[("csrf_token", csrf), ("still_needed", "no-longer-needed")],
            )
            .await;
        assert_eq!(need.status, StatusCode::SEE_OTHER, "{}", need.body);
        let check = self
            .post_form(
                &format!("{at}/cancel"),
                &[("csrf_token", csrf), ("reason", "no-longer-needed")],
            )
            .await;
        let check = self.follow(check).await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.body);
        let key = crate::input_value(&check.body, "idempotency_key")
            .unwrap_or_else(|| panic!("the confirm form's key: {}", check.body));
        let done = self
            .post_form(
                &format!("{at}/cancel/check"),
                &[("csrf_token", csrf), ("idempotency_key", &key)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        self.follow(done).await
    }
}
