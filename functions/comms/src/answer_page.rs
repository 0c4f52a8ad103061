//! The page a nurse opens from the link in an SMS: what the alert is, where the patient is,
//! how long is left, and Accept / Decline as plain HTML forms. It must work on a cheap
//! Android phone with JavaScript off and a slow connection: no script, no external assets,
//! inline styles, a few kilobytes. English first, with Swahili beside each label.

use haven_alerts::comms::links::{LinkState, LinkView};
use haven_alerts::comms::{Decision, clinical::ClinicalPicture};
use haven_edge::escape_html as esc;
use haven_kernel::Timestamp;

/// Reasons a hospital commonly declines; the dispatcher reads them, so they are plain words.
pub const DECLINE_REASONS: &[(&str, &str)] = &[
    ("No free beds", "Hakuna vitanda"),
    ("No specialist on duty", "Hakuna mtaalamu zamu"),
    (
        "Emergency department full or diverting",
        "Idara ya dharura imejaa",
    ),
    ("Equipment not working", "Vifaa haviko sawa"),
    ("Other", "Nyingine"),
];

/// What happened to an answer just sent from the page.
pub enum Banner {
    Recorded(Decision),
    /// Not recorded, and why (a second answer, a closed alert, a missing reason).
    Refused(String),
}

const STYLE: &str = "body{margin:0;font:17px/1.45 system-ui,-apple-system,Roboto,sans-serif;background:#f4f4f1;color:#111}\
main{max-width:34em;margin:0 auto;padding:12px 14px 28px}\
.brand{font-size:13px;letter-spacing:.06em;color:#444;margin:4px 0 10px}\
h1{font-size:23px;line-height:1.25;margin:6px 0 4px}\
.prio{display:inline-block;padding:1px 8px;border-radius:4px;font-size:15px;vertical-align:3px;color:#fff;background:#555}\
.prio.critical{background:#b00020}.prio.high{background:#b34700}.prio.medium{background:#35546b}\
.sw{color:#555;font-weight:normal}\
dl{margin:12px 0;background:#fff;border:1px solid #ccc;border-radius:6px;padding:4px 12px}\
dt{font-size:14px;color:#444;margin-top:10px}dd{margin:2px 0 10px;font-weight:600}\
dd ul{margin:0;padding-left:20px}\
.state{padding:10px 12px;border-radius:6px;background:#fff;border-left:6px solid #35546b;margin:12px 0}\
.banner{padding:10px 12px;border-radius:6px;margin:10px 0;font-weight:600}\
.banner.ok{background:#e3f4e6;border:2px solid #1b6e2b}.banner.no{background:#fdeaea;border:2px solid #b00020}\
form{margin:14px 0}\
button{width:100%;min-height:52px;font-size:19px;font-weight:700;border:0;border-radius:6px;color:#fff}\
.accept button{background:#1b6e2b}.decline button{background:#8a1c1c}\
label{display:block;font-weight:600;margin:4px 0}\
select,input[type=text]{width:100%;min-height:44px;font-size:17px;margin:0 0 10px;box-sizing:border-box}\
.small{font-size:13px;color:#555}a{color:#0b4f8a}";

/// `10:03` local time, with the zone (`EAT` at +03:00).
fn local_time(at: &str, offset_minutes: i32) -> String {
    let Some(t) = Timestamp::parse_rfc3339(at) else {
        return String::new();
    };
    let local = t.epoch_seconds() + i64::from(offset_minutes) * 60;
    let (h, m) = (
        (local.rem_euclid(86_400)) / 3600,
        (local.rem_euclid(3600)) / 60,
    );
    let zone = match offset_minutes {
        180 => "EAT".to_owned(),
        0 => "UTC".to_owned(),
        o => format!(
            "UTC{}{:02}:{:02}",
            if o < 0 { '-' } else { '+' },
            o.abs() / 60,
            o.abs() % 60
        ),
    };
    format!("{h:02}:{m:02} {zone}")
}

fn label(english: &str, swahili: &str) -> String {
    format!("{english} <span class=sw lang=sw>/ {swahili}</span>")
}

fn fact(out: &mut String, english: &str, swahili: &str, value: &str) {
    out.push_str(&format!(
        "<dt>{}</dt><dd>{value}</dd>",
        label(english, swahili)
    ));
}

