//! Every POST route of the demo portal refuses a missing CSRF token, a forged one, and a request
//! sent from another site (`Origin` / `Sec-Fetch-Site`, the second defence, which holds even
//! with the right token), and nothing changes in the PAS or the store (issue 11).
//!
//! Each row is first made fully valid (a real draft, slot, idempotency key and token) so that
//! only the variant under test is wrong; a final same-origin request with the token shows the
//! rows would have worked otherwise (it sends `Origin: null` with `Sec-Fetch-Site: same-origin`,
//! as Chromium does for the portal's forms under `Referrer-Policy: no-referrer`).

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use nhs_portal_core::NhsNumber;
use nhs_portal_core::store::RequestState;
use nhs_portal_core::{AppointmentId, OdsCode};
use nhs_portal_pas::PasBackend;
use nhs_portal_pas::demo;
use nhs_portal_tests::{Client, TestPortal, body_text, csrf_token, form_action, location};

/// What is wrong with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// No `csrf_token` field.
    Missing,
    /// A token of the right shape that is not the session's.
    Forged,
    /// The right token, sent from another site.
    CrossSite,
    /// The right token, sent from a sandboxed frame on another site (`Origin: null`).
    NullOrigin,
}

/// Who is signed in for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Jar {
    Patient,
    Staff,
    /// Nobody yet (sign-in forms): no token to check, so only the origin variants apply.
    Anonymous,
}

struct Row {
    route: String,
    fields: Vec<(String, String)>,
    jar: Jar,
}

fn row(route: impl Into<String>, fields: &[(&str, &str)], jar: Jar) -> Row {
    Row {
        route: route.into(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        jar,
    }
}

/// `name="{name}" value="…"` from a page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}

async fn post(
    client: &mut Client,
    uri: &str,
    fields: &[(String, String)],
    headers: &[(&str, &str)],
) -> Response<Bytes> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    client.send(req).await
}

async fn snapshot(t: &TestPortal) -> String {
    let adult = NhsNumber::parse(demo::ADULT).unwrap();
    let appointments = t.demo.pas.list_appointments(&adult).await.unwrap();
    let requests = t.demo.store.list_requests(None, None).await.unwrap();
    format!("{appointments:?}\n{requests:?}")
}

fn appointment(key: &str) -> AppointmentId {
    demo::appointment_id(key)
}

