use super::*;
use chrono::TimeZone;

#[test]
fn split_by_size_cases() {
    type Case = (&'static [usize], usize, &'static [(usize, usize)]);
    let cases: [Case; 6] = [
        (&[], 100, &[]),
        (&[10], 5, &[(0, 1)]),
        (&[10, 10, 10], 100, &[(0, 3)]),
        // [a,b] = 2 + 10 + 1 + 10 = 23
        (&[10, 10, 10], 23, &[(0, 2), (2, 3)]),
        (&[10, 10, 10], 22, &[(0, 1), (1, 2), (2, 3)]),
        (&[50, 1, 1], 40, &[(0, 1), (1, 3)]),
    ];
    for (sizes, max, want) in cases {
        let got: Vec<(usize, usize)> = split_by_size(sizes, max)
            .into_iter()
            .map(|r| (r.start, r.end))
            .collect();
        assert_eq!(got, want, "{sizes:?} / {max}");
    }
}

#[test]
fn split_matches_real_json_lengths() {
    let e = WayfinderEvent::ApptCanc {
        timestamp: Timestamp(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
        appointment_id: Some("a".into()),
        reason: None,
    };
    let events = vec![e; 3];
    let sizes: Vec<usize> = events.iter().map(WayfinderEvent::json_len).collect();
    let two = serde_json::to_vec(&events[..2]).unwrap().len();
    assert_eq!(split_by_size(&sizes, two), vec![0..2, 2..3]);
    assert_eq!(split_by_size(&sizes, two - 1), vec![0..1, 1..2, 2..3]);
}

#[test]
fn timestamps_always_have_milliseconds_and_z() {
    let cases = [
        ((2024, 3, 8, 8, 45, 11), 321, "2024-03-08T08:45:11.321Z"),
        ((2024, 3, 8, 8, 45, 11), 0, "2024-03-08T08:45:11.000Z"),
        ((1999, 12, 31, 23, 59, 59), 999, "1999-12-31T23:59:59.999Z"),
    ];
    for ((y, mo, d, h, mi, s), ms, want) in cases {
        let t = Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
            + chrono::Duration::milliseconds(ms)
            + chrono::Duration::microseconds(456);
        assert_eq!(Timestamp(t).to_wire(), want);
    }
}

#[test]
fn appt_status_codes() {
    for (s, want) in [
        (AppointmentStatus::Booked, "\"booked\""),
        (AppointmentStatus::Fulfilled, "\"fulfilled\""),
        (AppointmentStatus::Cancelled, "\"cancelled\""),
        (AppointmentStatus::NoShow, "\"noshow\""),
    ] {
        assert_eq!(serde_json::to_string(&appt_status(s)).unwrap(), want);
    }
    assert_eq!(
        serde_json::to_string(&ApptStatus::CheckedIn).unwrap(),
        "\"checked-in\""
    );
}