fn number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn clinical_facts(out: &mut String, c: &ClinicalPicture) {
    fact(
        out,
        "Why this priority",
        "Sababu ya kipaumbele",
        &esc(&c.priority_reason),
    );
    if !c.symptoms.is_empty() {
        let items: String = c
            .symptoms
            .iter()
            .map(|s| match s.swahili {
                Some(sw) => format!(
                    "<li>{} <span class=sw lang=sw>({})</span></li>",
                    esc(&s.display),
                    esc(sw)
                ),
                None => format!("<li>{}</li>", esc(&s.display)),
            })
            .collect();
        fact(out, "Symptoms", "Dalili", &format!("<ul>{items}</ul>"));
    }
    let vitals: Vec<String> = c
        .vital_signs()
        .into_iter()
        .map(|(_, name, value, unit)| {
            let unit = match unit {
                "Cel" => "°C",
                "{score}" => "",
                "mm[Hg]" => "mmHg",
                u => u,
            };
            let name = match name {
                "Oxygen saturation in Arterial blood by Pulse oximetry" => "SpO₂",
                "Glasgow coma score total" => "GCS",
                "Glucose [Moles/volume] in Blood" => "Glucose",
                n => n,
            };
            esc(format!("{name} {} {unit}", number(value)).trim())
        })
        .collect();
    if !vitals.is_empty() {
        fact(out, "Vital signs", "Vipimo", &vitals.join("<br>"));
    }
    if let Some(note) = &c.note {
        fact(out, "Note from the scene", "Maelezo", &esc(note));
    }
}

fn state_text(v: &LinkView, offset: i32) -> String {
    match v.state {
        LinkState::Awaiting => format!(
            "{} is being asked now. Answer before the alert moves on to the next hospital.",
            esc(&v.hospital_name)
        ),
        LinkState::MovedOn => "No answer came in time, so the alert went on to another hospital. \
             If you can still take the patient, accepting now brings them to you."
            .into(),
        LinkState::Accepted => format!(
            "You accepted at {}. The patient is coming to you; prepare to receive them.",
            v.answer
                .as_ref()
                .map(|a| local_time(&a.at, offset))
                .unwrap_or_default()
        ),
        LinkState::Declined => format!(
            "You declined at {}{}. The alert has gone to another hospital; nothing more is needed.",
            v.answer
                .as_ref()
                .map(|a| local_time(&a.at, offset))
                .unwrap_or_default(),
            v.answer
                .as_ref()
                .and_then(|a| a.reason.as_deref())
                .map(|r| format!(" ({})", esc(r)))
                .unwrap_or_default()
        ),
        LinkState::TakenElsewhere => format!(
            "{} accepted this patient. No answer is needed from you.",
            esc(v.accepted_by.as_deref().unwrap_or("Another hospital"))
        ),
        LinkState::Closed => format!(
            "This alert is {}. No answer is needed.",
            v.status.as_str().replace('_', " ")
        ),
    }
}

/// The page for one link. `banner` reports an answer just sent from it.
pub fn render(v: &LinkView, banner: Option<&Banner>, offset: i32) -> String {
    let priority = v.priority.as_str();
    let kind = v.emergency_type.as_str();
    let mut body = String::with_capacity(6 * 1024);
    body.push_str(
        "<p class=brand>HAVEN · EMERGENCY ALERT <span lang=sw>/ TAHADHARI YA DHARURA</span></p>",
    );
    match banner {
        Some(Banner::Recorded(Decision::Accept)) => body.push_str(
            "<p class=\"banner ok\" role=status>Accepted. Asante — the dispatcher and the patient's team know you are receiving them.</p>",
        ),
        Some(Banner::Recorded(Decision::Decline)) => body.push_str(
            "<p class=\"banner ok\" role=status>Declined. Asante — the alert goes to the next hospital now.</p>",
        ),
        Some(Banner::Refused(why)) => body.push_str(&format!(
            "<p class=\"banner no\" role=alert>Your answer was not recorded: {}</p>",
            esc(why)
        )),
        None => {}
    }
    body.push_str(&format!(
        "<h1><span class=\"prio {priority}\">{}</span> {} emergency</h1>",
        priority.to_ascii_uppercase(),
        esc(&(kind[..1].to_ascii_uppercase() + &kind[1..]))
    ));
    body.push_str(&format!(
        "<p>{}: <strong>{}</strong></p>",
        label("For", "Kwa"),
        esc(&v.hospital_name)
    ));
    body.push_str("<dl>");
    if let Some(c) = &v.clinical {
        clinical_facts(&mut body, c);
    }
    fact(
        &mut body,
        "Distance",
        "Umbali",
        &format!(
            "{} km · about {} min by ambulance · <a href=\"geo:{},{}\">open the place in maps</a>",
            number(v.distance_km),
            v.eta_minutes.round(),
            v.location.latitude,
            v.location.longitude
        ),
    );
    if let (Some(left), Some(due)) = (v.seconds_left, &v.answer_due_at) {
        let left = if left >= 60 {
            format!("{} min {} s", left / 60, left % 60)
        } else {
            format!("{left} s")
        };
        fact(
            &mut body,
            "Time left to answer",
            "Muda uliobaki",
            &format!("{left} (until {})", local_time(due, offset)),
        );
    }
    body.push_str("</dl>");
    body.push_str(&format!(
        "<p class=state role=status>{}</p>",
        state_text(v, offset)
    ));
    if v.can_answer {
        body.push_str(&format!(
            "<form method=post class=accept><input type=hidden name=decision value=accept>\
             <button type=submit>{}</button></form>",
            "Accept · <span lang=sw>Kubali</span>"
        ));
        let options: String = DECLINE_REASONS
            .iter()
            .map(|(en, sw)| {
                format!(
                    "<option value=\"{}\">{} / {}</option>",
                    esc(en),
                    esc(en),
                    esc(sw)
                )
            })
            .collect();
        body.push_str(&format!(
            "<form method=post class=decline><input type=hidden name=decision value=decline>\
             <label for=reason>{}</label>\
             <select id=reason name=reason required><option value=\"\">Choose / Chagua</option>{options}</select>\
             <label for=details>{}</label><input id=details name=details type=text maxlength=120>\
             <button type=submit>{}</button></form>",
            label("Reason for declining", "Sababu ya kukataa"),
            label("More detail (optional)", "Maelezo zaidi"),
            "Decline · <span lang=sw>Kataa</span>"
        ));
    }
    body.push_str(&format!(
        "<p class=small><a href=\"\">Refresh / <span lang=sw>Onyesha upya</span></a> · \
         This link works only for {} and this alert, until {}. Alert {}.</p>",
        esc(&v.hospital_name),
        local_time(&v.link_expires_at, offset),
        esc(&v.alert_id[v.alert_id.len().saturating_sub(6)..])
    ));
    page(
        &format!("{} {kind} emergency · Haven", priority.to_ascii_uppercase()),
        &body,
    )
}