#[tokio::test]
async fn every_post_route_refuses_a_missing_or_forged_token_and_another_site() {
    let t = TestPortal::start().await;

    // The patient, with a real draft, slot and idempotency key for each confirm.
    let mut patient = t.client();
    let list = patient.sign_in_as(demo::ADULT).await;
    let csrf = csrf_token(&body_text(&list)).unwrap();
    let rt = appointment(demo::KEY_ADULT_DERMATOLOGY);
    let rq = appointment(demo::KEY_ADULT_REQUEST_ONLY_BOOKED);
    let base = |id: &AppointmentId, step: &str| format!("/patient-portal/appointment/{id}{step}");
    let ok = [("csrf_token".to_owned(), csrf.clone())];
    let slots = body_text(&patient.get(&base(&rt, "/reschedule")).await);
    let slot = hidden(&slots, "slot")
        .or_else(|| {
            let from = slots.find("name=\"slot\"")?;
            let rest = &slots[from..];
            let v = rest.find("value=\"")? + 7;
            rest[v..].split('"').next().map(str::to_owned)
        })
        .expect("a free slot offered");
    let mut keys = Vec::new();
    for (id, kind, answers) in [
        (&rt, "cancel", vec![("reason", "no-transport")]),
        (&rq, "cancel", vec![("reason", "no-transport")]),
        (
            &rq,
            "reschedule",
            vec![("reason", "other"), ("details", "x")],
        ),
    ] {
        let mut fields = ok.to_vec();
        fields.extend(answers.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        post(&mut patient, &base(id, &format!("/{kind}")), &fields, &[]).await;
        let check = body_text(&patient.get(&base(id, &format!("/{kind}/check"))).await);
        keys.push(
            hidden(&check, "idempotency_key").unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        );
    }
    let check = body_text(
        &patient
            .get(&format!("{}?slot={slot}", base(&rt, "/reschedule/check")))
            .await,
    );
    let rt_reschedule_key = hidden(&check, "idempotency_key").expect("a key on the check page");

    // The staff member, with a pending request to act on.
    let mut staff = t.client();
    let code = t.demo.staff_code.clone();
    let res = staff
        .post_form(
            "/staff/sign-in",
            &[("name", "Sam Staff"), ("code", code.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let staff_page = body_text(&staff.get("/staff").await);
    let staff_csrf = csrf_token(&staff_page).expect("the staff CSRF token");
    let ods = OdsCode::parse(demo::REQUEST_ONLY_TRUST_ODS).unwrap();
    let pending = t
        .demo
        .store
        .list_requests(Some(ods), Some(RequestState::Pending))
        .await
        .unwrap();
    let request = pending.first().expect("a seeded pending request").id;

    // The simulator's sign-in form (a stand-in for NHS login, served on the portal's origin).
    let mut anonymous = t.client();
    let (page, at) = anonymous
        .get_following("/patient-portal/appointments")
        .await;
    let authorize = form_action(&body_text(&page)).unwrap_or(at);
    let authorize = authorize
        .strip_prefix(t.base_url())
        .map(str::to_owned)
        .unwrap_or(authorize);

    let rows = [
        row(
            base(&rt, "/cancel"),
            &[("reason", "no-transport")],
            Jar::Patient,
        ),
        row(
            base(&rt, "/cancel/check"),
            &[("idempotency_key", &keys[0])],
            Jar::Patient,
        ),
        row(base(&rt, "/reschedule"), &[("slot", &slot)], Jar::Patient),
        row(
            base(&rt, "/reschedule/check"),
            &[("slot", &slot), ("idempotency_key", &rt_reschedule_key)],
            Jar::Patient,
        ),
        row(
            base(&rq, "/cancel"),
            &[("reason", "no-transport")],
            Jar::Patient,
        ),
        row(
            base(&rq, "/cancel/check"),
            &[("idempotency_key", &keys[1])],
            Jar::Patient,
        ),
        row(
            base(&rq, "/reschedule"),
            &[("reason", "other"), ("details", "x")],
            Jar::Patient,
        ),
        row(
            base(&rq, "/reschedule/check"),
            &[("idempotency_key", &keys[2])],
            Jar::Patient,
        ),
        row(
            "/session/extend",
            &[("return_to", "/patient-portal/appointments")],
            Jar::Patient,
        ),
        row("/sign-out", &[], Jar::Patient),
        row(
            format!("/staff/requests/{request}/fulfil"),
            &[
                ("ods", demo::REQUEST_ONLY_TRUST_ODS),
                ("new_start", "2031-01-01T10:00"),
            ],
            Jar::Staff,
        ),
        row(
            format!("/staff/requests/{request}/reject"),
            &[("ods", demo::REQUEST_ONLY_TRUST_ODS)],
            Jar::Staff,
        ),
        row("/staff/sign-out", &[], Jar::Staff),
        row(
            "/staff/sign-in",
            &[("name", "Mallory"), ("code", code.as_str())],
            Jar::Anonymous,
        ),
        row(
            authorize.as_str(),
            &[("nhs_number", demo::SECOND_ADULT), ("decision", "allow")],
            Jar::Anonymous,
        ),
    ];

    let before = snapshot(&t).await;
    let mut checked = 0;
    for r in &rows {
        let variants: &[Variant] = match r.jar {
            Jar::Anonymous => &[Variant::CrossSite, Variant::NullOrigin],
            _ => &[
                Variant::Missing,
                Variant::Forged,
                Variant::CrossSite,
                Variant::NullOrigin,
            ],
        };
        for &v in variants {
            let token = match r.jar {
                Jar::Patient => Some(csrf.clone()),
                Jar::Staff => Some(staff_csrf.clone()),
                Jar::Anonymous => None,
            };
            let mut fields = r.fields.clone();
            match (v, token) {
                (Variant::Missing, _) | (_, None) => {}
                (Variant::Forged, Some(_)) => {
                    fields.push(("csrf_token".into(), "A".repeat(43)));
                }
                (_, Some(t)) => fields.push(("csrf_token".into(), t)),
            }
            let headers: &[(&str, &str)] = match v {
                Variant::CrossSite => &[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site"),
                ],
                Variant::NullOrigin => &[("origin", "null"), ("sec-fetch-site", "cross-site")],
                _ => &[],
            };
            let client = match r.jar {
                Jar::Patient => &mut patient,
                Jar::Staff => &mut staff,
                Jar::Anonymous => &mut anonymous,
            };
            let res = post(client, &r.route, &fields, headers).await;
            let label = format!("{} {v:?}", r.route);
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{label}");
            let page = body_text(&res);
            assert!(page.contains("nhsuk-header"), "an NHS-styled page: {label}");
            checked += 1;
        }
    }
    assert_eq!(checked, 13 * 4 + 2 * 2);

    // Nothing changed: the PAS, the store's requests, and both sessions are as they were.
    assert_eq!(snapshot(&t).await, before);
    assert_eq!(
        patient.get("/patient-portal/appointments").await.status(),
        StatusCode::OK,
        "the patient is still signed in"
    );
    assert!(body_text(&staff.get("/staff").await).contains("Signed in as Sam Staff"));

    // The control: the same confirm, from this site with the token, does what it says (its
    // draft written again first: the journeys share one draft cookie).
    let answers = [
        ("csrf_token".to_owned(), csrf.clone()),
        ("reason".to_owned(), "no-transport".to_owned()),
    ];
    patient.no_longer_needed(&base(&rq, "")).await;
    post(&mut patient, &base(&rq, "/cancel"), &answers, &[]).await;
    let res = post(
        &mut patient,
        &base(&rq, "/cancel/check"),
        &[
            ("csrf_token".into(), csrf.clone()),
            ("idempotency_key".into(), keys[1].clone()),
        ],
        &[("origin", "null"), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(
        location(&res).as_deref(),
        Some(base(&rq, "/cancel/done").as_str())
    );
    assert_ne!(snapshot(&t).await, before);
}
