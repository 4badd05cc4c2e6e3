//! Staff sign-in through an OpenID Connect identity provider, from outside: the reference portal
//! binary configured only by its settings against a stand-in staff provider (npm
//! `oidc-provider`, `tests/node/oidc-provider/staff.mjs`). A member of the allowed group signs in
//! and fulfils a request; someone outside it is refused; a forged `state`, a callback in another
//! cookie jar, a replayed callback, a replayed code and a token from another issuer all fail; the
//! shared access code opens nothing.
//!
//! Needs `node` and the harness's packages (`bash scripts/setup-node`); skipped otherwise.

mod common;

use common::Running;
use nhs_portal_tests::browser::{Browser, Page};
use nhs_portal_tests::live::{STAFF_CLIENT_ID, STAFF_GROUP, StaffIdp, free_port, node_peer};
use serde_json::Value;

struct World {
    portal: Running,
    idp: StaffIdp,
}

impl World {
    fn callback(&self) -> String {
        format!("{}/staff/sign-in/callback", self.portal.base_url)
    }
}

/// How the portal authenticates at the provider's token endpoint.
enum Credential {
    Secret,
    /// `private_key_jwt`: the key file the portal reads, and the public JWK the provider holds.
    PrivateKey(tempfile::TempDir, Value),
}

impl Credential {
    fn private_key() -> Self {
        let key = nhs_portal_web::nhs_login::RsaSigningKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("staff.pem"), key.private_key_pem()).unwrap();
        let mut jwk = key.public_jwk_json();
        // The portal signs its assertion with RS256, which every provider supports.
        jwk["alg"] = "RS256".into();
        Self::PrivateKey(dir, jwk)
    }
}