/// The page for a link that is unknown or has expired.
pub fn not_found() -> String {
    page(
        "Link not valid · Haven",
        "<p class=brand>HAVEN · EMERGENCY ALERT</p>\
         <h1>This link has expired or is not valid</h1>\
         <p class=state role=alert>Answer links work for two hours after the text was sent. \
         If a patient may still be coming to you, call the Haven dispatch desk.\
         <br><span class=sw lang=sw>Kiungo hiki kimeisha muda au si sahihi. Piga simu kwa dawati la Haven.</span></p>",
    )
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <meta name=robots content=noindex><title>{}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use haven_alerts::comms::clinical::ReportedSymptom;
    use haven_alerts::comms::packet::PacketLocation;
    use haven_alerts::emergencies::alert::{EmergencyType, Priority, Status};

    fn view(state: LinkState) -> LinkView {
        LinkView {
            alert_id: "01a234acff0677b99d408958b10d80e0".into(),
            hospital_id: "demo-knh".into(),
            hospital_name: "Kenyatta National Hospital".into(),
            status: Status::Notified,
            priority: Priority::Critical,
            emergency_type: EmergencyType::Trauma,
            location: PacketLocation {
                latitude: -1.2864,
                longitude: 36.8172,
            },
            distance_km: 1.952,
            eta_minutes: 6.1,
            offered_at: "2026-12-02T07:02:00Z".into(),
            answer_due_at: Some("2026-12-02T07:03:00Z".into()),
            seconds_left: Some(45),
            state,
            answer: None,
            accepted_by: None,
            can_answer: matches!(state, LinkState::Awaiting | LinkState::MovedOn),
            clinical: Some(ClinicalPicture {
                priority_rule: "symptom.severe_bleeding".into(),
                priority_reason: "severe bleeding".into(),
                symptoms: vec![ReportedSymptom {
                    code: "severe_bleeding".into(),
                    display: "severe bleeding".into(),
                    swahili: Some("anavuja damu nyingi"),
                    snomed: None,
                }],
                vitals: None,
                note: Some("boda boda crash on <Ngong Road>".into()),
                age_band: None,
                sex: None,
            }),
            link_expires_at: "2026-12-02T09:02:00Z".into(),
            answer_with: "",
        }
    }

    #[test]
    fn the_page_says_what_where_and_how_long_and_offers_two_forms() {
        let html = render(&view(LinkState::Awaiting), None, 180);
        for needed in [
            "Kenyatta National Hospital",
            "CRITICAL",
            "Trauma emergency",
            "severe bleeding",
            "anavuja damu nyingi",
            "boda boda crash on &lt;Ngong Road&gt;",
            "2.0 km",
            "45 s (until 10:03 EAT)",
            "name=decision value=accept",
            "name=reason required",
            "Kubali",
            "Kataa",
        ] {
            assert!(html.contains(needed), "{needed} missing");
        }
        assert!(html.len() < 30 * 1024, "{} bytes", html.len());
        for external in ["<script", "src=", "http://", "https://", "<link"] {
            assert!(!html.contains(external), "{external} in the page");
        }
    }

    #[test]
    fn once_answered_or_taken_there_is_nothing_to_press() {
        let mut taken = view(LinkState::TakenElsewhere);
        taken.accepted_by = Some("The Nairobi Hospital".into());
        taken.clinical = None;
        let html = render(
            &taken,
            Some(&Banner::Refused(
                "the alert was already accepted by The Nairobi Hospital".into(),
            )),
            180,
        );
        assert!(html.contains("The Nairobi Hospital accepted this patient"));
        assert!(html.contains("Your answer was not recorded"));
        assert!(!html.contains("<form"));
        assert!(!html.contains("boda boda"));
    }
}
