//! A signed-in patient (9000000017) asks for every one of another patient's (9000000009's)
//! appointment pages and journey URLs, with GET and with POST (a valid CSRF token and plausible
//! answers). Every response must be the very same "You cannot view this appointment" page that
//! an id which does not exist gets (status and body), and nothing may change: no request stored,
//! no appointment changed in the PAS.
//!
//! Runs over the portal service with the demo data in the simulated PAS. Sign-in here is a test
//! stand-in that signs the patient in directly (NHS login itself is tested in its own tests).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use http::{Request, Response, StatusCode, header};
use nhs_portal_core::clock::{Clock, ManualClock};
use nhs_portal_core::store::RequestStore;
use nhs_portal_core::store::memory::MemoryStore;
use nhs_portal_core::{AppointmentId, NhsNumber};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo::{self, DemoData};
use nhs_portal_web::assets::Assets;
use nhs_portal_web::portal::{Portal, PortalConfig, PortalParts};
use nhs_portal_web::sign_in::{SignIn, SignInFailure, SignInStart, SignedIn};

/// Signs in whoever the callback's `nhs` parameter names (test stand-in for NHS login).
struct DirectSignIn;

#[async_trait]
impl SignIn for DirectSignIn {
    async fn begin(&self, _: SignInStart) -> Result<String, SignInFailure> {
        Ok("/sign-in/callback".into())
    }
    async fn complete(&self, query: &str) -> Result<SignedIn, SignInFailure> {
        let nhs = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "nhs")
            .map(|(_, v)| v.into_owned())
            .ok_or(SignInFailure::StateMismatch)?;
        Ok(SignedIn {
            patient: NhsNumber::parse(&nhs).map_err(|_| SignInFailure::StateMismatch)?,
            date_of_birth: None,
            display_name: None,
            return_to: "/patient-portal/appointments".into(),
            in_nhs_app: false,
            tracking_id: None,
        })
    }
}

fn body(res: &Response<Bytes>) -> String {
    String::from_utf8_lossy(res.body()).into_owned()
}

async fn send(
    portal: &Portal,
    method: &str,
    uri: &str,
    cookie: &str,
    form: &str,
) -> Response<Bytes> {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Bytes::from(form.to_owned()))
        .unwrap();
    portal.handle(req).await
}

#[tokio::test]
async fn another_patients_appointments_are_all_the_same_cannot_view_page() {
    let now = Utc.with_ymd_and_hms(2025, 10, 20, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let data = DemoData::build(now);
    let pas = Arc::new(data.simulated_pas(clock.clone() as Arc<dyn Clock>));
    let store = Arc::new(MemoryStore::new());
    demo::seed_store(store.as_ref(), &data).await.unwrap();
    let portal = Portal::new(
        PortalConfig::new("http://127.0.0.1:8080"),
        PortalParts {
            store: store.clone(),
            pas: pas.clone(),
            clock: clock.clone(),
            sign_in: Arc::new(DirectSignIn),
            assets: Assets::embedded_only(),
        },
    )
    .unwrap();

    // Sign in as the second adult.
    let callback = format!("/sign-in/callback?nhs={}", demo::SECOND_ADULT);
    let res = send(&portal, "GET", &callback, "", "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let set_cookie = res.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let list = body(&send(&portal, "GET", "/patient-portal/appointments", &cookie, "").await);
    let marker = "name=\"csrf_token\" value=\"";
    let csrf = list[list.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // The reference: an id nobody has.
    let unknown = AppointmentId::new_random();
    let reference = send(
        &portal,
        "GET",
        &format!("/patient-portal/appointment/{unknown}"),
        &cookie,
        "",
    )
    .await;
    assert_eq!(reference.status(), StatusCode::NOT_FOUND);
    let reference_body = body(&reference);
    assert!(reference_body.contains("You cannot view this appointment"));

    let adult = NhsNumber::parse(demo::ADULT).unwrap();
    let theirs: Vec<AppointmentId> = data
        .appointments
        .iter()
        .filter(|a| a.patient == adult)
        .map(|a| a.id.clone())
        .collect();
    assert!(
        theirs.len() >= 8,
        "the demo gives the adult many appointments"
    );
    let before_pas = pas.list_appointments(&adult).await.unwrap();
    let before_requests = store.list_requests(None, None).await.unwrap();

    let form = format!("csrf_token={csrf}&reason=other&details=x&slot=any&idempotency_key=k-1");
    let steps = [
        "",
        "/cancel",
        "/cancel/check",
        "/cancel/done",
        "/reschedule",
        "/reschedule/check",
        "/reschedule/check?slot=x",
        "/reschedule/done",
        "/unknown-step",
    ];
    let mut checked = 0;
    for id in theirs.iter().chain([&unknown]) {
        for step in steps {
            let uri = format!("/patient-portal/appointment/{id}{step}");
            for method in ["GET", "POST"] {
                let res = send(&portal, method, &uri, &cookie, &form).await;
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {uri}");
                assert_eq!(body(&res), reference_body, "{method} {uri}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 8 * steps.len() * 2);

    // Nothing changed.
    assert_eq!(pas.list_appointments(&adult).await.unwrap(), before_pas);
    assert_eq!(
        store.list_requests(None, None).await.unwrap(),
        before_requests
    );
    // And the signed-in patient still sees their own appointment pages.
    let second = NhsNumber::parse(demo::SECOND_ADULT).unwrap();
    let own = data
        .appointments
        .iter()
        .find(|a| a.patient == second)
        .unwrap();
    let res = send(
        &portal,
        "GET",
        &format!("/patient-portal/appointment/{}", own.id),
        &cookie,
        "",
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}