async fn start(credential: &Credential) -> Option<World> {
    let dir = node_peer("oidc-provider")?;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (idp, mut env) = match credential {
        Credential::Secret => {
            let idp = StaffIdp::start(&dir, &base).await;
            let env = idp.env();
            (idp, env)
        }
        Credential::PrivateKey(keys, jwk) => {
            let idp = StaffIdp::start_with(&dir, &base, Some(jwk)).await;
            let env = [
                ("NHS_PORTAL_STAFF_OIDC_ISSUER", idp.issuer.clone()),
                ("NHS_PORTAL_STAFF_OIDC_CLIENT_ID", STAFF_CLIENT_ID.into()),
                ("NHS_PORTAL_STAFF_OIDC_ALLOWED_GROUP", STAFF_GROUP.into()),
                (
                    "NHS_PORTAL_STAFF_OIDC_PRIVATE_KEY_FILE",
                    keys.path().join("staff.pem").display().to_string(),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            (idp, env)
        }
    };
    env.push(("NHS_PORTAL_ADDR".into(), format!("127.0.0.1:{port}")));
    let portal = common::start_demo(
        env!("CARGO_BIN_EXE_nhs-portal-example"),
        &env.iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    assert_eq!(portal.base_url, base);
    Some(World { portal, idp })
}

/// Starts a sign-in in `b`, signs in at the provider as `user` (unless `b` is signed in there
/// already), and returns the callback URL the provider sends the browser to (not yet opened).
async fn to_callback(w: &World, b: &mut Browser, user: &str) -> url::Url {
    let start = b
        .get(&format!("{}/staff/sign-in/start", w.portal.base_url))
        .await;
    assert_eq!(start.status.as_u16(), 303, "{}", start.body);
    let authorize = start.location.clone().expect("to the provider");
    assert!(authorize.as_str().starts_with(&w.idp.issuer), "{authorize}");
    let q: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    for name in ["state", "nonce", "code_challenge"] {
        assert!(
            q.iter().any(|(k, v)| k == name && v.len() >= 22),
            "{name}: {q:?}"
        );
    }
    assert!(q.contains(&("code_challenge_method".into(), "S256".into())));
    let page = match b.follow_until(start, &w.callback()).await {
        Ok(page) => page,
        // Signed in at the provider already: straight back.
        Err(callback) => return callback,
    };
    assert_eq!(page.status.as_u16(), 200, "{}", page.body);
    assert!(page.body.contains("not a real provider"), "{}", page.body);
    let action = nhs_portal_tests::form_action(&page.body).expect("the sign-in form");
    let action = page.url.join(&action).unwrap();
    let done = b.post_form(action.as_str(), &[("user", user)]).await;
    b.follow_until(done, &w.callback())
        .await
        .expect_err("a redirect to the portal's callback")
}

async fn open(b: &mut Browser, url: &url::Url) -> Page {
    b.get(url.as_str()).await
}

/// Whether `b` is signed in to the worklist (and as whom).
async fn worklist(w: &World, b: &mut Browser) -> Page {
    b.get(&format!("{}/staff", w.portal.base_url)).await
}

async fn assert_not_signed_in(w: &World, b: &mut Browser, what: &str) {
    let page = worklist(w, b).await;
    assert!(
        !page.body.contains("Signed in as"),
        "{what}: signed in after all"
    );
    assert!(
        page.body.contains("Sign in with your hospital account"),
        "{what}: {}",
        page.body
    );
}

/// `url` with the query parameter `name` set to `value` (the rest kept in order).
fn with_param(url: &url::Url, name: &str, value: &str) -> url::Url {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(pairs.iter().map(|(k, v)| {
            if k == name {
                (k.as_str(), value)
            } else {
                (k.as_str(), v.as_str())
            }
        }));
    out
}

fn value_after<'a>(html: &'a str, from: usize, marker: &str) -> &'a str {
    let at = html[from..].find(marker).expect(marker) + from + marker.len();
    html[at..].split('"').next().unwrap()
}

#[tokio::test]
async fn staff_sign_in_through_the_provider_and_its_refusals() {
    let Some(w) = start(&Credential::Secret).await else {
        return;
    };

    // The sign-in page offers the provider, and no access code form.
    let mut sam = Browser::new();
    let page = worklist(&w, &mut sam).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.body.contains("/staff/sign-in/start"), "{}", page.body);
    assert!(!page.body.contains("name=\"code\""), "{}", page.body);

    // A member of the allowed group signs in.
    let callback = to_callback(&w, &mut sam, "sam").await;
    let signed_in = open(&mut sam, &callback).await;
    assert_eq!(signed_in.status.as_u16(), 303, "{}", signed_in.body);
    let session = signed_in
        .set_cookies
        .iter()
        .find(|c| c.starts_with("nhs_portal_staff="))
        .expect("a staff session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/staff"] {
        assert!(session.contains(part), "{session}");
    }
    let list = worklist(&w, &mut sam).await;
    assert!(
        list.body.contains("Signed in as Sam Booking."),
        "{}",
        list.body
    );

    // ... and fulfils a waiting cancellation, with the page's CSRF token (and not without).
    let html = &list.body;
    let csrf = value_after(html, 0, "name=\"csrf_token\" value=\"").to_owned();
    let card = html.find("Cancel: ").expect("a waiting cancellation");
    let id = value_after(html, card, "action=\"/staff/requests/")
        .trim_end_matches("/fulfil")
        .to_owned();
    let ods = value_after(html, card, "name=\"ods\" value=\"").to_owned();
    let fulfil = format!("{}/staff/requests/{id}/fulfil", w.portal.base_url);
    let forged = sam
        .post_form(&fulfil, &[("csrf_token", "forged"), ("ods", &ods)])
        .await;
    assert_eq!(forged.status.as_u16(), 403);
    let done = sam
        .post_form(&fulfil, &[("csrf_token", &csrf), ("ods", &ods)])
        .await;
    assert_eq!(
        done.location.as_ref().map(|l| l.path()),
        Some("/staff"),
        "{}",
        done.body
    );
    let after = worklist(&w, &mut sam).await;
    assert!(
        !after.body.contains(&id),
        "the request is no longer waiting"
    );

    // The same callback again (replayed): its sign-in is used up.
    let mut replay = Browser::new();
    let again = open(&mut sam, &callback).await;
    assert_eq!(again.status.as_u16(), 400, "{}", again.body);
    let again = open(&mut replay, &callback).await;
    assert_eq!(again.status.as_u16(), 400, "{}", again.body);
    assert_not_signed_in(&w, &mut replay, "replayed callback").await;

    // A callback opened in another cookie jar is refused, and leaves the real one working.
    let mut started = Browser::new();
    let callback = to_callback(&w, &mut started, "sam").await;
    let mut other = Browser::new();
    let refused = open(&mut other, &callback).await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.body);
    assert_not_signed_in(&w, &mut other, "another cookie jar").await;
    assert_eq!(open(&mut started, &callback).await.status.as_u16(), 303);

    // A forged state, in the browser that started the sign-in.
    let mut forger = Browser::new();
    let callback = to_callback(&w, &mut forger, "sam").await;
    let bad = with_param(&callback, "state", "forged-state");
    assert_eq!(open(&mut forger, &bad).await.status.as_u16(), 400);
    assert_not_signed_in(&w, &mut forger, "forged state").await;

    // A code replayed: used once, then sent again with a fresh sign-in's own state.
    let mut d = Browser::new();
    let first = to_callback(&w, &mut d, "sam").await;
    assert_eq!(open(&mut d, &first).await.status.as_u16(), 303);
    let mut d2 = Browser::new();
    let second = to_callback(&w, &mut d2, "sam").await;
    let code_of = |u: &url::Url| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code")
    };
    let replayed = with_param(&second, "code", &code_of(&first));
    assert_eq!(open(&mut d2, &replayed).await.status.as_u16(), 400);
    assert_not_signed_in(&w, &mut d2, "replayed code").await;

    // Someone outside the allowed group.
    let mut alex = Browser::new();
    let callback = to_callback(&w, &mut alex, "alex").await;
    let refused = open(&mut alex, &callback).await;
    assert_eq!(refused.status.as_u16(), 403, "{}", refused.body);
    assert!(
        refused.body.contains("not in the group"),
        "{}",
        refused.body
    );
    assert_not_signed_in(&w, &mut alex, "not in the group").await;

    // An ID token from another issuer (signed by the provider's own key, so only `iss` is wrong).
    w.idp
        .forge_next_id_token_issuer("https://other-issuer.example")
        .await;
    let mut mixed = Browser::new();
    let callback = to_callback(&w, &mut mixed, "sam").await;
    assert_eq!(open(&mut mixed, &callback).await.status.as_u16(), 400);
    assert_not_signed_in(&w, &mut mixed, "another issuer").await;
    // The next one is signed as issued: the refusal was the issuer's.
    let callback = to_callback(&w, &mut mixed, "sam").await;
    assert_eq!(open(&mut mixed, &callback).await.status.as_u16(), 303);

    // The shared access code opens nothing when staff sign in through the provider.
    let mut coder = Browser::new();
    let res = coder
        .post_form(
            &format!("{}/staff/sign-in", w.portal.base_url),
            &[("name", "Mallory"), ("code", "anything-at-all")],
        )
        .await;
    assert!(
        !res.set_cookies
            .iter()
            .any(|c| c.starts_with("nhs_portal_staff=")),
        "{:?}",
        res.set_cookies
    );
    assert_not_signed_in(&w, &mut coder, "access code").await;
}

#[tokio::test]
async fn staff_sign_in_with_a_private_key_and_sign_out() {
    let credential = Credential::private_key();
    let Some(w) = start(&credential).await else {
        return;
    };
    let mut sam = Browser::new();
    let callback = to_callback(&w, &mut sam, "sam").await;
    assert_eq!(open(&mut sam, &callback).await.status.as_u16(), 303);
    let list = worklist(&w, &mut sam).await;
    assert!(
        list.body.contains("Signed in as Sam Booking."),
        "{}",
        list.body
    );
    let csrf = value_after(&list.body, 0, "name=\"csrf_token\" value=\"").to_owned();
    let out = sam
        .post_form(
            &format!("{}/staff/sign-out", w.portal.base_url),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(out.location.as_ref().map(|l| l.path()), Some("/staff"));
    assert_not_signed_in(&w, &mut sam, "after signing out").await;
}
