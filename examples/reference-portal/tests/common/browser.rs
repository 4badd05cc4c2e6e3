//! A browser for tests that cross hosts (the portal and an identity provider): one cookie jar
//! per origin, redirects followed by hand so a test can stop at the one it wants to inspect.

use std::collections::{BTreeMap, HashMap};

/// One answer, read whole.
#[derive(Debug)]
pub struct Page {
    /// Where it came from.
    pub url: url::Url,
    /// Its status code.
    pub status: u16,
    /// Its `Location`, resolved against `url`.
    pub location: Option<url::Url>,
    /// Its `Set-Cookie` headers.
    pub set_cookies: Vec<String>,
    /// Its body.
    pub body: String,
}

/// A cookie-keeping client that does not follow redirects.
pub struct Browser {
    http: reqwest::Client,
    jars: HashMap<String, BTreeMap<String, String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

fn origin(url: &url::Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Browser {
    /// A browser with empty jars.
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            jars: HashMap::new(),
        }
    }

    async fn send(&mut self, url: url::Url, form: Option<&[(&str, &str)]>) -> Page {
        let jar = self.jars.entry(origin(&url)).or_default();
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = match form {
            Some(f) => self.http.post(url.clone()).form(f),
            None => self.http.get(url.clone()),
        };
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        let res = req.send().await.expect("an answer");
        let set_cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for set in &set_cookies {
            let mut parts = set.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let location = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url.join(l).ok());
        Page {
            url,
            status: res.status().as_u16(),
            location,
            set_cookies,
            body: res.text().await.unwrap_or_default(),
        }
    }

    /// `GET url`.
    pub async fn get(&mut self, url: &str) -> Page {
        self.send(url::Url::parse(url).expect("an absolute URL"), None)
            .await
    }

    /// `POST url` with a URL-encoded form.
    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        self.send(url::Url::parse(url).expect("an absolute URL"), Some(form))
            .await
    }

    /// Follows redirects from `page` with `GET` (at most 10). Stops before a redirect to a URL
    /// starting with `stop`, returning that URL as `Err`.
    pub async fn follow(&mut self, mut page: Page, stop: Option<&str>) -> Result<Page, url::Url> {
        for _ in 0..10 {
            let Some(next) = page
                .location
                .clone()
                .filter(|_| (300..400).contains(&page.status))
            else {
                return Ok(page);
            };
            if stop.is_some_and(|s| next.as_str().starts_with(s)) {
                return Err(next);
            }
            page = self.send(next, None).await;
        }
        panic!("too many redirects");
    }

    /// Whether this browser holds a cookie called `name` for `url`'s origin.
    pub fn has_cookie(&self, url: &str, name: &str) -> bool {
        let url = url::Url::parse(url).expect("an absolute URL");
        self.jars
            .get(&origin(&url))
            .is_some_and(|j| j.contains_key(name))
    }
}

/// The `action` of the first form in `html`, resolved against `base`.
pub fn form_action(html: &str, base: &url::Url) -> url::Url {
    let rest = html
        .split("<form")
        .nth(1)
        .and_then(|f| f.split("action=\"").nth(1))
        .and_then(|a| a.split('"').next())
        .expect("a form with an action");
    base.join(&rest.replace("&amp;", "&")).expect("a URL")
}
