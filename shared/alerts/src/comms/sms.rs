//! The SMS a hospital's emergency desk receives: one message (160 GSM-7 characters), with
//! what and where in a glance and a link to answer.

use crate::emergencies::alert::Alert;
use crate::emergencies::handoff::ALERT_CANCELLED;
use haven_kernel::ports::publisher::SMS_MAX_CHARS;

/// The text for `alert`, told to a hospital `distance_km` away; `link` answers it.
pub fn text(alert: &Alert, event: &str, distance_km: Option<f64>, link: Option<&str>) -> String {
    let reference = &alert.alert_id[..alert.alert_id.len().min(8)];
    if event == ALERT_CANCELLED {
        return format!(
            "HAVEN: stand down, alert {reference} is off for your hospital. No action needed."
        );
    }
    let head = format!(
        "HAVEN {} {} emergency",
        alert.priority.as_str().to_uppercase(),
        alert.emergency_type.as_str()
    );
    let place = match distance_km {
        Some(d) => format!(" {d:.1} km away"),
        None => String::new(),
    };
    let answer = match link {
        Some(l) => format!(". Answer: {l}"),
        None => format!(". Ref {reference}"),
    };
    // Keep the link whole: shorten the description first.
    let full = format!("{head}{place}{answer}");
    if full.chars().count() <= SMS_MAX_CHARS {
        return full;
    }
    let short = format!("HAVEN {}{answer}", alert.priority.as_str().to_uppercase());
    if short.chars().count() <= SMS_MAX_CHARS {
        return short;
    }
    format!("{head}{place}. Ref {reference}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comms::tests::alert;

    #[test]
    fn every_text_fits_one_sms_and_keeps_its_link_when_it_can() {
        let a = alert();
        let link = "https://haven.example/hospital/comms/ack/AAAAAAAAAAAAAAAAAAAAAA";
        let t = text(&a, "alert.created", Some(2.345), Some(link));
        assert_eq!(
            t,
            format!("HAVEN CRITICAL cardiac emergency 2.3 km away. Answer: {link}")
        );
        let long_link = format!("https://{}/x", "h".repeat(140));
        let t = text(&a, "alert.created", Some(2.0), Some(&long_link));
        assert!(t.chars().count() <= SMS_MAX_CHARS, "{t}");
        assert!(t.contains("Ref 0193f0c1"));
        assert!(text(&a, "alert.cancelled", None, None).contains("stand down"));
        assert!(t.is_ascii());
    }
}
